"""Export to TensorBoard: the Embedding Projector's files for z, and the run's metrics as scalars.

`tensorboard --logdir OUT` then shows z (Projector tab, coloured by label) and the loss curves.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from zlens.errors import ZlensError

CONFIG_NAME = "projector_config.pbtxt"  # the name TensorBoard's projector plugin looks for
METADATA_NAME = "metadata.tsv"
SCALARS_DIR = "scalars"


def export_projector(run, out_dir: str | Path, *, epoch: int | Sequence[int] = -1, kind: str | None = None,
                     tap: str = "z", binary: bool = False, scalars: bool = True, split: str = "train") -> Path:
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

    Exporting twice into one folder gives the same files (the scalars folder is replaced, not
    added to); a failure leaves the folder as it was. No TensorBoard install is needed.

    Args:
        run: a `Run` (or the path of a run directory).
        out_dir: the folder to write (created if missing); use it as TensorBoard's `--logdir`.
        epoch: a captured epoch number, -1 for the last (default), or a list of them.
        kind: "in-flight" or "consistent" (default: the run's kind).
        tap: which tap (default "z"); its per-sample values are flattened into one row.
        binary: write float32 `.bytes` instead of TSV (smaller, faster for large N).
        scalars: also write the metrics as TensorBoard scalars (imports TensorFlow, not TensorBoard).
        split: "train" (default) or "validation": the validation samples' z, with their labels.

    Example:
        >>> export_projector(zlens.open_run("runs/digits"), "tb/digits", epoch=[0, -1])
        >>> # then: tensorboard --logdir tb/digits   (Projector and Scalars tabs)
    """
    if isinstance(run, (str, os.PathLike)):
        from zlens.run_open import open_run

        run = open_run(os.fspath(run))
    if tap not in run.taps:
        raise ZlensError(f"this run has no tap {tap!r}; its taps: {', '.join(run.taps)}.")
    kind = run.resolve_kind(kind, split)
    n_samples = run.n_samples_of(split)
    asked = [epoch] if isinstance(epoch, (int, np.integer)) else list(epoch)
    epochs = list(dict.fromkeys(run.epochs[run.slot_of(e)] for e in asked))
    out = Path(out_dir).expanduser()
    if out.exists() and not out.is_dir():
        raise ZlensError(f"{str(out)!r} is a file: choose a folder for the projector files.")
    out.parent.mkdir(parents=True, exist_ok=True)
    array = run.tap_array(tap, kind, split)
    files = {METADATA_NAME: metadata_tsv(n_samples, run.labels_of(split)).encode("utf-8")}
    whose = "" if split == "train" else f"_{split}"

    entries = []
    for e in epochs:
        values = np.asarray(array[run.slot_of(e)], dtype=np.float32).reshape(n_samples, -1)
        name = re.sub(r"[^\w.-]", "_", f"{tap}{whose}_epoch{e:05d}_{kind}") + (".bytes" if binary else ".tsv")
        files[name] = values.astype("<f4").tobytes() if binary else tensor_tsv(values)
        entries.append((f"{tap}{whose.replace('_', ' ')} epoch {e} ({kind})", name, values.shape))
    files[CONFIG_NAME] = projector_config(entries).encode("utf-8")
    # Everything is made in a folder beside `out` first, so a failure leaves `out` as it was;
    # then each file replaces its namesake, and the scalars folder its own (no events pile up).
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        for name, data in files.items():
            (staging / name).write_bytes(data)
        if scalars:
            write_scalars(run, staging / SCALARS_DIR)
        out.mkdir(exist_ok=True)
        for name in files:
            os.replace(staging / name, out / name)
        if scalars:
            shutil.rmtree(out / SCALARS_DIR, ignore_errors=True)
            os.replace(staging / SCALARS_DIR, out / SCALARS_DIR)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
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

    The file is written with TensorFlow's record writer and event protos, the format TensorBoard
    reads, so no TensorBoard install is needed to export (only to look).

    Example:
        >>> write_scalars(zlens.open_run("runs/digits"), "tb/digits/scalars")
    """
    import time

    import tensorflow as tf

    event_pb2, summary_pb2 = event_protos()
    history = run.history
    logdir = Path(logdir)
    logdir.mkdir(parents=True, exist_ok=True)
    now = time.time()
    path = logdir / "events.out.tfevents.zlens"  # one name: an export again replaces it
    with tf.io.TFRecordWriter(str(path)) as writer:
        writer.write(event_pb2.Event(wall_time=now, file_version="brain.Event:2").SerializeToString())
        for step, row in enumerate(zip(*history.values(), strict=True)):
            values = [summary_pb2.Summary.Value(tag=name, simple_value=float(value))
                      for name, value in zip(history, row, strict=True)
                      if name != "epoch" and isinstance(value, (int, float)) and not isinstance(value, bool)
                      and np.isfinite(value)]
            event = event_pb2.Event(wall_time=now, step=int(history["epoch"][step]),
                                    summary=summary_pb2.Summary(value=values))
            writer.write(event.SerializeToString())
    return logdir


def event_protos():
    """TensorFlow's `Event` and `Summary` protobuf modules (not in its public API; pinned by
    tests/report/test_projector_export.py so a TensorFlow that moves them fails there)."""
    from tensorflow.core.framework import summary_pb2
    from tensorflow.core.util import event_pb2

    return event_pb2, summary_pb2


def _quoted(text: str) -> str:
    """A protobuf text-format string literal (C-style escapes)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def _clean(label) -> str:
    return re.sub(r"[\t\r\n]", " ", str(label))
