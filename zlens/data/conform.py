"""New data prepared the way a run's training data was: same sample shape, same scaling.

A run records how its samples reached the model (`preprocessing_record`): their shape, the
preprocessing rule with its fitted parameters (`zlens.data.preprocess`), and the range of values
the model saw. `prepare_like_training` applies exactly that rule to new data given as the
training data was (as stored: raw values), and refuses, in one line naming what differs, data it
cannot match: never silently different numbers. Runs recorded before the rule existed (only a
`scale_factor`) are read as before (`conform`: raw or already scaled values accepted).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from zlens.data.chunked import is_chunked_array
from zlens.data.data_source import DataSource, as_float32
from zlens.data.fingerprint import row_chunks
from zlens.data.preprocess import Preprocessing
from zlens.data.sources import from_array, load_data
from zlens.data.validate import channel_axis_missing
from zlens.errors import DataError

#: How far outside the trained range (as a share of its span) new values may lie and still be
#: taken as the same kind of data.
RANGE_SLACK = 0.5
_BLOCK_ROWS = 65536
#: float32 rounding of a value prepared and taken back (1/255 * 255 is 1.0000001).
_ROUNDING = 1e-5


#: How a refusal of new data ends where the caller can take values as they are (encode).
OR_AS_GIVEN = ", or, if it is prepared already, take it as it is with --no-scale (Python: zlens.encode(run, x, " \
              "as_given=True))"


def preprocessing_record(source: DataSource | None, sample_shape, *,
                         preprocessing: Preprocessing | None = None) -> dict[str, Any]:
    """What a run records of its samples (run.json's `data.preprocess`): their shape and the
    rule that prepared them (`Preprocessing.to_json`: method, fitted parameters, the stored range
    seen and the `range` of values the model saw); `source` None (a dataset): `preprocessing`,
    the rule its samples were prepared by, or, without one, not scaled and the range not known.

    Example:
        >>> rec = preprocessing_record(from_array(np.array([[0, 8], [16, 4]])), (2,))
        >>> rec["sample_shape"], rec["method"], rec["range"]
        ([2], 'minmax', [0.0, 1.0])
    """
    from zlens.data.preprocess import not_read

    prep = preprocessing if source is None else source.preprocessing  # a dataset's rule is given apart
    if prep is None:
        reason = "a tf.data dataset: its values as it yields them" if source is None else "values taken as given"
        prep = not_read("float32" if source is None else source.original_dtype, reason)
    return {"sample_shape": [int(s) for s in sample_shape], **prep.to_json()}


def prepare_like_training(data, record: dict[str, Any] | None, *, as_given: bool = False, name: str = "x",
                          or_as_given: str = OR_AS_GIVEN, **load_options) -> tuple[DataSource, str]:
    """New samples prepared exactly as a run's training samples were, and a note of what was done.

    The one function for data that is not the training data (`zlens encode`, `zlens.encode(run,
    x)`, validation data): `data` is taken as the training data was given (values as stored:
    raw pixels, the table's numbers), shaped to the training samples' shape when only the layout
    differs (images to flat rows), and prepared with the run's recorded `Preprocessing`, the same
    fitted parameters, never fitted again.

    Args:
        data: an array (or memory-mapped array), or a data file's path (read by `load_data`
            with `load_options`: `label_column`, `key`, `flatten`...).
        record: the run's `preprocessing_record` (`run.preprocessing`), or None (nothing checked).
        as_given: take the values as they are (no scaling, no range check; CLI `--no-scale`).
        name: what errors call an array.
        or_as_given: how a refusal ends (see `conform`).

    Raises:
        DataError: the samples' shape, or their range once prepared, does not match the training data's.

    Example:
        >>> rec = preprocessing_record(from_array(np.array([[0, 8], [16, 4]])), (2,))
        >>> prepare_like_training(np.array([[16, 6]]), rec)[0].x.tolist()
        [[1.0, 0.5]]
    """
    prep = Preprocessing.from_json(record)
    if as_given or record is None:
        scale: str | Preprocessing = "none"
    elif prep is not None:
        scale = prep
    else:  # an older run: loaded as stored, scaled by `conform` when the range says so
        scale = "none"
    if isinstance(data, (str, Path)):
        source = load_data(data, scale=scale, **load_options)
    else:
        source = from_array(data if hasattr(data, "dtype") else np.asarray(data), name=name, scale=scale)
    return conform(source, record, as_given=as_given, or_as_given=or_as_given)


def conform(source: DataSource, record: dict[str, Any] | None, *, as_given: bool = False,
            or_as_given: str = OR_AS_GIVEN) -> tuple[DataSource, str]:
    """`source` (loaded without scaling) shaped and scaled as the run's training data, and a
    note of what was done ("" for nothing).

    Args:
        source: the new samples, as stored (`load_data(..., scale="none")` / `from_array`), or,
            for a run that recorded its `Preprocessing`, already prepared with it
            (`prepare_like_training` does both).
        record: the run's `preprocessing_record`, or None (an older run: nothing is checked).
        as_given: take the values as they are (no scaling, no range check; CLI `--no-scale`).
        or_as_given: how a refusal ends, saying how to take the values as they are where the
            caller can (`zlens encode --no-scale`); "" where it cannot (validation data).

    Raises:
        DataError: the samples' shape or range does not match the training data's.
    """
    if record is None:
        return source, ""
    notes = []
    want = tuple(record["sample_shape"])
    if source.sample_shape != want:
        if len(want) == 1 and int(np.prod(source.sample_shape)) == want[0]:
            source = replace(source, x=source.x.reshape(source.n_samples, -1))
            notes.append(f"flattened to {want[0]} features")
        elif channel_axis_missing(source.sample_shape, want):
            source = replace(source, x=source.x[..., np.newaxis])
            notes.append("given the channel axis, as the training images had")
        else:
            raise DataError(f"{source.name} has samples of shape {source.sample_shape} but the run was trained "
                            f"on samples of shape {want}.")
    if as_given or record.get("range") is None:
        return _scaled(source, None), "; ".join(notes)
    if "method" in record:
        return _checked(source, record, notes, or_as_given)
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
            f"prepare them as the training data was{or_as_given}."
        )
    if use is not None:
        notes.append(f"scaled by {use:.6g} as in training")
    return _scaled(source, use), "; ".join(notes)


def data_mismatch(run_dir, recorded: dict[str, Any], x) -> str:
    """What `resume` says when the data is not the data a run was trained on: what the run was
    trained on, what was passed, and what to pass instead."""
    prep = recorded.get("preprocess") or {}
    seen, note = prep.get("seen"), prep.get("note")
    was = f"{recorded.get('source') or 'data'} ({recorded.get('original_dtype') or prep.get('dtype', '?')}"
    was += f", values {seen[0]:.6g}..{seen[1]:.6g} as given" if seen else ""
    was += f", then {note})" if note and prep.get("method") != "none" else ")"
    values = x.x if isinstance(x, DataSource) else x
    got = ""
    if isinstance(values, np.ndarray) or is_chunked_array(values):
        sample = np.asarray(values[:4096])
        got = f"; this data is {values.dtype} {tuple(values.shape)} with values from {sample.min():.6g} to " \
              f"{sample.max():.6g}{' (first rows)' if len(values) > 4096 else ''}"
    cli = " (or `zlens train --resume " + str(run_dir) + "`, which reads it again)" if recorded.get("load") else ""
    return (f"the data differs from the data {run_dir} was trained on (content hash mismatch): it was trained on "
            f"{was}{got}. Pass the same data as it was given then, unscaled: zlens prepares it again with the "
            f"recorded rule{cli}.")


def _checked(source: DataSource, record: dict[str, Any], notes: list[str],
             or_as_given: str) -> tuple[DataSource, str]:
    """`source`, prepared with the run's rule, refused when its values land far outside the range
    the model was trained on (another kind of data), or were given already prepared although the
    training data was given raw (values within [0, 1] where training saw a much wider range)."""
    prep = source.preprocessing
    low, high = _feature_range(source)
    mn, mx = float(low.min()), float(high.max())
    lo, hi = record["range"]
    seen, note = record.get("seen"), record.get("note", record["method"])
    given = "" if seen is None else f" (given as stored: values {seen[0]:.6g}..{seen[1]:.6g})"
    if not _within(mn, mx, lo, hi):
        raise DataError(
            f"{source.name}, prepared as the training data was ({note}), has values in [{mn:.4g}, {mx:.4g}] but "
            f"the run was trained on values in [{lo:.4g}, {hi:.4g}]{given}: pass the data as the training data "
            f"was given{or_as_given}."
        )
    if prep is not None and not prep.identity and seen is not None and seen[1] - seen[0] > 2:
        raw_lo, raw_hi = _stored_range(prep, low, high)
        if raw_lo >= -_ROUNDING and raw_hi <= 1 + _ROUNDING and raw_hi > raw_lo:  # x / 255 * 255 is 1 + 1e-7
            raise DataError(
                f"{source.name} has values within [0, 1], as if already prepared, but the run was trained on "
                f"values {seen[0]:.6g}..{seen[1]:.6g} as given, then {note}: pass the data as it was given then "
                f"(raw){or_as_given}."
            )
    if prep is not None and not prep.identity:
        notes.append(f"prepared as in training: {note}")
    return source, "; ".join(notes)


def _feature_range(source: DataSource) -> tuple[np.ndarray, np.ndarray]:
    """Each feature's smallest and largest prepared value, read in blocks (a large file is never
    loaded whole)."""
    low = high = None
    for start in range(0, source.n_samples, _BLOCK_ROWS):
        block = source.rows(start, start + _BLOCK_ROWS).reshape(-1, int(np.prod(source.sample_shape)))
        b_lo, b_hi = block.min(axis=0), block.max(axis=0)
        low = b_lo if low is None else np.minimum(low, b_lo)
        high = b_hi if high is None else np.maximum(high, b_hi)
    assert low is not None and high is not None, "no rows"
    return low, high


def _stored_range(prep: Preprocessing, low: np.ndarray, high: np.ndarray) -> tuple[float, float]:
    """The stored values behind prepared per-feature extremes (the rule inverted: its scales are > 0)."""
    scale, offset = prep.scale.astype(np.float64), prep.offset.astype(np.float64)
    return float(((low - offset) / scale).min()), float(((high - offset) / scale).max())


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
