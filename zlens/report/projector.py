"""Export to TensorBoard: the Embedding Projector's files for z, and the run's metrics as scalars.

`tensorboard --logdir OUT` then shows z (Projector tab, coloured by label) and the loss curves.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from zlens.errors import ZlensError

CONFIG_NAME = "projector_config.pbtxt"  # the name TensorBoard's projector plugin looks for
METADATA_NAME = "metadata.tsv"
SCALARS_DIR = "scalars"


def export_projector(run, out_dir: str | Path, *, epoch: int | Sequence[int] = -1, kind: str | None = None,
                     tap: str = "z", binary: bool = False, scalars: bool = True) -> Path:
    """Write TensorBoard Embedding Projector files for `tap` of `epoch`, plus the metrics as scalars.

    Files in `out_dir` (all paths in the config are relative to it, as the projector requires):
    - one tensor per epoch: a TSV of tab-separated floats, one row per sample (row i is
      sample i); or with `binary=True`, raw little-endian float32 (`.bytes`, what the
      standalone projector loads; TensorBoard reads it too, its shape is in the config);
    - `metadata.tsv`: with labels, a header `index<TAB>label` then one row per sample; without
      labels, just the sample index per line (a one-column file has no header in the
      projector's format). Tabs and newlines inside labels become spaces;
    - `projector_config.pbtxt`: one `embeddings { tensor_name tensor_path metadata_path
      tensor_shape }` entry per epoch;
    - `scalars/`: the run's per-epoch metrics (loss, val_loss, drift...) as TF summary events.

    Args:
        run: a `Run` (or the path of a run directory).
        out_dir: the folder to write (created if missing); use it as TensorBoard's `--logdir`.
        epoch: a captured epoch number, -1 for the last (default), or a list of them.
        kind: "in-flight" or "consistent" (default: the run's kind).
        tap: which tap (default "z"); its per-sample values are flattened into one row.
        binary: write float32 `.bytes` instead of TSV (smaller, faster for large N).
        scalars: also write the metrics as TensorBoard scalars (imports TensorFlow).

    Example:
        >>> export_projector(zlens.open_run("runs/digits"), "tb/digits", epoch=[0, -1])
        >>> # then: tensorboard --logdir tb/digits   (Projector and Scalars tabs)
    """
    if isinstance(run, (str, os.PathLike)):
        from zlens.run_open import open_run

        run = open_run(run)
    if tap not in run.taps:
        raise ZlensError(f"this run has no tap {tap!r}; its taps: {', '.join(run.taps)}.")
    kind = run.resolve_kind(kind)
    asked = [epoch] if isinstance(epoch, (int, np.integer)) else list(epoch)
    epochs = list(dict.fromkeys(run.epochs[run.slot_of(e)] for e in asked))
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ZlensError(f"{str(out)!r} is a file: choose a folder for the projector files.")
    out.mkdir(parents=True, exist_ok=True)

    _atomic_write(out / METADATA_NAME, metadata_tsv(run.n_samples, run.labels).encode("utf-8"))
    entries = []
    array = run.tap_array(tap, kind)
    for e in epochs:
        values = np.asarray(array[run.slot_of(e)], dtype=np.float32).reshape(run.n_samples, -1)
        name = re.sub(r"[^\w.-]", "_", f"{tap}_epoch{e:05d}_{kind}") + (".bytes" if binary else ".tsv")
        _atomic_write(out / name, values.astype("<f4").tobytes() if binary else tensor_tsv(values))
        entries.append((f"{tap} epoch {e} ({kind})", name, values.shape))
    _atomic_write(out / CONFIG_NAME, projector_config(entries).encode("utf-8"))
    if scalars:
        write_scalars(run, out / SCALARS_DIR)
    return out


def projector_config(entries: Sequence[tuple[str, str, tuple[int, int]]]) -> str:
    """`projector_config.pbtxt` text (a `ProjectorConfig` in protobuf text format), one entry per tensor.

    Written directly, so exporting needs no TensorBoard install; TensorBoard parses it with
    `text_format` into its `ProjectorConfig` (the tests check that).

    Example:
        >>> print(projector_config([("z epoch 1", "z.tsv", (3, 2))]), end="")
        embeddings {
          tensor_name: "z epoch 1"
          tensor_path: "z.tsv"
          metadata_path: "metadata.tsv"
          tensor_shape: 3
          tensor_shape: 2
        }
    """
    blocks = []
    for tensor_name, tensor_path, shape in entries:
        lines = [f"  tensor_name: {_quoted(tensor_name)}", f"  tensor_path: {_quoted(tensor_path)}",
                 f"  metadata_path: {_quoted(METADATA_NAME)}", *(f"  tensor_shape: {int(s)}" for s in shape)]
        blocks.append("embeddings {\n" + "\n".join(lines) + "\n}\n")
    return "".join(blocks)


def tensor_tsv(values: np.ndarray) -> bytes:
    """Rows of tab-separated floats, one line per row: the projector's tensor TSV format.

    Example:
        >>> tensor_tsv(np.array([[1.0, 0.5], [2.0, -1.0]], "float32"))
        b'1\\t0.5\\n2\\t-1\\n'
    """
    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 2:
        raise ZlensError(f"the projector needs a 2-D tensor (samples x values); got shape {values.shape}.")
    if not np.all(np.isfinite(values)):
        raise ZlensError("the tensor holds NaN or infinite values, which the projector cannot read.")
    lines = ["\t".join(f"{v:.9g}" for v in row) for row in values.tolist()]
    return ("\n".join(lines) + "\n").encode("ascii")


def metadata_tsv(n_samples: int, labels: np.ndarray | None) -> str:
    """The projector's metadata TSV: `index<TAB>label` header + rows, or bare indices without labels.

    Example:
        >>> metadata_tsv(2, np.array(["a\\tb", "c"])).splitlines()
        ['index\\tlabel', '0\\ta b', '1\\tc']
    """
    if labels is None:
        return "".join(f"{i}\n" for i in range(n_samples))
    rows = [f"{i}\t{_clean(label)}\n" for i, label in enumerate(np.asarray(labels).tolist())]
    return "index\tlabel\n" + "".join(rows)


def write_scalars(run, logdir: str | Path) -> Path:
    """Write the run's per-epoch metrics as TensorBoard scalars (one event file, step = epoch).

    Example:
        >>> write_scalars(zlens.open_run("runs/digits"), "tb/digits/scalars")
    """
    import tensorflow as tf

    history = run.history
    logdir = Path(logdir)
    logdir.mkdir(parents=True, exist_ok=True)
    writer = tf.summary.create_file_writer(str(logdir))
    with writer.as_default():
        for name, values in history.items():
            if name == "epoch":
                continue
            for step, value in zip(history["epoch"], values):
                if isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value):
                    tf.summary.scalar(name, float(value), step=int(step))
    writer.flush()
    writer.close()
    return logdir


def _quoted(text: str) -> str:
    """A protobuf text-format string literal (C-style escapes)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def _clean(label) -> str:
    return re.sub(r"[\t\r\n]", " ", str(label))


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_bytes(data)
    os.replace(tmp, path)
