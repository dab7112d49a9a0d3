"""`TappedAutoencoder`: a Keras model around any autoencoder that captures z while it trains.

Keras users keep `compile`, `fit`, callbacks, `save` / `load_model`; `fit` additionally hands
back the complete, row-aligned z of every epoch in `model.run`, captured inside the compiled
train step (see `capture/recorder.py`).
"""

from __future__ import annotations

from typing import Sequence

import keras
import numpy as np
import tensorflow as tf
from keras.src.losses import loss as loss_module  # scaling helpers the TF trainer uses too

from zlens.capture.callback import CaptureCallback
from zlens.capture.recorder import CONSISTENT, IN_FLIGHT, LatentRecorder, choose_storage
from zlens.capture.resident_loop import ResidentTrainLoop
from zlens.capture.taps import (
    LATENT,
    build_tap_model,
    check_functional,
    check_taps,
    resolve_latent,
    tap_row_shapes,
)
from zlens.data.epoch_order import EpochOrder, ReorderEachEpoch
from zlens.data.feed import RESIDENT_BYTES, TrainingData, prepare_training_data
from zlens.data.validate import check_labels
from zlens.distribute import WorkerSum, distribute_data, placement
from zlens.distribute.replicated_model import ReplicatedTraining, quiet_distributed_input
from zlens.errors import ModelError, ZlensError

CAPTURE_CHOICES = {"in-flight": (IN_FLIGHT,), "consistent": (CONSISTENT,), "both": (IN_FLIGHT, CONSISTENT)}


@keras.saving.register_keras_serializable(package="zlens")
class TappedAutoencoder(ReplicatedTraining, keras.Model):
    """An autoencoder whose `fit` also captures the complete latent matrix z, row i = sample i.

    Wrap your own functional / Sequential autoencoder and name its latent layer, or give an
    encoder and a decoder model. The model behaves like any Keras model (its output is the
    reconstruction, the loss defaults to MSE against the input), and each `fit` records every
    tap for every epoch into `model.run` (a `zlens.Run`), in-flight (from the training forward
    pass, free), consistent (an inference pass with the epoch's final weights) or both.

    Args:
        autoencoder: a functional or Sequential Keras model from input to reconstruction.
        latent: name of the layer of `autoencoder` whose output is z (default: a layer named
            "z", "z_mean", "latent", "encoding" or "bottleneck").
        encoder: instead of `autoencoder`, a model from input to z...
        decoder: ...and a model from z to reconstruction.
        taps: what to capture: "z", "recon_error" (per-sample MSE) and/or layer names.

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
        **kwargs,
    ) -> None:
        super().__init__(**kwargs)
        if autoencoder is None:
            if encoder is None or decoder is None:
                raise ModelError("give an autoencoder model, or both encoder= and decoder= models.")
            autoencoder, latent = _join(encoder, decoder)
        elif encoder is not None or decoder is not None:
            raise ModelError("give either an autoencoder or encoder= and decoder=, not both.")
        self.autoencoder = check_functional(autoencoder, "the autoencoder")
        self.latent = resolve_latent(self.autoencoder, latent)
        self.taps = check_taps(taps)
        tap_model = build_tap_model(self.autoencoder, self.latent, self.taps)
        # Not tracked as a sub-layer: it shares the autoencoder's layers and weights.
        object.__setattr__(self, "_tap_model", tap_model)
        object.__setattr__(self, "_recorder", None)
        object.__setattr__(self, "_encoder", None)
        object.__setattr__(self, "_resident", None)
        object.__setattr__(self, "_order", None)
        object.__setattr__(self, "_resident_batch", None)
        self.run = None
        self.built = True  # the wrapped functional model is built: so is this one

    # -- Keras model protocol -------------------------------------------------------------
    def call(self, x, training=None):
        return self.autoencoder(x, training=training)

    def compile(self, optimizer="adam", loss="mse", **kwargs):
        """`keras.Model.compile`, with Adam and MSE against the input as defaults."""
        super().compile(optimizer=optimizer, loss=loss, **kwargs)

    def compile_from_config(self, config):
        """Recompile on `load_model` (optimizer state included), so a checkpoint can resume."""
        self.compile(**keras.saving.deserialize_keras_object(config))
        if self.built:
            self.optimizer.build(self.trainable_variables)

    def get_config(self):
        return {
            **super().get_config(),
            "autoencoder": keras.saving.serialize_keras_object(self.autoencoder),
            "latent": self.latent,
            "taps": list(self.taps),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["autoencoder"] = keras.saving.deserialize_keras_object(config["autoencoder"], custom_objects=custom_objects)
        return cls(**config)

    @property
    def encoder(self) -> keras.Model:
        """A model from input to z sharing this model's weights (what `zlens.encode` runs)."""
        if self._encoder is None:
            enc = keras.Model(self.autoencoder.input, self.autoencoder.get_layer(self.latent).output, name="encoder")
            object.__setattr__(self, "_encoder", enc)
        return self._encoder

    @property
    def tap_model(self) -> keras.Model:
        """The model returning the reconstruction and every layer tap (shares the weights)."""
        return self._tap_model

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
            loop = ResidentTrainLoop(self, self._resident.shape[0], self._resident_batch, self.train_function)
            if isinstance(previous, ResidentTrainLoop):
                loop.continue_epoch_of(previous)  # rebuilt mid-epoch (a callback): go on from there
            self.train_function = loop
        return self.train_function

    def _uses_compiled_loop(self) -> bool:
        """Whether the fit can run on `ResidentTrainLoop`: samples on the device, XLA, one device,
        tap buffers on the device (host and stream buffers call back into Python), and zlens' own
        step (a subclass's `train_step` may log more than the metrics: Keras' loop returns it)."""
        return (
            self.compiled_loop
            and self._resident is not None
            and bool(self._resident_batch)
            and self.jit_compile is True
            and not self.run_eagerly
            and self._replica_strategy() is None
            and (self._recorder is None or self._recorder.storage == "device")
            and all(getattr(type(self), name) is getattr(TappedAutoencoder, name) for name in _OWN_STEP)
        )

    def train_step(self, data):
        if _is_index(data):  # positions in this epoch's order of the samples kept on the device
            idx = tf.gather(self._order, data)
            x = y = tf.gather(self._resident, idx)
        else:
            x, y, idx = _unpack_indexed(data)
        with tf.GradientTape() as tape:
            outputs = self._tap_model(x, training=True)
            y_pred = outputs["reconstruction"]
            loss = self._compute_loss(x=x, y=y, y_pred=y_pred, training=True)
            self._loss_tracker.update_state(
                loss_module.unscale_loss_for_distribution(loss), sample_weight=tf.shape(x)[0]
            )
            loss = self.optimizer.scale_loss(loss)
        if self._recorder is not None:
            self._recorder.record(x, outputs, idx, kind=IN_FLIGHT)
        gradients = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_weights))
        return self._replica_logs(self.compute_metrics(x, y, y_pred))

    def test_step(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        if y is None or _is_index(y):
            y = x
        return self._replica_logs(super().test_step((x, y)))

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
        resident_bytes: int = RESIDENT_BYTES,
        labels=None,
        writer=None,
        tap_storage: str = "auto",
        memory_budget: int | None = None,
        **kwargs,
    ):
        """`keras.Model.fit` that also captures every tap of every epoch into `self.run`.

        `x` is an array of samples (N, ...), an unbatched `tf.data.Dataset` of samples, or a
        dataset already indexed with `zlens.data.index_dataset` / `index_array`. `y` (optional)
        is the target when it is not the input (a denoising autoencoder). Arguments beyond
        Keras' own:

        Args:
            capture: "in-flight", "consistent" or "both" (see the README: what each means),
                or None to train without capturing (`self.run` is then None).
            capture_every: keep every Kth epoch (the last epoch is always kept).
            seed: seeds the shuffle order of the indexed data.
            n_samples: N, for a pre-indexed dataset (otherwise counted once).
            resident_bytes: keep an in-memory array of up to this size on the device for the
                whole fit, so each step gathers its batch there (the fast path; default 2 GiB;
                0 = feed every batch through tf.data).
            labels: one label per sample, kept with the latents in `self.run`.
            writer: where captured epochs go (a `zlens.run_writer.RunWriter`); in memory by default.
            tap_storage: where the tap buffers live: "device" (variables on the device, the
                fastest), "host" (host memory), "stream" (a scratch file, for a z matrix larger
                than memory) or "auto" (default: "device" within `memory_budget`, else "stream").
                "host" and "stream" call back into Python once per batch and turn XLA off.
            memory_budget: bytes the device buffers may take under "auto" (default 4 GiB).

        Under a `tf.distribute` strategy, build and compile this model inside `strategy.scope()`
        (its variables must be the strategy's); `batch_size` is then the global batch, split over
        the replicas, and each worker of a multi-worker run reads only its share of the samples.

        Returns:
            Keras' `History`; the captured latents are in `self.run`.
        """
        if validation_split:
            raise ZlensError("validation_split is not supported (it would drop rows from z); pass validation_data=.")
        if steps_per_epoch is not None:
            raise ZlensError("steps_per_epoch is not supported: every sample must pass once per epoch for a complete z.")
        if capture is not None and capture not in CAPTURE_CHOICES:
            raise ZlensError(f"capture must be one of {', '.join(CAPTURE_CHOICES)} or None; got {capture!r}.")
        if not isinstance(capture_every, int) or capture_every < 1:
            raise ZlensError(f"capture_every must be an integer >= 1; got {capture_every!r}.")
        strategy = self._replica_strategy()
        if isinstance(x, TrainingData):  # already prepared by zlens.fit
            data = x
        else:
            data = prepare_training_data(
                x, y, batch_size=batch_size or 32, shuffle=shuffle, seed=seed,
                input_shape=self.autoencoder.input_shape[1:], n_samples=n_samples,
                resident_bytes=resident_bytes if strategy is None else 0,
            )
        if strategy is not None:
            data = distribute_data(data, strategy, data.batch_size)
            self._settle_for_replicas(placement(strategy).multi_worker)
        self._hold_resident(data.resident, data.order, data.batch_size)
        # First of all callbacks: each epoch's order is set before anything else sees the epoch.
        ordering = [] if data.order is None else [ReorderEachEpoch(data.order, self._order)]
        if capture is None:
            self._detach_recorder()
            self.run = None
            with quiet_distributed_input(data.distributed):
                return super().fit(data.train, epochs=epochs, verbose=verbose, callbacks=[*ordering, *(callbacks or [])],
                                   validation_data=validation_data, initial_epoch=initial_epoch, shuffle=False,
                                   **kwargs)
        kinds = CAPTURE_CHOICES[capture]
        self._attach_recorder(data, kinds, tap_storage, memory_budget)
        own_writer = writer is None  # else its owner (zlens.fit) finishes it
        if own_writer:
            from zlens.run_writer import RunWriter

            chief = strategy is None or placement(strategy).chief
            writer = RunWriter.in_memory(self, data, kinds, check_labels(labels, data.n_samples), chief=chief)
        recorder_cb = CaptureCallback(
            self._recorder, writer, data.consistent, capture_every=capture_every, last_epoch=epochs - 1
        )
        try:
            with quiet_distributed_input(data.distributed):
                history = super().fit(
                    data.train, epochs=epochs, verbose=verbose, callbacks=[*ordering, recorder_cb, *(callbacks or [])],
                    validation_data=validation_data, initial_epoch=initial_epoch, shuffle=False, **kwargs,
                )
            self.run = writer.run()
        finally:
            if own_writer:
                writer.close()
        return history

    def _attach_recorder(self, data: TrainingData, kinds, tap_storage: str = "auto",
                         memory_budget: int | None = None) -> None:
        shapes = tap_row_shapes(self._tap_model, self.taps)
        storage = choose_storage(tap_storage, data.n_samples, shapes, kinds, memory_budget)
        rec = self._recorder
        if rec is None or rec.n_samples != data.n_samples or rec.kinds != kinds or rec.storage != storage:
            strategy = self._replica_strategy()
            total = WorkerSum(strategy) if strategy is not None and placement(strategy).multi_worker else None
            rec = LatentRecorder(self._tap_model, shapes, data.n_samples, kinds, strategy, storage=storage, total=total)
            object.__setattr__(self, "_recorder", rec)
            self.train_function = None  # retrace: the step now writes into the new buffers
        if self.jit_compile and storage != "device":
            self.jit_compile = False  # the step calls back into Python: XLA cannot compile it
            self.train_function = None

    def _hold_resident(self, x: np.ndarray | None, order: EpochOrder | None = None, batch_size: int = 0) -> None:
        """Keep `x` in a device variable for the step to gather from, visited in `order` in
        batches of `batch_size` (x None: release it)."""
        held = self._resident
        if x is None:
            if held is not None:
                object.__setattr__(self, "_resident", None)
                object.__setattr__(self, "_order", None)
                self.train_function = None  # the compiled loop reads the held samples
            return
        if held is not None and tuple(held.shape) == x.shape:
            held.assign(x)
        else:
            object.__setattr__(self, "_resident", tf.Variable(x, trainable=False, name="zlens_samples"))
            object.__setattr__(self, "_order", tf.Variable(order.identity(), trainable=False, name="zlens_order"))
            self.train_function = None
        if batch_size != self._resident_batch:
            object.__setattr__(self, "_resident_batch", batch_size)
            self.train_function = None  # the compiled loop's batches are this size

    def _detach_recorder(self) -> None:
        if self._recorder is not None:
            object.__setattr__(self, "_recorder", None)
            self.train_function = None  # retrace: the step no longer scatters


#: What the compiled loop runs and returns; a subclass that overrides one keeps Keras' loop.
_OWN_STEP = ("train_step", "compute_metrics", "get_metrics_result")


def _join(encoder: keras.Model, decoder: keras.Model) -> tuple[keras.Model, str]:
    """An autoencoder input -> encoder -> decoder, whose latent layer is the encoder."""
    check_functional(encoder, "encoder")
    check_functional(decoder, "decoder")
    inputs = keras.Input(shape=encoder.input_shape[1:], name="x")
    outputs = decoder(encoder(inputs))
    return keras.Model(inputs, outputs, name=f"{encoder.name}_{decoder.name}"), encoder.name


def _is_index(t) -> bool:
    """Whether `t` is a batch of sample indices (an integer vector)."""
    return hasattr(t, "dtype") and t.dtype.is_integer and len(t.shape) == 1


def _unpack_indexed(data):
    """`(x, idx)` or `(x, y, idx)` -> `(x, y, idx)` with y = x for a plain autoencoder."""
    if not isinstance(data, (tuple, list)) or len(data) not in (2, 3) or not _is_index(data[-1]):
        raise ZlensError(
            "TappedAutoencoder trains on indexed batches (x, idx): pass arrays or an unbatched "
            "dataset to fit(), or index a dataset with zlens.data.index_dataset."
        )
    if len(data) == 2:
        return data[0], data[0], data[1]
    return data[0], data[1], data[2]
