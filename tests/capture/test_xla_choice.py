"""`jit_compile="auto"`: XLA where it is faster on this machine, not where it is an order slower.

On a CPU, XLA makes the dense models 2-3x faster per epoch but a convolutional one ~14x slower
than TensorFlow's own kernels (zlens/capture/fit_plan.py, resolve_jit, has the figures), so "auto" turns it off
for a model with convolution layers when no GPU is there.
"""

import json

import numpy as np
import pytest
import tensorflow as tf

import zlens

NO_GPU = not tf.config.list_physical_devices("GPU")


@pytest.mark.skipif(not NO_GPU, reason="the choice differs on a GPU machine (XLA is kept for convolutions)")
def test_auto_keeps_xla_for_dense_and_leaves_it_off_for_conv_on_cpu(tmp_path, x_small):
    zlens.fit("dense", x_small, epochs=1, batch_size=32, run_dir=tmp_path / "dense", seed=0, verbose=0)
    images = np.random.default_rng(0).random((40, 8, 8, 1), dtype=np.float32)
    zlens.fit("conv", images, epochs=1, batch_size=16, run_dir=tmp_path / "conv", seed=0, verbose=0)
    assert json.loads((tmp_path / "dense" / "run.json").read_text())["config"]["jit_compile"] is True
    assert json.loads((tmp_path / "conv" / "run.json").read_text())["config"]["jit_compile"] is False


def test_an_explicit_choice_is_kept(tmp_path):
    images = np.random.default_rng(1).random((24, 8, 8, 1), dtype=np.float32)
    zlens.fit("conv", images, epochs=1, batch_size=8, run_dir=tmp_path / "xla", seed=0, verbose=0, jit_compile=True)
    assert json.loads((tmp_path / "xla" / "run.json").read_text())["config"]["jit_compile"] is True
