"""`zlens.fit` and `zlens.resume`: the one-call path from data to a `Run` (what the CLI uses).

They build or wrap the model, compile it, and train a `TappedAutoencoder`, writing every
captured epoch to memory or to a run directory that survives crashes and can be resumed.
"""

from __future__ import annotations

import contextlib
import platform
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from zlens.capture.fit_plan import FitPlan, check_capture_options, plan_fit, sample_budget
from zlens.capture.tapped_autoencoder import TappedAutoencoder
from zlens.capture.taps import LATENT, check_taps, known_sample_shape
from zlens.capture.validation_pass import check_validation_placement
from zlens.checks import check_count
from zlens.data.conform import data_mismatch, preprocessing_record
from zlens.data.datasets import is_element_name
from zlens.data.feed import prepare_training_data
from zlens.data.fingerprint import array_fingerprint
from zlens.data.preprocess import Preprocessing, check_scale
from zlens.data.training_input import TrainingInput, training_input
from zlens.data.validate import check_labels
from zlens.data.validation import ValidationData, prepare_validation
from zlens.distribute import check_built_under, placement, resolve_strategy
from zlens.errors import ModelError, NonFiniteError, RunError, Terminated, ZlensError
from zlens.kinds import VALIDATION
from zlens.loading import load_model
from zlens.models.output_range import check_output_reaches
from zlens.models.pair import EncoderDecoder
from zlens.options import MODEL_NAMES, check_nonfinite_choice
from zlens.run import Run
from zlens.run_writer import RunWriter
from zlens.signals import terminate_on_sigterm
from zlens.store import LatentStore, RunDirectory

DEFAULT_TAPS = ("z", "recon_error")
DEFAULT_BATCH_SIZE = 256
# What `data_info` may record of where the data came from (kept when a run starts again).
DATA_INFO_KEYS = ("source", "load", "scaled", "original_dtype", "target_load", "imports", "model_file",
                  "feature_columns", "label_column", "validation_load")


def fit(
    model,
    x,
    y=None,
    *,
    epochs: int,
    batch_size: int | None = None,
    capture: str = "in-flight",
    taps: Sequence[str] | None = None,
    labels=None,
    index: str | int | None = None,
    scale: str | Preprocessing = "auto",
    seed: int | None = None,
    run_dir: str | Path | None = None,
    optimizer=None,
    latent: str | None = None,
    encoding_dim: int | None = None,
    validation_data=None,
    validation_labels=None,
    capture_every: int = 1,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int | str = "auto",
    jit_compile: bool | str = "auto",
    steps_per_execution: int | None = None,
    overwrite: bool = False,
    data_info: dict[str, Any] | None = None,
    strategy=None,
    tap_storage: str = "auto",
    buffer_budget: int | None = None,
    on_nonfinite: str = "stop",
    memory_budget: int | None = None,
) -> Run:
    """Train an autoencoder on `x` and return its `Run`: z of every epoch, row i = sample i.

    Args:
        model: "dense", "conv" or "vae" (built for `x`, seeded by `seed`), a zlens model, your
            own Keras model as you wrote it (functional, Sequential with or without an Input,
            subclassed with `encoder` / `decoder` attributes, with its own `train_step` or not;
            see `TappedAutoencoder` for where z is found, or name it with `latent`), an
            `(encoder, decoder)` pair of Keras models, or a `TappedAutoencoder`. A model you
            compiled keeps its optimizer and loss.
        x: samples (N, features) or (N, H, W[, C]), an array or memory-mapped array, a
            `tf.data.Dataset`, or a `zlens.data.DataSource` (from `load_data`: a large integer
            `.npy` stays mapped and is scaled batch by batch). A dataset is taken as you built it,
            batched or not (zlens unbatches it and batches it again by `batch_size`), its elements
            read as Keras reads them: `x`, `(x,)` or `(x, y)` (y the target), or a dict whose
            key "x" (or its one other key) holds the samples and "y" the target; sample
            weights are refused. Without `index`, its order must be the same on every pass
            (zlens numbers its elements 0..N-1 and shuffles them itself): a `.shuffle()`, a
            `deterministic=False` map or interleave, `Dataset.random` are refused in one line,
            found in its graph or, as a backstop, in its first elements read twice.
        y: the target, when it is not `x`: clean samples for a denoising autoencoder trained on
            noisy `x`, or class labels for a classifier (z is then a layer of the model you
            name with `latent`). z is always the latent of `x`, what went in.
        epochs: number of epochs.
        batch_size: samples per training step (default: a batched dataset's own batch size,
            else 256).
        capture: "in-flight" (free, from the training pass), "consistent" (an inference pass
            with each epoch's final weights) or "both" (and their drift per epoch).
        taps: what to capture (default `("z", "recon_error")`): "z", "recon_error", layer names.
        labels: one label per sample, kept with the latents (for plots and exports); for a
            dataset, also the key (`labels="label"`) or position (`labels=1`) of its elements
            that holds them: taken out before training (never trained on), row i = element i
            (or the element whose index is i).
        index: for a dataset that carries its own sample index: the key (`index="idx"`) or
            position (`index=0` after `ds.enumerate()`) of an integer holding each of 0..N-1
            once per pass. Its elements may then come in any order, shuffled, augmented or
            interleaved by your own pipeline (zlens batches them as they come, without
            shuffling again): row i of z is the element whose index is i, N is the index's
            count, and every epoch is checked to hold each index exactly once.
        scale: how the values of `x` are prepared, decided once on `x`, recorded in
            `run.preprocessing` (run.json's `data.preprocess`) and applied again by `encode`,
            `resume` and validation data (`zlens.data.preprocess`): "auto" (default: nothing for
            values within [0, 1]; 8-bit pixels divided by 255; anything else, such as the digits'
            0..16 or a table's features, min-max per feature to [0, 1]), "minmax", "standard"
            (mean 0, variance 1 per feature: for a model with a linear output) or "none". A `y`
            shaped like `x` is prepared with x's rule. A `DataSource` keeps the rule it was
            loaded with; a `tf.data` dataset is read once to decide (its samples, in blocks) and
            its samples are prepared inside the pipeline by the same rule. (A recorded
            `Preprocessing` is applied as it is.)
        seed: seeds weights (models built by name), shuffling and sampling, for identical z.
        run_dir: a folder to write the run to (crash-safe, resumable); in memory if None.
        optimizer: a Keras optimizer (default: your model's own if you compiled it, else Adam,
            learning rate 1e-3).
        latent: where z is in your own model: a layer name or an attribute such as "encoder".
        encoding_dim: latent size d for a model given by name.
        validation_data: held-out samples (an array; `(x_val, y_val)` with the target for a run
            trained on a target `y`; or a `DataSource`), prepared as `x` was (same shape, same
            scaling). Keras' val_loss is computed on them, and every captured epoch also holds
            their consistent z: `run.z(epoch, kind="consistent", split="validation")`.
        validation_labels: one label per validation sample, kept with their z (default: a
            `DataSource`'s own labels).
        capture_every: keep every Kth epoch's latents (the last epoch is always kept).
        callbacks: Keras callbacks, used as in `keras.Model.fit`.
        verbose: Keras' progress output: "auto" (default, a progress bar as `keras.Model.fit`
            shows), 0 silent, 1 progress bar, 2 one line per epoch.
        jit_compile: compile the step with XLA (True, False or "auto", as in Keras).
        steps_per_execution: training steps per compiled call (no batch is ever lost); default
            up to 64, fewer Python round trips per epoch.
        overwrite: replace an existing, non-empty `run_dir`.
        data_info: what to record of where the data came from, e.g. `{"source": "scans.npy"}`
            (kept in run.json's `data`; the CLI records the file and how it was loaded).
        strategy: train on several devices or machines: "mirrored" (every local GPU),
            "multi-worker" (machines listed in `TF_CONFIG`; run the same call on each), or a
            `tf.distribute.Strategy`. The model is built and compiled under its scope (a model
            you pass must have been built there). `batch_size` is the global batch. Only the
            chief worker writes `run_dir`; on the others the returned `Run` holds the metrics
            but no latents. See docs/scale-out.md.
        tap_storage: where the capture buffers live: "device", "host" (host memory), "stream"
            (a scratch file: memory bounded whatever N) or "auto" (default: "device" when the
            buffers fit `buffer_budget`, else "stream"). Same z either way.
        buffer_budget: bytes the capture buffers may take on the device under "auto" (4 GiB).
        on_nonfinite: what a NaN or infinite loss or captured value does: "stop" (default) ends
            training at the end of that epoch without committing it, marks `run_dir` failed with
            the reason and raises `zlens.NonFiniteError`; every earlier epoch stays committed and
            resumable (`zlens.resume(run_dir, x, learning_rate=...)`). "record" keeps going and
            commits such epochs, flagged in `run.nonfinite`.
        memory_budget: the former name of `buffer_budget` (still accepted, with a warning).

    Example:
        >>> from sklearn.datasets import load_digits
        >>> x = load_digits().data / 16.0
        >>> run = zlens.fit("dense", x, epochs=5, encoding_dim=2, capture="both", seed=0)
        >>> run.z().shape, run.z(kind="consistent").shape
        ((1797, 2), (1797, 2))
        >>> ds = tf.data.Dataset.from_tensor_slices({"x": x, "label": load_digits().target}).batch(64)
        >>> run = zlens.fit("dense", ds, labels="label", epochs=5)   # zlens numbers and shuffles it
        >>> own = tf.data.Dataset.from_tensor_slices(x).enumerate().shuffle(len(x)).batch(64)
        >>> run = zlens.fit("dense", own, index=0, epochs=5)         # your own order: row i = index i
    """
    epochs = check_count("epochs", epochs)
    check_capture_options(capture, capture_every, on_nonfinite, none_allowed=False)  # before any data is read
    if not isinstance(scale, Preprocessing):  # (a restarted run passes the rule it recorded)
        check_scale(scale)
    if memory_budget is not None:
        warnings.warn("zlens.fit: memory_budget= is now buffer_budget= (the bytes the tap buffers may take on the "
                      "device).", DeprecationWarning, stacklevel=2)
        buffer_budget = memory_budget if buffer_budget is None else buffer_budget
    strategy = resolve_strategy(strategy)
    check_validation_placement(strategy, validation_data)
    if seed is not None:
        keras.utils.set_random_seed(seed)
    known = known_sample_shape(model) if isinstance(model, keras.Model) else None
    data_in = training_input(x, y, scale=scale, labels=labels, index=index, expected_shape=known)
    elements = _element_names(labels, index)
    batch_size = batch_size if batch_size is not None else data_in.batch_size or DEFAULT_BATCH_SIZE
    if known is not None:
        data_in = data_in.fitted_to(known)  # gray images (H, W) for a model built for (H, W, 1)
    with _scope(strategy):
        tapped = _tapped(model, data_in, latent=latent, encoding_dim=encoding_dim, taps=taps)
        preprocess = preprocessing_record(data_in.source, tapped.plan.sample_shape,
                                          preprocessing=data_in.preprocessing)
        if data_in.target_shape is None and not data_in.indexed:  # before training: can the output reach x?
            check_output_reaches(tapped.autoencoder, preprocess["range"], preprocess["note"],
                                 refuse=preprocess["requested"] != "none")  # "none": as asked, with a warning
        if strategy is not None:
            check_built_under(tapped, strategy)
        data = prepare_training_data(data_in, batch_size=batch_size, seed=seed, input_shape=tapped.plan.sample_shape,
                                     sample_budget=sample_budget(strategy))
        labels = check_labels(data_in.labels if data_in.labels is not None else labels, data.n_samples)
        fit_plan = plan_fit(tapped, data, capture=capture, jit_compile=jit_compile,
                            steps_per_execution=steps_per_execution, strategy=strategy, tap_storage=tap_storage,
                            buffer_budget=buffer_budget, capture_every=capture_every, on_nonfinite=on_nonfinite)
        tapped.compile(
            optimizer=_optimizer_for(optimizer if optimizer is not None else _compiled_optimizer(tapped), strategy),
            jit_compile=fit_plan.jit_compile, steps_per_execution=fit_plan.steps_per_execution,
        )
    config = _run_config(model, tapped, fit_plan, strategy, epochs=epochs, batch_size=batch_size, capture=capture,
                         encoding_dim=encoding_dim)
    validation = prepare_validation(validation_data, preprocess=preprocess, labels=validation_labels,
                                    has_target=y is not None)
    record = {**fingerprint(data.x), **_target_fingerprint(y), "preprocess": preprocess, **elements,
              **(data_info or {}), **({} if validation is None else {"validation": validation.record()})}
    writer = _new_writer(run_dir, fit_plan, data.n_samples, tapped.plan.row_shapes, labels, config=config, seed=seed,
                         data_record=record, overwrite=overwrite, validation=validation)
    run = _train(tapped, data, fit_plan, writer, epochs=epochs, initial_epoch=0, callbacks=callbacks,
                 verbose=verbose, validation_data=validation)
    run.preprocessing = preprocess
    return run


def _new_writer(run_dir, fit_plan: FitPlan, n_samples: int, row_shapes, labels, *, config: dict[str, Any],
                seed: int | None, data_record: dict[str, Any], overwrite: bool,
                validation: ValidationData | None) -> RunWriter:
    """Where a new run's epochs go: memory (no `run_dir`, or a worker that is not the chief), or a
    new run directory recording `config`, `seed` and `data_record` (marked failed if its store
    cannot be made)."""
    chief = fit_plan.placement.chief
    if run_dir is None or not chief:
        return RunWriter.in_memory(n_samples, row_shapes, fit_plan.kinds, labels, chief=chief, validation=validation)
    directory = RunDirectory.create(run_dir, config=config, seed=seed, versions=versions(), overwrite=overwrite,
                                    data=data_record)
    try:
        return RunWriter.to_directory(directory, n_samples, row_shapes, fit_plan.kinds, labels, validation=validation)
    except BaseException as err:
        directory.set_status("failed", _failure_reason(err))
        directory.release()
        raise


def _run_config(model, tapped: TappedAutoencoder, fit_plan: FitPlan, strategy, *, epochs: int, batch_size: int,
                capture: str, encoding_dim: int | None) -> dict[str, Any]:
    """What run.json's `config` records of how a run was set up (what `resume` continues with)."""
    optimizer = keras.optimizers.serialize(tapped.optimizer)
    return {
        "model": model if isinstance(model, str) else tapped.autoencoder.name,
        "latent": tapped.latent, "taps": list(tapped.taps), "encoding_dim": encoding_dim,
        "epochs": epochs, "batch_size": batch_size, "capture": capture, "capture_every": fit_plan.capture_every,
        "optimizer": optimizer["config"], "optimizer_class": optimizer["class_name"],
        "jit_compile": tapped.jit_compile, "steps_per_execution": tapped.steps_per_execution,
        "strategy": _strategy_name(strategy), "replicas": fit_plan.placement.replicas,
        "workers": fit_plan.placement.workers, "tap_storage": fit_plan.storage, "on_nonfinite": fit_plan.on_nonfinite,
    }


def resume(
    run_dir: str | Path,
    x,
    y=None,
    *,
    epochs: int | None = None,
    learning_rate: float | None = None,
    on_nonfinite: str | None = None,
    model=None,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    verbose: int | str = "auto",
    validation_data=None,
    validation_labels=None,
    strategy=None,
) -> Run:
    """Continue a run directory from its last committed epoch, on the same data `x`.

    The latent history and metrics continue without a gap or a duplicate epoch; `epochs`
    (the new total) defaults to the run's planned epochs. `learning_rate` sets the optimizer's
    rate from here on (after a run diverged, say). A run stopped before its first epoch was
    committed starts again from scratch, with its recorded settings: a model built by name is
    built again; your own model must be passed as `model`. `strategy` as in `fit` (it may differ
    from the first run's: z is aligned by sample index whatever the replicas); under
    "multi-worker" every worker calls `resume` and reads `run_dir` (a folder they all see), and
    only the chief writes to it. While it trains, no other process can write the run.
    A run trained with `validation_data` continues only with the same validation samples (its
    store holds their z every epoch); one trained without takes none.

    Example:
        >>> run = zlens.resume("runs/digits", x)   # after a crash, or to train longer
        >>> run = zlens.resume("runs/digits", x, learning_rate=1e-4)   # after it diverged
    """
    directory = RunDirectory.open(run_dir)
    config = directory.config
    total = epochs if epochs is not None else config["epochs"]
    on_nonfinite = check_nonfinite_choice(on_nonfinite or config.get("on_nonfinite", "stop"))
    _check_learning_rate(learning_rate)
    done = directory.epochs_done
    _check_validation_given(directory, validation_data)
    if done == 0:
        return _restart(directory, x, y, model=model, epochs=total, learning_rate=learning_rate,
                        on_nonfinite=on_nonfinite, callbacks=callbacks, verbose=verbose,
                        validation_data=validation_data, validation_labels=validation_labels, strategy=strategy)
    if total <= done and directory.status == "finished":
        raise RunError(f"{run_dir} already finished {done} epochs; pass a larger epochs= to train longer.")
    strategy = resolve_strategy(strategy)
    check_validation_placement(strategy, validation_data)
    chief = placement(strategy).chief
    if chief:
        directory.lock()  # before anything is read to be written again
    try:
        tapped = _load_checkpoint(directory, strategy)
        data = _resumed_data(directory, tapped, x, y, strategy, check=chief)
        validation = _resumed_validation(directory, validation_data, has_target=y is not None)
        if learning_rate is not None:
            _set_learning_rate(tapped, learning_rate)
        fit_plan = plan_fit(tapped, data, capture=config["capture"], jit_compile=tapped.jit_compile,
                            steps_per_execution=tapped.steps_per_execution, strategy=strategy,
                            tap_storage=config.get("tap_storage", "device"), capture_every=config["capture_every"],
                            on_nonfinite=on_nonfinite)
        if chief:
            changes = {"epochs": total, "on_nonfinite": on_nonfinite}
            if learning_rate is not None:
                changes["optimizer"] = keras.optimizers.serialize(tapped.optimizer)["config"]
            directory.update_config(**changes)
            directory.set_status("running")
            writer = RunWriter.resume(directory)
        else:
            writer = RunWriter.in_memory(data.n_samples, tapped.plan.row_shapes, fit_plan.kinds, chief=False,
                                         validation=validation)
    except BaseException:
        directory.release()
        raise
    return _train(tapped, data, fit_plan, writer, epochs=total, initial_epoch=done, callbacks=callbacks,
                  verbose=verbose, validation_data=validation)


def _load_checkpoint(directory: RunDirectory, strategy) -> TappedAutoencoder:
    """The model as the run's last committed epoch left it, or a `RunError` naming the missing or
    damaged checkpoint file."""
    checkpoint = directory.resumable_checkpoint()
    try:
        with _scope(strategy):
            return load_model(checkpoint)
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise RunError(f"the checkpoint {str(checkpoint)!r} cannot be loaded ({type(err).__name__}: "
                       f"{str(err).splitlines()[0] if str(err) else ''}): it is damaged. `zlens info --verify "
                       f"{directory.path}` checks the whole run; to train again, start the run anew "
                       "(CLI: --overwrite; Python: overwrite=True).") from None


def _resumed_data(directory: RunDirectory, tapped, x, y, strategy, *, check: bool):
    """The training data of a resumed run, checked against what the run was trained on."""
    run_dir = directory.path
    config = directory.config
    recorded = directory.run_json.get("data", {})
    if (y is None) != ("target" not in recorded):
        raise RunError(f"{run_dir} was trained {'on a target y' if y is None else 'with no target'}: "
                       f"resume it {'with the same y=' if y is None else 'without y='} (CLI: --target).")
    names = recorded.get("elements", {})  # the parts of a dataset's elements named in fit
    rule = Preprocessing.from_json(recorded.get("preprocess"))  # None for a run from before the rule: as given
    data_in = training_input(x, y, expected_shape=tapped.plan.sample_shape, scale=rule,  # built model: shape first
                             labels=names.get("labels"), index=names.get("index")).fitted_to(tapped.plan.sample_shape)
    data = prepare_training_data(data_in, batch_size=config["batch_size"], seed=directory.run_json.get("seed"),
                                 input_shape=tapped.plan.sample_shape, sample_budget=sample_budget(strategy))
    if check and recorded.get("sha256") and data.x is not None:
        now = fingerprint(data.x)
        if now["sha256"] != recorded["sha256"]:
            raise RunError(data_mismatch(run_dir, recorded, x))
        if y is not None and _target_fingerprint(y)["target"]["sha256"] != recorded["target"]["sha256"]:
            raise RunError(f"the target y differs from the one {run_dir} was trained on (content hash mismatch).")
        if now.get("scale_factor") != recorded.get("scale_factor"):
            raise RunError(f"the data is scaled by {now.get('scale_factor')} but {run_dir} was trained on it "
                           f"scaled by {recorded.get('scale_factor')}; load it as it was loaded then.")
    return data


def _check_validation_given(directory: RunDirectory, validation_data) -> None:
    """Refuse, in one line, a resume that leaves out the validation samples of a run that has
    them (its store holds their z every epoch), or brings some to a run that has none."""
    was = directory.run_json.get("data", {}).get("validation")
    if was is None and validation_data is not None:
        raise RunError(f"{directory.path} was trained without validation data, so its latent store has no "
                       "validation z to continue: resume it without validation_data= (CLI: --validation-data), "
                       "or start a new run with it.")
    if was is not None and validation_data is None:
        raise RunError(f"{directory.path} holds the validation z of every epoch: resume it with the same "
                       f"validation_data= ({was['n_samples']} samples; CLI: --validation-data FILE).")


def _resumed_validation(directory: RunDirectory, validation_data, *, has_target: bool) -> ValidationData | None:
    """The validation samples of a resumed run, prepared as in its first part and checked to be
    the same ones (a one-line `RunError` when they differ)."""
    recorded = directory.run_json.get("data", {})
    was = recorded.get("validation")
    if was is None:
        return None
    validation = prepare_validation(validation_data, preprocess=recorded.get("preprocess"), has_target=has_target)
    assert validation is not None  # given: `_check_validation_given` refused a resume without it
    if validation.record()["sha256"] != was["sha256"]:
        raise RunError(f"the validation data differs from the one {directory.path} was trained with "
                       f"({validation.n_samples} samples given, {was['n_samples']} recorded; content hash mismatch).")
    stored = LatentStore.open(directory.latents_path)
    return ValidationData(validation.x, validation.y, stored.labels_of(VALIDATION), validation.note)


def _check_learning_rate(learning_rate: float | None) -> None:
    if learning_rate is not None and (not isinstance(learning_rate, (int, float)) or isinstance(learning_rate, bool)
                                      or not learning_rate > 0):
        raise ZlensError(f"learning_rate must be a number > 0; got {learning_rate!r}.")


def _set_learning_rate(tapped: TappedAutoencoder, learning_rate: float) -> None:
    """Train on at `learning_rate` (the optimizer's state, e.g. Adam's moments, is kept)."""
    rate = tapped.optimizer.learning_rate
    if not hasattr(rate, "assign"):
        raise ZlensError("this run's optimizer follows a learning-rate schedule: it cannot be given a new rate.")
    rate.assign(float(learning_rate))


def _restart(directory: RunDirectory, x, y, *, model, epochs, learning_rate, on_nonfinite, callbacks, verbose,
             validation_data, validation_labels, strategy) -> Run:
    """`fit` again into a run directory that committed no epoch, with the settings it recorded."""
    config = directory.config
    recorded = directory.run_json.get("data", {})
    if model is None:
        if config.get("model") not in MODEL_NAMES:
            raise RunError(f"{directory.path} stopped before its first epoch was committed, so it starts again, and "
                           f"its model was your own: pass it (zlens.resume(run_dir, x, model=...)), or start again "
                           "with zlens.fit(model, x, run_dir=..., overwrite=True).")
        model = config["model"]
    by_name = isinstance(model, str)
    store_made = directory.latents_path.joinpath("zarr.json").is_file()
    names = recorded.get("elements", {})
    store = LatentStore.open(directory.latents_path) if store_made else None
    labels = names.get("labels", None if store is None else store.labels)
    if store is not None and VALIDATION in store.splits and validation_labels is None:
        validation_labels = store.labels_of(VALIDATION)
    return fit(model, x, y, epochs=epochs, batch_size=config["batch_size"], capture=config["capture"],
               taps=config.get("taps"), labels=labels, index=names.get("index"),
               seed=directory.run_json.get("seed"), run_dir=directory.path,
               optimizer=_restart_optimizer(config, learning_rate, by_name),
               latent=None if by_name else config.get("latent"),
               encoding_dim=config.get("encoding_dim") if by_name else None,
               validation_data=validation_data, validation_labels=validation_labels,
               capture_every=config["capture_every"], callbacks=callbacks,
               verbose=verbose, overwrite=True, strategy=strategy, tap_storage=config.get("tap_storage", "auto"),
               on_nonfinite=on_nonfinite, data_info={k: v for k, v in recorded.items() if k in DATA_INFO_KEYS},
               scale=_restart_scale(recorded.get("preprocess")))


def _restart_scale(record: dict[str, Any] | None) -> str:
    """The `scale=` a restarted run decides again with (nothing was trained on its fit yet): the one
    it asked for; "none" for a run from before the rule (arrays were taken as given then)."""
    if not record or "method" not in record:
        return "none"
    return record.get("requested", "auto")


def _restart_optimizer(config: dict[str, Any], learning_rate: float | None, by_name: bool):
    """The optimizer a restarted run trains with: a model built by name gets the one it recorded
    (at `learning_rate` when given); your own model keeps its compiled one unless a rate is given."""
    recorded = dict(config.get("optimizer") or {})
    if by_name and recorded:
        if learning_rate is not None:
            recorded["learning_rate"] = learning_rate
        return keras.optimizers.get({"class_name": config.get("optimizer_class", "Adam"), "config": recorded})
    return None if learning_rate is None else keras.optimizers.Adam(learning_rate)


def _train(tapped: TappedAutoencoder, data, fit_plan: FitPlan, writer: RunWriter, *, epochs: int,
           initial_epoch: int, callbacks, verbose, validation_data: ValidationData | None) -> Run:
    """Train as planned, then mark the run finished, or failed with the reason (and raise)."""
    try:
        with terminate_on_sigterm():
            tapped._fit_planned(data, fit_plan, writer, epochs=epochs, initial_epoch=initial_epoch,
                                callbacks=list(callbacks), verbose=verbose, validation_data=validation_data)
    except BaseException as err:
        writer.finish(tapped, "failed", _failure_reason(err))
        raise
    writer.finish(tapped, "finished")
    return writer.as_run()


def _failure_reason(err: BaseException) -> str:
    """What run.json says a run failed of."""
    if isinstance(err, Terminated):
        return "terminated (SIGTERM): resume it to continue"
    if isinstance(err, KeyboardInterrupt):
        return "interrupted (SIGINT, Ctrl-C): resume it to continue"
    if isinstance(err, NonFiniteError):
        return str(err)
    return f"{type(err).__name__}: {err}"


def _element_names(labels, index) -> dict[str, Any]:
    """What run.json's `data` records of the dataset parts `labels=` and `index=` named (resume
    reads them again), or nothing."""
    names = {"labels": labels if is_element_name(labels) else None, "index": index}
    names = {k: v if isinstance(v, str) else int(v) for k, v in names.items() if v is not None}
    return {"elements": names} if names else {}


def _compiled_optimizer(tapped: TappedAutoencoder):
    """The optimizer the user compiled their own model with, or None."""
    inner = tapped.autoencoder
    return getattr(inner, "optimizer", None) if inner.compiled else None


def _target_fingerprint(y) -> dict[str, Any]:
    """The fingerprint of the target y as the user gave it (its own dtype), for a run trained on
    a target given apart from x."""
    return {} if y is None else {"target": array_fingerprint(np.asarray(y))}


def _optimizer_for(optimizer, strategy):
    """The optimizer to compile with (Adam 1e-3 by default); one made outside the strategy's scope
    is made again inside it from its config (Keras ties an optimizer to the strategy it saw)."""
    if optimizer is None:
        return keras.optimizers.Adam(1e-3)
    if strategy is not None and isinstance(optimizer, keras.optimizers.Optimizer) and not optimizer.built \
            and getattr(optimizer, "_distribution_strategy", strategy) is not strategy:
        return optimizer.__class__.from_config(optimizer.get_config())
    return optimizer


def _scope(strategy):
    """`strategy.scope()`, or nothing for one device."""
    return strategy.scope() if strategy is not None else contextlib.nullcontext()


def _strategy_name(strategy) -> str | None:
    if strategy is None:
        return None
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return "multi-worker"
    if isinstance(strategy, tf.distribute.MirroredStrategy):
        return "mirrored"
    return type(strategy).__name__


def _tapped(model, data_in: TrainingInput, *, latent, encoding_dim, taps) -> TappedAutoencoder:
    """The `TappedAutoencoder` to train: `model` built by name or wrapped as the user wrote it, and
    built for the samples of `data_in`. Without `taps`, `DEFAULT_TAPS`, less "recon_error" for a
    model whose output is not shaped like its target (a classifier)."""
    from zlens import models

    shape = data_in.sample_shape
    known = known_sample_shape(model) if isinstance(model, keras.Model) else None
    if known is not None:
        data_in.check_sample_shape(known)  # named with the array's own shape, before the model is wrapped
    if isinstance(model, str):
        return TappedAutoencoder(models.build(model, shape, encoding_dim), taps=taps or DEFAULT_TAPS,
                                 sample_shape=shape)
    if encoding_dim is not None:
        raise ModelError("encoding_dim applies only to a model given by name (\"dense\", \"conv\", \"vae\").")
    if isinstance(model, TappedAutoencoder):
        if taps is None or check_taps(taps) == model.taps:
            model.plan_for(shape)
            return model
        return TappedAutoencoder(model.autoencoder, latent=model._latent, taps=taps, sample_shape=shape)
    if isinstance(model, (tuple, list)):
        if len(model) != 2:
            raise ModelError("give the model as (encoder, decoder): two Keras models.")
        model = EncoderDecoder(model[0], model[1], name=f"{model[0].name}_{model[1].name}")
    tapped = TappedAutoencoder(model, latent=latent, taps=taps or DEFAULT_TAPS, sample_shape=shape)
    target_shape = data_in.target_shape if data_in.target_shape is not None else shape
    if taps is None and tapped.plan.reconstruction_shape != target_shape:
        tapped = TappedAutoencoder(model, latent=latent, taps=(LATENT,), sample_shape=shape)
    return tapped


def fingerprint(x) -> dict[str, Any]:
    """Shape, dtype and a content hash of the training array (None parts for a dataset).

    A lazy `DataSource` is hashed as stored, with the factor its values are scaled by per batch.
    """
    from zlens.data import DataSource

    if x is None:
        return {"shape": None, "dtype": None, "sha256": None}
    if isinstance(x, DataSource):
        return {**x.fingerprint(), "scale_factor": x.scale_factor}
    return array_fingerprint(x)


def versions() -> dict[str, str]:
    """Versions of what produced a run: zlens, Python, TensorFlow, Keras, NumPy, Zarr."""
    import tensorflow as tf
    import zarr

    import zlens

    return {"zlens": zlens.__version__, "python": platform.python_version(), "tensorflow": tf.__version__,
            "keras": keras.__version__, "numpy": np.__version__, "zarr": zarr.__version__}
