"""`CheckedArray`: a store array whose reads of committed slots fail loudly, never as numbers.

Zarr reads a chunk whose file is missing as the fill value (zeros), and a chunk whose bytes
changed as whatever they now decode to. zlens writes every chunk of a committed slot (empty or
not) with a CRC-32C checksum, so on reading: a missing chunk file of a committed slot, or one
whose checksum does not match, raises `RunError` naming the tap, the epoch and the file.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import zarr

from zlens.errors import RunError

DAMAGE_HELP = ("the file was damaged or deleted after it was written: run `zlens info --verify RUN` for "
               "every damaged epoch; the other epochs read as before")


class CheckedArray:
    """Wraps one Zarr array of a `LatentStore` for reading: `shape`, `dtype`, `chunks`, `[...]`.

    Args:
        array: the Zarr array, axis 0 the slot (or, for `epochs` / `labels`, the only axis).
        name: what it holds, as messages name it ("in-flight/z", "epochs", "labels").
        epochs: the epoch number of each committed slot (None: a one-dimensional array that is
            whole once the store exists, e.g. the labels).
        root: the store's folder (None in memory, where no chunk file can go missing).
    """

    def __init__(self, array: zarr.Array, name: str, epochs: list[int] | None, root: Path | None) -> None:
        self._array = array
        self._name = name
        self._epochs = epochs
        self._root = root

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._array.shape)

    @property
    def dtype(self) -> np.dtype:
        return self._array.dtype

    @property
    def chunks(self) -> tuple[int, ...]:
        return tuple(self._array.chunks)

    @property
    def zarr_array(self) -> zarr.Array:
        """The Zarr array itself (its reads are not checked for missing chunks)."""
        return self._array

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key: Any) -> np.ndarray:
        if self._epochs is None:
            slots = [0]  # a whole array: all its chunks are checked at once
        else:
            first = key[0] if isinstance(key, tuple) else key
            every = range(self.shape[0])
            picked = every[first] if isinstance(first, (slice, int, np.integer)) else every
            slots = [picked] if isinstance(picked, int) else list(picked)
        seen: set[tuple[int, ...]] = set()
        for slot in slots:
            self._check_chunks_exist(slot, seen)
        try:
            return np.asarray(self._array[key])
        except ValueError as err:
            if "checksum" not in str(err):
                raise
            raise self._damage(slots) from None

    def __repr__(self) -> str:
        return f"CheckedArray({self._name!r}, shape={self.shape}, dtype={self.dtype})"

    # -- checks -----------------------------------------------------------------------------
    def _what(self, slot: int) -> str:
        if self._epochs is None:
            return self._name
        epoch = self._epochs[slot] if slot < len(self._epochs) else f"(uncommitted slot {slot})"
        return f"{self._name} of epoch {epoch}" if self._array.ndim > 1 else f"{self._name} (slot {slot})"

    def _chunk_coords(self, slot: int) -> list[tuple[int, ...]]:
        """The chunk grid coordinates that make up `slot` (all chunks, for a 1-D array's slot the one)."""
        grid = [-(-n // c) for n, c in zip(self._array.shape, self._array.chunks, strict=True)]
        if self._array.ndim == 1:
            return [(slot // self._array.chunks[0],)] if self._epochs is not None else \
                [(i,) for i in range(grid[0])]
        first = slot // self._array.chunks[0]
        return [(first, *rest) for rest in itertools.product(*(range(g) for g in grid[1:]))]

    def _chunk_file(self, coords: tuple[int, ...]) -> Path:
        assert self._root is not None, "only a store on disk has chunk files"
        key = self._array.metadata.encode_chunk_key(coords)
        return self._root / self._array.path / key

    def _check_chunks_exist(self, slot: int, seen: set[tuple[int, ...]]) -> None:
        """Every chunk of a committed slot was written (zlens writes empty chunks too): a missing
        chunk file is damage, not the fill value. `seen`: chunks already checked by this read."""
        if self._root is None or (self._epochs is not None and slot >= len(self._epochs)):
            return
        for coords in self._chunk_coords(slot):
            if coords in seen:
                continue
            seen.add(coords)
            file = self._chunk_file(coords)
            if not file.is_file():
                raise RunError(f"{self._what(slot)} cannot be read: its chunk file {str(file)!r} is missing; "
                               f"{DAMAGE_HELP}.")

    def _damage(self, slots: list[int]) -> RunError:
        """The `RunError` for a checksum mismatch, naming the first damaged chunk's file."""
        for slot in slots:
            for coords in self._chunk_coords(slot):
                selection = tuple(slice(c * n, (c + 1) * n) for c, n in zip(coords, self._array.chunks, strict=True))
                try:
                    self._array[selection]
                except ValueError:
                    where = repr(str(self._chunk_file(coords))) if self._root is not None else "in memory"
                    return RunError(f"{self._what(slot)} cannot be read: its chunk {where} fails its checksum; "
                                    f"{DAMAGE_HELP}.")
        return RunError(f"{self._name} cannot be read: a chunk fails its checksum; {DAMAGE_HELP}.")
