"""What each `zlens` CLI command does, in terms of the library (`zlens.cli` parses, this calls).

Each function takes the parsed arguments and returns the exit code; bad input raises
`ZlensError`, which the CLI prints as one line with exit code 2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from zlens.errors import ZlensError

DEFAULT_EPOCHS = 10


def train(args) -> int:
    """`zlens train`: a new run directory, or `--resume` an interrupted one."""
    _check_positive(epochs=args.epochs, batch_size=args.batch_size, capture_every=args.capture_every,
                    encoding_dim=args.encoding_dim)
    if args.resume:
        return _resume(args)
    if not args.out:
        raise ZlensError("name the run directory to write with --out RUN (or continue one with --resume RUN).")
    from zlens.store import RunDirectory

    if args.strategy != "multi-worker":  # (a worker's run directory is the chief's to check)
        RunDirectory.check_new(args.out, overwrite=args.overwrite)  # before the data and TensorFlow load
    buffer_budget = _buffer_budget(args)
    model_file = _model_file(args.model)
    source, target, load, target_load = _training_data(args)
    validation, validation_load = _validation_data(args)
    imports = [str(Path(i).expanduser().absolute()) if i.endswith(".py") else i for i in args.imports]
    strategy = _strategy(args.strategy)  # before anything else touches TensorFlow's runtime
    import keras

    import zlens
    from zlens.progress import ProgressPrinter

    epochs = args.epochs or DEFAULT_EPOCHS
    model = args.model or ("conv" if len(source.sample_shape) > 1 else "dense")
    if model_file is not None:
        model = load_user_model(model_file, imports)
    elif args.latent is not None:
        raise ZlensError("--latent names a layer of your own model: give the model with --model FILE.keras.")
    taps = tuple(t.strip() for t in args.taps.split(",") if t.strip())
    progress = [] if args.quiet else [ProgressPrinter(epochs, source.n_samples, args.batch_size)]
    if not args.quiet:
        print(f"zlens: training {model} on {source.name}: {source.n_samples} samples of shape "
              f"{source.sample_shape}; {source.preprocessing.describe()}{_label_note(source)}", file=sys.stderr)
        if validation is not None:
            print(f"zlens: validation on {validation.name}: {validation.n_samples} samples, prepared as the training "
                  "samples; their consistent z is kept every captured epoch", file=sys.stderr)
    run = zlens.fit(
        model, source, None if target is None else target.to_numpy(), epochs=epochs,
        batch_size=args.batch_size, capture=args.capture, taps=taps, labels=source.labels, seed=args.seed,
        run_dir=args.out, encoding_dim=args.encoding_dim, latent=args.latent,
        optimizer=None if model_file is not None and args.learning_rate is None else
        keras.optimizers.Adam(args.learning_rate or 1e-3),
        capture_every=epochs if args.last_only else args.capture_every,
        overwrite=args.overwrite, callbacks=progress, verbose=0, strategy=strategy,
        tap_storage=args.tap_storage, buffer_budget=buffer_budget, on_nonfinite=args.on_nonfinite or "stop",
        validation_data=validation,
        data_info={"source": source.name, "load": load, "scaled": source.scaled,
                   "original_dtype": source.original_dtype, "target_load": target_load, "imports": imports,
                   "model_file": model_file, "validation_load": validation_load, **_columns(source)},
    )
    _say_where(run, args.quiet)
    return 0


def _training_data(args):
    """`(source, target or None, load, target_load or None)`: the samples `zlens train` reads (and
    its `--target`), with how each was loaded, recorded in the run so that a restart reloads them alike."""
    from zlens.data import load_data

    if args.no_scale and args.scale not in (None, "none"):
        raise ZlensError(f"--no-scale and --scale {args.scale} disagree: give one of them.")
    scale = "none" if args.no_scale else args.scale or "auto"
    load = {"path": _absolute(args.data), "label_column": args.label_column, "labels_path": _absolute(args.labels),
            "key": args.key, "flatten": args.flatten, "scale": scale, "channels_last": args.channels_last}
    source = load_data(**load)
    if source.columns is not None:  # a table: read again with exactly these columns (--resume, encode)
        load.update(label_column=source.columns["label_column"] or "",
                    feature_columns=source.columns["feature_columns"])
    # the target is read as stored: zlens.fit prepares it with the samples' rule
    target_load = None if args.target is None else \
        {"path": _absolute(args.target), "key": args.target_key, "flatten": args.flatten, "scale": "none",
         "channels_last": args.channels_last}
    target = None if target_load is None else load_data(**target_load)
    return source, target, load, target_load


def _label_note(source) -> str:
    """The start line's note of a table column taken as labels for its name (never trained on)."""
    columns = source.columns or {}
    if not columns.get("label_picked"):
        return ""
    return (f"; column {columns['label_column']!r} taken as the labels, not trained on (--label-column NAME picks "
            "another, --label-column '' trains on every column)")


def _columns(source) -> dict:
    """What run.json's `data` records of a table's columns (none for other data)."""
    if source.columns is None:
        return {}
    return {"feature_columns": source.columns["feature_columns"], "label_column": source.columns["label_column"]}


def _validation_data(args):
    """`(source, load)` of `--validation-data` (None, None without it): read like `--data`, as
    stored (`zlens.fit` prepares it as the training samples were), recorded for `--resume`."""
    if args.validation_data is None:
        if args.validation_key or args.validation_labels:
            raise ZlensError("--validation-key and --validation-labels describe --validation-data FILE: give it.")
        return None, None
    from zlens.data import load_data

    load = {"path": _absolute(args.validation_data), "label_column": args.label_column,
            "labels_path": _absolute(args.validation_labels), "key": args.validation_key, "flatten": args.flatten,
            "scale": "none", "channels_last": args.channels_last}
    return load_data(**load), load


def _strategy(name: str | None):
    """TensorFlow imported quietly and the `tf.distribute` strategy named (None: one device),
    made first: a multi-worker strategy must configure TensorFlow's collectives before any op runs."""
    _quiet_tensorflow_import()
    if name is None:
        return None
    from zlens.distribute import resolve_strategy

    return resolve_strategy(name)


def _absolute(path: str | None) -> str | None:
    """A path the run records as absolute, so `--resume` reads the same file from any folder."""
    return None if path is None else str(Path(path).expanduser().absolute())


def _model_file(model: str | None) -> str | None:
    """`--model` as a Keras model file to load, or None for a model zlens builds by name."""
    from zlens.options import MODEL_NAMES

    if model is None or model in MODEL_NAMES:
        return None
    path = Path(model).expanduser()
    if path.suffix != ".keras":
        raise ZlensError(f"--model must be one of {', '.join(MODEL_NAMES)} or a Keras model file (.keras); "
                         f"got {model!r}.")
    if not path.is_file():
        raise ZlensError(f"--model {model}: no such file.")
    return str(path.absolute())


def import_model_code(imports: list[str]) -> None:
    """Import each Python file or module that defines (and registers) a user's model classes."""
    import importlib
    import importlib.util

    for name in imports:
        try:
            if name.endswith(".py"):
                spec = importlib.util.spec_from_file_location(Path(name).stem, name)
                if spec is None or spec.loader is None or not Path(name).is_file():
                    raise ZlensError(f"--import {name}: no such file.")
                module = importlib.util.module_from_spec(spec)
                sys.modules[spec.name] = module
                spec.loader.exec_module(module)
            else:
                importlib.import_module(name)
        except ZlensError:
            raise
        except Exception as err:
            raise ZlensError(f"--import {name} failed: {type(err).__name__}: {err}") from None


def load_user_model(path: str, imports: list[str]):
    """The user's Keras model from a `.keras` file, their classes imported first (Keras' safe mode on)."""
    import_model_code(imports)
    import keras

    try:
        return keras.models.load_model(path)
    except (TypeError, ValueError) as err:
        raise ZlensError(f"--model {path} cannot be loaded ({type(err).__name__}: {str(err).splitlines()[0]}); "
                         "a subclassed model's class must be registered with "
                         "@keras.saving.register_keras_serializable() in a file given with --import.") from None


def _resume(args) -> int:
    from zlens.data import load_data
    from zlens.store import RunDirectory
    from zlens.store.run_lock import RunLock

    if args.validation_data or args.validation_key or args.validation_labels:
        raise ZlensError("--resume continues with the validation data the run recorded (it reloads that file): "
                         "leave out --validation-data, --validation-key and --validation-labels.")

    directory = RunDirectory.open(args.resume)
    if args.strategy != "multi-worker":  # (a worker's run directory is the chief's to write)
        RunLock.acquire(directory.path).release()  # can it be written, by us? before the data and TensorFlow load
    if directory.epochs_done:
        directory.resumable_checkpoint()
    recorded = directory.run_json.get("data", {})
    load = recorded.get("load")
    if load is None:
        raise ZlensError(f"{args.resume} was not written by `zlens train`; resume it from Python with "
                         "zlens.resume(path, x).")
    from zlens.data.preprocess import Preprocessing, by_factor

    rule: Preprocessing | str | None = Preprocessing.from_json(recorded.get("preprocess"))  # as recorded
    factor = (recorded.get("preprocess") or {}).get("scale_factor")
    if rule is None:  # a run from before the rule: scaled by its recorded factor, if any
        rule = by_factor(factor, recorded.get("original_dtype") or "float32") if factor else "none"
    source = load_data(**{**load, "scale": rule})
    target = None if not recorded.get("target_load") else load_data(**recorded["target_load"])
    validation = None if not recorded.get("validation_load") else load_data(**recorded["validation_load"])
    strategy = _strategy(args.strategy)  # before anything else touches TensorFlow's runtime
    import zlens
    from zlens.progress import ProgressPrinter

    import_model_code(recorded.get("imports") or [])  # the model's classes, before its checkpoint loads
    model = None
    if directory.epochs_done == 0 and recorded.get("model_file"):  # nothing committed: it starts again
        model = load_user_model(recorded["model_file"], [])

    epochs = args.epochs or directory.config["epochs"]
    progress = [] if args.quiet else [ProgressPrinter(epochs, source.n_samples, directory.config["batch_size"])]
    if not args.quiet:
        print(f"zlens: resuming {args.resume} after epoch {directory.epochs_done - 1}" if directory.epochs_done else
              f"zlens: {args.resume} committed no epoch: starting it again", file=sys.stderr)
    run = zlens.resume(args.resume, source, None if target is None else target.to_numpy(), epochs=epochs,
                       learning_rate=args.learning_rate, on_nonfinite=args.on_nonfinite, model=model,
                       callbacks=progress, verbose=0, strategy=strategy, validation_data=validation)
    _say_where(run, args.quiet)
    return 0


def encode(args) -> int:
    """`zlens encode`: stream a data file through the run's final model into a file."""
    _check_positive(batch_size=args.batch_size)
    from zlens.data import load_data
    from zlens.data.conform import prepare_like_training
    from zlens.data.readers import CSV_SUFFIXES, PARQUET_SUFFIXES
    from zlens.export import format_of
    from zlens.store import RunDirectory

    format_of(args.out)
    directory = RunDirectory.open(args.run)  # a clear error before any heavy import
    recorded = directory.run_json.get("data", {})
    record = recorded.get("preprocess")
    options = {"label_column": args.label_column, "key": args.key, "flatten": args.flatten}
    if recorded.get("feature_columns") and str(args.data).lower().endswith(CSV_SUFFIXES + PARQUET_SUFFIXES):
        options.update(feature_columns=recorded["feature_columns"],  # the run's columns, in the run's order
                       label_column=args.label_column or recorded.get("label_column"))
    if record is None:  # a run not recorded by zlens.fit: its data read as load_data reads it
        source, done = load_data(args.data, scale="none" if args.no_scale else "auto", **options), ""
    else:
        source, done = prepare_like_training(args.data, record, as_given=args.no_scale, **options)
    if done and not args.quiet:
        print(f"zlens: {source.name}: {done}", file=sys.stderr)
    _quiet_tensorflow_import()
    import zlens
    from zlens.encoding import encode_to_file

    run = zlens.open_run(args.run)
    report = None if args.quiet else (lambda done: print(f"\rzlens: encoded {done}/{source.n_samples} rows",
                                                          end="", file=sys.stderr, flush=True))
    shape = encode_to_file(run.model, source, args.out, batch_size=args.batch_size, progress=report)
    if not args.quiet:
        print(f"\nzlens: wrote z {shape[0]} x {shape[1]} to {args.out}", file=sys.stderr)
    return 0


def export(args) -> int:
    """`zlens export`: one tap of one captured epoch to npy / csv / parquet."""
    import zlens
    from zlens.export import export_tap, format_of

    if args.to == "projector":
        return _export_projector(args)
    format_of(args.out, args.to)
    run = zlens.open_run(args.run)
    epoch = run.epochs[run.slot_of(args.epoch)]
    kind = run.resolve_kind(args.kind, args.split)
    export_tap(run, args.out, tap=args.tap, epoch=args.epoch, kind=kind, to=args.to, split=args.split)
    if not args.quiet:
        shape = (run.n_samples_of(args.split), *run.taps[args.tap])
        whose = "" if args.split == "train" else f" of the {args.split} samples"
        print(f"zlens: wrote {args.tap}{whose} of epoch {epoch} ({kind}), shape {shape}, to {args.out}",
              file=sys.stderr)
    return 0


def _export_projector(args) -> int:
    import zlens
    from zlens.report.projector import export_projector

    run = zlens.open_run(args.run)  # a clear error before TensorFlow loads (for the scalars)
    _quiet_tensorflow_import()

    out = export_projector(run, args.out, epoch=args.epoch, kind=args.kind, tap=args.tap,
                           binary=args.binary, split=args.split)
    if not args.quiet:
        print(f"zlens: wrote TensorBoard projector files to {out} (tensorboard --logdir {out})", file=sys.stderr)
    return 0


def report(args) -> int:
    """`zlens report`: the self-contained HTML page of a run."""
    _check_positive(max_points=args.max_points)
    from zlens.report import build_report
    from zlens.store import RunDirectory

    RunDirectory.open(args.run)  # a clear error before TensorFlow loads (for the reconstructions)
    _quiet_tensorflow_import()
    path = build_report(args.run, args.out, epoch=args.epoch, method=args.method, max_points=args.max_points,
                        kind=args.kind, gif=not args.no_gif)
    if not args.quiet:
        print(f"zlens: wrote {path}", file=sys.stderr)
    if args.open:
        import webbrowser

        webbrowser.open(Path(path).resolve().as_uri())
    return 0


def plot(args) -> int:
    """`zlens plot`: one latent scatter figure saved to a file."""
    _check_positive(max_points=args.max_points)
    import zlens
    from zlens.report.figures import latent_scatter

    out = Path(args.out)
    if not out.parent.exists():
        raise ZlensError(f"cannot write {str(out)!r}: folder {str(out.parent)!r} does not exist.")
    run = zlens.open_run(args.run)
    _quiet_tensorflow_import()
    fig = latent_scatter(run, epoch=args.epoch, kind=args.kind, method=args.method, max_points=args.max_points)
    try:
        fig.savefig(out, dpi=200, bbox_inches="tight")
    except ValueError as err:  # unknown image format
        raise ZlensError(f"cannot write {str(out)!r}: {err}") from None
    if not args.quiet:
        print(f"zlens: wrote {out}", file=sys.stderr)
    return 0


def info(args) -> int:
    """`zlens info`: what a run holds; with `--verify`, whether every file of it is whole (exit 1 if not)."""
    import zlens

    if args.verify:
        return _verify(args)
    summary = zlens.open_run(args.run).summary()
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"run       {summary['path']}")
    print(f"status    {summary['status']}" + (f" ({summary['reason']})" if summary.get("reason") else "")
          + (" (no process is writing it: it was killed; zlens train --resume continues it)"
             if summary["status"] == "running" and not _being_written(summary["path"]) else ""))
    print(f"samples   {summary['n_samples']}" + (" (labelled)" if summary["labelled"] else ""))
    print(f"epochs    {summary['epochs_done']} trained; latents of {len(summary['captured_epochs'])} "
          f"captured: {_ranges(summary['captured_epochs'])}")
    print(f"kinds     {', '.join(summary['kinds'])}")
    for split, held in summary["splits"].items():
        if split != "train":
            print(f"held out  {held['n_samples']} {split} samples" + (" (labelled)" if held["labelled"] else "")
                  + f": their {', '.join(held['kinds'])} z, every captured epoch")
    if summary["nonfinite_epochs"]:
        print(f"nonfinite {_ranges(summary['nonfinite_epochs'])} (kept with NaN or infinite values)")
    print("taps      " + ", ".join(f"{t} {tuple(s)}" for t, s in summary["taps"].items()))
    last = summary["last_metrics"]
    if last:
        print("last      " + "  ".join(f"{k} {v:.6g}" if isinstance(v, float) else f"{k} {v}" for k, v in last.items()))
    print(f"latents   {summary['latents']}")
    return 0


def _being_written(path: str) -> bool:
    """Whether a process holds the run's lock now (a run that says "running" without one was killed)."""
    from zlens.errors import RunError
    from zlens.store.run_lock import RunLock

    try:
        RunLock.check_free(path)
    except RunError:
        return True
    return False


def _verify(args) -> int:
    """`zlens info RUN --verify`: each note and problem on a line of its own, then the verdict."""
    from zlens.store.verify import verify_run

    verdict = verify_run(args.run)
    if args.json:
        print(json.dumps({"path": str(verdict.path), "sound": verdict.sound, "problems": verdict.problems,
                          "notes": verdict.notes, "slots_checked": verdict.slots_checked}, indent=2))
        return 0 if verdict.sound else 1
    for note in verdict.notes:
        print(f"note: {note}")
    for problem in verdict.problems:
        print(f"damaged: {problem}")
    if verdict.sound:
        print(f"zlens: {verdict.path} is sound ({verdict.slots_checked} latent matrices read, checksums match)")
        return 0
    print(f"zlens: {verdict.path} has {len(verdict.problems)} problem(s); see docs/integrity.md for what to do",
          file=sys.stderr)
    return 1


def _say_where(run, quiet: bool) -> None:
    if quiet:
        return
    if run.path is None:  # a worker of a multi-worker run other than the chief
        print("zlens: done (this worker's part; the chief wrote the run directory).", file=sys.stderr)
        return
    print(f"zlens: done. z of epochs {_ranges(run.epochs)} ({', '.join(run.kinds)}), "
          f"{run.n_samples} x {run.taps['z'][0]}, in {run.path / 'latents.zarr'}\n"
          f"       zlens info {run.path}   |   zlens export {run.path} --to csv --out z.csv", file=sys.stderr)


_SIZE_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "kib": 2**10, "m": 10**6, "mb": 10**6, "mib": 2**20,
               "g": 10**9, "gb": 10**9, "gib": 2**30, "t": 10**12, "tb": 10**12, "tib": 2**40}


def _buffer_budget(args) -> int | None:
    """`--buffer-budget` in bytes, or None; `--memory-budget`, its former name, still works (with a note)."""
    if args.memory_budget is not None:
        print("zlens train: --memory-budget is now --buffer-budget (the bytes the tap buffers may take on the "
              "device); the old name will go.", file=sys.stderr)
        if args.buffer_budget is None:
            return parse_size(args.memory_budget, "--memory-budget")
    return None if args.buffer_budget is None else parse_size(args.buffer_budget, "--buffer-budget")


def parse_size(text: str, option: str) -> int:
    """Bytes from a size such as "4096", "512MiB", "2GB" or "1.5 GiB" (decimal kB/MB/GB, binary KiB/MiB/GiB).

    Example:
        >>> parse_size("512MiB", "--buffer-budget"), parse_size("2GB", "--buffer-budget")
        (536870912, 2000000000)
    """
    import re

    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([a-zA-Z]*)\s*", text)
    unit = match and _SIZE_UNITS.get(match.group(2).lower())
    if not match or not unit:
        raise ZlensError(f"{option} must be a size such as 4096, 512MiB or 2GB; got {text!r}.")
    return int(float(match.group(1)) * unit)


def _check_positive(**values) -> None:
    for name, value in values.items():
        if value is not None and value < 1:
            raise ZlensError(f"--{name.replace('_', '-')} must be at least 1; got {value}.")


def _ranges(epochs: list[int]) -> str:
    if not epochs:
        return "none"
    if epochs == list(range(epochs[0], epochs[-1] + 1)) and len(epochs) > 2:
        return f"{epochs[0]}..{epochs[-1]}"
    return ", ".join(map(str, epochs))


def _quiet_tensorflow_import() -> None:
    """Import TensorFlow with its C++ start-up chatter (CUDA probing on CPU machines) hidden."""
    import os

    if "tensorflow" in sys.modules:
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)
