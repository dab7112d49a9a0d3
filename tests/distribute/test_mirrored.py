"""MirroredStrategy over logical CPU devices: one complete z, row i = sample i, nothing averaged.

Each case runs in its own process (logical devices must be set before TensorFlow starts); the
test then encodes the same data with the saved final weights on one device and compares rows.
"""

import json

import keras
import numpy as np
import pytest
from local_cluster import run_probe

import zlens

X = np.random.default_rng(0).random((101, 12), dtype=np.float32)  # the probes' data


def _check(out, model, z_consistent, z_in_flight):
    result = json.loads((out / "result.json").read_text())
    assert result["epochs"] == [0, 1, 2]
    assert np.all(np.isfinite(result["loss"])), "an empty replica batch must not make the loss NaN"
    counts = np.load(out / "counts.npy")
    assert counts.shape == (101,) and np.all(counts == 1), "every row written exactly once by the replicas"
    reference = zlens.encode(model, X)  # one device, the final weights
    np.testing.assert_allclose(z_consistent, reference, rtol=1e-5, atol=1e-6)
    assert np.all(np.isfinite(z_in_flight)) and z_in_flight.shape == (101, 3)
    return result


@pytest.mark.parametrize("devices,batch_size", [(2, 7), pytest.param(3, 10, marks=pytest.mark.slow)])
def test_zlens_fit_under_mirrored_strategy_gives_the_single_device_z(tmp_path, devices, batch_size):
    run_probe("probe_mirrored.py", devices, "fit", tmp_path, batch_size)
    run = zlens.open_run(tmp_path / "run")
    result = _check(tmp_path, run.model, run.z(kind="consistent"), run.z(kind="in-flight"))
    assert result["replicas"] == devices
    config = run.summary()["config"]
    assert (config["strategy"], config["replicas"], config["workers"]) == ("mirrored", devices, 1)


@pytest.mark.slow
def test_a_zarr_store_under_mirrored_strategy_gives_the_single_device_z(tmp_path):
    run_probe("probe_mirrored.py", 2, "zarr", tmp_path, 7)
    run = zlens.open_run(tmp_path / "run")
    _check(tmp_path, run.model, run.z(kind="consistent"), run.z(kind="in-flight"))


@pytest.mark.slow
def test_tapped_autoencoder_built_under_the_scope_works_with_plain_model_fit(tmp_path):
    """With host taps: three replicas hand their rows to one host buffer, concurrently."""
    run_probe("probe_mirrored.py", 3, "keras", tmp_path, 16)
    model = keras.models.load_model(tmp_path / "model.keras")
    _check(tmp_path, model, np.load(tmp_path / "z_consistent.npy"), np.load(tmp_path / "z_in_flight.npy"))
