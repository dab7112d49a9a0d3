"""Larger than memory: a memory-mapped .npy read batch by batch, taps streamed to a scratch file
past the memory budget; the same z as the in-memory path, with bounded resident memory."""

import json

import numpy as np
import pytest
from local_cluster import run_probe

import zlens


@pytest.fixture
def x_file(tmp_path):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).random((3001, 12), dtype=np.float32))
    return np.load(tmp_path / "x.npy", mmap_mode="r")


def _fit(x, tmp_path, name, **kwargs):
    return zlens.fit("dense", x, epochs=2, batch_size=128, capture="both", encoding_dim=4, seed=0, jit_compile=False,
                     run_dir=tmp_path / name, **kwargs)


def test_streamed_taps_over_a_memory_mapped_file_give_the_device_buffers_z(x_file, tmp_path):
    mapped = x_file
    reference = _fit(mapped, tmp_path, "device", tap_storage="device")
    for storage in ("host", "auto"):
        run = _fit(mapped, tmp_path, storage, tap_storage=storage, buffer_budget=64 * 1024)
        assert run.summary()["config"]["tap_storage"] == {"host": "host", "auto": "stream"}[storage]
        for kind in ("in-flight", "consistent"):
            for epoch in (0, 1):
                np.testing.assert_array_equal(run.z(epoch, kind), reference.z(epoch, kind))
                np.testing.assert_array_equal(run.recon_error(epoch, kind), reference.recon_error(epoch, kind))
        assert run.history["z_drift_max"] == reference.history["z_drift_max"]


def test_auto_keeps_the_buffers_on_the_device_within_the_budget():
    from zlens.capture.recorder import buffer_bytes, choose_storage

    shapes = {"z": (4,), "recon_error": ()}
    need = buffer_bytes(3001, shapes, ["in-flight", "consistent"])
    assert need == 3001 * (4 * 4 + 4 + 2 * 4) * 2
    assert choose_storage("auto", 3001, shapes, ["in-flight", "consistent"], buffer_budget=need) == "device"
    assert choose_storage("auto", 3001, shapes, ["in-flight", "consistent"], buffer_budget=need - 1) == "stream"
    with pytest.raises(zlens.ZlensError, match="tap_storage must be one of"):
        choose_storage("disk", 3001, shapes, ["in-flight"])


@pytest.mark.slow
def test_peak_memory_of_a_streamed_run_does_not_grow_with_n(tmp_path):
    """Two runs, N and 8N rows of 256 features, z of 64: resident memory (anonymous, sampled every
    20 ms) grows by a small fraction of the data, where an in-memory run would hold it all."""
    figures = []
    for n in (25_000, 200_000):
        out = tmp_path / str(n)
        out.mkdir()
        run_probe("probe_memory.py", n, 256, 64, "auto", out)
        figures.append(json.loads((out / "memory.json").read_text()))
    small, large = figures
    assert small["storage"] == large["storage"] == "stream"
    growth = (large["peak_anon_mb"] - large["base_anon_mb"]) - (small["peak_anon_mb"] - small["base_anon_mb"])
    more_data = large["data_mb"] - small["data_mb"]
    print(f"\nstreamed peak RSS (anon) over baseline: N={small['n']}: "
          f"{small['peak_anon_mb'] - small['base_anon_mb']:.0f} MB, N={large['n']}: "
          f"{large['peak_anon_mb'] - large['base_anon_mb']:.0f} MB, for {more_data:.0f} MB more data "
          f"(x + taps); total peak RSS (psutil) {small['peak_rss_mb']:.0f} / {large['peak_rss_mb']:.0f} MB "
          f"(counts the mapped pages of x); {large['seconds']:.1f} s for the large epoch")
    assert growth < 0.25 * more_data, figures


def test_a_large_integer_npy_is_scaled_batch_by_batch_and_gives_the_float_z(tmp_path, monkeypatch):
    """A uint8 `.npy` too large to convert in memory stays mapped: each batch is read and scaled
    as it is needed, and the run is the run of the scaled float32 array (its fingerprint: the file)."""
    from zlens.data import load_data, sources

    pixels = np.random.default_rng(3).integers(0, 256, size=(1500, 12), dtype=np.uint8)
    np.save(tmp_path / "px.npy", pixels)
    monkeypatch.setattr(sources, "MATERIALIZE_BYTES", 1000)
    source = load_data(tmp_path / "px.npy")
    assert source.lazy and source.memory_mapped
    lazy = _fit(source, tmp_path, "lazy", tap_storage="host")
    np.save(tmp_path / "scaled.npy", pixels.astype(np.float32) / np.float32(255))
    reference = _fit(np.load(tmp_path / "scaled.npy", mmap_mode="r"), tmp_path, "scaled")  # read the same way
    for kind in ("in-flight", "consistent"):
        np.testing.assert_allclose(lazy.z(1, kind), reference.z(1, kind), rtol=1e-4, atol=1e-5)
    data = json.loads((tmp_path / "lazy" / "run.json").read_text())["data"]
    assert data["dtype"] == "uint8" and data["sha256"] == source.fingerprint()["sha256"]
    resumed = zlens.resume(tmp_path / "lazy", source, epochs=3)
    assert resumed.epochs == [0, 1, 2]
    np.testing.assert_allclose(zlens.encode(resumed, source, batch_size=256), resumed.z(2, "consistent"),
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(zlens.ZlensError, match="scaled by None but .* scaled by 0.0039"):
        zlens.resume(tmp_path / "lazy", load_data(tmp_path / "px.npy", scale="none"), epochs=4)
