"""The `zlens` command line: train, encode, export and inspect runs. It only parses and calls.

Every bad argument or bad file ends with one line on stderr and exit code 2; exit code 0 means
the work was done. TensorFlow is imported only by the commands that need it.
"""

from __future__ import annotations

import argparse
import difflib
import errno
import os
import re
import sys

from zlens.options import (
    CAPTURE_CHOICES,
    EXPORT_FORMATS,
    KINDS,
    NONFINITE_CHOICES,
    PROJECTION_METHODS,
    SCALE_CHOICES,
    SPLITS,
    STRATEGY_NAMES,
    TAP_STORAGES,
    TRAIN,
)

EXIT_BAD_INPUT = 2
_DISK_ERRORS = (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT)

DESCRIPTION = """\
Train autoencoders and keep the complete latent matrix z of every epoch (row i = sample i).

  zlens train --out runs/digits                 train on the embedded 8x8 digits
  zlens info runs/digits                        what the run holds
  zlens export runs/digits --to csv --out z.csv the last epoch's z, with index and labels
  zlens encode runs/digits --data new.npy --out z_new.npy
"""


class _Parser(argparse.ArgumentParser):
    """argparse, with examples kept as written and a suggestion for a mistyped option."""

    argv: list[str] | None = None  # the arguments parsed (None: sys.argv), for the suggestion

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str):
        unknown = re.findall(r"(--?[\w-]+)", message.split("unrecognized arguments:", 1)[1]) \
            if "unrecognized arguments:" in message else []
        options = [o for parser in self._parsers() for action in parser._actions for o in action.option_strings]
        for wrong in unknown:
            close = difflib.get_close_matches(wrong.split("=")[0], options, n=1, cutoff=0.6)
            if close:
                message += f" (did you mean {close[0]}?)"
                break
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: error: {message}\n")

    def _parsers(self) -> list[argparse.ArgumentParser]:
        """The parsers whose options a mistyped one may have meant: the subcommand's given on
        the command line (or every subcommand's), then this one's."""
        commands = {name: p for a in self._actions if isinstance(a, argparse._SubParsersAction)
                    for name, p in a.choices.items()}
        given = [commands[arg] for arg in self.argv or sys.argv[1:] if arg in commands][:1]
        return [*(given or commands.values()), self]


def _examples(*lines: str) -> str:
    return "examples:\n" + "\n".join(f"  {line}" for line in lines)


def build_parser() -> _Parser:
    parser = _Parser(prog="zlens", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"zlens {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=_Parser)
    _add_train(sub)
    _add_encode(sub)
    _add_export(sub)
    _add_report(sub)
    _add_plot(sub)
    _add_info(sub)
    return parser


def _add_train(sub) -> None:
    train = sub.add_parser("train", help="train an autoencoder and capture z every epoch",
                           description="Train an autoencoder and write a run directory with z of every epoch.",
                           epilog=_examples(
                               "zlens train --out runs/digits --epochs 30",
                               "zlens train --data mnist.npz --flatten --encoding-dim 2 --out runs/mnist "
                               "--validation-data mnist.npz --validation-key test",
                               "zlens train --model my_ae.keras --import my_models.py --data x.npy --out runs/mine",
                               "zlens train --resume runs/digits --epochs 60"))
    data = train.add_argument_group("data (default: the embedded 8x8 digits, 1797 x 64, with labels)")
    data.add_argument("--data", metavar="FILE", help=".npy, .npz (Keras mnist.npz layout too), .csv, .parquet or .zarr")
    data.add_argument("--label-column", metavar="NAME",
                      help="table column holding labels (CSV/Parquet; default: a column named target, label, "
                           "class or y, if any; '' for none)")
    data.add_argument("--labels", metavar="FILE", help="a separate .npy/.csv of labels, one per sample")
    data.add_argument("--key", metavar="NAME", help="which array of a .npz (default: x_train, or the only one)")
    data.add_argument("--flatten", action="store_true", help="flatten image samples for the dense model")
    data.add_argument("--channels-last", action="store_true",
                      help="give gray images (N, H, W) their channel axis, (N, H, W, 1), for a model built for "
                           "(H, W, 1) (zlens' own conv model takes either)")
    data.add_argument("--scale", choices=SCALE_CHOICES, default=None,
                      help="how values are prepared, recorded and reapplied by encode and --resume: auto (default: "
                           "nothing for values in [0, 1], 8-bit pixels / 255, else min-max per feature), minmax, "
                           "standard (mean 0, variance 1 per feature; needs a model with a linear output), none")
    data.add_argument("--no-scale", action="store_true", help="the same as --scale none")
    data.add_argument("--target", metavar="FILE",
                      help="what the model learns to output when it is not the input (a denoising autoencoder's "
                           "clean samples; --data holds the noisy ones): read like --data, one per sample")
    data.add_argument("--target-key", metavar="NAME", help="which array of a .npz / Zarr group --target reads")
    data.add_argument("--validation-data", metavar="FILE",
                      help="held-out samples, read like --data and prepared as it was: Keras' val_loss, and their "
                           "own consistent z every captured epoch (labels found as --data finds them)")
    data.add_argument("--validation-key", metavar="NAME",
                      help="which array of --validation-data's .npz (test: x_test with y_test as labels)")
    data.add_argument("--validation-labels", metavar="FILE", help="a separate .npy/.csv of validation labels")
    model = train.add_argument_group("model")
    model.add_argument("--model", default=None, metavar="NAME|FILE",
                       help="dense (default for flat data), conv (default for images), vae, or your own Keras "
                            "model saved as a .keras file (its compiled optimizer and loss are kept)")
    model.add_argument("--import", dest="imports", action="append", default=[], metavar="FILE.py|MODULE",
                       help="a Python file or module defining your model's registered classes, imported before "
                            "--model FILE is loaded (repeatable)")
    model.add_argument("--latent", metavar="NAME", default=None,
                       help="where z is in your model: a layer name or an attribute such as encoder")
    model.add_argument("--encoding-dim", type=int, default=None, metavar="D", help="latent size d (default: model's)")
    model.add_argument("--learning-rate", type=float, default=None, metavar="LR",
                       help="train with Adam at this rate (default 1e-3; with --model FILE: its own optimizer); "
                            "with --resume: the optimizer's rate from there on")
    fit = train.add_argument_group("training and capture")
    fit.add_argument("--epochs", type=int, default=None, help="epochs (default 10; with --resume: the planned total)")
    fit.add_argument("--batch-size", type=int, default=256, help="samples per step (default 256)")
    fit.add_argument("--capture", choices=tuple(CAPTURE_CHOICES), default="both",
                     help="which z to keep: in-flight (free), consistent (inference pass) or both (default)")
    fit.add_argument("--taps", default="z,recon_error", help="comma-separated taps (default z,recon_error)")
    fit.add_argument("--capture-every", type=int, default=1, metavar="K", help="keep every Kth epoch (the last always)")
    fit.add_argument("--last-only", action="store_true", help="keep only the last epoch's latents")
    fit.add_argument("--seed", type=int, default=None, help="seed for identical runs")
    fit.add_argument("--on-nonfinite", choices=NONFINITE_CHOICES, default=None,
                     help="when a loss or z turns NaN or infinite: stop before keeping that epoch (default; the "
                          "run is marked failed, the epochs before stay), or record it, flagged")
    fit.add_argument("--strategy", choices=STRATEGY_NAMES, default=None,
                     help="train on every local GPU (mirrored) or on the machines in TF_CONFIG (multi-worker: "
                          "run the same command on each; the chief writes the run); see docs/scale-out.md")
    fit.add_argument("--tap-storage", choices=("auto", *TAP_STORAGES), default="auto",
                     help="where the z buffers live while an epoch runs: device, host memory, or streamed to a "
                          "scratch file (auto: device within --buffer-budget, else stream)")
    fit.add_argument("--buffer-budget", metavar="SIZE", default=None,
                     help="bytes the tap buffers may take on the device before auto streams them, e.g. 512MiB, 2GB "
                          "(default 4GiB)")
    fit.add_argument("--memory-budget", metavar="SIZE", default=None, help=argparse.SUPPRESS)  # its former name
    out = train.add_argument_group("output")
    out.add_argument("--out", metavar="RUN", help="the run directory to write")
    out.add_argument("--overwrite", action="store_true",
                     help="replace the zlens run at --out (a folder that is not a zlens run is never replaced)")
    out.add_argument("--resume", metavar="RUN", help="continue the run at RUN from its last committed epoch")
    train.add_argument("--quiet", action="store_true", help="no progress output")


def _add_encode(sub) -> None:
    encode = sub.add_parser("encode", help="encode new data with a run's final model",
                            description="Encode a data file with the run's final model, streaming to the output. "
                                        "The data is prepared as the run's training data was: given as it was "
                                        "then (raw values; a table's recorded columns, in their order), flattened "
                                        "when the run's samples were, scaled with the run's recorded parameters; "
                                        "data whose shape or range does not match is refused, naming what differs.",
                            epilog=_examples("zlens encode runs/digits --data new.npy --out z_new.npy",
                                             "zlens encode runs/mnist --data test.npz --key test --out z_test.csv",
                                             "zlens encode runs/mine --data prepared.npy --no-scale --out z.parquet"))
    encode.add_argument("run", metavar="RUN", help="the run directory whose final model encodes")
    encode.add_argument("--data", metavar="FILE", required=True,
                        help="the samples: .npy, .npz, .csv, .parquet or .zarr")
    encode.add_argument("--out", metavar="FILE", required=True, help="output .npy, .csv or .parquet")
    encode.add_argument("--key", metavar="NAME", help="which array of a .npz (or split: train / test)")
    encode.add_argument("--label-column", metavar="NAME",
                        help="table column holding labels, kept beside z in tables (default: the run's)")
    encode.add_argument("--flatten", action="store_true",
                        help="flatten image samples (done anyway when the run's were)")
    encode.add_argument("--no-scale", action="store_true",
                        help="take the values as they are: no scaling as in training, no range check")
    encode.add_argument("--batch-size", type=int, default=None,
                        help="rows per compiled call (default: up to 8192, fewer for models with large activations)")
    encode.add_argument("--quiet", action="store_true", help="no progress output")


def _add_export(sub) -> None:
    export = sub.add_parser("export", help="write a captured matrix to npy / csv / parquet / TensorBoard's projector",
                            description="Write one tap of one captured epoch, with sample index and labels in tables.",
                            epilog=_examples("zlens export runs/digits --to csv --out z.csv",
                                             "zlens export runs/digits --tap recon_error --epoch 0 --out err.parquet",
                                             "zlens export runs/digits --to projector --out proj/   "
                                             "# then: tensorboard --logdir proj/"))
    export.add_argument("run", metavar="RUN", help="the run directory")
    export.add_argument("--to", choices=(*EXPORT_FORMATS, "projector"), default=None,
                        help="format (default: from --out); projector: a folder for TensorBoard's Embedding Projector")
    export.add_argument("--binary", action="store_true", help="projector: the tensor as float32 bytes instead of TSV")
    export.add_argument("--tap", default="z", help="tap name (default z)")
    export.add_argument("--epoch", type=int, default=-1, help="epoch number (default -1: the last captured)")
    export.add_argument("--kind", choices=KINDS, default=None, help="default: the run's kind")
    export.add_argument("--split", choices=SPLITS, default=TRAIN,
                        help="whose z: the training samples' (default) or the validation samples' (consistent)")
    export.add_argument("--out", metavar="FILE", required=True, help="the file to write (a folder for --to projector)")
    export.add_argument("--quiet", action="store_true", help="no message when done")


def _add_report(sub) -> None:
    report = sub.add_parser("report", help="a self-contained HTML page of the run (+ an animated GIF)",
                            description="Write RUN/report.html: loss and drift, the latent space and how it moved, "
                                        "reconstruction errors, label separation. Opens nothing unless --open.",
                            epilog=_examples("zlens report runs/digits",
                                             "zlens report runs/digits --method tsne --out digits.html --no-gif"))
    report.add_argument("run", metavar="RUN", help="the run directory")
    report.add_argument("--out", metavar="FILE", default=None, help="the page (default RUN/report.html)")
    report.add_argument("--epoch", type=int, default=-1, help="epoch of the scatter (default -1: the last)")
    report.add_argument("--method", choices=PROJECTION_METHODS, default="pca", help="2-D projection (default pca)")
    report.add_argument("--kind", choices=KINDS, default=None,
                        help="which z to show (default: in-flight when captured)")
    report.add_argument("--max-points", type=int, default=5000, help="points drawn (numbers use all samples)")
    report.add_argument("--no-gif", action="store_true", help="skip the GIF beside the page")
    report.add_argument("--open", action="store_true", help="open the page in a browser")
    report.add_argument("--quiet", action="store_true", help="no message when done")


def _add_plot(sub) -> None:
    plot = sub.add_parser("plot", help="one figure of the latent space, for papers",
                          description="Save the 2-D latent scatter of one epoch (coloured by label) as an image.",
                          epilog=_examples("zlens plot runs/digits --out z.png",
                                           "zlens plot runs/digits --epoch 0 --method tsne --out z0.pdf"))
    plot.add_argument("run", metavar="RUN", help="the run directory")
    plot.add_argument("--epoch", type=int, default=-1, help="captured epoch (default -1: the last)")
    plot.add_argument("--method", choices=PROJECTION_METHODS, default="pca", help="2-D projection (default pca)")
    plot.add_argument("--kind", choices=KINDS, default=None,
                      help="which z to plot (default: in-flight when captured)")
    plot.add_argument("--max-points", type=int, default=20000, help="points drawn at most (a sample of them)")
    plot.add_argument("--out", metavar="FILE", required=True, help="image file (.png, .pdf, .svg)")
    plot.add_argument("--quiet", action="store_true", help="no message when done")


def _add_info(sub) -> None:
    info = sub.add_parser("info", help="what a run holds: epochs, taps, shapes, metrics, status",
                          description="Print what a run directory holds, without loading TensorFlow.",
                          epilog=_examples("zlens info runs/digits", "zlens info runs/digits --json | jq .taps",
                                           "zlens info runs/digits --verify   # exit 1 if any file is damaged"))
    info.add_argument("run", metavar="RUN", help="the run directory")
    info.add_argument("--json", action="store_true", help="machine-readable output")
    info.add_argument("--verify", action="store_true",
                      help="read every file of the run: every committed epoch's latents (checksums), the checkpoint "
                           "and model, run.json against metrics.csv and the store; exit 1 on any damage")


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 done, 2 bad input, 1 failure)."""
    parser = build_parser()
    parser.argv = argv
    args = parser.parse_args(argv)
    from zlens.errors import NonFiniteError, Terminated, ZlensError

    try:
        from zlens import commands

        return getattr(commands, args.command)(args)
    except ZlensError as err:
        print(f"zlens {args.command}: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # `zlens info RUN | head`: the reader left; not an error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(f"zlens {args.command}: interrupted{_kept(args)}", file=sys.stderr)
        return 130
    except Terminated:
        print(f"zlens {args.command}: terminated (SIGTERM){_kept(args)}", file=sys.stderr)
        return 143
    except NonFiniteError as err:
        print(f"zlens {args.command}: stopped: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        if os.environ.get("ZLENS_DEBUG") or err.errno not in _DISK_ERRORS:
            raise
        where = f" writing {err.filename!r}" if err.filename else ""
        print(f"zlens {args.command}: failed: {err.strerror}{where}: free space or choose a writable folder"
              f"{_kept(args)}", file=sys.stderr)
        return 1
    except Exception as err:  # a failure, not bad input: one line, the traceback on request
        if os.environ.get("ZLENS_DEBUG"):
            raise
        print(f"zlens {args.command}: failed: {type(err).__name__}: {err} (set ZLENS_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return 1


def _kept(args) -> str:
    """What `zlens train` tells the user after a stop: the run's committed epochs are kept."""
    run_path = getattr(args, "resume", None) or getattr(args, "out", None)
    if args.command != "train" or not run_path:
        return ""
    return f"; the committed epochs of {run_path} are kept: continue with zlens train --resume {run_path}"


def _version() -> str:
    from zlens import __version__

    return __version__


if __name__ == "__main__":
    sys.exit(main())
