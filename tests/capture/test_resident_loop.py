"""The compiled multi-step loop of the resident path runs exactly the steps Keras' own loop runs."""

import gc

import keras
import numpy as np
import pytest
import tensorflow as tf

import zlens
from zlens.capture.resident_loop import ResidentTrainLoop


class KerasLoop(zlens.TappedAutoencoder):
    compiled_loop = False


class BatchLog(keras.callbacks.Callback):
    """Records the (epoch, batch) numbers Keras hands the batch callbacks, and the loss logged."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append((self.epoch, batch, float(logs["loss"])))


def _model(cls=zlens.TappedAutoencoder, steps_per_execution=4, jit_compile=True):
    keras.utils.set_random_seed(3)
    model = cls(zlens.models.dense(12, 3), taps=("z", "recon_error"))
    model.compile(optimizer=keras.optimizers.Adam(0.01), jit_compile=jit_compile,
                  steps_per_execution=steps_per_execution)
    return model


@pytest.mark.parametrize("steps_per_execution", [1, 4, 64])
def test_compiled_loop_matches_keras_loop_bit_for_bit(x_small, steps_per_execution):
    # 101 samples in batches of 8: 12 full batches and a partial one; 4 steps per call leave a
    # short last execution, 64 put a whole epoch in one call
    runs = {}
    for cls in (zlens.TappedAutoencoder, KerasLoop):
        model, log = _model(cls, steps_per_execution), BatchLog()
        history = model.fit(x_small, batch_size=8, epochs=3, seed=5, capture="both", callbacks=[log], verbose=0)
        runs[cls] = model, log, history
    (fast, fast_log, fast_history), (slow, slow_log, slow_history) = runs.values()
    assert isinstance(fast.train_function, ResidentTrainLoop)
    assert not isinstance(slow.train_function, ResidentTrainLoop)
    for epoch in range(3):
        for kind in ("in-flight", "consistent"):
            np.testing.assert_array_equal(fast.run.z(epoch=epoch, kind=kind), slow.run.z(epoch=epoch, kind=kind))
        np.testing.assert_array_equal(fast.run.tap("recon_error", epoch=epoch),
                                      slow.run.tap("recon_error", epoch=epoch))
    for a, b in zip(fast.get_weights(), slow.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert fast_history.history["loss"] == slow_history.history["loss"]
    assert fast_log.seen == slow_log.seen  # same batch numbers and logs for every callback
    assert int(fast.optimizer.iterations) == int(slow.optimizer.iterations) == 3 * 13


def test_stopping_mid_epoch_then_fitting_again_starts_a_whole_epoch(x_small):
    class StopAfterFirstCall(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            self.model.stop_training = True

    model = _model(steps_per_execution=2)
    model.fit(x_small, batch_size=8, epochs=2, capture=None, callbacks=[StopAfterFirstCall()], verbose=0)
    assert int(model.optimizer.iterations) == 2
    # the next fit starts at the first batch: every row is written once (or the capture raises)
    model.fit(x_small, batch_size=8, epochs=1, capture="in-flight", verbose=0)
    assert int(model.optimizer.iterations) == 2 + 13
    assert model.run.z().shape == (101, 3)


def test_a_new_batch_size_or_data_rebuilds_the_loop(x_small):
    model = _model()
    model.fit(x_small, batch_size=8, epochs=1, verbose=0)
    first = model.train_function
    model.fit(x_small, batch_size=16, epochs=1, verbose=0)  # same samples held, new batches
    assert model.train_function is not first and model.train_function.batch_size == 16
    assert int(model.optimizer.iterations) == 13 + 7
    model.fit(x_small[:50], batch_size=16, epochs=1, verbose=0)
    assert model.run.z().shape == (50, 3)
    # a dataset is not held on the device: Keras' loop over the indexed batches
    model.fit(tf.data.Dataset.from_tensor_slices(x_small), batch_size=16, epochs=1, verbose=0)
    assert not isinstance(model.train_function, ResidentTrainLoop)
    assert model.run.z().shape == (101, 3)


@pytest.mark.parametrize("settings", [{"jit_compile": False}, {"tap_storage": "host"}])
def test_without_xla_or_device_buffers_keras_loop_runs(x_small, settings):
    model = _model(jit_compile=settings.get("jit_compile", True))
    model.fit(x_small, batch_size=8, epochs=1, verbose=0, tap_storage=settings.get("tap_storage", "auto"))
    assert not isinstance(model.train_function, ResidentTrainLoop)
    assert model.run.z().shape == (101, 3)


def test_train_on_batch_still_goes_through_keras(x_small):
    model = _model()
    model.fit(x_small, batch_size=8, epochs=1, verbose=0)
    with pytest.raises(zlens.ZlensError, match="indexed batches"):
        model.train_on_batch(x_small[:8])  # not indexed: the step's own clear error, not the loop's


@pytest.mark.slow  # six models compiled: ~30 s
def test_many_models_fitted_in_one_process_raise_no_retracing_warning(x_small, caplog):
    # each model's loop traces once; TF must not take that for a function retraced in a loop
    for _ in range(6):
        model = _model(steps_per_execution=64)
        model.fit(x_small[:96], batch_size=16, epochs=1, verbose=0)  # full batches: one trace each
    assert "retracing" not in caplog.text


def test_each_stored_epoch_keeps_the_z_read_at_its_end(x_small):
    # The writer hands the host copy of the buffer to the store without another copy: later
    # epochs, which scatter into the same device buffer, must not reach the stored ones.
    class KeepZ(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.z = []

        def on_epoch_end(self, epoch, logs=None):
            self.z.append(self.model._recorder.buffers["in-flight"]["z"].values.numpy().copy())

    model, keep = _model(), KeepZ()
    model.fit(x_small, batch_size=8, epochs=3, seed=1, callbacks=[keep], verbose=0)
    assert not np.array_equal(keep.z[0], keep.z[2])
    for epoch in range(3):
        np.testing.assert_array_equal(model.run.z(epoch=epoch), keep.z[epoch])


def test_the_loop_does_not_retrace_from_epoch_to_epoch_or_fit_to_fit(x_small):
    model = _model()
    model.fit(x_small, batch_size=8, epochs=2, verbose=0)
    loop = model.train_function
    traces = (loop._full_steps.experimental_get_tracing_count(), loop._last_step.experimental_get_tracing_count())
    assert traces[0] <= 2 and traces[1] == 1  # a second trace once the optimizer's variables exist
    model.fit(x_small, batch_size=8, epochs=3, verbose=0)
    assert model.train_function is loop
    gc.collect()
    assert loop._iterator() is None  # the last epoch's iterator is not kept alive by the loop
    counts = (loop._full_steps.experimental_get_tracing_count(), loop._last_step.experimental_get_tracing_count())
    assert counts == traces


def test_a_subclass_with_its_own_step_keeps_keras_loop_and_its_logs(x_small):
    class LogsMore(zlens.TappedAutoencoder):
        def train_step(self, data):
            logs = super().train_step(data)
            return {**logs, "extra": tf.constant(7.0)}

    keras.utils.set_random_seed(3)
    model = LogsMore(zlens.models.dense(12, 3))
    model.compile(jit_compile=True, steps_per_execution=4)
    history = model.fit(x_small, batch_size=8, epochs=1, verbose=0)
    assert not isinstance(model.train_function, ResidentTrainLoop)
    assert history.history["extra"] == [7.0]


def test_rebuilding_the_train_function_mid_epoch_goes_on_with_the_epoch(x_small):
    # Keras' docs tell users to call make_train_function(force=True) after changing `trainable`
    class RebuildMidEpoch(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 3:  # after the first call of 4 steps, each epoch
                self.model.make_train_function(force=True)

    model = _model()
    model.fit(x_small, batch_size=8, epochs=2, capture="in-flight", callbacks=[RebuildMidEpoch()], verbose=0)
    assert isinstance(model.train_function, ResidentTrainLoop)
    assert int(model.optimizer.iterations) == 2 * 13  # every batch once: the capture checked every row
