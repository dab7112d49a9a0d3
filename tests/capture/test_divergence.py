"""A diverging run stops at the epoch that went non-finite, keeps every earlier epoch, and says why.

Real divergence, not an injected NaN: a VAE trained on at a learning rate of 1e6 (zlens' own, and
the Keras example's with its own train_step), and data scaled to 1e30.
"""

import json

import keras
import numpy as np
import pytest
from user_models import VAE, build_vae_decoder, build_vae_encoder

import zlens
from zlens.errors import NonFiniteError


@pytest.fixture
def images():
    rng = np.random.default_rng(0)
    return rng.random((96, 64)).astype("float32")


def test_a_vae_that_diverges_stops_there_and_keeps_the_last_good_epoch(tmp_path, images):
    run_dir = tmp_path / "vae"
    good = zlens.fit("vae", images, epochs=2, batch_size=32, encoding_dim=2,
                     run_dir=run_dir, seed=0, verbose=0, capture="both")
    z_before = {e: good.z(e) for e in (0, 1)}

    with pytest.raises(NonFiniteError, match=r"training diverged at epoch 2: .* epochs up to 1 are committed") as info:
        zlens.resume(run_dir, images, epochs=5, learning_rate=1e6, verbose=0)
    assert info.value.epoch == 2 and ("loss" in info.value.what or "rows hold NaN" in info.value.what)

    record = json.loads((run_dir / "run.json").read_text())
    assert record["status"] == "failed" and record["reason"].startswith("training diverged at epoch 2")
    assert record["epochs_done"] == 2 and [row["epoch"] for row in record["history"]] == [0, 1]
    run = zlens.open_run(run_dir)
    assert run.epochs == [0, 1]
    for epoch, z in z_before.items():
        np.testing.assert_array_equal(run.z(epoch), z)
        assert np.isfinite(run.z(epoch, kind="consistent")).all()

    resumed = zlens.resume(run_dir, images, epochs=4, learning_rate=1e-4, verbose=0)
    assert resumed.epochs == [0, 1, 2, 3] and resumed.status == "finished"
    assert all(np.isfinite(resumed.z(e)).all() for e in resumed.epochs)
    assert json.loads((run_dir / "run.json").read_text())["config"]["optimizer"]["learning_rate"] == pytest.approx(1e-4)


def test_data_scaled_to_1e30_stops_in_its_first_epoch_and_resume_starts_it_again(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.random((120, 6)).astype("float32")
    with pytest.raises(NonFiniteError, match="at epoch 0: loss is (nan|inf).*no epoch is committed"), \
            pytest.warns(UserWarning, match=r"lies in \[.*e\+2\d, .*e\+29\].*sigmoid"):  # as given, as asked
        zlens.fit("dense", x * 1e30, epochs=3, run_dir=tmp_path / "big", seed=0, verbose=0, scale="none")
    record = json.loads((tmp_path / "big" / "run.json").read_text())
    assert record["status"] == "failed" and record["epochs_done"] == 0 and "loss is" in record["reason"]
    assert zlens.open_run(tmp_path / "big").epochs == []

    with pytest.raises(zlens.ZlensError, match="learning_rate must be a number > 0; got -1"):
        zlens.resume(tmp_path / "big", x, learning_rate=-1, verbose=0)  # checked before it starts again
    again = zlens.resume(tmp_path / "big", x, verbose=0)  # nothing to lose: it starts again
    assert again.epochs == [0, 1, 2] and again.status == "finished"


def test_record_keeps_the_nonfinite_epochs_flagged(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.random((64, 5)).astype("float32") * 1e30
    with pytest.warns(UserWarning, match="sigmoid"):
        run = zlens.fit("dense", x, epochs=2, run_dir=tmp_path / "kept", seed=0, verbose=0, on_nonfinite="record",
                        scale="none")
    assert run.epochs == [0, 1] and run.status == "finished"
    assert set(run.nonfinite) == {0, 1}
    for epoch, flags in run.nonfinite.items():  # each flag counts the rows that really hold NaN or inf
        counts = {f"in-flight/{tap}": int((~np.isfinite(run.tap(tap, epoch).reshape(64, -1))).any(axis=1).sum())
                  for tap in run.taps}
        assert flags == {key: n for key, n in counts.items() if n}
    reopened = zlens.open_run(tmp_path / "kept")
    assert reopened.nonfinite == run.nonfinite and reopened.summary()["nonfinite_epochs"] == [0, 1]
    assert "non-finite values recorded" in json.loads((tmp_path / "kept" / "run.json").read_text())["reason"]


def test_the_keras_example_vae_with_its_own_train_step_stops_too():
    keras.utils.set_random_seed(0)
    vae = VAE(build_vae_encoder(2), build_vae_decoder(2))
    vae.compile(optimizer=keras.optimizers.Adam(1e6))
    x = np.random.default_rng(3).random((64, 28, 28, 1), dtype=np.float32)
    with pytest.raises(NonFiniteError, match="training diverged at epoch") as info:
        zlens.fit(vae, x, epochs=6, batch_size=16, seed=0, verbose=0)
    assert info.value.epoch < 6


def test_in_memory_fit_raises_too_and_a_bad_choice_is_refused(x_small):
    with pytest.raises(NonFiniteError), pytest.warns(UserWarning, match="sigmoid"):
        zlens.fit("dense", x_small * 1e30, epochs=2, verbose=0, scale="none")  # as given, as asked
    with pytest.raises(zlens.ZlensError, match="on_nonfinite must be one of stop, record; got 'ignore'"):
        zlens.fit("dense", x_small, epochs=1, verbose=0, on_nonfinite="ignore")


def test_your_own_model_stopped_before_its_first_epoch_starts_again_when_you_pass_it(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.random((80, 6)).astype("float32")

    def own_model():
        inputs = keras.Input((6,))
        code = keras.layers.Dense(2, name="bottleneck")(inputs)
        return keras.Model(inputs, keras.layers.Dense(6)(code), name="mine")

    with pytest.raises(NonFiniteError):
        zlens.fit(own_model(), x * 1e30, epochs=2, run_dir=tmp_path / "own", seed=0, verbose=0, scale="none")
    with pytest.raises(zlens.RunError, match=r"its model was your own: pass it \(zlens.resume\(run_dir, x, model="):
        zlens.resume(tmp_path / "own", x, verbose=0)
    again = zlens.resume(tmp_path / "own", x, model=own_model(), verbose=0)
    assert again.epochs == [0, 1] and again.status == "finished" and again.z().shape == (80, 2)
    record = json.loads((tmp_path / "own" / "run.json").read_text())
    assert record["config"]["latent"] == "bottleneck" and record["config"]["model"] == "mine"
