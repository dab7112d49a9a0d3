"""LatentStore: exact round trips, the zarr-only reading promise, crash safety and clear errors."""

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import zarr
from zarr.storage import LocalStore

from zlens.errors import DataError, RunError
from zlens.store import LatentStore
from zlens.store.latent_store import rows_per_chunk

REPO = Path(__file__).resolve().parents[2]
N = 5
TAPS = {"z": (3,), "recon_error": ()}
KINDS = ["in-flight", "consistent"]


def values_for(epoch: int, n: int = N, taps=TAPS, kinds=KINDS) -> dict:
    """Exact, distinct values per epoch, kind and tap."""
    out = {}
    for k, kind in enumerate(kinds):
        out[kind] = {}
        for t, (tap, row) in enumerate(taps.items()):
            size = n * int(np.prod(row, dtype=int))
            base = 1000 * epoch + 100 * k + 10 * t
            out[kind][tap] = (base + np.arange(size, dtype=np.float32) / 8).reshape((n, *row))
    return out


def make(location, **kw) -> LatentStore:
    args = dict(n_samples=N, taps=TAPS, kinds=KINDS)
    args.update(kw)
    return LatentStore.create(location, **args)


def test_round_trip_several_epochs_kinds_and_taps(tmp_path):
    store = make(tmp_path / "latents.zarr")
    for epoch in (0, 2, 4):
        store.write_epoch(epoch, values_for(epoch))

    again = LatentStore.open(tmp_path / "latents.zarr")
    assert again.epochs == [0, 2, 4]
    assert again.taps == {"z": (3,), "recon_error": ()}
    assert again.kinds == KINDS and again.n_samples == N and again.labels is None
    for epoch in (0, 2, 4):
        for kind in KINDS:
            for tap in TAPS:
                got = again.read(tap, epoch, kind)
                np.testing.assert_array_equal(got, values_for(epoch)[kind][tap])
                assert got.dtype == np.float32
    np.testing.assert_array_equal(again.read("z"), values_for(4)["in-flight"]["z"])
    np.testing.assert_array_equal(again.read("z", -3, "consistent"), values_for(0)["consistent"]["z"])
    all_err = again.read_all("recon_error", "consistent")
    assert all_err.shape == (3, N)
    np.testing.assert_array_equal(all_err[1], values_for(2)["consistent"]["recon_error"])
    np.testing.assert_array_equal(again.array("z")[1, 2], values_for(2)["in-flight"]["z"][2])
    assert [again.slot_of(4), again.slot_of(0), again.slot_of(-1), again.slot_of(-3)] == [2, 0, 2, 0]


def test_in_memory_store_and_dtype_cast():
    store = make(None, kinds=["consistent"])
    store.write_epoch(0, {"consistent": {"z": np.ones((N, 3), np.float64), "recon_error": np.arange(N)}})
    assert store.read("recon_error", kind="consistent").tolist() == [0, 1, 2, 3, 4]
    assert store.read("z", kind="consistent").dtype == np.float32


def test_an_in_memory_store_keeps_what_was_committed_when_the_caller_changes_its_array():
    store = make(None, kinds=["in-flight"])
    values = values_for(0, kinds=["in-flight"])
    kept = {tap: v.copy() for tap, v in values["in-flight"].items()}
    store.write_epoch(0, values)
    for v in values["in-flight"].values():
        v[...] = -1  # the caller reuses its arrays: the store made its own copy
    for tap, v in kept.items():
        np.testing.assert_array_equal(store.read(tap, kind="in-flight"), v)


@pytest.mark.parametrize("labels", [np.array([3, 1, 4, 1, 5]), np.array(["cat", "dög", "", "a b", "cat"]),
                                    ["x", "y", "z", "w", "v"]])
def test_labels_round_trip(tmp_path, labels):
    make(tmp_path / "l.zarr", labels=labels)
    got = LatentStore.open(tmp_path / "l.zarr").labels
    np.testing.assert_array_equal(got, np.asarray(labels))
    assert got.dtype.kind == np.asarray(labels).dtype.kind


def test_readable_with_zarr_alone(tmp_path):
    path = str(tmp_path / "latents.zarr")
    store = make(path, labels=np.array(["a", "b", "c", "d", "e"]))
    store.write_epoch(1, values_for(1))
    store.write_epoch(3, values_for(3))
    store._write_slot(2, 5, values_for(5))  # a partial slot that a reader must not see

    g = zarr.open_group(path, mode="r")
    n = g.attrs["committed"]
    z = g["in-flight/z"][:n]

    np.testing.assert_array_equal(z, np.stack([values_for(1)["in-flight"]["z"], values_for(3)["in-flight"]["z"]]))
    assert g.attrs["epochs"] == [1, 3] and g["epochs"][:n].tolist() == [1, 3]
    assert g.attrs["format"] == "zlens-latents" and g.attrs["taps"] == {"z": [3], "recon_error": []}
    assert g["labels"][:].tolist() == ["a", "b", "c", "d", "e"]


def test_uncommitted_partial_slot_is_invisible_and_overwritten(tmp_path):
    store = make(tmp_path / "l.zarr")
    store.write_epoch(0, values_for(0))
    half = values_for(99)
    half["consistent"] = {}  # only part of the slot was written before the "crash"
    store._write_slot(1, 99, half)

    reader = LatentStore.open(tmp_path / "l.zarr")
    assert reader.epochs == [0] and reader.read_all("z").shape == (1, N, 3)
    assert reader.array("z").shape[0] == 2  # the partial slot is there, beyond `committed`

    resumed = LatentStore.open(tmp_path / "l.zarr", mode="r+")
    resumed.write_epoch(1, values_for(1))
    again = LatentStore.open(tmp_path / "l.zarr")
    assert again.epochs == [0, 1]
    for kind in KINDS:
        np.testing.assert_array_equal(again.read("z", 1, kind), values_for(1)[kind]["z"])


def test_truncate_after(tmp_path):
    store = make(tmp_path / "l.zarr")
    for epoch in (0, 2, 4, 6):
        store.write_epoch(epoch, values_for(epoch))
    store = LatentStore.open(tmp_path / "l.zarr", mode="r+")
    store.truncate_after(3)
    assert store.epochs == [0, 2]
    assert store.array("z", "consistent").shape == (2, N, 3)
    assert zarr.open_group(str(tmp_path / "l.zarr"), mode="r").attrs["committed"] == 2
    store.write_epoch(3, values_for(3))
    again = LatentStore.open(tmp_path / "l.zarr")
    assert again.epochs == [0, 2, 3]
    np.testing.assert_array_equal(again.read("recon_error", 3), values_for(3)["in-flight"]["recon_error"])
    store.truncate_after(-1)
    assert LatentStore.open(tmp_path / "l.zarr").epochs == []


def test_the_writing_store_commits_after_its_own_truncate(tmp_path):
    """The store keeps its arrays open for writing; a truncate resizes them through other
    handles, so the next commit must not write through stale ones."""
    store = make(tmp_path / "l.zarr")
    for epoch in (0, 1, 2):
        store.write_epoch(epoch, values_for(epoch))
    store.truncate_after(0)
    store.write_epoch(5, values_for(5))
    again = LatentStore.open(tmp_path / "l.zarr")
    assert again.epochs == [0, 5] and again.array("z").shape == (2, N, 3)
    np.testing.assert_array_equal(again.read("z", 5, "consistent"), values_for(5)["consistent"]["z"])


def test_open_reads_no_array_data(tmp_path, monkeypatch):
    """1000 epochs of 1,000,000 x 32 (declared, never written): open must touch root metadata only."""
    n, path = 1_000_000, tmp_path / "big.zarr"
    store = LatentStore.create(path, n_samples=n, taps={"z": (32,)}, kinds=["in-flight"])
    store.group["in-flight/z"].resize((1000, n, 32))
    store.group["epochs"].resize((1000,))
    store.group.update_attributes({"committed": 1000, "epochs": list(range(1000))})

    keys: list[str] = []
    real_get = LocalStore.get

    async def spy(self, key, *args, **kwargs):
        keys.append(key)
        return await real_get(self, key, *args, **kwargs)

    monkeypatch.setattr(LocalStore, "get", spy)
    start = time.perf_counter()
    opened = LatentStore.open(path)
    assert opened.epochs[-1] == 999 and opened.taps == {"z": (32,)} and opened.n_samples == n
    assert time.perf_counter() - start < 1.0
    assert keys == ["zarr.json"]
    assert opened.array("z").shape == (1000, n, 32)
    assert not [k for k in keys if "/c/" in k], keys  # still no chunk read
    assert rows_per_chunk(n, (32,), 4) * 32 * 4 <= 8 * 2**20


def test_commit_marks_visibility_in_one_root_write_after_the_data(tmp_path, monkeypatch):
    """`committed` and `epochs` change together, in one zarr.json write, after every chunk."""
    store = make(tmp_path / "l.zarr")
    store.write_epoch(0, values_for(0))
    keys: list[str] = []
    real_set = LocalStore.set

    async def spy(self, key, value, *args, **kwargs):
        keys.append(key)
        return await real_set(self, key, value, *args, **kwargs)

    monkeypatch.setattr(LocalStore, "set", spy)
    store.write_epoch(1, values_for(1))
    assert keys.count("zarr.json") == 1 and keys[-1] == "zarr.json"
    assert {"in-flight/z/c/1/0/0", "consistent/recon_error/c/1/0", "epochs/c/0"} <= set(keys)


def test_chunks_are_one_slot_and_about_8_mb(tmp_path):
    store = LatentStore.create(tmp_path / "l.zarr", n_samples=200_000, taps={"z": (32,), "e": ()},
                               kinds=["in-flight"])
    assert store.array("z").chunks == (1, 65536, 32)
    assert store.array("e").chunks == (1, 200_000)
    assert rows_per_chunk(60000, (32,), 4) == 60000


def test_read_errors_name_what_exists(tmp_path):
    store = make(tmp_path / "l.zarr", kinds=["in-flight"])
    with pytest.raises(RunError, match="No epoch has been committed"):
        store.read("z")
    for epoch in (0, 2, 4):
        store.write_epoch(epoch, values_for(epoch, kinds=["in-flight"]))
    with pytest.raises(RunError, match="(?i)epoch 7 was not captured; captured epochs: 0, 2, 4"):
        store.read("z", 7)
    with pytest.raises(RunError, match="out of range"):
        store.read("z", -4)
    with pytest.raises(RunError, match="Unknown tap 'mu'; taps in this store: z, recon_error"):
        store.read("mu")
    with pytest.raises(RunError, match="Kind 'consistent' was not captured; captured kinds: in-flight"):
        store.read("z", kind="consistent")
    with pytest.raises(RunError, match="not a zlens latent store|No zlens latent store"):
        LatentStore.open(tmp_path / "missing.zarr")
    zarr.open_group(str(tmp_path / "other.zarr"), mode="w").attrs["x"] = 1
    with pytest.raises(RunError, match="not a zlens latent store"):
        LatentStore.open(tmp_path / "other.zarr")
    with pytest.raises(RunError, match="read-only"):
        LatentStore.open(tmp_path / "l.zarr").write_epoch(5, values_for(5, kinds=["in-flight"]))
    with pytest.raises(RunError, match="already exists"):
        make(tmp_path / "l.zarr")


def test_commit_errors_name_the_tap(tmp_path):
    store = make(None)
    bad = values_for(0)
    bad["consistent"]["z"] = np.zeros((N, 4))
    with pytest.raises(RunError, match=r"Tap 'z' \(consistent\) must have shape \(5, 3\).*got \(5, 4\)"):
        store.write_epoch(0, bad)
    bad = values_for(0)
    del bad["in-flight"]["recon_error"]
    with pytest.raises(RunError, match="Tap 'recon_error' of kind 'in-flight' is missing"):
        store.write_epoch(0, bad)
    bad = values_for(0)
    bad["in-flight"]["mu"] = np.zeros((N, 3))
    with pytest.raises(RunError, match=r"Tap\(s\) \['mu'\]"):
        store.write_epoch(0, bad)
    with pytest.raises(RunError, match="Values for kind 'consistent' are missing"):
        store.write_epoch(0, {"in-flight": values_for(0)["in-flight"]})
    bad = values_for(0)
    bad["in-flight"]["z"] = np.full((N, 3), "a")
    with pytest.raises(RunError, match="Tap 'z' .* real numbers"):
        store.write_epoch(0, bad)
    assert store.epochs == []  # nothing was written by a rejected commit
    store.write_epoch(3, values_for(3))
    with pytest.raises(RunError, match="Epoch 3 must come after the last committed epoch 3"):
        store.write_epoch(3, values_for(3))
    with pytest.raises(RunError, match="int >= 0"):
        store.write_epoch(-1, values_for(4))
    with pytest.raises(RunError, match="kinds"):
        LatentStore.create(None, n_samples=2, taps={"z": (2,)}, kinds=["inflight"])
    with pytest.raises(DataError, match="`labels` has 3 values but the data has 2 samples"):
        LatentStore.create(None, n_samples=2, taps={"z": (2,)}, kinds=["consistent"], labels=[1, 2, 3])


# ----------------------------------------------------------------------------- kill -9
KILL_N, KILL_D, KILL_EPOCHS = 20000, 16, 30

# The store needs no TensorFlow (zlens imports it lazily): each child starts in well under a second.
CHILD = textwrap.dedent("""
    import sys
    import numpy as np
    from zlens.store import LatentStore
    assert "tensorflow" not in sys.modules
    path, truncate_to = sys.argv[1], int(sys.argv[2])
    N, D, LAST = {n}, {d}, {last}
    def values(epoch):
        rng = np.random.default_rng(epoch)
        return {{kind: {{"z": rng.standard_normal((N, D), dtype=np.float32) + k,
                        "recon_error": np.full(N, epoch + k, np.float32)}}
                for k, kind in enumerate(("in-flight", "consistent"))}}
    try:
        store = LatentStore.open(path, mode="r+")
    except Exception:
        store = LatentStore.create(path, n_samples=N, taps={{"z": (D,), "recon_error": ()}},
                                   kinds=["in-flight", "consistent"])
    store.truncate_after(truncate_to)
    epoch = store.epochs[-1] + 1 if store.epochs else 0
    print("ready", flush=True)
    while epoch <= LAST:
        store.write_epoch(epoch, values(epoch))
        epoch += 1
""").format(n=KILL_N, d=KILL_D, last=KILL_EPOCHS)


def _expected(epoch: int) -> dict:
    rng = np.random.default_rng(epoch)
    return {kind: {"z": rng.standard_normal((KILL_N, KILL_D), dtype=np.float32) + k,
                   "recon_error": np.full(KILL_N, epoch + k, np.float32)}
            for k, kind in enumerate(("in-flight", "consistent"))}


def _run_child(path: Path, truncate_to: int, kill_after: float | None) -> None:
    env = dict(os.environ, PYTHONPATH=f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(path), str(truncate_to)], cwd=REPO, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready", child.stderr.read()
        if kill_after is None:
            assert child.wait(timeout=120) == 0, child.stderr.read()
        else:
            time.sleep(kill_after)
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
        child.stderr.close()


def _check_store(path: Path) -> list[int]:
    store = LatentStore.open(path)
    epochs = store.epochs
    assert epochs == list(range(len(epochs)))
    g = zarr.open_group(str(path), mode="r")
    n = g.attrs["committed"]
    assert n == len(epochs) and g["epochs"][:n].tolist() == epochs
    for epoch in epochs:
        want = _expected(epoch)
        for kind in ("in-flight", "consistent"):
            np.testing.assert_array_equal(store.read("z", epoch, kind), want[kind]["z"])
            np.testing.assert_array_equal(store.read("recon_error", epoch, kind), want[kind]["recon_error"])
    return epochs


def test_kill_9_never_loses_a_committed_epoch(tmp_path):
    path, rng = tmp_path / "latents.zarr", random.Random(1234)
    done, saw_progress = [], 0
    for round_ in range(4):
        # Resume like a trainer whose checkpoint is one epoch behind the store, now and then.
        truncate_to = (done[-1] - 1) if (done and round_ % 2) else 10**9
        _run_child(path, truncate_to, kill_after=rng.uniform(0.15, 0.6))
        if not path.exists():
            continue
        epochs = _check_store(path)
        saw_progress += len(epochs) > len(done)
        done = epochs
    assert saw_progress >= 2, "the child never got to commit between kills; raise kill_after"
    _run_child(path, 10**9, kill_after=None)
    assert _check_store(path) == list(range(KILL_EPOCHS + 1))
    assert not list(path.rglob("*.partial"))  # temp files of killed writes are cleaned on open("r+")


# ----------------------------------------------------------------- held-out (validation) samples
M = 4


def with_validation(epoch: int) -> dict:
    """One commit's values: the training kinds and the validation samples' consistent matrices."""
    values = values_for(epoch)
    values["validation/consistent"] = values_for(epoch + 50, n=M, kinds=["consistent"])["consistent"]
    return values


def test_validation_split_round_trips_on_its_own_sample_axis_and_labels(tmp_path):
    store = make(tmp_path / "latents.zarr", labels=np.arange(N), held_out={"validation": M},
                 held_out_labels={"validation": np.array(["a", "b", "a", "c"])})
    for epoch in (0, 1):
        store.write_epoch(epoch, with_validation(epoch))

    again = LatentStore.open(tmp_path / "latents.zarr")
    assert again.splits == ["train", "validation"] and again.n_samples_of("validation") == M
    for epoch in (0, 1):
        np.testing.assert_array_equal(again.read("z", epoch, "consistent", split="validation"),
                                      with_validation(epoch)["validation/consistent"]["z"])
        np.testing.assert_array_equal(again.read("z", epoch, "consistent"), values_for(epoch)["consistent"]["z"])
    assert again.labels_of("validation").tolist() == ["a", "b", "a", "c"]
    np.testing.assert_array_equal(again.labels, np.arange(N))
    assert again.read_all("recon_error", "consistent", split="validation").shape == (2, M)
    assert again.verify() == []
    # readable without zlens, as the training matrices are
    assert zarr.open_group(tmp_path / "latents.zarr", mode="r")["validation/consistent/z"].shape == (2, M, 3)


def test_validation_has_no_in_flight_kind_and_an_unknown_split_is_named():
    store = make(None, held_out={"validation": M})
    store.write_epoch(0, with_validation(0))
    with pytest.raises(RunError, match="not trained on.*kind='consistent'"):
        store.read("z", 0, "in-flight", split="validation")
    with pytest.raises(RunError, match="Split 'test' is not in this latent store"):
        store.read("z", 0, "consistent", split="test")
    plain = make(None)
    with pytest.raises(RunError, match="its splits: train"):
        plain.labels_of("validation")


def test_a_commit_without_the_validation_matrices_is_refused_and_nothing_shows():
    store = make(None, held_out={"validation": M})
    with pytest.raises(RunError, match="'validation/consistent' are missing"):
        store.write_epoch(0, values_for(0))
    bad = with_validation(0)
    bad["validation/consistent"]["z"] = np.zeros((N, 3))  # the training samples' row count
    with pytest.raises(RunError, match=r"shape \(4, 3\)"):
        store.write_epoch(0, bad)
    assert store.epochs == []


def test_truncate_after_drops_the_validation_slots_too(tmp_path):
    store = make(tmp_path / "latents.zarr", held_out={"validation": M})
    for epoch in range(3):
        store.write_epoch(epoch, with_validation(epoch))
    store.truncate_after(0)
    store.write_epoch(1, with_validation(7))
    again = LatentStore.open(tmp_path / "latents.zarr")
    assert again.epochs == [0, 1]
    assert again.array("z", "consistent", split="validation").shape[0] == 2
    np.testing.assert_array_equal(again.read("z", 1, "consistent", split="validation"),
                                  with_validation(7)["validation/consistent"]["z"])


def test_verify_reads_the_validation_matrices_too(tmp_path):
    store = make(tmp_path / "latents.zarr", held_out={"validation": M})
    store.write_epoch(0, with_validation(0))
    chunks = tmp_path / "latents.zarr" / "validation" / "consistent" / "z" / "c"
    chunk = next(p for p in chunks.rglob("*") if p.is_file())
    chunk.write_bytes(chunk.read_bytes()[:-3] + b"xyz")
    problems = LatentStore.open(tmp_path / "latents.zarr").verify()
    assert len(problems) == 1 and "validation/consistent/z" in problems[0]
