"""Read samples (and optional labels) from a file into a `DataSource`, validated once.

Formats: `.npy` (memory-mapped), `.npz` (the Keras `mnist.npz` layout included), CSV, Parquet,
Zarr stores (read chunk by chunk).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zlens.data.chunked import is_chunked_array, open_zarr_array
from zlens.data.data_source import DataSource
from zlens.data.fingerprint import array_fingerprint
from zlens.data.preprocess import Preprocessing, check_scale, decide
from zlens.data.readers import (
    CSV_SUFFIXES,
    FORMATS,
    PARQUET_SUFFIXES,
    existing_file,
    is_zarr_store,
    read_labels_file,
    read_npy,
    read_npz,
    read_table,
)
from zlens.data.validate import check_labels, check_samples
from zlens.errors import DataError

#: An integer `.npy` whose float32 form is smaller than this is converted in memory at load
#: time; a larger one stays memory-mapped and is converted per batch by `DataSource.rows`.
MATERIALIZE_BYTES = 256 * 2**20


def load_data(
    path: str | Path | None,
    *,
    label_column: str | None = None,
    labels_path: str | Path | None = None,
    key: str | None = None,
    flatten: bool = False,
    scale: str | Preprocessing = "auto",
    feature_columns: list[str] | None = None,
    channels_last: bool = False,
) -> DataSource:
    """Read a data file (or, with `path=None`, the bundled 8x8 digits) into a `DataSource`.

    Formats, chosen by extension:
    - `.npy`: memory-mapped, never loaded whole; float32 stays memory-mapped; other dtypes
      are converted in memory when small (`MATERIALIZE_BYTES`), else per batch (`lazy`).
    - `.npz`: the Keras `mnist.npz` layout (`x_train`/`y_train`; `key="test"` picks
      `x_test`/`y_test`); or the one array that is not `y`/`labels` (those become labels);
      or the array named by `key`.
    - `.csv` (also `.csv.gz`...) / `.parquet`: every column is a feature except
      `label_column`, or, without it, a column named like a label (`target`, `label`,
      `class`, `y`, any case), which becomes the labels (`label_column=""`: none); a first
      row of numbers is read as data, not as a header. The source's `columns` records
      which were read (what `zlens encode` reads again, in that order).
    - a Zarr store (a `.zarr` folder): an array, or a group's array named by `key` (or its
      one array besides `y` / `labels`, which become labels); never loaded whole: training
      reads a group of chunks at a time (`zlens.data.chunked`).

    Args:
        path: the file, or None for `load_digits()`.
        label_column: the CSV / Parquet column holding labels (may be strings).
        feature_columns: read exactly these table columns, in this order (a run's recorded ones).
        labels_path: a separate `.npy`, `.csv` or `.parquet` file with one label per sample.
        key: which `.npz` array (or split: "train" / "test"), or which array of a Zarr group, to read.
        flatten: reshape images (N, H, W[, C]) to (N, H*W*C), e.g. for the dense model.
        channels_last: give gray images (N, H, W) their channel axis, (N, H, W, 1), for a model
            built for `(H, W, 1)` (a view: nothing is copied, a memory map stays mapped).
        scale: how the values are prepared (`zlens.data.preprocess`): "auto" (default: nothing
            for values in [0, 1], 8-bit pixels divided by 255, anything else min-max per
            feature), "minmax", "standard", "none"; or a run's recorded `Preprocessing`,
            applied as it is (what `zlens encode` does).

    Raises:
        DataError: one line naming the file and the problem.

    Example:
        >>> src = load_data(None)
        >>> src.x.shape, src.name
        ((1797, 64), 'digits')
    """
    _check_scale(scale)
    labels_name: str | None
    if path is None:
        if label_column is not None or labels_path is not None or key is not None:
            raise DataError(
                "`label_column`, `labels_path` and `key` apply to a data file; "
                "the bundled digits (no path) bring their own labels."
            )
        from zlens.data.digits import load_digits

        return load_digits(scale=scale)
    if is_zarr_store(path):
        if label_column is not None:
            raise DataError(f"{path}: `label_column` applies to CSV / Parquet tables only.")
        x, labels, x_name = open_zarr_array(Path(path).expanduser().absolute(), key)
        if labels_path is not None:
            labels, labels_name = read_labels_file(labels_path)
        else:
            labels, labels_name = (None if labels is None else np.asarray(labels)), f"{x_name} labels"
        return _to_source(x, labels, x_name, flatten, scale, x_name, labels_name, channels_last)
    file = existing_file(path)
    x, labels, x_name, labels_name, columns = _read_file(file, label_column, key, feature_columns)
    if labels_path is not None:
        labels, labels_name = read_labels_file(labels_path)
    src = _to_source(x, labels, str(file), flatten, scale, x_name, labels_name, channels_last)
    src.columns = columns
    return src


def _read_file(file: Path, label_column: str | None, key: str | None, feature_columns: list[str] | None = None):
    """`(x, labels or None, x's name, labels' name, a table's columns or None)` of a `.npy`, `.npz`,
    CSV or Parquet file, by its extension."""
    suffix = file.name.lower()
    is_table = suffix.endswith(CSV_SUFFIXES + PARQUET_SUFFIXES)
    if (label_column or feature_columns) and not is_table:
        raise DataError(f"{file}: `label_column` applies to CSV / Parquet tables only.")
    if key is not None and not suffix.endswith(".npz"):
        raise DataError(f"{file}: `key` applies to .npz archives only.")
    if suffix.endswith(".npy"):
        return read_npy(file), None, str(file), None, None
    if suffix.endswith(".npz"):
        return (*read_npz(file, key), None)
    if is_table:
        return read_table(file, label_column, feature_columns)
    raise DataError(f"{file}: unknown file type {file.suffix!r}; zlens reads {FORMATS}.")


def from_array(
    x: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    name: str = "array",
    flatten: bool = False,
    scale: str | Preprocessing = "auto",
    channels_last: bool = False,
) -> DataSource:
    """Validate an array the user holds (in memory or memory-mapped) into a `DataSource`.

    The same checks, scaling and flattening rules as `load_data`; `name` appears in errors.

    Example:
        >>> from_array(np.full((2, 3), 255, "uint8")).x.max()
        np.float32(1.0)
    """
    _check_scale(scale)
    return _to_source(x, labels, name, flatten, scale, name, f"{name} labels", channels_last)


def _to_source(x, labels, name, flatten, scale, x_name, labels_name, channels_last=False) -> DataSource:
    """Validate, scale (or plan to, when lazy) and flatten or add the channel axis: the one path
    every source takes."""
    dtype = x.dtype if isinstance(x, np.ndarray) or is_chunked_array(x) else np.float32
    raw = check_samples(x, name=x_name, dtype=dtype)
    labels = check_labels(labels, raw.shape[0], name=labels_name or f"{x_name} labels")
    if isinstance(scale, Preprocessing):
        prep = scale
        check_fits(prep, raw.shape, x_name)
    else:
        prep = decide(raw, scale)
    src = DataSource(raw, labels, name=name, scaled=not prep.identity, preprocessing=prep,
                     prepared=prep.identity)
    if channels_last and (flatten or len(src.sample_shape) != 2):
        raise DataError(f"{x_name}: channels_last (--channels-last) gives gray images (N, H, W) their channel axis; "
                        f"these samples are of shape {src.sample_shape}"
                        + (" and are flattened too." if flatten else "."))
    if src.chunked:
        if channels_last:
            raise DataError(f"{x_name}: a Zarr store is read as stored and cannot take a channel axis; store the "
                            "images with it, shape (N, H, W, 1).")
        if flatten and len(src.sample_shape) > 1:
            raise DataError(f"{x_name}: a Zarr store is read as stored and cannot be flattened; "
                            "store the samples flattened, or train the conv model on the images.")
        return src
    if src.lazy and (not src.memory_mapped or raw.size * 4 < MATERIALIZE_BYTES):
        src._fingerprint = array_fingerprint(raw)  # of the stored values, before converting
        src.x, src.prepared = prep.apply(raw), True
    if flatten and src.x.ndim > 2:
        src.x = _flatten(src.x, x_name)
    if channels_last:
        src.x = src.x[..., np.newaxis]
    return src


# -- helpers ------------------------------------------------------------------------------


def _check_scale(scale) -> None:
    if not isinstance(scale, Preprocessing):
        check_scale(scale)


def check_fits(prep: Preprocessing, shape, name: str) -> None:
    """Raise one `DataError` unless samples of `shape` (N, ...) have as many values as `prep` was fitted on."""
    width = int(np.prod(shape[1:], dtype=np.int64))
    if prep.per_feature and width != prep.scale.shape[0]:
        raise DataError(f"{name} has samples of shape {tuple(int(d) for d in shape[1:])} ({width} values) but the run "
                        f"was trained on samples of {prep.scale.shape[0]} values: give samples shaped as the training "
                        "data was.")


def _flatten(x: np.ndarray, what: str) -> np.ndarray:
    if isinstance(x.base, np.memmap) or isinstance(x, np.memmap):
        if not x.flags.c_contiguous and x.nbytes >= MATERIALIZE_BYTES:
            raise DataError(
                f"{what}: is stored in Fortran order and too large to flatten in memory; "
                "re-save it with np.save(path, np.ascontiguousarray(x))."
            )
    return x.reshape(x.shape[0], -1)
