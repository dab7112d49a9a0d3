"""Read data files into arrays: `.npy`, `.npz`, CSV / Parquet tables, labels files, Zarr paths.

Each reader returns the samples (and labels, when the file holds them) with the names its
errors use; `zlens.data.sources` validates, scales and wraps them into a `DataSource`.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from zlens.errors import DataError

_NPY_MAGIC = b"\x93NUMPY"
_LABEL_KEYS = ("y", "labels")
_SPLITS = {"train": "train", "x_train": "train", "test": "test", "x_test": "test"}
CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zip")
PARQUET_SUFFIXES = (".parquet", ".pq")
FORMATS = ".npy, .npz, .csv, .parquet, .zarr"
#: Column names (any case) that a table's labels go by: without `label_column` such a column is
#: taken as the labels, never trained on as a feature (`label_column=""` trains on every column).
LABEL_LIKE = ("target", "label", "labels", "class", "y")


def is_zarr_store(path: str | Path) -> bool:
    """A folder named `*.zarr`, or holding Zarr metadata (`zarr.json`, `.zarray`, `.zgroup`)."""
    folder = Path(path).expanduser()
    return folder.is_dir() and (folder.name.lower().endswith(".zarr")
                                or any((folder / m).exists() for m in ("zarr.json", ".zarray", ".zgroup")))


def existing_file(path: str | Path) -> Path:
    file = Path(path).expanduser().absolute()
    if not file.exists():
        raise DataError(f"{file}: file not found.")
    if file.is_dir():
        raise DataError(f"{file}: is a directory; give a data file ({FORMATS}).")
    if file.name.lower().endswith(".zarr"):
        raise DataError(f"{file}: is a file; a Zarr store is a folder (written with zarr.create_array or "
                        "zarr.open_group).")
    if file.stat().st_size == 0:
        raise DataError(f"{file}: the file is empty (0 bytes).")
    return file


def read_npy(file: Path) -> np.ndarray:
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


def read_npz(file: Path, key: str | None) -> tuple[np.ndarray, np.ndarray | None, str, str]:
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


def read_table(file: Path, label_column: str | None,
               feature_columns: list[str] | None = None) -> tuple[np.ndarray, object, str, str, dict]:
    """`(x, labels, x's name, labels' name, columns)` of a CSV / Parquet table; `columns` is
    `{"feature_columns": [...], "label_column": name or None, "label_picked": bool}`.

    Every column is a feature except the labels: `label_column`, or else the one column named
    like a label (`LABEL_LIKE`; `label_picked` is then True); `label_column=""` takes none.
    With `feature_columns` (a run's recorded ones) exactly those are read, in that order, and
    the label column only if the table has it.
    """
    import pandas as pd

    df = _read_frame(file)
    if len(df) == 0:
        raise DataError(f"{file}: the table is empty (a header, no rows): no samples to train on.")
    columns = [str(c) for c in df.columns]
    df.columns = columns
    picked = False
    if label_column is None and feature_columns is None:
        like = [c for c in columns if c.strip().lower() in LABEL_LIKE]
        if len(like) > 1:
            raise DataError(f"{file}: columns {_listing(like)} are all named like labels; name the labels with "
                            "label_column= (--label-column NAME), or --label-column '' to train on every column.")
        label_column, picked = (like[0], True) if like else (None, False)
    labels = None
    if label_column and (feature_columns is None or label_column in columns):
        if label_column not in columns:
            raise DataError(
                f"{file}: has no column {label_column!r}; its columns are {_listing(columns)}."
            )
        labels = df.pop(label_column).to_numpy()
    if feature_columns is not None:
        missing = [c for c in feature_columns if c not in df.columns]
        if missing:
            raise DataError(f"{file}: lacks column(s) {_listing(missing)} of the {len(feature_columns)} the run was "
                            f"trained on; its columns are {_listing(columns)}.")
        df = df[list(feature_columns)]
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
    described = {"feature_columns": [str(c) for c in df.columns], "label_column": label_column or None,
                 "label_picked": picked}
    return x, labels, str(file), f"{file}:{label_column}", described


def _read_frame(file: Path):
    import pandas as pd

    try:
        if file.name.lower().endswith(PARQUET_SUFFIXES):
            return pd.read_parquet(file, engine="pyarrow")
        df = pd.read_csv(file)
        if len(df.columns) and all(_is_number(c) for c in df.columns):
            df = pd.read_csv(file, header=None)  # the "header" was a row of data
        return df
    except pd.errors.EmptyDataError:
        raise DataError(f"{file}: the file is empty (no columns).") from None
    except Exception as err:  # pandas / pyarrow raise many types for a damaged file
        raise _unreadable(file, err) from None


def read_labels_file(path: str | Path) -> tuple[np.ndarray, str]:
    file = existing_file(path)
    suffix = file.name.lower()
    if suffix.endswith(".npy"):
        return np.array(read_npy(file)), str(file)
    if not suffix.endswith(CSV_SUFFIXES + PARQUET_SUFFIXES):
        raise DataError(f"{file}: unknown labels file type; use .npy, .csv or .parquet.")
    df = _read_frame(file)
    if df.shape[1] != 1:
        raise DataError(f"{file}: a labels file needs exactly one column; it has {df.shape[1]}.")
    return df.iloc[:, 0].to_numpy(), str(file)


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
