"""Names that said two things were renamed; the old ones still work, with a DeprecationWarning
naming the new one (the fit arguments' renames are tested with the fit plan)."""

import numpy as np
import pytest

from zlens.store import LatentStore, RunDirectory


def test_the_stores_commit_epoch_is_write_epoch(tmp_path):
    store = LatentStore.create(tmp_path / "l.zarr", n_samples=3, taps={"z": (2,)}, kinds=["in-flight"])
    with pytest.warns(DeprecationWarning, match="LatentStore.commit_epoch is now write_epoch"):
        store.commit_epoch(0, {"in-flight": {"z": np.ones((3, 2), np.float32)}})
    np.testing.assert_array_equal(LatentStore.open(tmp_path / "l.zarr").array("z")[0], np.ones((3, 2)))


def test_the_run_directorys_commit_epoch_is_record_epoch(tmp_path):
    directory = RunDirectory.create(tmp_path / "run", config={}, data={}, seed=0, versions={})
    with pytest.warns(DeprecationWarning, match="RunDirectory.commit_epoch is now record_epoch"):
        directory.commit_epoch(0, {"loss": 0.5}, checkpoint=None)
    directory.release()
    assert RunDirectory.open(tmp_path / "run").epochs_done == 1


def test_host_tap_buffer_is_numpy_tap_buffer():
    import zlens.capture

    with pytest.warns(DeprecationWarning, match="HostTapBuffer is now NumpyTapBuffer"):
        old = zlens.capture.HostTapBuffer
    assert old is zlens.capture.NumpyTapBuffer


def test_the_host_buffer_module_still_imports_with_a_warning():
    import importlib
    import sys

    sys.modules.pop("zlens.capture.host_buffer", None)
    with pytest.warns(DeprecationWarning, match="zlens.capture.host_buffer is now zlens.capture.numpy_buffer"):
        module = importlib.import_module("zlens.capture.host_buffer")
    from zlens.capture.numpy_buffer import NumpyTapBuffer

    assert module.HostTapBuffer is NumpyTapBuffer
