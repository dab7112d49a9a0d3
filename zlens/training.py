"""`zlens.fit` and `zlens.resume`: the one-call path from data to a `Run` (what the CLI uses).

They build or wrap the model, compile it, and train a `TappedAutoencoder`, writing every
captured epoch to memory or to a run directory that survives crashes and can be resumed.
"""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any, Sequence

import keras
import numpy as np

from zlens.capture.tapped_autoencoder import CAPTURE_CHOICES, TappedAutoencoder
from zlens.data.feed import RESIDENT_BYTES, prepare_training_data
from zlens.data.fingerprint import array_fingerprint
from zlens.data.validate import check_labels
from zlens.errors import ModelError, RunError, ZlensError
from zlens.run import Run
from zlens.run_writer import RunWriter, load_model
from zlens.store import RunDirectory

DEFAULT_TAPS = ("z", "recon_error")
MAX_STEPS_PER_EXECUTION = 64


def fit(
    model,
    x,
    *,
    epochs: int,
    batch_size: int = 256,
    capture: str = "in-flight",
    taps: Sequence[str] | None = None,
    labels=None,
    seed: int | None = None,
    run_dir: str | Path | None = None,
    optimizer=None,
    latent: str | None = None,
    encoding_dim: int | None = None,
    validation_data=None,
    capture_every: int = 1,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int | str = 0,
    jit_compile: bool | str = "auto",
    steps_per_execution: int | None = None,
    overwrite: bool = False,
    data_info: dict[str, Any] | None = None,
) -> Run:
    """Train an autoencoder on `x` and return its `Run`: z of every epoch, row i = sample i.

    Args:
        model: "dense", "conv" or "vae" (built for `x`, seeded by `seed`), a zlens model, your
            own functional/Sequential Keras autoencoder (name its latent layer with `latent`),
            an `(encoder, decoder)` pair of Keras models, or a `TappedAutoencoder`.
        x: samples (N, features) or (N, H, W[, C]), an array or memory-mapped array, or an
            unbatched `tf.data.Dataset` of samples.
        epochs: number of epochs.
        batch_size: samples per training step (default 256).
        capture: "in-flight" (free, from the training pass), "consistent" (an inference pass
            with each epoch's final weights) or "both" (and their drift per epoch).
        taps: what to capture (default `("z", "recon_error")`): "z", "recon_error", layer names.
        labels: one label per sample, kept with the latents (for plots and exports).
        seed: seeds weights (models built by name), shuffling and sampling, for identical z.
        run_dir: a folder to write the run to (crash-safe, resumable); in memory if None.
        optimizer: a Keras optimizer (default Adam, learning rate 1e-3).
        latent: the name of the latent layer of your own model.
        encoding_dim: latent size d for a model given by name.
        validation_data: validation samples (an array, or `(x_val, y_val)`).
        capture_every: keep every Kth epoch's latents (the last epoch is always kept).
        callbacks: Keras callbacks, used as in `keras.Model.fit`.
        verbose: Keras' progress output (0 silent, default).
        jit_compile: compile the step with XLA (True, False or "auto", as in Keras).
        steps_per_execution: training steps per compiled call (no batch is ever lost); default
            up to 64, fewer Python round trips per epoch.
        overwrite: replace an existing, non-empty `run_dir`.
        data_info: where the data came from (recorded in the run directory; the CLI sets it).

    Example:
        >>> from sklearn.datasets import load_digits
        >>> x = load_digits().data / 16.0
        >>> run = zlens.fit("dense", x, epochs=5, encoding_dim=2, capture="both", seed=0)
        >>> run.z().shape, run.z(kind="consistent").shape
        ((1797, 2), (1797, 2))
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ZlensError(f"epochs must be an integer >= 1; got {epochs!r}.")
    if capture not in CAPTURE_CHOICES:
        raise ZlensError(f"capture must be one of {', '.join(CAPTURE_CHOICES)}; got {capture!r}.")
    if seed is not None:
        keras.utils.set_random_seed(seed)
    tapped = _tapped(model, x, latent=latent, encoding_dim=encoding_dim, taps=taps)
    data = prepare_training_data(x, batch_size=batch_size, seed=seed, input_shape=tapped.autoencoder.input_shape[1:],
                                 resident_bytes=RESIDENT_BYTES)
    labels = check_labels(labels, data.n_samples)
    tapped.compile(
        optimizer=optimizer if optimizer is not None else keras.optimizers.Adam(1e-3),
        jit_compile=_resolve_jit(tapped, jit_compile),
        steps_per_execution=steps_per_execution or min(MAX_STEPS_PER_EXECUTION, -(-data.n_samples // batch_size)),
    )
    config = {
        "model": model if isinstance(model, str) else tapped.autoencoder.name,
        "latent": tapped.latent, "taps": list(tapped.taps), "encoding_dim": encoding_dim,
        "epochs": epochs, "batch_size": batch_size, "capture": capture, "capture_every": capture_every,
        "optimizer": keras.optimizers.serialize(tapped.optimizer)["config"],
        "jit_compile": tapped.jit_compile, "steps_per_execution": tapped.steps_per_execution,
    }
    tapped._attach_recorder(data, CAPTURE_CHOICES[capture])
    if run_dir is None:
        writer = RunWriter.in_memory(tapped, data, CAPTURE_CHOICES[capture], labels)
    else:
        directory = RunDirectory.create(
            run_dir, config=config, data={**fingerprint(data.x), **(data_info or {})},
            seed=seed, versions=versions(), overwrite=overwrite,
        )
        writer = RunWriter.to_directory(directory, tapped, data, CAPTURE_CHOICES[capture], labels)
    return _train(tapped, data, writer, epochs=epochs, initial_epoch=0, seed=seed, capture=capture,
                  capture_every=capture_every, callbacks=callbacks, verbose=verbose,
                  validation_data=validation_data)


def resume(
    run_dir: str | Path,
    x,
    *,
    epochs: int | None = None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int | str = 0,
    validation_data=None,
) -> Run:
    """Continue a run directory from its last committed epoch, on the same data `x`.

    The latent history and metrics continue without a gap or a duplicate epoch; `epochs`
    (the new total) defaults to the run's planned epochs.

    Example:
        >>> run = zlens.resume("runs/digits", x)   # after a crash, or to train longer
    """
    directory = RunDirectory.open(run_dir)
    config = directory.config
    total = epochs if epochs is not None else config["epochs"]
    done = directory.epochs_done
    if done == 0 or directory.checkpoint_path is None:
        raise RunError(f"{run_dir} has no committed epoch to resume from; start it again with overwrite.")
    if total <= done and directory.status == "finished":
        raise RunError(f"{run_dir} already finished {done} epochs; pass a larger epochs= to train longer.")
    tapped = load_model(directory.checkpoint_path)
    data = prepare_training_data(x, batch_size=config["batch_size"], seed=directory.run_json.get("seed"),
                                 input_shape=tapped.autoencoder.input_shape[1:], resident_bytes=RESIDENT_BYTES)
    recorded = directory.run_json.get("data", {}).get("sha256")
    if recorded and data.x is not None and fingerprint(data.x)["sha256"] != recorded:
        raise RunError(f"the data differs from the data {run_dir} was trained on (content hash mismatch).")
    if total != config["epochs"]:
        directory.update_config(epochs=total)
    directory.set_status("running")
    writer = RunWriter.resume(directory)
    tapped._attach_recorder(data, tuple(writer.store.kinds))
    return _train(tapped, data, writer, epochs=total, initial_epoch=done, seed=directory.run_json.get("seed"),
                  capture=config["capture"], capture_every=config["capture_every"], callbacks=callbacks,
                  verbose=verbose, validation_data=validation_data)


def _train(tapped, data, writer, *, epochs, initial_epoch, seed, capture, capture_every, callbacks, verbose,
           validation_data) -> Run:
    try:
        tapped.fit(
            data, epochs=epochs, initial_epoch=initial_epoch, capture=capture, capture_every=capture_every,
            seed=seed, writer=writer,
            callbacks=list(callbacks), verbose=verbose, validation_data=validation_data,
        )
    except BaseException as err:
        writer.finish(tapped, "failed", f"{type(err).__name__}: {err}")
        raise
    writer.finish(tapped, "finished")
    return writer.run()


def _resolve_jit(tapped: TappedAutoencoder, jit_compile: bool | str) -> bool:
    """XLA unless asked otherwise or a layer cannot be compiled: on CPU too, where it is 2-3x faster
    for these models (Keras' own "auto" turns it off on CPU-only machines)."""
    if jit_compile != "auto":
        return bool(jit_compile)
    return all(layer.supports_jit for layer in tapped._flatten_layers())


def _tapped(model, x, *, latent, encoding_dim, taps) -> TappedAutoencoder:
    from zlens import models

    taps = tuple(taps) if taps is not None else DEFAULT_TAPS
    if isinstance(model, str):
        shape = _sample_shape(x)
        return TappedAutoencoder(models.build(model, shape, encoding_dim), taps=taps)
    if encoding_dim is not None:
        raise ModelError("encoding_dim applies only to a model given by name (\"dense\", \"conv\", \"vae\").")
    if isinstance(model, TappedAutoencoder):
        if taps != model.taps and taps is not None:
            return TappedAutoencoder(model.autoencoder, latent=model.latent, taps=taps)
        return model
    if isinstance(model, (tuple, list)):
        if len(model) != 2:
            raise ModelError("give the model as (encoder, decoder): two Keras models.")
        return TappedAutoencoder(encoder=model[0], decoder=model[1], taps=taps)
    return TappedAutoencoder(model, latent=latent, taps=taps)


def _sample_shape(x) -> tuple[int, ...]:
    import tensorflow as tf

    if isinstance(x, tf.data.Dataset):
        spec = x.element_spec[0] if isinstance(x.element_spec, tuple) else x.element_spec
        return tuple(spec.shape)
    shape = np.shape(x)
    if len(shape) < 2:
        from zlens.data.validate import check_samples

        check_samples(x)  # raises the clear error for 0-D / 1-D input
    return tuple(shape[1:])


def fingerprint(x) -> dict[str, Any]:
    """Shape, dtype and a content hash of the training array (None parts for a dataset)."""
    if x is None:
        return {"shape": None, "dtype": None, "sha256": None}
    return array_fingerprint(x)


def versions() -> dict[str, str]:
    """Versions of what produced a run: zlens, Python, TensorFlow, Keras, NumPy, Zarr."""
    import tensorflow as tf
    import zarr

    import zlens

    return {"zlens": zlens.__version__, "python": platform.python_version(), "tensorflow": tf.__version__,
            "keras": keras.__version__, "numpy": np.__version__, "zarr": zarr.__version__}
