"""Validation data: held-out samples prepared exactly as the run's training samples were.

`prepare_validation` is the one place validation samples are shaped and scaled (it hands them
to the run's preprocessing rule, `zlens.data.conform`), checked once at the boundary; what it
returns is what both Keras' `val_loss` and the per-epoch validation z are computed on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from zlens.data.data_source import DataSource
from zlens.data.fingerprint import array_fingerprint
from zlens.errors import DataError
from zlens.labels import check_labels

NAME = "validation data"


@dataclass(frozen=True)
class ValidationData:
    """Held-out samples, ready for the model: float32, shaped and scaled as the training samples.

    Args:
        x: the samples (n, ...), prepared (see `prepare_validation`).
        y: their target, for a run trained on a target `y` (a denoiser's clean samples); else None.
        labels: one label per sample (kept beside their z in the store), or None.
        note: what preparing them did ("scaled by 0.0625 as in training"; "" for nothing).

    Example:
        >>> val = ValidationData(np.zeros((3, 2), "float32"))
        >>> val.n_samples, val.keras_data.shape
        (3, (3, 2))
    """

    x: np.ndarray
    y: np.ndarray | None = None
    labels: np.ndarray | None = None
    note: str = ""

    @property
    def n_samples(self) -> int:
        """The number of validation samples."""
        return int(self.x.shape[0])

    @property
    def keras_data(self) -> Any:
        """What `keras.Model.fit(validation_data=...)` takes for these samples: x, or (x, y)."""
        return self.x if self.y is None else (self.x, self.y)

    def record(self) -> dict[str, Any]:
        """What run.json keeps of them (so a resume can check it gets the same samples back).

        Example:
            >>> ValidationData(np.zeros((3, 2), "float32")).record()["n_samples"]
            3
        """
        out = {**array_fingerprint(self.x), "labelled": self.labels is not None}
        if self.y is not None:
            out["target_sha256"] = array_fingerprint(np.asarray(self.y))["sha256"]
        return out


def prepare_validation(validation_data, *, preprocess: dict[str, Any] | None, labels=None,
                       has_target: bool = False) -> ValidationData | None:
    """`validation_data` as the model sees the training samples, or None when none was given.

    Args:
        validation_data: an array of samples; `(x_val, y_val)` with the target for a run trained
            on a target y (for an autoencoder, Keras' habit `(x_val, x_val)` is taken as x_val);
            or a `DataSource` (`load_data(path, scale="none")`, its labels kept).
        preprocess: the run's record of how its samples reached the model
            (`zlens.data.conform.preprocessing_record`): validation samples get the same shape
            and scaling (raw 0..16 digits are scaled by 1/16 when training was).
        labels: one label per validation sample (default: a `DataSource`'s own labels).
        has_target: the run trains on a target y that is not x.

    Raises:
        DataError: in one line, for a form it cannot take or samples whose shape or range does
            not match the training samples'.

    Example:
        >>> record = {"sample_shape": [2], "scale_factor": None, "range": [0.0, 1.0]}
        >>> prepare_validation(np.full((3, 2), 0.5), preprocess=record).x.dtype
        dtype('float32')
    """
    if validation_data is None:
        if labels is not None:
            raise DataError("validation_labels were given without validation_data: pass the samples they label.")
        return None
    x, y = _split_target(validation_data, has_target)
    source = x if isinstance(x, DataSource) else _as_source(x)
    prepared, note = _conformed(source, preprocess)
    labels = check_labels(labels if labels is not None else source.labels, prepared.n_samples,
                          name="validation_labels")
    if y is not None:
        y = np.asarray(y)
        if len(y) != prepared.n_samples:
            raise DataError(f"the validation target has {len(y)} rows but the {NAME} has {prepared.n_samples} "
                            "samples; they must have the same length.")
    return ValidationData(np.ascontiguousarray(prepared.to_numpy(), dtype=np.float32), y, labels, note)


def _conformed(source: DataSource, preprocess: dict[str, Any] | None) -> tuple[DataSource, str]:
    """`source` shaped and scaled by the run's preprocessing rule: the one call into it, so that
    the rule can change in its own module."""
    from zlens.data.conform import prepare_like_training

    prepared, note = prepare_like_training(source.to_numpy() if source.lazy else source.x, preprocess,
                                           name=source.name, or_as_given="")  # no way around the rule here
    return replace(prepared, labels=source.labels), note


def _split_target(validation_data, has_target: bool):
    """`(x, y)` of what was given: y the target, None for a run trained without one."""
    if not isinstance(validation_data, (tuple, list)):
        if has_target:
            raise DataError("this run trains on a target y: give validation_data=(x_val, y_val) with the target.")
        return validation_data, None
    if len(validation_data) != 2:
        raise DataError(f"validation_data must be samples or (x_val, y_val); got a sequence of "
                        f"{len(validation_data)} parts.")
    x, y = validation_data
    if has_target:
        return x, y
    if y is x or (hasattr(y, "shape") and np.shape(y) == np.shape(x) and np.array_equal(y, x)):
        return x, None  # an autoencoder's (x_val, x_val), as Keras users write it
    raise DataError("this run trains without a target (y is x), so validation_data=(x_val, y_val) needs y_val to be "
                    "x_val: pass the samples alone, and their class labels as validation_labels=.")


def _as_source(x) -> DataSource:
    """An array as given (unscaled: the run's rule scales it), validated, or one `DataError`."""
    from zlens.data.sources import from_array

    if hasattr(x, "element_spec"):  # a tf.data.Dataset
        raise DataError("validation_data as a tf.data.Dataset is not taken (its z needs a fixed sample order): pass "
                        "the samples as an array, e.g. np.concatenate(list(ds.as_numpy_iterator())).")
    return from_array(np.asarray(x) if not hasattr(x, "shape") else x, name=NAME, scale="none")
