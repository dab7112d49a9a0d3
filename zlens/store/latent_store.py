"""The latent store: every tap of every captured epoch, one Zarr v3 group, readable without zlens.
Slots grow along axis 0; an epoch becomes visible only when the root attributes say so, last.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from zarr.abc.store import Store
from zarr.codecs import Crc32cCodec, ZstdCodec
from zarr.storage import LocalStore, MemoryStore

from zlens.checks import check_count
from zlens.errors import RunError
from zlens.kinds import CONSISTENT, SPLITS, TRAIN, group_of
from zlens.labels import check_labels
from zlens.store._checks import (
    KINDS,
    RowSource,
    check_commit,
    check_held_out,
    check_kinds,
    check_taps,
    nonfinite_rows,
)
from zlens.store.checked_array import CheckedArray

FORMAT = "zlens-latents"
VERSION = 1
CHUNK_BYTES = 8 * 2**20  # target size of one uncompressed chunk (~8 MB)
EPOCHS_CHUNK = 4096  # slots per chunk of the small `epochs` array

__all__ = ["KINDS", "LatentStore", "rows_per_chunk"]

Location = str | Path | Store
_PARTIAL = re.compile(r"\.[0-9a-f]{32}\.partial$")


def rows_per_chunk(n_samples: int, row_shape: tuple[int, ...], itemsize: int) -> int:
    """Rows per chunk so that one chunk of one slot holds about 8 MB (at most all N rows).

    Example:
        >>> rows_per_chunk(60000, (32,), 4)
        60000
        >>> rows_per_chunk(1_000_000, (32,), 4)
        65536
    """
    row_bytes = max(1, int(np.prod(row_shape, dtype=np.int64)) * itemsize)
    return int(max(1, min(n_samples, CHUNK_BYTES // row_bytes)))


def _codecs(location: Location | None) -> dict[str, Any]:
    """Compression and a CRC-32C checksum of every chunk for a store on disk, so a damaged chunk
    file is an error when it is read, never numbers (Zarr v3's `crc32c` codec, outermost: it
    covers the bytes as stored). In memory: neither."""
    return {"compressors": None} if location is None else {"compressors": [ZstdCodec(level=0), Crc32cCodec()]}


def _as_store(location: Location | None, *, create: bool) -> Store:
    if location is None:
        return MemoryStore()
    if isinstance(location, Store):
        return location
    path = Path(location)
    if not create and not (path / "zarr.json").is_file():
        raise RunError(
            f"No zlens latent store at {str(path)!r} (no zarr.json there): "
            "check the path, or create one with LatentStore.create(...)."
        )
    return LocalStore(path)


def _remove_partial_files(root: Path) -> None:
    """Delete the temp files a killed writer left (LocalStore writes `<key>.<uuid hex>.partial`)."""
    for leftover in root.rglob("*.partial"):
        if _PARTIAL.search(leftover.name):
            leftover.unlink(missing_ok=True)


class LatentStore:
    """The epoch-by-epoch history of every tap, stored as one Zarr v3 group.

    Each tap of each kind ("in-flight", "consistent") is an array `{kind}/{tap}` of shape
    (slots, n_samples, *row), one slot per captured epoch; `epochs` holds each slot's epoch
    number and `labels` the optional per-sample labels. Held-out samples (validation data) have
    their own sample axis and labels: `validation/consistent/{tap}` (slots, n_validation, *row)
    and `validation/labels`, written in the same commit. The root attributes `committed` and
    `epochs` say which slots are complete: `write_epoch` writes them last, so a crash at any
    moment leaves every committed slot intact and a half-written slot invisible.

    The store reads without zlens:

        g = zarr.open_group("run/latents.zarr", mode="r")
        n = g.attrs["committed"]
        z = g["in-flight/z"][:n]            # (epochs, samples, 32)

    Build one with `LatentStore.create`, reopen it with `LatentStore.open`.

    Example:
        >>> store = LatentStore.create(None, n_samples=3, taps={"z": (2,)}, kinds=["in-flight"])
        >>> store.write_epoch(0, {"in-flight": {"z": np.zeros((3, 2))}})
        >>> store.epochs, store.read("z").shape
        ([0], (3, 2))
    """

    def __init__(self, group: zarr.Group, last_epoch: int | None = None) -> None:
        """Wrap an opened zlens group; use `create` or `open` instead of calling this."""
        self._group = group
        attrs: dict[str, Any] = group.attrs.asdict()
        self._n_samples = int(attrs["n_samples"])
        self._taps = {name: tuple(row) for name, row in attrs["taps"].items()}
        self._kinds = list(attrs["kinds"])
        self._held_out = {name: int(split["n_samples"]) for name, split in attrs.get("splits", {}).items()}
        self._epochs = [int(e) for e in attrs["epochs"] if last_epoch is None or int(e) <= last_epoch]
        self._committed = len(self._epochs)
        self._nonfinite = {int(e): dict(v) for e, v in attrs.get("nonfinite", {}).items()}
        self._handles: dict[str, zarr.Array] = {}  # arrays opened for writing (see `_writable`)

    # ----------------------------------------------------------------- create / open
    @classmethod
    def create(
        cls,
        location: Location | None,
        *,
        n_samples: int,
        taps: Mapping[str, Sequence[int]],
        kinds: Sequence[str],
        labels: np.ndarray | None = None,
        dtype: str | np.dtype = "float32",
        overwrite: bool = False,
        held_out: Mapping[str, int] | None = None,
        held_out_labels: Mapping[str, np.ndarray | None] | None = None,
    ) -> LatentStore:
        """Create an empty store (no epoch committed) and return it open for writing.

        Args:
            location: a folder path (e.g. `RUN/latents.zarr`), a zarr `Store`, or None for
                an in-memory store.
            n_samples: N, the number of rows of every tap.
            taps: tap name -> shape of ONE sample's value, e.g. {"z": (32,), "recon_error": ()}.
            kinds: which of "in-flight" and "consistent" this run captures.
            labels: optional (N,) ints, floats or strings, stored as `labels`.
            dtype: the numeric dtype every tap is stored in (default float32).
            overwrite: replace an existing store at `location` instead of refusing.
            held_out: split name -> its number of samples, e.g. {"validation": 200}: samples not
                trained on, whose consistent matrices each commit also holds (same taps).
            held_out_labels: split name -> its (n,) labels, for the splits that have them.

        Example:
            >>> s = LatentStore.create(None, n_samples=4, taps={"z": (2,), "recon_error": ()},
            ...                        kinds=["in-flight", "consistent"], labels=np.arange(4))
            >>> s.taps
            {'z': (2,), 'recon_error': ()}
        """
        n_samples, taps, kinds, dtype = _checked_layout(n_samples, taps, kinds, dtype)
        held_out = check_held_out(held_out)
        given = {TRAIN: labels, **{split: (held_out_labels or {}).get(split) for split in held_out}}
        split_labels = {split: check_labels(values, n_samples if split == TRAIN else held_out[split])
                        for split, values in given.items()}  # checked before anything is written
        if location is not None and not isinstance(location, Store):
            _check_free(Path(location), overwrite)
        codecs = _codecs(location)
        group = zarr.open_group(_as_store(location, create=True), mode="w", zarr_format=3)
        splits = [(group_of(kind), n_samples) for kind in kinds]
        splits += [(group_of(CONSISTENT, split), n) for split, n in held_out.items()]
        for path, n in splits:
            sub = group.create_group(path)
            for name, row in taps.items():
                sub.create_array(name, shape=(0, n, *row),
                                 chunks=(1, rows_per_chunk(n, row, dtype.itemsize), *row), dtype=dtype,
                                 dimension_names=("epoch", "sample", *(f"{name}_{i}" for i in range(len(row)))),
                                 **codecs)
        group.create_array("epochs", shape=(0,), chunks=(EPOCHS_CHUNK,), dtype="int64", dimension_names=("epoch",),
                           **codecs)
        for split, values in split_labels.items():
            if values is not None:
                group.create_array(_labels_path(split), shape=values.shape,
                                   dtype=str if values.dtype.kind == "U" else values.dtype,
                                   dimension_names=("sample",), **codecs)[:] = values
        # Root attributes last, in ONE write (`group.attrs.update` writes zarr.json once per key):
        # a store without them is not a zlens store yet.
        group.update_attributes({
            "format": FORMAT, "version": VERSION, "n_samples": n_samples,
            "taps": {name: list(row) for name, row in taps.items()},
            "kinds": kinds, "committed": 0, "epochs": [], "nonfinite": {},
            **({"splits": {split: {"n_samples": n} for split, n in held_out.items()}} if held_out else {}),
        })
        return cls(group)

    @classmethod
    def open(cls, location: Location, mode: str = "r", *, last_epoch: int | None = None) -> LatentStore:
        """Open an existing store, reading only its root attributes (no array data).

        Args:
            location: the store's folder or a zarr `Store`.
            mode: "r" to read, "r+" to also commit or truncate (e.g. to resume a run).
            last_epoch: read only: show the committed epochs up to this one (a run directory
                shows those its run.json committed; a later one is redone on resume).

        Example:
            >>> store = LatentStore.open("run/latents.zarr")      # doctest: +SKIP
            >>> store.epochs                                      # doctest: +SKIP
            [0, 1, 2]
        """
        if mode not in ("r", "r+"):
            raise RunError(f"`mode` must be 'r' or 'r+'; got {mode!r}.")
        store = _as_store(location, create=False)
        try:
            group = zarr.open_group(store, mode="r" if mode == "r" else "r+", zarr_format=3)
        except (FileNotFoundError, zarr.errors.GroupNotFoundError, ValueError, KeyError) as exc:
            first_line = (str(exc).splitlines() or [""])[0]
            raise RunError(f"{location!s} is not a zlens latent store ({type(exc).__name__}: {first_line}).") from None
        attrs: dict[str, Any] = group.attrs.asdict()
        if attrs.get("format") != FORMAT:
            raise RunError(f"{location!s} is a Zarr group but not a zlens latent store (no format={FORMAT!r}).")
        if attrs.get("version") != VERSION:
            raise RunError(f"{location!s} has latent store version {attrs.get('version')!r}; "
                           f"this zlens reads version {VERSION}: upgrade zlens.")
        if mode == "r+" and isinstance(store, LocalStore):
            _remove_partial_files(Path(store.root))
        if mode == "r+" and last_epoch is not None:
            raise RunError("`last_epoch` applies to a store opened to read (mode='r'); "
                           "use truncate_after to drop epochs.")
        return cls(group, last_epoch)

    # ----------------------------------------------------------------- readers
    @property
    def group(self) -> zarr.Group:
        """The underlying Zarr group."""
        return self._group

    @property
    def n_samples(self) -> int:
        """N, the number of rows of every tap."""
        return self._n_samples

    @property
    def taps(self) -> dict[str, tuple[int, ...]]:
        """Tap name -> shape of one sample's value."""
        return dict(self._taps)

    @property
    def kinds(self) -> list[str]:
        """The kinds this store holds ("in-flight" and/or "consistent")."""
        return list(self._kinds)

    @property
    def epochs(self) -> list[int]:
        """Epoch numbers of the committed slots, in order."""
        return list(self._epochs)

    @property
    def splits(self) -> list[str]:
        """The sample sets this store holds matrices of: "train", then held-out ones ("validation")."""
        return [TRAIN, *self._held_out]

    def n_samples_of(self, split: str = TRAIN) -> int:
        """The number of rows of every matrix of `split`.

        Example:
            >>> store.n_samples_of("validation")                  # doctest: +SKIP
            200
        """
        self._check_split(split)
        return self._n_samples if split == TRAIN else self._held_out[split]

    @property
    def labels(self) -> np.ndarray | None:
        """The per-sample labels of the training samples, or None (see `labels_of`)."""
        return self.labels_of(TRAIN)

    def labels_of(self, split: str = TRAIN) -> np.ndarray | None:
        """The labels of `split`'s samples, or None; strings come back as a NumPy unicode array."""
        self._check_split(split)
        if not self._has(_labels_path(split)):
            return None
        values = np.asarray(self._zarr_array(_labels_path(split))[:])
        # Zarr gives variable-length strings back as StringDType/object: hand out plain '<U'.
        return np.array(values.tolist(), dtype=str) if values.dtype.kind in "OUT" else values

    @property
    def nonfinite(self) -> dict[int, dict[str, int]]:
        """Epochs committed with non-finite values (`on_nonfinite="record"`): epoch -> {"kind/tap":
        rows holding a NaN or an infinity}. Empty for a run whose every value is finite.

        Example:
            >>> store.nonfinite                                   # doctest: +SKIP
            {7: {'in-flight/z': 1797}}
        """
        return {e: dict(v) for e, v in self._nonfinite.items() if e in self._epochs}

    def array(self, tap: str, kind: str = "in-flight", split: str = TRAIN) -> CheckedArray:
        """The array of `tap` for lazy slicing: axis 0 is the slot, only `[:len(epochs)]` is
        committed. Reading a committed slot whose chunk is missing or damaged raises `RunError`.
        `split` "validation": the held-out samples' array (kind "consistent" only).

        Example:
            >>> store.array("z")[-1, :10]                         # doctest: +SKIP
        """
        self._check_tap_kind(tap, kind, split)
        path = f"{group_of(kind, split)}/{tap}"
        return CheckedArray(self._zarr_array(path), path, self._epochs, self._root)

    @property
    def _root(self) -> Path | None:
        """The store's folder on disk (None in memory)."""
        store = self._group.store
        return Path(store.root) if isinstance(store, LocalStore) else None

    def slot_of(self, epoch: int) -> int:
        """The slot (index along axis 0 of `array(...)`) that holds `epoch`.

        Args:
            epoch: an epoch number from `epochs`, or a negative index from the end (-1: last).

        Example:
            >>> store.epochs, store.slot_of(4), store.slot_of(-1)    # doctest: +SKIP
            ([0, 2, 4, 6], 2, 3)
        """
        if not self._epochs:
            raise RunError("No epoch has been committed to this latent store yet.")
        captured = ", ".join(map(str, self._epochs))
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)):
            raise RunError(f"`epoch` must be an int (an epoch number, or -1 for the last); got {epoch!r}.")
        if epoch < 0:
            if -epoch > len(self._epochs):
                raise RunError(f"Epoch index {epoch} is out of range: "
                               f"{len(self._epochs)} epochs captured ({captured}).")
            return len(self._epochs) + int(epoch)
        try:
            return self._epochs.index(int(epoch))
        except ValueError:
            raise RunError(f"Epoch {epoch} was not captured; captured epochs: {captured}.") from None

    def read(self, tap: str, epoch: int = -1, kind: str = "in-flight", split: str = TRAIN) -> np.ndarray:
        """One committed epoch of `tap` as an (N, *row) array.

        Args:
            tap: a tap name from `taps`.
            epoch: an epoch number from `epochs`; negative values index from the end
                (-1, the default, is the last committed epoch).
            kind: "in-flight" (default) or "consistent".
            split: "train" (default) or a held-out split such as "validation".

        Example:
            >>> z = store.read("z", epoch=4, kind="consistent")   # doctest: +SKIP
        """
        arr = self.array(tap, kind, split)
        return arr[self.slot_of(epoch)]

    def read_all(self, tap: str, kind: str = "in-flight", split: str = TRAIN) -> np.ndarray:
        """Every committed epoch of `tap` as one (epochs, N, *row) array (loads it all).

        Example:
            >>> store.read_all("recon_error").shape               # doctest: +SKIP
            (10, 1797)
        """
        return self.array(tap, kind, split)[: self._committed]

    def verify(self) -> list[str]:
        """Read every committed slot of every array; one line per damaged or missing chunk, per
        slot holding unflagged non-finite values, and per disagreement of `epochs` with the
        root attributes (an empty list: the store is sound).

        Example:
            >>> LatentStore.open("run/latents.zarr").verify()    # doctest: +SKIP
            []
        """
        problems = []
        for split, kind in self.matrices():
            for tap in self._taps:
                array = self.array(tap, kind, split)
                for slot, epoch in enumerate(self._epochs):
                    try:
                        bad = nonfinite_rows(array[slot])
                    except RunError as err:
                        problems.append(str(err))
                        continue
                    if bad and f"{group_of(kind, split)}/{tap}" not in self._nonfinite.get(epoch, {}):
                        problems.append(f"{group_of(kind, split)}/{tap} of epoch {epoch}: {bad} rows hold NaN or "
                                        "infinity, not flagged as recorded non-finite values.")
        try:
            stored = [int(e) for e in CheckedArray(self._zarr_array("epochs"), "epochs", self._epochs, self._root)
                      [: self._committed]]
        except RunError as err:
            problems.append(str(err))
        else:
            if stored != self._epochs:
                problems.append(f"the epochs array {stored} disagrees with the committed epochs {self._epochs}.")
        for split in self.splits:
            if self._has(_labels_path(split)):
                try:
                    CheckedArray(self._zarr_array(_labels_path(split)), _labels_path(split), None, self._root)[:]
                except RunError as err:
                    problems.append(str(err))
        return problems

    def matrices(self) -> list[tuple[str, str]]:
        """Every `(split, kind)` this store holds a matrix of per tap and epoch: the training
        samples' kinds, then each held-out split's consistent one.

        Example:
            >>> store.matrices()                                  # doctest: +SKIP
            [('train', 'in-flight'), ('train', 'consistent'), ('validation', 'consistent')]
        """
        return [(TRAIN, kind) for kind in self._kinds] + [(split, CONSISTENT) for split in self._held_out]

    # ----------------------------------------------------------------- writers
    def commit_epoch(self, epoch: int, values: Mapping[str, Mapping[str, np.ndarray]], *,
                     owned: bool = False) -> None:
        """The former name of `write_epoch` (deprecated: a run's epoch is committed by its writer,
        of which this is one step)."""
        warnings.warn("LatentStore.commit_epoch is now write_epoch.", DeprecationWarning, stacklevel=2)
        self.write_epoch(epoch, values, owned=owned)

    def write_epoch(self, epoch: int, values: Mapping[str, Mapping[str, np.ndarray]], *,
                    owned: bool = False) -> None:
        """Write one epoch for every kind and tap, then make it visible.

        The slot's data is written first; the root attributes `committed` and `epochs`
        are updated last, so readers never see a partial epoch.

        Args:
            epoch: the epoch number; must be greater than every committed one.
            values: values[kind][tap] is an (N, *row) array for every kind and tap (and, in a
                store with held-out splits, values["validation/consistent"][tap] is an
                (n_validation, *row) array: see `zlens.kinds.group_of`), or, for a
                matrix too large for memory, a row source: an object with `shape`, `dtype`
                and `blocks()` yielding `(start, rows)` in order (written one block at a time).
            owned: the arrays are handed over and never changed again, so a store in memory
                keeps them as they are; by default it keeps copies (a fresh copy of a large
                matrix costs more in page faults than the rest of the commit).

        Example:
            >>> store.write_epoch(3, {"in-flight": {"z": z, "recon_error": err}})  # doctest: +SKIP
        """
        self._check_writable()
        epoch = self._check_epoch_number(epoch)
        if self._epochs and epoch <= self._epochs[-1]:
            raise RunError(f"Epoch {epoch} must come after the last committed epoch {self._epochs[-1]}: "
                           "epoch numbers increase strictly (call truncate_after(...) to redo epochs).")
        dtype = self._writable(f"{self._kinds[0]}/{next(iter(self._taps))}").dtype
        checked = check_commit(values, self._kinds, self._taps, self._n_samples, self._held_out, dtype)
        nonfinite = self._write_slot(self._committed, epoch, checked, owned=owned)
        flags = {**self._nonfinite, epoch: nonfinite} if nonfinite else self._nonfinite
        self._set_committed(self._epochs + [epoch], flags)

    def truncate_after(self, epoch: int) -> None:
        """Drop every committed epoch whose number is greater than `epoch` (used to resume).

        Example:
            >>> store.truncate_after(4)      # epochs [0, 2, 4, 6] -> [0, 2, 4]   # doctest: +SKIP
        """
        self._check_writable()
        keep = [e for e in self._epochs if e <= int(epoch)]
        # Visibility marker first when shrinking; then free the dropped slots.
        self._set_committed(keep, {e: v for e, v in self._nonfinite.items() if e in keep})
        self._handles.clear()  # resized below through other handles
        for arr in self._arrays():
            if arr.shape[0] > len(keep):
                arr.resize((len(keep), *arr.shape[1:]))

    # ----------------------------------------------------------------- internals
    def _has(self, name: str) -> bool:
        try:
            self._group[name]
        except KeyError:
            return False
        return True

    def _arrays(self) -> list[zarr.Array]:
        names = [f"{group_of(kind, split)}/{tap}" for split, kind in self.matrices() for tap in self._taps]
        return [self._zarr_array(n) for n in [*names, "epochs"]]

    def _check_split(self, split: str) -> None:
        if split not in self.splits:
            raise RunError(f"Split {split!r} is not in this latent store; its splits: {', '.join(self.splits)}"
                           + ("" if split in SPLITS else f" (splits are {', '.join(SPLITS)})") + ".")

    def _zarr_array(self, name: str) -> zarr.Array:
        """The Zarr array `name` of the group (a `RunError` if the store has a group there instead)."""
        node = self._group[name]
        if not isinstance(node, zarr.Array):
            raise RunError(f"{name!r} in this latent store is a group, not an array: the store is damaged.")
        return node

    def _check_writable(self) -> None:
        if self._group.read_only:
            raise RunError("This latent store was opened read-only: "
                           "reopen it with LatentStore.open(location, mode='r+').")

    @staticmethod
    def _check_epoch_number(epoch: Any) -> int:
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise RunError(f"Epoch number must be an int >= 0; got {epoch!r}.")
        return int(epoch)

    def _check_tap_kind(self, tap: str, kind: str, split: str = TRAIN) -> None:
        self._check_split(split)
        if split != TRAIN and kind != CONSISTENT:
            raise RunError(f"The {split} samples are not trained on, so they have no {kind} latents: "
                           "ask for kind='consistent' (their encoding at each epoch's final weights).")
        if kind not in self._kinds and split == TRAIN:
            raise RunError(f"Kind {kind!r} was not captured; captured kinds: {', '.join(self._kinds)}.")
        if tap not in self._taps:
            raise RunError(f"Unknown tap {tap!r}; taps in this store: {', '.join(self._taps)}.")

    def _write_slot(self, slot: int, epoch: int, values: Mapping[str, Mapping[str, np.ndarray | RowSource]],
                    owned: bool = False) -> dict[str, int]:
        """Write one slot's data without making it visible (no attribute change); return the
        number of rows holding non-finite values per "kind/tap" (only those with any)."""
        copy = isinstance(self._group.store, MemoryStore) and not owned
        nonfinite = {}
        for kind, taps in values.items():
            for tap, value in taps.items():
                arr = self._writable(f"{kind}/{tap}")
                if arr.shape[0] < slot + 1:
                    arr.resize((slot + 1, *arr.shape[1:]))
                bad = 0
                if isinstance(value, RowSource):
                    for start, rows in value.blocks():
                        rows = np.asarray(rows, dtype=arr.dtype)
                        bad += nonfinite_rows(rows)
                        arr[slot, start : start + len(rows)] = rows
                else:
                    bad = nonfinite_rows(value)
                    # As a (1, N, ...) slab, zarr takes each whole chunk as it is instead of
                    # copying it into a fresh fill-value chunk first (60k x 32 in memory: ~15 ms
                    # -> ~2 ms). A memory store then keeps the array itself: a copy unless owned.
                    arr[slot : slot + 1] = np.array(value, dtype=arr.dtype, copy=copy or None)[None]
                if bad:
                    nonfinite[f"{kind}/{tap}"] = bad
        epochs = self._writable("epochs")
        if epochs.shape[0] < slot + 1:
            epochs.resize((slot + 1,))
        epochs[slot] = epoch
        return nonfinite

    def _writable(self, name: str):
        """The array `name`, opened once per store for writing (each lookup re-reads its metadata;
        this store is the one writer, and the handle follows its own resizes)."""
        if name not in self._handles:
            # Every chunk is written as it is: zarr's default first compares each chunk with the
            # fill value, a whole extra pass (2-3x an in-memory commit's time for 60k x 32).
            self._handles[name] = self._zarr_array(name).with_config(
                {"write_empty_chunks": True})  # type: ignore[call-overload]  # (zarr types it as a TypedDict)
        return self._handles[name]

    def _set_committed(self, epochs: list[int], nonfinite: dict[int, dict[str, int]]) -> None:
        # One atomic zarr.json write; `attrs.update(...)` would write once per key, and a kill
        # between them would leave `committed` disagreeing with `epochs`.
        self._group.update_attributes({"committed": len(epochs), "epochs": list(epochs),
                                       "nonfinite": {str(e): v for e, v in nonfinite.items()}})
        self._committed, self._epochs, self._nonfinite = len(epochs), list(epochs), dict(nonfinite)

    def __repr__(self) -> str:
        return (f"LatentStore(n_samples={self._n_samples}, taps={self._taps}, kinds={self._kinds}, "
                f"epochs={self._epochs})")


def _checked_layout(n_samples, taps, kinds, dtype) -> tuple[int, dict[str, tuple[int, ...]], list[str], np.dtype]:
    """A new store's `(n_samples, taps, kinds, dtype)`, checked, or a `RunError` naming the bad one."""
    n_samples = check_count("n_samples", n_samples, error=RunError)
    dtype = np.dtype(dtype)
    if dtype.kind not in "iuf":
        raise RunError(f"`dtype` must be a numeric dtype such as 'float32'; got {dtype}.")
    return n_samples, check_taps(taps), check_kinds(kinds), dtype


def _labels_path(split: str) -> str:
    """Where the labels of `split` are: `labels` (the training samples'), `validation/labels`."""
    return "labels" if split == TRAIN else f"{split}/labels"


def _check_free(path: Path, overwrite: bool) -> None:
    """Refuse to create a store over a non-empty folder unless `overwrite`."""
    if path.exists() and any(path.iterdir()) and not overwrite:
        raise RunError(f"{str(path)!r} already exists and is not empty: reopen it with "
                       "LatentStore.open(path, mode='r+'), or pass overwrite=True to replace it.")
