"""Read samples (and optional labels) from a file into a `DataSource`, validated once.

Formats: `.npy` (memory-mapped), `.npz` (the Keras `mnist.npz` layout included), CSV, Parquet,
Zarr stores (read chunk by chunk).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from zlens.data.chunked import is_chunked_array, open_zarr_array
from zlens.data.file_rows import MemmapRows, is_memory_mapped, read_rows
from zlens.data.fingerprint import array_fingerprint, row_chunks
from zlens.data.validate import check_labels, check_samples
from zlens.errors import DataError

#: An integer `.npy` whose float32 form is smaller than this is converted in memory at load
#: time; a larger one stays memory-mapped and is converted per batch by `DataSource.rows`.
MATERIALIZE_BYTES = 256 * 2**20
_NPY_MAGIC = b"\x93NUMPY"
_LABEL_KEYS = ("y", "labels")
_SPLITS = {"train": "train", "x_train": "train", "test": "test", "x_test": "test"}
_CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zip")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_FORMATS = ".npy, .npz, .csv, .parquet, .zarr"


@dataclass
class DataSource:
    """Samples (N, ...) with optional labels, where they came from, and how they were scaled.

    `x` is float32 with its final values, in memory or memory-mapped; or, for an integer
    `.npy` too large to convert in memory (see `MATERIALIZE_BYTES`), the raw memory-mapped
    array, converted per batch by `rows` / `batches` (then `lazy` is True). Read samples
    through `rows` / `batches` / `to_numpy` and both cases look the same.

    Args:
        x: the samples, one row per sample.
        labels: one label per sample (numbers or strings), or None.
        name: the absolute path of the file, "digits", or "array".
        scaled: integer values were (or, when lazy, will be) mapped to [0, 1].
        original_dtype: the dtype of the data as stored; defaults to `x`'s dtype.
        scale_factor: the factor the stored values are multiplied by (1/255 for 8-bit
            pixels, 1/16 for the digits), or None when they are not scaled.

    Example:
        >>> src = DataSource(np.zeros((4, 3), "float32"))
        >>> src.n_samples, src.fingerprint()["shape"]
        (4, [4, 3])
    """

    x: np.ndarray
    labels: np.ndarray | None = None
    name: str = "array"
    scaled: bool = False
    original_dtype: str = ""
    scale_factor: float | None = None
    _fingerprint: dict | None = field(default=None, init=False, repr=False, compare=False)
    _reader: MemmapRows | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.original_dtype:
            self.original_dtype = str(self.x.dtype)

    @property
    def n_samples(self) -> int:
        """The number of samples N."""
        return int(self.x.shape[0])

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The shape of one sample: `(features,)` or `(H, W[, C])`."""
        return tuple(int(d) for d in self.x.shape[1:])

    @property
    def memory_mapped(self) -> bool:
        """`x` is read from its file on demand rather than held in memory."""
        return isinstance(self.x, np.memmap) or isinstance(getattr(self.x, "base", None), np.memmap)

    @property
    def chunked(self) -> bool:
        """`x` is a chunked on-disk array (Zarr), read a group of chunks at a time."""
        return is_chunked_array(self.x)

    @property
    def lazy(self) -> bool:
        """`x` holds stored values that `rows` converts (and scales) to float32 per batch."""
        return self.x.dtype != np.float32

    def rows(self, start: int, stop: int) -> np.ndarray:
        """Samples `start:stop` as float32, scaled: a view when `x` is already float32.

        Example:
            >>> DataSource(np.full((3, 2), 255, "uint8"), scale_factor=1 / 255).rows(0, 2)
            array([[1., 1.],
                   [1., 1.]], dtype=float32)
        """
        chunk = read_rows(self.x, start, stop)
        if not self.lazy:
            return np.asarray(chunk)
        return _as_float32(chunk, self.scale_factor)

    def take(self, idx) -> np.ndarray:
        """The samples at indices `idx`, as float32, scaled; a memory-mapped file is read, not mapped in.

        Example:
            >>> DataSource(np.arange(6, dtype="uint8").reshape(3, 2), scale_factor=0.5).take([2, 0]).tolist()
            [[2.0, 2.5], [0.0, 0.5]]
        """
        idx = np.asarray(idx, dtype=np.int64)
        if is_memory_mapped(self.x):
            if self._reader is None:
                self._reader = MemmapRows(self.x)
            chunk = self._reader(idx)
        else:
            chunk = self.x[idx]
        return _as_float32(chunk, self.scale_factor) if self.lazy else np.asarray(chunk)

    def batches(self, batch_size: int) -> Iterator[np.ndarray]:
        """Float32 batches in sample order; the last one is partial when N % batch_size > 0.

        Example:
            >>> [len(b) for b in DataSource(np.zeros((5, 2), "float32")).batches(2)]
            [2, 2, 1]
        """
        for start in range(0, self.n_samples, batch_size):
            yield self.rows(start, start + batch_size)

    def to_numpy(self) -> np.ndarray:
        """All samples as one float32 array (a lazy source is read whole: mind its size)."""
        return self.rows(0, self.n_samples)

    def fingerprint(self) -> dict:
        """Identify the data as stored (before scaling and flattening) by its content.

        Returns `{"shape", "dtype", "sha256", "n_samples"}`; the hash covers the stored
        values, read in row chunks, so a memory-mapped file is never loaded whole. Computed
        once and cached.

        Example:
            >>> DataSource(np.zeros((2, 2), "float32")).fingerprint()["dtype"]
            'float32'
        """
        if self._fingerprint is None:
            self._fingerprint = array_fingerprint(self.x)
        return dict(self._fingerprint)

    def describe(self) -> dict:
        """A JSON-ready summary for run configs, logs and the report."""
        labels = self.labels
        return {
            "name": self.name,
            "n_samples": self.n_samples,
            "sample_shape": list(self.sample_shape),
            "original_dtype": self.original_dtype,
            "scaled": self.scaled,
            "scale_factor": self.scale_factor,
            "memory_mapped": self.memory_mapped,
            "lazy": self.lazy,
            "n_classes": None if labels is None else int(len(np.unique(labels))),
        }


def load_data(
    path: str | Path | None,
    *,
    label_column: str | None = None,
    labels_path: str | Path | None = None,
    key: str | None = None,
    flatten: bool = False,
    scale: str = "auto",
) -> DataSource:
    """Read a data file (or, with `path=None`, the bundled 8x8 digits) into a `DataSource`.

    Formats, chosen by extension:
    - `.npy`: memory-mapped, never loaded whole; float32 stays memory-mapped; other dtypes
      are converted in memory when small (`MATERIALIZE_BYTES`), else per batch (`lazy`).
    - `.npz`: the Keras `mnist.npz` layout (`x_train`/`y_train`; `key="test"` picks
      `x_test`/`y_test`); or the one array that is not `y`/`labels` (those become labels);
      or the array named by `key`.
    - `.csv` (also `.csv.gz`...) / `.parquet`: every column is a feature except
      `label_column`; a first row of numbers is read as data, not as a header.
    - a Zarr store (a `.zarr` folder): an array, or a group's array named by `key` (or its
      one array besides `y` / `labels`, which become labels); never loaded whole: training
      reads a group of chunks at a time (`zlens.data.chunked`).

    Args:
        path: the file, or None for `load_digits()`.
        label_column: the CSV / Parquet column holding labels (may be strings).
        labels_path: a separate `.npy`, `.csv` or `.parquet` file with one label per sample.
        key: which `.npz` array (or split: "train" / "test"), or which array of a Zarr group, to read.
        flatten: reshape images (N, H, W[, C]) to (N, H*W*C), e.g. for the dense model.
        scale: "auto" maps integer data within [0, 255] to [0, 1] (divides by 255); "none"
            keeps the values. Floats are never scaled.

    Raises:
        DataError: one line naming the file and the problem.

    Example:
        >>> src = load_data(None)
        >>> src.x.shape, src.name
        ((1797, 64), 'digits')
    """
    _check_scale(scale)
    if path is None:
        if label_column is not None or labels_path is not None or key is not None:
            raise DataError(
                "`label_column`, `labels_path` and `key` apply to a data file; "
                "the bundled digits (no path) bring their own labels."
            )
        from zlens.data.digits import load_digits

        return load_digits()
    if _is_zarr_store(path):
        if label_column is not None:
            raise DataError(f"{path}: `label_column` applies to CSV / Parquet tables only.")
        x, labels, x_name = open_zarr_array(Path(path).expanduser().absolute(), key)
        if labels_path is not None:
            labels, labels_name = _read_labels_file(labels_path)
        else:
            labels, labels_name = (None if labels is None else np.asarray(labels)), f"{x_name} labels"
        return _to_source(x, labels, x_name, flatten, scale, x_name, labels_name)
    file = _existing_file(path)
    suffix = file.name.lower()
    is_table = suffix.endswith(_CSV_SUFFIXES + _PARQUET_SUFFIXES)
    if label_column is not None and not is_table:
        raise DataError(f"{file}: `label_column` applies to CSV / Parquet tables only.")
    if key is not None and not suffix.endswith(".npz"):
        raise DataError(f"{file}: `key` applies to .npz archives only.")
    if suffix.endswith(".npy"):
        x, labels, x_name, labels_name = _read_npy(file), None, str(file), None
    elif suffix.endswith(".npz"):
        x, labels, x_name, labels_name = _read_npz(file, key)
    elif is_table:
        x, labels, x_name, labels_name = _read_table(file, label_column)
    else:
        raise DataError(f"{file}: unknown file type {file.suffix!r}; zlens reads {_FORMATS}.")
    if labels_path is not None:
        labels, labels_name = _read_labels_file(labels_path)
    return _to_source(x, labels, str(file), flatten, scale, x_name, labels_name)


def from_array(
    x: np.ndarray,
    labels: np.ndarray | None = None,
    *,
    name: str = "array",
    flatten: bool = False,
    scale: str = "auto",
) -> DataSource:
    """Validate an array the user holds (in memory or memory-mapped) into a `DataSource`.

    The same checks, scaling and flattening rules as `load_data`; `name` appears in errors.

    Example:
        >>> from_array(np.full((2, 3), 255, "uint8")).x.max()
        np.float32(1.0)
    """
    _check_scale(scale)
    return _to_source(x, labels, name, flatten, scale, name, f"{name} labels")


def _to_source(x, labels, name, flatten, scale, x_name, labels_name) -> DataSource:
    """Validate, scale (or plan to, when lazy) and flatten: the one path every source takes."""
    dtype = x.dtype if isinstance(x, np.ndarray) or is_chunked_array(x) else np.float32
    raw = check_samples(x, name=x_name, dtype=dtype)
    labels = check_labels(labels, raw.shape[0], name=labels_name or f"{x_name} labels")
    factor = _auto_scale_factor(raw) if scale == "auto" else None
    src = DataSource(raw, labels, name=name, scaled=factor is not None, scale_factor=factor)
    if src.chunked:
        if flatten and len(src.sample_shape) > 1:
            raise DataError(f"{x_name}: a Zarr store is read as stored and cannot be flattened; "
                            "store the samples flattened, or train the conv model on the images.")
        return src
    if raw.dtype != np.float32 and (
        not src.memory_mapped or raw.size * 4 < MATERIALIZE_BYTES
    ):
        src._fingerprint = array_fingerprint(raw)  # of the stored values, before converting
        src.x = _as_float32(raw, factor)
    if flatten and src.x.ndim > 2:
        src.x = _flatten(src.x, x_name)
    return src


# -- readers: (samples, labels or None, and their names for messages) --------------------


def _is_zarr_store(path: str | Path) -> bool:
    """A folder named `*.zarr`, or holding Zarr metadata (`zarr.json`, `.zarray`, `.zgroup`)."""
    folder = Path(path).expanduser()
    return folder.is_dir() and (folder.name.lower().endswith(".zarr")
                                or any((folder / m).exists() for m in ("zarr.json", ".zarray", ".zgroup")))


def _existing_file(path: str | Path) -> Path:
    file = Path(path).expanduser().absolute()
    if not file.exists():
        raise DataError(f"{file}: file not found.")
    if file.is_dir():
        raise DataError(f"{file}: is a directory; give a data file ({_FORMATS}).")
    if file.name.lower().endswith(".zarr"):
        raise DataError(f"{file}: is a file; a Zarr store is a folder (written with zarr.create_array or zarr.open_group).")
    if file.stat().st_size == 0:
        raise DataError(f"{file}: the file is empty (0 bytes).")
    return file


def _read_npy(file: Path) -> np.ndarray:
    with open(file, "rb") as fh:
        head = fh.read(len(_NPY_MAGIC))
    if head[:1] == b"\x80":
        raise DataError(f"{file}: is a Python pickle, not a NumPy array; zlens never unpickles.")
    if head != _NPY_MAGIC:
        raise DataError(f"{file}: is not a NumPy .npy file (bad header); save it with np.save.")
    try:
        return np.load(file, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise _load_error(file, str(file), err) from None


def _read_npz(file: Path, key: str | None) -> tuple[np.ndarray, np.ndarray | None, str, str]:
    try:
        archive = np.load(file, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise _unreadable(file, err) from None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise DataError(f"{file}: is a single .npy array, not an .npz archive; rename it .npy.")
    with archive:
        keys = list(archive.files)
        if "x_train" in keys and (key is None or key in _SPLITS):
            split = _SPLITS[key or "train"]
            x_key, y_key = f"x_{split}", f"y_{split}"
            if x_key not in keys:
                raise DataError(f"{file}: has no `{x_key}` array; it holds {', '.join(keys)}.")
        elif key is not None:
            if key not in keys:
                raise DataError(f"{file}: has no array {key!r}; it holds {', '.join(keys)}.")
            x_key, y_key = key, None
        else:
            features = [k for k in keys if k not in _LABEL_KEYS]
            if len(features) != 1:
                raise DataError(
                    f"{file}: holds arrays {', '.join(keys) or '(none)'}; "
                    "pick the samples with key=NAME (--key NAME)."
                )
            x_key, y_key = features[0], None
        if y_key is None:
            y_key = next((k for k in _LABEL_KEYS if k in keys and k != x_key), None)
        x = _npz_array(archive, file, x_key)
        labels = _npz_array(archive, file, y_key) if y_key in keys else None
    return x, labels, f"{file}:{x_key}", f"{file}:{y_key}"


def _npz_array(archive, file: Path, key: str) -> np.ndarray:
    try:
        return archive[key]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise _load_error(file, f"{file}:{key}", err) from None


def _read_table(file: Path, label_column: str | None) -> tuple[np.ndarray, object, str, str]:
    import pandas as pd

    df = _read_frame(file)
    if len(df) == 0:
        raise DataError(f"{file}: the table is empty (a header, no rows): no samples to train on.")
    columns = [str(c) for c in df.columns]
    df.columns = columns
    labels = None
    if label_column is not None:
        if label_column not in columns:
            raise DataError(
                f"{file}: has no column {label_column!r}; its columns are {_listing(columns)}."
            )
        labels = df.pop(label_column).to_numpy()
    bad = [c for c in df.columns if not pd.api.types.is_numeric_dtype(df[c])]
    if bad:
        raise DataError(
            f"{file}: column(s) {_listing(bad)} are not numeric; every feature column must be. "
            "If one of them holds the labels, name it with label_column= (--label-column)."
        )
    if df.shape[1] == 0:
        raise DataError(f"{file}: has no feature columns besides the label column.")
    x = df.to_numpy()
    if x.dtype == object:  # pandas nullable dtypes (Int64 with <NA>...)
        x = df.to_numpy(dtype=np.float64, na_value=np.nan)
    return x, labels, str(file), f"{file}:{label_column}"


def _read_frame(file: Path):
    import pandas as pd

    try:
        if file.name.lower().endswith(_PARQUET_SUFFIXES):
            return pd.read_parquet(file, engine="pyarrow")
        df = pd.read_csv(file)
        if len(df.columns) and all(_is_number(c) for c in df.columns):
            df = pd.read_csv(file, header=None)  # the "header" was a row of data
        return df
    except pd.errors.EmptyDataError:
        raise DataError(f"{file}: the file is empty (no columns).") from None
    except Exception as err:  # pandas / pyarrow raise many types for a damaged file
        raise _unreadable(file, err) from None


def _read_labels_file(path: str | Path) -> tuple[np.ndarray, str]:
    file = _existing_file(path)
    suffix = file.name.lower()
    if suffix.endswith(".npy"):
        return np.array(_read_npy(file)), str(file)
    if not suffix.endswith(_CSV_SUFFIXES + _PARQUET_SUFFIXES):
        raise DataError(f"{file}: unknown labels file type; use .npy, .csv or .parquet.")
    df = _read_frame(file)
    if df.shape[1] != 1:
        raise DataError(f"{file}: a labels file needs exactly one column; it has {df.shape[1]}.")
    return df.iloc[:, 0].to_numpy(), str(file)


# -- helpers ------------------------------------------------------------------------------


def _check_scale(scale: str) -> None:
    if scale not in ("auto", "none"):
        raise DataError(f'`scale` must be "auto" or "none"; got {scale!r}.')


def _auto_scale_factor(x: np.ndarray) -> float | None:
    """1/255 for integer data within [0, 255]; None for floats, booleans and wider ranges."""
    if x.dtype.kind not in "iu":
        return None
    if x.dtype == np.uint8:
        return 1 / 255
    in_range = all(chunk.min() >= 0 and chunk.max() <= 255 for chunk in row_chunks(x))
    return 1 / 255 if in_range else None


def _as_float32(x: np.ndarray, factor: float | None) -> np.ndarray:
    out = np.asarray(x, dtype=np.float32)
    if factor is not None:
        out = out * np.float32(factor)
    return out


def _flatten(x: np.ndarray, what: str) -> np.ndarray:
    if isinstance(x.base, np.memmap) or isinstance(x, np.memmap):
        if not x.flags.c_contiguous and x.nbytes >= MATERIALIZE_BYTES:
            raise DataError(
                f"{what}: is stored in Fortran order and too large to flatten in memory; "
                "re-save it with np.save(path, np.ascontiguousarray(x))."
            )
    return x.reshape(x.shape[0], -1)


def _is_number(value) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _listing(names: list[str], limit: int = 12) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" ... ({len(names)} in all)" if len(names) > limit else "")


def _load_error(file: Path, what: str, err: BaseException) -> DataError:
    """NumPy refuses object arrays with a ValueError that mentions "object"."""
    if isinstance(err, ValueError) and "object" in str(err).lower():
        return DataError(f"{what}: contains Python objects; zlens never unpickles. Save numbers.")
    return _unreadable(file, err)


def _unreadable(file: Path, err: BaseException) -> DataError:
    reason = " ".join(str(err).split())[:200] or type(err).__name__
    return DataError(f"{file}: cannot be read ({reason}).")
