"""`TappedAutoencoder`: a Keras model around any autoencoder that captures z while it trains.

Keras users keep `compile`, `fit`, callbacks, `save` / `load_model`; `fit` additionally hands
back the complete, row-aligned z of every epoch in `model.run`, captured inside the compiled
train step: zlens' own step, or the wrapped model's own `train_step` when it has one (the Keras
VAE example), whose latent layer's output is caught as it runs (`capture/intercept.py`) and
scattered by the batch's sample indices (`capture/recorder.py`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from zlens.capture.callback import CaptureCallback
from zlens.capture.fit_plan import FitPlan, check_capture_options, plan_fit, sample_budget
from zlens.capture.intercept import catch_outputs
from zlens.capture.latent_encoder import LatentEncoder
from zlens.capture.recorder import IN_FLIGHT, LatentRecorder
from zlens.capture.resident_loop import ResidentTrainLoop
from zlens.capture.state import CaptureState
from zlens.capture.taps import LATENT, TapPlan, check_taps, known_sample_shape
from zlens.capture.validation_pass import ValidationPass
from zlens.data.conform import preprocessing_record
from zlens.data.epoch_order import EpochOrder, ReorderEachEpoch
from zlens.data.feed import CONSISTENT_BATCH, TrainingData, prepare_training_data
from zlens.data.training_input import training_input
from zlens.data.validate import check_labels
from zlens.data.validation import ValidationData, prepare_validation
from zlens.distribute import WorkerSum, distribute_data
from zlens.distribute.replicated_model import ReplicatedTraining, quiet_distributed_input
from zlens.errors import ModelError, ZlensError
from zlens.models.pair import EncoderDecoder

#: The wrapped model's methods that, when it overrides one, make its own `train_step` the step.
USER_STEP_METHODS = ("train_step", "compute_loss")


@keras.saving.register_keras_serializable(package="zlens")
class TappedAutoencoder(ReplicatedTraining, keras.Model):
    """An autoencoder whose `fit` also captures the complete latent matrix z, row i = sample i.

    Wrap your own model as you wrote it: functional or Sequential (with or without an Input
    layer), or subclassed with `encoder` / `decoder` attributes, its `call` returning the
    reconstruction or `(reconstruction, z)`, with or without its own `train_step` (which then
    trains exactly as written: its loss, its metrics, its optimizer updates). Or give an encoder
    and a decoder model. Each `fit` records every tap for every epoch into `model.run` (a
    `zlens.Run`), in-flight (from the training forward pass, free), consistent (an inference pass
    with the epoch's final weights) or both. The model's output is the reconstruction; the loss
    is the wrapped model's compiled loss, or MSE against the target (the input by default).

    Args:
        autoencoder: your Keras model (any style, built or not; an unbuilt one is built from the
            data's sample shape at the first `fit`).
        latent: where z is: a layer name at any depth, or an attribute path such as "encoder"
            (its first output when it returns several, as a VAE encoder's `z_mean`). Default: a
            layer named "z_mean", "z", "latent", "encoding" or "bottleneck", else the `encoder`
            attribute, else the second output of a `call` returning `(reconstruction, z)`, else
            (a classifier) the layer before the output.
        encoder: instead of `autoencoder`, a model from input to z...
        decoder: ...and a model from z to reconstruction.
        taps: what to capture: "z", "recon_error" (per-sample MSE) and/or layer names.
        sample_shape: one sample's shape, to build an unbuilt model now instead of at `fit`.

    Example:
        >>> model = zlens.TappedAutoencoder(my_autoencoder, latent="bottleneck",
        ...                                 taps=("z", "recon_error"))
        >>> model.compile(optimizer="adam")
        >>> model.fit(x, epochs=10, batch_size=128, capture="both",
        ...           callbacks=[keras.callbacks.EarlyStopping("loss", patience=2)])
        >>> model.run.z(epoch=-1, kind="consistent").shape   # (len(x), d), row i = x[i]
    """

    def __init__(
        self,
        autoencoder: keras.Model | None = None,
        latent: str | None = None,
        *,
        encoder: keras.Model | None = None,
        decoder: keras.Model | None = None,
        taps: Sequence[str] = (LATENT,),
        sample_shape: Sequence[int] | None = None,
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if autoencoder is None:
            if encoder is None or decoder is None:
                raise ModelError("give an autoencoder model, or both encoder= and decoder= models.")
            autoencoder = EncoderDecoder(encoder, decoder, name=f"{encoder.name}_{decoder.name}")
        elif encoder is not None or decoder is not None:
            raise ModelError("give either an autoencoder or encoder= and decoder=, not both.")
        if not isinstance(autoencoder, keras.Model):
            raise ModelError(f"the autoencoder must be a Keras model; got {type(autoencoder).__name__}.")
        self.autoencoder = autoencoder
        self._latent = latent
        self.taps = check_taps(taps)
        self._capture = CaptureState()
        self.run = None
        if sample_shape is not None or autoencoder.built:
            self.plan_for(sample_shape)

    def plan_for(self, sample_shape: Sequence[int] | None) -> TapPlan:
        """Resolve where each tap is for samples of `sample_shape` (building the wrapped model
        on them if it is not built yet); once per model."""
        plan = self._capture.plan
        if plan is None:
            plan = self._capture.plan = TapPlan(self.autoencoder, self._latent, self.taps, sample_shape)
            self.built = True
        elif sample_shape is not None and tuple(sample_shape) != plan.sample_shape:
            raise ModelError(f"the model was built for samples of shape {plan.sample_shape}; "
                             f"these samples have shape {tuple(sample_shape)}.")
        return plan

    @property
    def plan(self) -> TapPlan:
        """Where each tap comes from (see `TapPlan`); the model must be built."""
        if self._capture.plan is None:
            raise ModelError("the model is not built yet: fit it, or pass sample_shape= to TappedAutoencoder.")
        return self._capture.plan

    @property
    def latent(self) -> str:
        """Where z is, as resolved: a layer name or an attribute path."""
        return self.plan.latent

    @property
    def user_step(self) -> bool:
        """Whether the wrapped model trains with its own `train_step` (or `compute_loss`)."""
        return any(getattr(type(self.autoencoder), name) is not getattr(keras.Model, name)
                   for name in USER_STEP_METHODS)

    @property
    def _recorder(self) -> LatentRecorder | None:
        return self._capture.recorder

    # -- Keras model protocol -------------------------------------------------------------
    def call(self, x, training=None):
        if self._capture.plan is None:
            self.plan_for(tuple(x.shape[1:]))
        return self._capture.plan.reconstruct(x, training=bool(training))

    def compile(self, optimizer=None, loss=None, **kwargs):
        """`keras.Model.compile`; the optimizer and loss default to the wrapped model's own where
        it was compiled, else Adam and MSE against the target. A wrapped model with its own
        `train_step` is compiled with the same optimizer object, so its step updates it."""
        inner = self.autoencoder
        own = _compile_arguments(inner)
        kwargs = {**{k: own[k] for k in ("metrics", "weighted_metrics", "loss_weights") if own.get(k)}, **kwargs}
        super().compile(optimizer=optimizer or own.get("optimizer") or "adam", loss=loss or own.get("loss") or "mse",
                        **kwargs)
        if self.user_step and getattr(inner, "optimizer", None) is not self.optimizer:
            inner.compile(optimizer=self.optimizer, loss=own.get("loss") if loss is None else loss,
                          metrics=kwargs.get("metrics"))

    def compile_from_config(self, config):
        """Recompile on `load_model` (optimizer state included), so a checkpoint can resume."""
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    @property
    def metrics(self):
        # A wrapped model's own step updates its own trackers: Keras resets them each epoch.
        return self.autoencoder.metrics if self.user_step else super().metrics

    def get_config(self):
        plan = self._capture.plan
        return {
            **super().get_config(),
            "autoencoder": keras.saving.serialize_keras_object(self.autoencoder),
            "latent": self._latent,
            "taps": list(self.taps),
            "sample_shape": None if plan is None else list(plan.sample_shape),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["autoencoder"] = keras.saving.deserialize_keras_object(config["autoencoder"],
                                                                      custom_objects=custom_objects)
        return cls(**config)

    @property
    def encoder(self) -> keras.Model:
        """A model from input to z sharing this model's weights (what `zlens.encode` runs)."""
        if self._capture.encoder is None:
            self._capture.encoder = LatentEncoder(self.plan)
        return self._capture.encoder

    # -- the compiled steps ---------------------------------------------------------------
    #: Run each execution of steps on device-held samples as one XLA computation
    #: (`capture/resident_loop.py`); False keeps Keras' own loop (for side-by-side benchmarks).
    compiled_loop = True

    def make_train_function(self, force=False):
        if self.train_function is not None and not force:
            return self.train_function
        previous = self.train_function
        super().make_train_function(force=True)
        if self._uses_compiled_loop():
            state = self._capture
            loop = ResidentTrainLoop(self, state.resident.shape[0], state.resident_batch, self.train_function)
            if isinstance(previous, ResidentTrainLoop):
                loop.continue_epoch_of(previous)  # rebuilt mid-epoch (a callback): go on from there
            self.train_function = loop
        return self.train_function

    def _uses_compiled_loop(self) -> bool:
        """Whether the fit can run on `ResidentTrainLoop`: samples on the device, XLA, one device,
        tap buffers on the device (host and stream buffers call back into Python), and zlens' own
        step (a model's own `train_step` may log more than the metrics: Keras' loop returns it)."""
        state = self._capture
        return (
            self.compiled_loop
            and state.resident is not None
            and bool(state.resident_batch)
            and self.jit_compile is True
            and not self.run_eagerly
            and self._replica_strategy() is None
            and (state.recorder is None or state.recorder.storage == "device")
            and not self.user_step
            and all(getattr(type(self), name) is getattr(TappedAutoencoder, name) for name in _OWN_STEP)
        )

    def train_step(self, data):
        x, y, idx = self._indexed_batch(data)
        recorder, plan = self._capture.recorder, self._capture.plan
        with catch_outputs(plan.layers if recorder is not None else []) as caught:
            if self.user_step:  # the data exactly as Keras' fit hands it to the model's own step
                logs = self.autoencoder.train_step(keras.utils.pack_x_y_sample_weight(x, y))
            else:
                logs = super().train_step((x, x if y is None else y))
        if recorder is not None:
            recorder.record(plan.tap_values(caught, x if y is None else y), idx, kind=IN_FLIGHT)
        return self._replica_logs(logs)

    def test_step(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        if self._capture.target_spec is None and (y is None or _is_index(y)):
            y = None  # an autoencoder's validation data: x alone, or indexed
        if type(self.autoencoder).test_step is not keras.Model.test_step:
            return self._replica_logs(self.autoencoder.test_step(keras.utils.pack_x_y_sample_weight(x, y)))
        return self._replica_logs(super().test_step((x, x if y is None else y)))

    def _indexed_batch(self, data):
        """`(x, y, idx)` of a training batch, y None where the target is the input: from positions
        into the samples held on the device, or from an indexed batch `(x, idx)` / `(x, y, idx)`."""
        state = self._capture
        if _is_index(data):  # positions in this epoch's order of the samples kept on the device
            idx = tf.gather(state.order, data)
            return tf.gather(state.resident, idx), None, idx
        if not isinstance(data, (tuple, list)) or len(data) not in (2, 3) or not _is_index(data[-1]):
            raise ZlensError(
                "TappedAutoencoder trains on indexed batches (x, idx): pass arrays or an unbatched "
                "dataset to fit(), or index a dataset with zlens.data.index_dataset."
            )
        return data[0], (data[1] if len(data) == 3 else None), data[-1]

    # -- fit, with capture ----------------------------------------------------------------
    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs=1,
        verbose="auto",
        callbacks=None,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        initial_epoch=0,
        steps_per_epoch=None,
        *,
        capture: str | None = "in-flight",
        capture_every: int = 1,
        seed: int | None = None,
        n_samples: int | None = None,
        labels=None,
        index: str | int | None = None,
        tap_storage: str = "auto",
        buffer_budget: int | None = None,
        on_nonfinite: str = "stop",
        validation_labels=None,
        **kwargs,
    ):
        """`keras.Model.fit` that also captures every tap of every epoch into `self.run`.

        `x` is an array of samples (N, ...), a `tf.data.Dataset` as `zlens.fit` takes it (batched
        or not, `(x, y)` pairs, dicts, its own index: see `zlens.fit`), or a dataset already
        indexed with `zlens.data.index_dataset` / `index_array`. `y` (optional)
        is the target when it is not the input (a denoising autoencoder). `batch_size` defaults
        to a batched dataset's own batch size, else 32, as in Keras. Arguments beyond Keras' own:

        Args:
            capture: "in-flight", "consistent" or "both" (see the README: what each means),
                or None to train without capturing (`self.run` is then None).
            capture_every: keep every Kth epoch (the last epoch is always kept).
            seed: seeds the shuffle order of the indexed data.
            n_samples: N, for a dataset already indexed (otherwise counted with one pass).
            labels: one label per sample, kept with the latents in `self.run`, or the key or
                position of a dataset's elements that holds them (as in `zlens.fit`).
            index: the key or position of a sample index a dataset carries (as in `zlens.fit`).
            validation_labels: one label per sample of `validation_data` (an array of samples,
                or `(x_val, y_val)` with a target), kept with their z: every captured epoch
                also holds the validation samples' consistent z, `self.run.z(kind="consistent",
                split="validation")`, prepared as `x` was (`zlens.data.validation`).
            tap_storage: where the tap buffers live: "device" (variables on the device, the
                fastest), "host" (host memory), "stream" (a scratch file, for a z matrix larger
                than memory) or "auto" (default: "device" within `buffer_budget`, else "stream").
                "host" and "stream" call back into Python once per batch and turn XLA off.
            buffer_budget: bytes the tap buffers may take on the device under "auto" (default
                4 GiB). Formerly `memory_budget` (still accepted, with a warning).
            on_nonfinite: "stop" (default): when an epoch's loss or captured values hold NaN or
                infinity, training stops at that epoch's end without keeping it, and
                `zlens.NonFiniteError` is raised (the earlier epochs are in `self.run`); "record":
                keep such epochs, flagged (`run.nonfinite`).

        The step runs as compiled (`jit_compile`, `steps_per_execution`), except where capture
        cannot: tap buffers off the device turn XLA off, and so does a `tf.distribute` strategy,
        which also runs one step per call (see `zlens.capture.fit_plan`).

        Under a `tf.distribute` strategy, build and compile this model inside `strategy.scope()`
        (its variables must be the strategy's); `batch_size` is then the global batch, split over
        the replicas, and each worker of a multi-worker run reads only its share of the samples.

        Returns:
            Keras' `History`; the captured latents are in `self.run`.
        """
        if validation_split:
            raise ZlensError("validation_split is not supported (it would drop rows from z); pass validation_data=.")
        if steps_per_epoch is not None:
            raise ZlensError("steps_per_epoch is not supported: every sample must pass once per epoch "
                             "for a complete z.")
        check_capture_options(capture, capture_every, on_nonfinite)  # before any data is read
        buffer_budget, budget, writer = _deprecated_fit_arguments(kwargs, buffer_budget)
        strategy = self._replica_strategy()
        if isinstance(x, TrainingData):
            _warn_deprecated("a TrainingData as x is zlens' own plumbing and will go; pass the samples", stacklevel=3)
        built = self._capture.plan
        data_in = None if isinstance(x, TrainingData) else training_input(
            x, y, expected_shape=None if built is None else built.sample_shape, labels=labels, index=index)
        if data_in is not None and data_in.labels is not None:
            labels = data_in.labels
        expected = built.sample_shape if built is not None else known_sample_shape(self.autoencoder)
        if data_in is not None and expected is not None:
            data_in = data_in.fitted_to(expected)  # gray images (H, W) for a model built for (H, W, 1)
        data = x if data_in is None else prepare_training_data(
            data_in, batch_size=batch_size or data_in.batch_size or 32, shuffle=shuffle, seed=seed,
            input_shape=self.plan_for(data_in.sample_shape).sample_shape, n_samples=n_samples,
            sample_budget=sample_budget(strategy) if budget is None or strategy is not None else budget,
        )
        fit_plan = plan_fit(self, data, capture=capture, jit_compile=self.jit_compile,
                            steps_per_execution=self.steps_per_execution, strategy=strategy,
                            tap_storage=tap_storage, buffer_budget=buffer_budget, capture_every=capture_every,
                            on_nonfinite=on_nonfinite)
        validation = prepare_validation(validation_data, labels=validation_labels,
                                        preprocess=preprocessing_record(None if data_in is None else data_in.source,
                                                                         self.plan.sample_shape),
                                        has_target=data.target_spec is not None)
        own_writer = writer is None and fit_plan.captures
        if own_writer:
            from zlens.run_writer import RunWriter

            writer = RunWriter.in_memory(data.n_samples, self.plan.row_shapes, fit_plan.kinds,
                                         check_labels(labels, data.n_samples), chief=fit_plan.placement.chief,
                                         validation=validation)
        try:
            return self._fit_planned(data, fit_plan, writer, epochs=epochs, verbose=verbose, callbacks=callbacks,
                                     validation_data=validation, initial_epoch=initial_epoch, **kwargs)
        finally:
            if own_writer:
                writer.close()

    def _fit_planned(self, data: TrainingData, fit_plan: FitPlan, writer, *, epochs: int, initial_epoch: int = 0,
                     callbacks=None, verbose="auto", validation_data: ValidationData | None = None, **kwargs):
        """Train on prepared `data` as `fit_plan` says, handing each captured epoch to `writer`
        (a `zlens.run_writer.RunWriter`; None when nothing is captured): what `fit`, `zlens.fit`
        and `zlens.resume` run once they have decided. `validation_data` (prepared, see
        `zlens.data.validation`) gives Keras' val_loss and, when capturing, the validation z of
        every captured epoch (the writer's store holds that split). `self.run` reads the writer's
        epochs afterwards, also when an epoch with non-finite values stopped training."""
        self._capture.target_spec = data.target_spec
        strategy = self._replica_strategy()
        if strategy is not None:
            data = distribute_data(data, strategy, data.batch_size)
        self._apply_plan(fit_plan, data)
        self._hold_resident(data.resident, data.order, data.batch_size)
        # First of all callbacks: each epoch's order is set before anything else sees the epoch.
        ordering = [] if data.order is None else [ReorderEachEpoch(data.order, self._capture.order)]
        capturing = []
        if fit_plan.captures:
            assert self._recorder is not None and writer is not None  # attached by _apply_plan; given by the caller
            held_out = None if validation_data is None else ValidationPass(
                self.plan.infer, self.plan.row_shapes, validation_data, storage=fit_plan.storage, strategy=strategy)
            capturing = [CaptureCallback(self._recorder, writer, data.consistent, capture_every=fit_plan.capture_every,
                                         last_epoch=epochs - 1, on_nonfinite=fit_plan.on_nonfinite,
                                         validation=held_out)]
        if validation_data is not None:  # Keras' default is 32 rows per validation step: ~30x the steps
            kwargs.setdefault("validation_batch_size", max(data.batch_size, CONSISTENT_BATCH))
        with quiet_distributed_input(data.distributed):
            history = super().fit(data.train, epochs=epochs, verbose=verbose,
                                  callbacks=[*ordering, *capturing, *(callbacks or [])],
                                  validation_data=None if validation_data is None else validation_data.keras_data,
                                  initial_epoch=initial_epoch, shuffle=False, **kwargs)
        self.run = writer.as_run() if capturing else None
        if capturing and capturing[0].diverged is not None:
            raise capturing[0].diverged
        return history

    def _apply_plan(self, fit_plan: FitPlan, data: TrainingData) -> None:
        """Set the compiled step up as `fit_plan` says: XLA and steps per call, scalar logs as
        vectors across workers, and the recorder's buffers (none when nothing is captured). Any
        change makes Keras trace the step again."""
        if self.jit_compile != fit_plan.jit_compile or self.steps_per_execution != fit_plan.steps_per_execution:
            self.jit_compile = fit_plan.jit_compile
            self.steps_per_execution = fit_plan.steps_per_execution
            self.train_function = None
        self._log_as_vectors(fit_plan.placement.multi_worker)
        if not fit_plan.captures:
            if self._capture.recorder is not None:
                self._capture.recorder = None
                self.train_function = None  # retrace: the step no longer scatters
            return
        plan = self.plan
        rec = self._capture.recorder
        if (rec is None or rec.n_samples != data.n_samples or rec.kinds != fit_plan.kinds
                or rec.storage != fit_plan.storage):
            strategy = self._replica_strategy()
            total = WorkerSum(strategy) if fit_plan.placement.multi_worker else None
            self._capture.recorder = LatentRecorder(plan.infer, plan.row_shapes, data.n_samples, fit_plan.kinds,
                                                    strategy, storage=fit_plan.storage, total=total)
            self.train_function = None  # retrace: the step now writes into the new buffers

    def _hold_resident(self, x: np.ndarray | None, order: EpochOrder | None = None, batch_size: int = 0) -> None:
        """Keep `x` in a device variable for the step to gather from, visited in `order` in
        batches of `batch_size` (x None: release it)."""
        state = self._capture
        if x is None:
            if state.resident is not None:
                state.resident = state.order = None
                self.train_function = None  # the compiled loop reads the held samples
            return
        if state.resident is not None and tuple(state.resident.shape) == x.shape:
            state.resident.assign(x)
        else:
            state.resident = tf.Variable(x, trainable=False, name="zlens_samples")
            assert order is not None, "samples held on the device come with their visiting order"
            state.order = tf.Variable(order.identity(), trainable=False, name="zlens_order")
            self.train_function = None
        if batch_size != state.resident_batch:
            state.resident_batch = batch_size
            self.train_function = None  # the compiled loop's batches are this size


#: What the compiled loop runs and returns; a subclass that overrides one keeps Keras' loop.
_OWN_STEP = ("train_step", "compute_metrics", "get_metrics_result")


def _compile_arguments(model: keras.Model) -> dict:
    """What `model` was compiled with (its optimizer object itself), or {} if it was not."""
    if not model.compiled:
        return {}
    config = model.get_compile_config() or {}
    arguments = keras.saving.deserialize_keras_object(config) if config else {}
    return {**arguments, "optimizer": model.optimizer}


def _is_index(t) -> bool:
    """Whether `t` is a batch of sample indices (an integer vector)."""
    return hasattr(t, "dtype") and t.dtype.is_integer and len(t.shape) == 1


def _deprecated_fit_arguments(kwargs: dict, buffer_budget: int | None) -> tuple[int | None, int | None, Any]:
    """Take the arguments `fit` no longer documents out of `kwargs`, warning for each:
    `memory_budget` (now `buffer_budget`), `resident_bytes` and `writer` (zlens' own plumbing).
    Returns `(buffer_budget, resident_bytes or None, writer or None)`."""
    if "memory_budget" in kwargs:
        _warn_deprecated("memory_budget= is now buffer_budget= (the bytes the tap buffers may take on the device)",
                         stacklevel=4)
        old = kwargs.pop("memory_budget")
        buffer_budget = old if buffer_budget is None else buffer_budget
    resident = kwargs.pop("resident_bytes", None)
    if resident is not None:
        _warn_deprecated("resident_bytes= is zlens' own setting (samples held on the device, 2 GiB) and will go",
                         stacklevel=4)
    writer = kwargs.pop("writer", None)
    if writer is not None:
        _warn_deprecated("writer= is zlens' own plumbing and will go; use zlens.fit(..., run_dir=) to write a run",
                         stacklevel=4)
    return buffer_budget, resident, writer


def _warn_deprecated(what: str, *, stacklevel: int) -> None:
    """Warn at the user's call of `fit` (`stacklevel` counts the frames from here to it)."""
    warnings.warn(f"TappedAutoencoder.fit: {what}.", DeprecationWarning, stacklevel=stacklevel)
