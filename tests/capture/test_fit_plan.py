"""`plan_fit`: each fit's storage, XLA, steps per call and placement decided once, the same way
for `zlens.fit`, `zlens.resume` and `TappedAutoencoder.fit`; and the fit arguments renamed or
retired, which still work, with a warning."""

import dataclasses
import json

import keras
import pytest

import zlens
from zlens.capture.fit_plan import MAX_STEPS_PER_EXECUTION, plan_fit
from zlens.data.feed import prepare_training_data


def _model(x):
    model = zlens.TappedAutoencoder(zlens.models.dense(x.shape[1], 3), taps=("z", "recon_error"),
                                    sample_shape=x.shape[1:])
    model.compile(optimizer="adam", jit_compile=True)
    return model


def _plan(model, data, **overrides):
    settings = dict(capture="both", jit_compile=True, steps_per_execution=None, strategy=None)
    return plan_fit(model, data, **{**settings, **overrides})


def test_one_plan_for_the_fit(x_small):
    model = _model(x_small)
    data = prepare_training_data(x_small, batch_size=16)
    plan = _plan(model, data)
    assert plan.kinds == ("in-flight", "consistent") and plan.storage == "device" and plan.captures
    assert plan.jit_compile is True
    assert plan.steps_per_execution == 7  # ceil(101 / 16): every step of an epoch in one call
    assert plan.placement.chief and plan.placement.replicas == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        plan.storage = "host"  # decided once: nothing after the plan changes it


def test_buffers_off_the_device_turn_xla_off_and_nothing_captured_has_no_kinds(x_small):
    model, data = _model(x_small), prepare_training_data(x_small, batch_size=1)
    for storage in ("host", "stream"):
        plan = _plan(model, data, tap_storage=storage)
        assert (plan.storage, plan.jit_compile) == (storage, False)
    assert _plan(model, data, tap_storage="auto", buffer_budget=0).storage == "stream"
    assert _plan(model, data).steps_per_execution == MAX_STEPS_PER_EXECUTION
    assert _plan(model, data, steps_per_execution=5, jit_compile=False).steps_per_execution == 5
    nothing = _plan(model, data, capture=None)
    assert nothing.kinds == () and not nothing.captures


@pytest.mark.parametrize("overrides,message", [
    ({"capture": "all"}, "capture must be one of in-flight, consistent, both or None; got 'all'"),
    ({"capture_every": 0}, "capture_every must be an integer >= 1; got 0"),
    ({"on_nonfinite": "ignore"}, "on_nonfinite must be"),
    ({"tap_storage": "disk"}, "tap_storage must be one of"),
    ({"buffer_budget": -1}, "buffer_budget must be a number of bytes >= 0"),
])
def test_bad_choices_are_named(x_small, overrides, message):
    model, data = _model(x_small), prepare_training_data(x_small, batch_size=16)
    with pytest.raises(zlens.ZlensError, match=message):
        _plan(model, data, **overrides)


def test_the_model_trains_as_planned(x_small):
    model = _model(x_small)
    model.fit(x_small, epochs=1, batch_size=16, tap_storage="host", verbose=0)
    assert model.jit_compile is False and model._recorder.storage == "host"
    model.fit(x_small, epochs=1, batch_size=16, tap_storage="device", verbose=0)
    assert model._recorder.storage == "device"


def test_renamed_and_retired_fit_arguments_still_work_with_a_warning(x_small, tmp_path):
    model = _model(x_small)
    with pytest.warns(DeprecationWarning, match="memory_budget= is now buffer_budget=") as warned:
        model.fit(x_small, epochs=1, batch_size=16, memory_budget=0, verbose=0)
    assert model._recorder.storage == "stream"  # the old name is honoured
    assert warned[0].filename == __file__  # at the user's line, where Python shows it
    data = prepare_training_data(x_small, batch_size=16)
    with pytest.warns(DeprecationWarning, match="a TrainingData as x is zlens' own plumbing") as warned:
        model.fit(data, epochs=1, verbose=0)
    assert warned[0].filename == __file__
    assert model.run.z().shape == (101, 3)
    with pytest.warns(DeprecationWarning, match="resident_bytes= is zlens' own setting"):
        model.fit(x_small, epochs=1, batch_size=16, resident_bytes=0, verbose=0)
    with pytest.warns(DeprecationWarning, match="zlens.fit: memory_budget= is now buffer_budget="):
        zlens.fit("dense", x_small, epochs=1, batch_size=16, encoding_dim=2, memory_budget=0, verbose=0,
                  run_dir=tmp_path / "run")
    assert json.loads((tmp_path / "run" / "run.json").read_text())["config"]["tap_storage"] == "stream"


def test_a_compiled_choice_of_steps_per_call_is_kept(x_small):
    model = zlens.TappedAutoencoder(zlens.models.dense(12, 3), sample_shape=(12,))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=False, steps_per_execution=3)
    model.fit(x_small, epochs=1, batch_size=16, verbose=0)
    assert (model.jit_compile, model.steps_per_execution) == (False, 3)


def test_a_bad_capture_is_refused_before_the_data_is_read_or_a_run_directory_made(x_small, tmp_path):
    with pytest.raises(zlens.ZlensError, match="capture must be one of in-flight, consistent, both; got None"):
        zlens.fit("dense", x_small, epochs=1, capture=None, run_dir=tmp_path / "run")
    with pytest.raises(zlens.ZlensError, match="on_nonfinite must be one of stop, record"):
        zlens.fit("dense", x_small, epochs=1, on_nonfinite="skip", run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_the_plan_says_what_keras_runs(x_small):
    class NoXLA(keras.layers.Layer):  # a layer XLA cannot compile: Keras runs without XLA whatever is asked
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.supports_jit = False

        def call(self, x):
            return x

    inputs = keras.Input((12,))
    code = keras.layers.Dense(3, name="z")(NoXLA()(inputs))
    model = zlens.TappedAutoencoder(keras.Model(inputs, keras.layers.Dense(12)(code)), sample_shape=(12,))
    data = prepare_training_data(x_small, batch_size=16)
    assert _plan(model, data, jit_compile=True).jit_compile is False
    assert _plan(_model(x_small), data, jit_compile=True).jit_compile is True
