"""Choosing a strategy, and the clear errors when a run cannot be distributed as asked."""

import json

import numpy as np
import pytest
import tensorflow as tf

import zlens
from zlens import cli
from zlens.distribute import placement, resolve_strategy


def test_strategy_names_and_one_device(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert resolve_strategy(None) is None
    assert placement(None).chief and not placement(None).multi_worker
    with pytest.raises(zlens.ZlensError, match="needs the cluster in the TF_CONFIG"):
        resolve_strategy("multi-worker")
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(zlens.ZlensError, match="TF_CONFIG is not valid JSON"):
        resolve_strategy("multi-worker")
    with pytest.raises(zlens.ZlensError, match="strategy must be None, 'mirrored' or 'multi-worker'"):
        resolve_strategy("tpu")


def test_a_model_built_outside_the_scope_is_refused_with_the_fix(x_small):
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    outside = zlens.models.dense(12, 2)
    with pytest.raises(zlens.ModelError, match=r"inside `with strategy.scope\(\):`"):
        zlens.fit(outside, x_small, epochs=1, strategy=strategy)
    with strategy.scope():
        inside = zlens.models.dense(12, 2)
    run = zlens.fit(inside, x_small, epochs=1, batch_size=16, strategy=strategy, seed=0)
    assert run.z().shape == (101, 2)


def test_cli_strategy_option(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    x = np.random.default_rng(0).random((64, 6)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    assert cli.main(["train", "--data", str(tmp_path / "x.npy"), "--out", str(tmp_path / "bad"),
                     "--strategy", "multi-worker", "--quiet"]) == 2
    assert "TF_CONFIG" in capsys.readouterr().err
    assert cli.main(["train", "--data", str(tmp_path / "x.npy"), "--out", str(tmp_path / "run"), "--epochs", "1",
                     "--strategy", "mirrored", "--quiet"]) == 0
    config = json.loads((tmp_path / "run" / "run.json").read_text())["config"]
    assert config["strategy"] == "mirrored" and config["replicas"] == max(1, len(tf.config.list_logical_devices("GPU")))
