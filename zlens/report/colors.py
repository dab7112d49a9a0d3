"""Point colours from labels, shared by the figures, the GIF and the page's canvas.

Classes get a categorical palette with a legend; continuous labels a colour map; no labels one colour.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zlens.report.analysis import class_labels

PLAIN = "#1f77b4"


@dataclass
class Coloring:
    """Each sample's colour and the legend that explains it.

    `codes[i]` indexes `palette` for sample i (classes, or 64 bins of a continuous label);
    `legend` is a list of (text, hex colour) pairs; `title` says what the colours are.
    """

    codes: np.ndarray  # (N,) int
    palette: list[str]  # hex colours
    legend: list[tuple[str, str]]
    title: str

    def rgba(self, indices: np.ndarray | None = None) -> np.ndarray:
        """(n, 4) RGBA floats for the samples `indices` (default all), for matplotlib."""
        from matplotlib.colors import to_rgba_array

        codes = self.codes if indices is None else self.codes[indices]
        return to_rgba_array(self.palette)[codes]


def label_coloring(labels: np.ndarray | None, n_samples: int) -> Coloring:
    """Colours for `labels`: a palette per class, a colour map for continuous values, or one colour.

    Example:
        >>> label_coloring(np.array([0, 1, 1]), 3).legend
        [('0', '#1f77b4'), ('1', '#ff7f0e')]
    """
    from matplotlib import colormaps
    from matplotlib.colors import to_hex

    if labels is None:
        return Coloring(np.zeros(n_samples, dtype=np.int64), [PLAIN], [], "no labels")
    classes = class_labels(labels)
    if classes is not None:
        codes, names = classes
        k = len(names)
        if k <= 10:
            palette = [to_hex(c) for c in _listed("tab10")[:k]]
        elif k <= 20:
            palette = [to_hex(c) for c in _listed("tab20")[:k]]
        else:
            palette = [to_hex(colormaps["turbo"](v)) for v in np.linspace(0.05, 0.95, k)]
        legend = [(_printable(n), c) for n, c in zip(names, palette, strict=True)]
        return Coloring(codes.astype(np.int64), palette, legend, "label")
    values = np.asarray(labels)
    if values.dtype.kind not in "iuf":  # many distinct strings: not worth a legend
        codes = np.unique(values, return_inverse=True)[1].reshape(-1) % 20
        palette = [to_hex(c) for c in _listed("tab20")]
        return Coloring(codes.astype(np.int64), palette, [], f"label ({len(np.unique(values))} distinct values)")
    values = values.astype(np.float64)
    lo, hi = float(np.nanmin(values)), float(np.nanmax(values))
    scaled = np.zeros_like(values) if hi == lo else (values - lo) / (hi - lo)
    codes = np.clip(np.nan_to_num(scaled) * 63, 0, 63).round().astype(np.int64)
    palette = [to_hex(colormaps["viridis"](v)) for v in np.linspace(0, 1, 64)]
    return Coloring(codes, palette, [(f"{lo:.4g}", palette[0]), (f"{hi:.4g}", palette[-1])], "label (continuous)")


def _printable(value) -> str:
    """A label as one line of text: tabs, newlines and other control characters become spaces."""
    return "".join(" " if ord(ch) < 32 or ord(ch) == 127 else ch for ch in str(value))


def add_label_legend(ax, coloring) -> None:
    """A legend of the label colours on `ax` (for up to 20 classes; none for other colourings)."""
    if 0 < len(coloring.legend) <= 20:
        from matplotlib.lines import Line2D

        handles = [Line2D([], [], ls="", marker="o", color=c, label=text) for text, c in coloring.legend]
        ax.legend(handles=handles, title=coloring.title, fontsize=7, title_fontsize=8, loc="best",
                  markerscale=0.9)


def _listed(name: str) -> list:
    """The colours of one of matplotlib's qualitative (listed) colormaps, e.g. "tab10"."""
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap

    cmap = colormaps[name]
    assert isinstance(cmap, ListedColormap), name
    return list(cmap.colors)  # type: ignore[arg-type]  # (a sequence of RGB tuples for these maps)
