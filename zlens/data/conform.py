"""New data prepared the way a run's training data was: same sample shape, same scaling.

A run records how its samples reached the model (`preprocessing_record`): their shape, the
factor stored values were multiplied by (1/255 for 8-bit pixels, 1/16 for the digits), and the
range of values the model saw. `conform` applies that to new data given as it came (raw or
already scaled, integer or float, images or flattened rows), and refuses, in one line naming
what differs, data it cannot match: never silently different numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zlens.data.data_source import DataSource, as_float32
from zlens.data.fingerprint import row_chunks
from zlens.errors import DataError

#: How far outside the trained range (as a share of its span) new values may lie and still be
#: taken as the same kind of data.
RANGE_SLACK = 0.5


def preprocessing_record(x, sample_shape, scale_factor: float | None) -> dict[str, Any]:
    """What a run records of its samples: their shape, their scaling, and the range of the
    values the model saw (None for data streamed from a dataset or a chunked store).

    Example:
        >>> preprocessing_record(np.array([[0.0, 0.5], [1.0, 0.25]], "float32"), (2,), None)
        {'sample_shape': [2], 'scale_factor': None, 'range': [0.0, 1.0]}
    """
    values = x.x if isinstance(x, DataSource) and not x.chunked else x
    seen = None
    if isinstance(values, np.ndarray):
        seen = list(_value_range(values, x.scale_factor if isinstance(x, DataSource) and x.lazy else None))
    return {"sample_shape": [int(s) for s in sample_shape], "scale_factor": scale_factor, "range": seen}


def conform(source: DataSource, record: dict[str, Any] | None, *, as_given: bool = False) -> tuple[DataSource, str]:
    """`source` (loaded without scaling) shaped and scaled as the run's training data, and a
    note of what was done ("" for nothing).

    Args:
        source: the new samples, as stored (`load_data(..., scale="none")` / `from_array`).
        record: the run's `preprocessing_record`, or None (an older run: nothing is checked).
        as_given: take the values as they are (no scaling, no range check; CLI `--no-scale`).

    Raises:
        DataError: the samples' shape or range does not match the training data's.
    """
    if record is None:
        return source, ""
    notes = []
    want = tuple(record["sample_shape"])
    if source.sample_shape != want:
        if len(want) == 1 and int(np.prod(source.sample_shape)) == want[0]:
            source = DataSource(source.x.reshape(source.n_samples, -1), source.labels, name=source.name,
                                original_dtype=source.original_dtype)
            notes.append(f"flattened to {want[0]} features")
        else:
            raise DataError(f"{source.name} has samples of shape {source.sample_shape} but the run was trained "
                            f"on samples of shape {want}.")
    if as_given or record.get("range") is None:
        return _scaled(source, None), "; ".join(notes)
    lo, hi = record["range"]
    factor = record.get("scale_factor")
    mn, mx = _value_range(source.x)
    if np.dtype(source.original_dtype).kind in "iub" and factor is not None:
        use = factor  # stored integers: training scaled them by this, always
    elif _within(mn, mx, lo, hi):
        use = None
    elif factor is not None and _within(mn * factor, mx * factor, lo, hi):
        use = factor  # raw values, as training read them before scaling
    else:
        use = -1
    if use == -1 or (use is not None and not _within(mn * use, mx * use, lo, hi)):
        trained = f"[{lo:.4g}, {hi:.4g}]" + ("" if factor is None else f" (stored values times {factor:.4g})")
        raise DataError(
            f"{source.name} has values in [{mn:.4g}, {mx:.4g}] but the run was trained on values in {trained}: "
            "prepare them as the training data was, or take them as they are with --no-scale "
            "(Python: zlens.encode(run, x, as_given=True))."
        )
    if use is not None:
        notes.append(f"scaled by {use:.6g} as in training")
    return _scaled(source, use), "; ".join(notes)


def _scaled(source: DataSource, factor: float | None) -> DataSource:
    """`source` whose values are read as float32 times `factor` (None: as they are)."""
    if factor is None and source.x.dtype == np.float32:
        return source
    if source.memory_mapped and source.x.dtype != np.float32:  # converted per block, never whole
        return DataSource(source.x, source.labels, name=source.name, scaled=factor is not None,
                          original_dtype=source.original_dtype, scale_factor=factor)
    return DataSource(as_float32(np.asarray(source.x), factor), source.labels, name=source.name,
                      scaled=factor is not None, original_dtype=source.original_dtype, scale_factor=factor)


def _value_range(values: np.ndarray, factor: float | None = None) -> tuple[float, float]:
    """The smallest and largest of `values` (times `factor`, when given), read chunk by chunk."""
    lo: float | None = None
    hi: float | None = None
    for chunk in row_chunks(values):
        chunk = chunk if factor is None else as_float32(chunk, factor)
        lo = float(chunk.min()) if lo is None else min(lo, float(chunk.min()))
        hi = float(chunk.max()) if hi is None else max(hi, float(chunk.max()))
    assert lo is not None and hi is not None, "no rows"
    return lo, hi


def _within(mn: float, mx: float, lo: float, hi: float) -> bool:
    slack = RANGE_SLACK * max(hi - lo, abs(hi), abs(lo), 1e-12)
    return mn >= lo - slack and mx <= hi + slack
