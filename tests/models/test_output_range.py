"""A model whose output cannot reach its prepared data is refused before training, in one line
naming the range, the activation and the fix; where the activation cannot be found, nothing is said."""

import keras
import numpy as np
import pytest
from sklearn.datasets import load_digits

import zlens
from zlens.errors import DataError
from zlens.models.output_range import check_output_reaches, output_activation


class _Subclassed(keras.Model):
    """The tutorial's shape: Sequentials without Input layers, a Reshape after the sigmoid."""

    def __init__(self):
        super().__init__()
        self.encoder = keras.Sequential([keras.layers.Dense(2)])
        self.decoder = keras.Sequential([keras.layers.Dense(4, activation="sigmoid"), keras.layers.Reshape((2, 2))])

    def call(self, x):
        return self.decoder(self.encoder(x))


def _functional(activation, outputs=1):
    inputs = keras.Input((4,))
    z = keras.layers.Dense(2, name="z")(inputs)
    out = keras.layers.Dense(4, activation=activation)(z)
    return keras.Model(inputs, out if outputs == 1 else [out, z])


def test_the_output_activation_is_found_in_zlens_models_and_users_models():
    assert output_activation(zlens.models.dense(8, encoding_dim=2)) == "sigmoid"
    assert output_activation(zlens.models.conv((8, 8, 1), encoding_dim=2)) == "sigmoid"
    assert output_activation(_Subclassed()) == "sigmoid"  # past the Reshape, in the `decoder` attribute
    assert output_activation(_functional("tanh")) == "tanh"
    assert output_activation(_functional(None)) == "linear"
    assert output_activation(_functional("sigmoid", outputs=2)) is None  # which output? not guessed


def test_a_range_the_activation_cannot_reach_is_refused_or_warned_as_asked():
    with pytest.raises(DataError, match=r"lies in \[-2, 3\] \(standardized\) but the model's output activation is "
                                        r"tanh, which reaches only \[-1, 1\].*scale=\"minmax\""):
        check_output_reaches(_functional("tanh"), (-2.0, 3.0), "standardized")
    with pytest.warns(UserWarning, match="sigmoid"):
        check_output_reaches(_functional("sigmoid"), (0.0, 16.0), "not scaled", refuse=False)
    check_output_reaches(_functional(None), (-50.0, 50.0), "standardized")  # linear: anything
    check_output_reaches(_functional("sigmoid", outputs=2), (0.0, 16.0), "not scaled")  # not known: nothing said
    check_output_reaches(_functional("sigmoid"), None, "a dataset")


def test_fit_refuses_standard_scaling_with_a_sigmoid_before_training(tmp_path):
    x = load_digits().data[:64]
    with pytest.raises(DataError, match="standardized per feature.*output activation is sigmoid"):
        zlens.fit("dense", x, scale="standard", epochs=1, run_dir=tmp_path / "run", verbose=0)
    assert not (tmp_path / "run").exists()  # refused before any run directory is made
    run = zlens.fit(_functional(None), np.random.default_rng(0).normal(size=(32, 4)) * 5, scale="standard",
                    epochs=1, latent="z", verbose=0)  # a linear output takes standardized data
    assert run.preprocessing["method"] == "standard" and run.preprocessing["range"][0] < 0
