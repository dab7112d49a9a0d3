"""Small HTML builders for the report page: escaped text, tables, inline figures and JSON blocks.

Every piece of text from the data goes through `esc` or `json_block`; nothing refers to the network.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np


def esc(value: Any) -> str:
    """`value` as text, HTML-escaped (quotes too), for element content and attribute values."""
    return html.escape(str(value), quote=True)


def safe_json(value: Any) -> str:
    """JSON that is safe inside `<script>`: `<`, `>` and `&` are written as \\u escapes, so no `</script>`.

    Example:
        >>> safe_json({"label": "</script>"})
        '{"label":"\\\\u003c/script\\\\u003e"}'
    """
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def json_block(element_id: str, value: Any) -> str:
    """A `<script type="application/json">` block the page's script reads with `JSON.parse`."""
    return f'<script type="application/json" id="{esc(element_id)}">{safe_json(value)}</script>'


def numbers(values: np.ndarray, digits: int = 5) -> list[float]:
    """Finite floats rounded to `digits` significant digits, for compact JSON."""
    return [float(f"{v:.{digits}g}") for v in np.asarray(values, dtype=np.float64).tolist()]


def figure_img(fig, alt: str, *, dpi: int = 90) -> str:
    """An `<img>` holding `fig` as an inline PNG (a data: URI); the figure is closed afterwards."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img class="figure" alt="{esc(alt)}" src="data:image/png;base64,{data}">'


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], *, numeric: Sequence[bool] | None = None) -> str:
    """An HTML table; every cell is escaped; `numeric[j]` right-aligns column j."""
    numeric = numeric or [False] * len(headers)
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = "".join(f'<td class="num">{esc(v)}</td>' if numeric[j] else f"<td>{esc(v)}</td>"
                        for j, v in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def section(element_id: str, title: str, *parts: str) -> str:
    """A page section with an anchor id, a heading and already-built HTML parts."""
    return f'<section id="{esc(element_id)}"><h2>{esc(title)}</h2>{"".join(parts)}</section>'


def note(text: str, cls: str = "note") -> str:
    """A paragraph of escaped explanatory text."""
    return f'<p class="{esc(cls)}">{esc(text)}</p>'


def fmt(value: Any, digits: int = 4) -> str:
    """A number as the page writes it (`digits` significant digits), or "–" for missing / NaN."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    return f"{float(value):.{digits}g}"


def page(title: str, nav: Sequence[tuple[str, str]], header_html: str, body: str, css: str, js: str) -> str:
    """The whole document: inline CSS and JS, no external reference of any kind."""
    links = "".join(f'<a href="#{esc(anchor)}">{esc(text)}</a>' for anchor, text in nav)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{esc(title)}</title><style>{css}</style></head><body>"
        f"<header><h1>{esc(title)}</h1>{header_html}<nav>{links}</nav></header>"
        f"<main>{body}</main><script>{js}</script></body></html>\n"
    )
