"""The one preprocessing rule: how stored values become the values a model trains on.

`decide` looks at the training samples once (row chunk by row chunk, so a memory-mapped `.npy`
or a Zarr array is never loaded whole) and fits a scikit-learn scaler; the frozen
`Preprocessing` it returns is recorded in run.json (`to_json` / `from_json`) and applied again,
exactly, to every later block: training batches, `zlens encode`, `zlens.resume`, validation data.

What `scale="auto"` does (the default, the same for `zlens.fit`, `load_data` and the CLI):

- values already within [0, 1] (booleans included): nothing;
- 8-bit pixels, i.e. a `uint8` array, or integer images (samples of 2 or more axes) whose values
  lie within 0..255: divided by 255, the dtype's range, for the whole array (a dark image stays
  dark);
- anything else (small integers such as the digits' 0..16, counts, floats outside [0, 1]):
  min-max per feature (`MinMaxScaler`), each feature's observed range mapped to [0, 1].

`"minmax"` and `"standard"` (`StandardScaler`, mean 0 and variance 1 per feature) force a scaler;
`"none"` keeps the values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from zlens.data.fingerprint import row_chunks
from zlens.errors import DataError
from zlens.options import SCALE_CHOICES

#: The methods a `Preprocessing` records: what was done ("range": the dtype's range, 0..255).
METHODS = ("none", "range", "minmax", "standard")
_PIXEL_MAX = 255
#: Rows prepared in one float64 step (bounds the temporary copy of a large block).
_ROWS_AT_ONCE = 16384


def check_scale(scale) -> str:
    """`scale` if it is one of `SCALE_CHOICES`, else one clear `DataError`.

    Example:
        >>> check_scale("minmax")
        'minmax'
    """
    if scale not in SCALE_CHOICES:
        raise DataError(f"`scale` must be one of {', '.join(repr(s) for s in SCALE_CHOICES)}; got {scale!r}.")
    return scale


@dataclass(frozen=True, eq=False)
class Preprocessing:
    """What was decided about the training samples' values, and the fitted parameters to apply.

    A prepared block is `stored * scale + offset` per feature (features are a sample's values in
    C order): the arithmetic of scikit-learn's fitted `MinMaxScaler` (`scale_`, `min_`) and
    `StandardScaler` (`1 / scale_`, `-mean_ / scale_`), in float64 as scikit-learn's `transform`,
    then float32 (one whole-array factor, such as 1/255, in float32), so it can run batch by
    batch, on NumPy blocks (`apply`) or inside a `tf.data` pipeline (`apply_tensor`, in float32:
    per-feature values may differ from `apply`'s in the last bit).

    Attributes:
        method: "none", "range" (divided by the dtype's range), "minmax" or "standard".
        requested: the `scale=` asked for ("auto", "minmax", "standard", "none").
        per_feature: each feature has its own parameters (False: one for the whole array).
        scale: the factor(s), shape (features,) or (1,).
        offset: the offset(s), same shape as `scale`.
        data_min: each feature's smallest stored value seen when deciding.
        data_max: each feature's largest stored value seen.
        fitted: the scikit-learn scaler's class and fitted attributes (as recorded in run.json).
        dtype: the dtype of the values as stored.
        reason: why "auto" chose the method (or what was asked for).

    Example:
        >>> prep = decide(np.array([[0, 8], [16, 4]]))
        >>> prep.method, prep.describe()
        ('minmax', 'scaled 0..16 -> [0, 1] per feature (min-max)')
        >>> prep.apply(np.array([[16, 6]])).tolist()
        [[1.0, 0.5]]
    """

    method: str
    requested: str
    per_feature: bool
    scale: np.ndarray
    offset: np.ndarray
    data_min: np.ndarray
    data_max: np.ndarray
    fitted: dict
    dtype: str
    reason: str = ""

    @property
    def identity(self) -> bool:
        """Nothing is done to the values (beyond reading them as float32)."""
        return self.method == "none"

    @property
    def scale_factor(self) -> float | None:
        """The one factor of a whole-array scaling with no offset (1/255 for pixels), else None."""
        if self.per_feature or self.identity or float(self.offset[0]) != 0.0:
            return None
        return float(self.scale[0])

    @property
    def seen(self) -> tuple[float, float]:
        """The smallest and largest stored value seen when deciding."""
        return float(self.data_min.min()), float(self.data_max.max())

    @property
    def prepared_range(self) -> tuple[float, float]:
        """The smallest and largest value the model was given (exact: the rule is monotone per
        feature, so it is the rule applied to each feature's extremes, in float32 as in training)."""
        ends = self.apply(np.stack([self.data_min, self.data_max]))
        return float(ends.min()), float(ends.max())

    def describe(self) -> str:
        """What was done, in the words the CLI's start line uses; every range named was reached.

        Example:
            >>> decide(np.full((2, 3), 128, "uint8")).describe()
            'scaled by 1/255 (uint8 range 0..255): values 128..128 -> [0.502, 0.502]'
        """
        lo, hi = self.seen
        plo, phi = self.prepared_range
        seen = f"{lo:.6g}..{hi:.6g}"
        done = f"[{_shown(plo)}, {_shown(phi)}]"
        if self.method == "none":
            if not np.isfinite(lo):
                return f"not scaled ({self.reason})"
            why = "already in [0, 1]" if self.requested == "auto" else "scale='none'"
            return f"not scaled ({why}): values {seen}"
        if self.method == "range":
            factor = f"1/{1 / float(self.scale[0]):.6g}"
            if not np.isfinite(lo):
                return f"scaled by {factor}"
            return f"scaled by {factor} ({self.dtype} range 0..{_PIXEL_MAX}): values {seen} -> {done}"
        if self.method == "minmax":
            return f"scaled {seen} -> {done} per feature (min-max)"
        return f"standardized per feature (mean 0, variance 1): values {seen} -> {done}"

    def apply(self, block) -> np.ndarray:
        """`block` (n, *sample_shape), as stored, prepared: float32 of the same shape.

        Example:
            >>> decide(np.array([[0.0], [4.0]]), "standard").apply(np.array([[2.0], [4.0]])).tolist()
            [[0.0], [1.0]]
        """
        block = np.asarray(block)
        if self.identity:
            return block.astype(np.float32, copy=False)
        flat = block.reshape(len(block), -1)
        self._check_width(flat.shape[1])
        if not self.per_feature:  # one factor, in float32 (as zlens has always scaled pixels: the same bits)
            out = np.multiply(flat, np.float32(self.scale[0]), dtype=np.float32, casting="unsafe")
            if self.offset[0]:
                out += np.float32(self.offset[0])
            return out.reshape(block.shape)
        out = np.empty(flat.shape, np.float32)
        for start in range(0, len(flat), _ROWS_AT_ONCE):  # in float64, as scikit-learn's transform, then float32
            part = flat[start : start + _ROWS_AT_ONCE]
            out[start : start + len(part)] = part * self.scale + self.offset
        return out.reshape(block.shape)

    def apply_into(self, block, out: np.ndarray) -> np.ndarray:
        """`apply(block)` written into `out[:len(block)]` (float32); returns that part of `out`."""
        part = out[: len(block)]
        np.copyto(part, self.apply(block), casting="unsafe")
        return part

    def apply_tensor(self, x):
        """The same rule in TensorFlow ops, for a `tf.data` pipeline: `x` (n, *sample_shape) or one sample.

        Example:
            >>> prep = decide(np.array([[0, 8], [16, 4]]))
            >>> prep.apply_tensor(tf.constant([16, 6])).numpy().tolist()  # doctest: +SKIP
            [1.0, 0.5]
        """
        import tensorflow as tf

        x = tf.cast(x, tf.float32)
        if self.identity:
            return x
        if not self.per_feature:
            return x * float(self.scale[0]) + float(self.offset[0])
        flat = tf.reshape(x, (-1, self.scale.shape[0]))  # a batch or one sample: features last, in C order
        out = flat * tf.constant(self.scale, tf.float32) + tf.constant(self.offset, tf.float32)
        return tf.reshape(out, tf.shape(x))

    def _check_width(self, width: int) -> None:
        if self.per_feature and width != self.scale.shape[0]:
            raise DataError(f"the data has {width} values per sample but the preprocessing was fitted on "
                            f"{self.scale.shape[0]}: give samples shaped as the training data was.")

    def to_json(self) -> dict[str, Any]:
        """The record run.json keeps under `data.preprocess` (with `sample_shape` added by the caller).

        The fitted parameters are recorded once, under scikit-learn's names (`fitted`: `scale_`,
        `min_`, `data_min_`, `data_max_` of a `MinMaxScaler`; `mean_`, `var_`, `scale_` of a
        `StandardScaler`), with each feature's observed extremes where the scaler does not hold them.

        Example:
            >>> rec = decide(np.array([[0, 8], [16, 4]])).to_json()
            >>> rec["method"], rec["fitted"]["class"], rec["fitted"]["scale_"], rec["range"]
            ('minmax', 'MinMaxScaler', [0.0625, 0.25], [0.0, 1.0])
        """
        record = {
            "method": self.method, "requested": self.requested, "per_feature": self.per_feature,
            "dtype": self.dtype, "reason": self.reason, "note": self.describe(),
            "scale_factor": self.scale_factor, "seen": _finite(self.seen), "range": _finite(self.prepared_range),
            "fitted": self.fitted,
        }
        if self.method != "minmax":  # (a MinMaxScaler's data_min_ / data_max_ are these)
            record.update(data_min=_floats(self.data_min), data_max=_floats(self.data_max))
        return record

    @classmethod
    def from_json(cls, record: dict[str, Any] | None) -> Preprocessing | None:
        """The `Preprocessing` a run recorded, or None for a record that predates it (only
        `scale_factor`: `zlens.data.conform` reads those as before).

        Example:
            >>> prep = decide(np.array([[0, 8], [16, 4]]))
            >>> Preprocessing.from_json(prep.to_json()).apply(np.array([[16, 6]])).tolist()
            [[1.0, 0.5]]
        """
        if not record or "method" not in record:
            return None
        method, fitted = record["method"], dict(record.get("fitted") or {})
        if method not in METHODS:
            raise DataError(f"run.json's preprocessing method {method!r} is not one of {METHODS}.")

        def arr(values):
            return np.asarray([np.nan if v is None else v for v in values], dtype=np.float64)

        if method == "none":
            scale, offset = np.ones(1), np.zeros(1)
        elif method == "standard":
            scale, offset = 1.0 / arr(fitted["scale_"]), -arr(fitted["mean_"]) / arr(fitted["scale_"])
        else:
            scale, offset = arr(fitted["scale_"]), arr(fitted["min_"])
        low = arr(record["data_min"] if "data_min" in record else fitted["data_min_"])
        high = arr(record["data_max"] if "data_max" in record else fitted["data_max_"])
        return cls(method, record.get("requested", "auto"), bool(record["per_feature"]), scale, offset, low, high,
                   fitted, record.get("dtype", ""), record.get("reason", ""))


def decide(x, scale: str = "auto") -> Preprocessing:
    """Look at the samples `x` (N, ...) as stored and decide how to prepare them (see the module).

    One pass over `x` in row chunks: a `MinMaxScaler` is `partial_fit` on each chunk's
    per-feature extremes (all a min-max fit depends on) and, for "standard", a `StandardScaler`
    on the chunk itself, so a memory-mapped file or a Zarr array is never read whole.

    Args:
        x: the stored samples: an array, a memory-mapped array or a Zarr array, numeric.
        scale: "auto" (default), "minmax", "standard" or "none".

    Example:
        >>> decide(np.full((4, 2), 0.5)).method, decide(np.full((4, 2), 200, "uint8")).method
        ('none', 'range')
    """
    return decide_from_chunks(row_chunks(x), x.dtype, len(x.shape) - 1, scale)


def decide_from_chunks(chunks, dtype, sample_axes: int, scale: str = "auto") -> Preprocessing:
    """`decide` over blocks of rows as they come (a `tf.data` dataset's batches read once): the
    same rule and the same scikit-learn fits, for samples that are not an array.

    Example:
        >>> decide_from_chunks(iter([np.array([[0, 8]]), np.array([[16, 4]])]), "int64", 1).method
        'minmax'
    """
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    check_scale(scale)
    observed, standard = MinMaxScaler(), StandardScaler() if scale == "standard" else None
    for chunk in chunks:
        flat = np.asarray(chunk).reshape(len(chunk), -1)
        # a min-max fit depends only on each feature's extremes: fitting on them (in the stored dtype)
        # gives the same parameters for a fraction of the time (60,000 x 784 uint8: 0.4 s, not 9 s)
        observed.partial_fit(np.stack([flat.min(axis=0), flat.max(axis=0)]).astype(np.float64))
        if standard is not None:
            standard.partial_fit(flat.astype(np.float64))
    if not hasattr(observed, "data_min_"):
        raise DataError("there are no samples to decide how to scale: the data is empty.")
    dtype = np.dtype(dtype)
    lo, hi = float(observed.data_min_.min()), float(observed.data_max_.max())
    method, reason = _method(scale, dtype, sample_axes, lo, hi)
    made = _Made(observed, dtype)
    if method == "none":
        return made.build("none", scale, reason, np.ones(1), np.zeros(1), per_feature=False, fitted={})
    if method == "range":
        whole = MinMaxScaler().fit(np.array([[0.0], [float(_PIXEL_MAX)]]))
        return made.build("range", scale, reason, whole.scale_, whole.min_, per_feature=False,
                          fitted=_attributes(whole, ("data_min_", "data_max_", "scale_", "min_")))
    if method == "minmax":
        return made.build("minmax", scale, reason, observed.scale_, observed.min_, per_feature=True,
                          fitted=_attributes(observed, ("data_min_", "data_max_", "scale_", "min_")))
    assert standard is not None
    return made.build("standard", scale, reason, 1.0 / standard.scale_, -standard.mean_ / standard.scale_,
                      per_feature=True, fitted=_attributes(standard, ("mean_", "var_", "scale_")))


def not_read(dtype, reason: str) -> Preprocessing:
    """The "none" rule for values zlens does not read before training (a `tf.data` dataset's):
    their range is not known (`seen` is NaN, recorded as null).

    Example:
        >>> not_read("float32", "a dataset").identity
        True
    """
    nan = np.full(1, np.nan)
    return Preprocessing("none", "none", False, np.ones(1), np.zeros(1), nan, nan, {}, str(np.dtype(dtype)), reason)


def by_factor(factor: float, dtype) -> Preprocessing:
    """A whole-array scaling by one `factor` whose fit was not seen here (a run recorded before
    this module, or `DataSource(..., scale_factor=...)`).

    Example:
        >>> by_factor(1 / 255, "uint8").apply(np.array([[255]], "uint8")).tolist()
        [[1.0]]
    """
    nan = np.full(1, np.nan)
    fitted = {"class": "factor", "scale_": [float(factor)], "min_": [0.0]}
    return Preprocessing("range", "auto", False, np.array([float(factor)]), np.zeros(1), nan, nan, fitted,
                         str(np.dtype(dtype)), "a recorded factor")


class _Made:
    """Builds a `Preprocessing` with what the observing pass saw."""

    def __init__(self, observed, dtype: np.dtype) -> None:
        self.observed, self.dtype = observed, dtype

    def build(self, method, requested, reason, scale, offset, *, per_feature: bool, fitted: dict) -> Preprocessing:
        return Preprocessing(method, requested, per_feature, np.asarray(scale, np.float64).reshape(-1),
                             np.asarray(offset, np.float64).reshape(-1), self.observed.data_min_.copy(),
                             self.observed.data_max_.copy(), fitted, str(self.dtype), reason)


def _method(scale: str, dtype: np.dtype, sample_axes: int, lo: float, hi: float) -> tuple[str, str]:
    """`(method, reason)` for the requested `scale` and what was seen."""
    if scale != "auto":
        return scale, f"scale={scale!r} asked for"
    if lo >= 0 and hi <= 1:
        return "none", "values already within [0, 1]"
    if dtype == np.uint8 or (dtype.kind in "iu" and sample_axes >= 2 and lo >= 0 and hi <= _PIXEL_MAX):
        return "range", "8-bit pixels: divided by their dtype's range"
    return "minmax", "values outside [0, 1]: each feature's observed range mapped to [0, 1]"


def _shown(value: float) -> str:
    """A prepared value as the start line shows it: 3 digits, float32 rounding (|v| < 1e-6) shown as 0."""
    return f"{0.0 if abs(value) < 1e-6 else value:.3g}"


def _floats(values: np.ndarray) -> list[float | None]:
    """`values` as JSON numbers, NaN (not known) as null."""
    return [None if not np.isfinite(v) else float(v) for v in values.tolist()]


def _finite(pair: tuple[float, float]) -> list[float] | None:
    return list(pair) if all(np.isfinite(pair)) else None


def _attributes(scaler, names) -> dict[str, Any]:
    return {"class": type(scaler).__name__, **{n: np.asarray(getattr(scaler, n)).tolist() for n in names}}
