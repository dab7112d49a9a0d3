"""`export_projector`: files TensorBoard's Embedding Projector loads as they are, read back the way it reads
them (its config proto in text format, tab-separated float rows, metadata with a header when >1 column),
and the run's metrics as TensorBoard scalar events."""

import os

import numpy as np
import pytest
from google.protobuf import text_format
from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

from zlens.errors import ZlensError
from zlens.report import export_projector
from zlens.report.projector import metadata_tsv, projector_config, tensor_tsv


def read_config(folder):
    config = ProjectorConfig()
    text_format.Parse((folder / "projector_config.pbtxt").read_text(), config)
    return config


def asset(folder, relative):
    """Resolve a config path as the projector does: relative to the config's folder, and inside it."""
    path = os.path.realpath(os.path.join(folder, relative))
    assert os.path.commonpath([os.path.realpath(folder), path]) == os.path.realpath(folder)
    return path


def read_tensor_tsv(path):
    """The projector's tensor TSV: one row per line, tab-separated floats, blank lines skipped."""
    with open(path) as f:
        rows = [list(map(float, line.rstrip("\n").split("\t"))) for line in f if line.rstrip("\n")]
    return np.array(rows, dtype="float32")


def read_metadata(path):
    """The projector's metadata: a header row when the first line holds a tab, else one column, no header."""
    lines = open(path, encoding="utf-8").read().split("\n")[:-1]
    if "\t" in lines[0]:
        return lines[0].split("\t"), [line.split("\t") for line in lines[1:]]
    return None, [[line] for line in lines]


def test_tsv_files_round_trip_with_labels_and_shapes(small_run, tmp_path):
    out = export_projector(small_run, tmp_path / "tb", epoch=[0, -1], kind="consistent")
    config = read_config(out)
    assert len(config.embeddings) == 2
    for entry, epoch in zip(config.embeddings, [small_run.epochs[0], small_run.epochs[-1]], strict=True):
        assert entry.tensor_name == f"z epoch {epoch} (consistent)"
        assert list(entry.tensor_shape) == [small_run.n_samples, 2]
        tensor = read_tensor_tsv(asset(out, entry.tensor_path))
        assert tensor.shape == (small_run.n_samples, 2)
        np.testing.assert_array_equal(tensor, small_run.z(epoch, "consistent"))  # 9 digits: exact float32
        assert entry.metadata_path == "metadata.tsv"
    header, rows = read_metadata(asset(out, config.embeddings[0].metadata_path))
    assert header == ["index", "label"]
    assert len(rows) == small_run.n_samples and all(len(r) == 2 for r in rows)
    assert [int(r[0]) for r in rows] == list(range(small_run.n_samples))
    expected = [str(label).replace("\t", " ") for label in small_run.labels]
    assert [r[1] for r in rows] == expected
    assert "<script>alert(1)</script>" in expected and "tab here" in expected


def test_the_projector_plugins_own_readers_accept_the_files(small_run, tmp_path):
    plugin = pytest.importorskip("tensorboard.plugins.projector.projector_plugin")
    out = export_projector(small_run, tmp_path / "tb", scalars=False)
    entry = read_config(out).embeddings[0]
    path = plugin._rel_to_abs_asset_path(entry.tensor_path, str(out / "projector_config.pbtxt"))
    np.testing.assert_allclose(plugin._read_tensor_tsv_file(path), small_run.z(), rtol=1e-6, atol=1e-7)


def test_binary_tensor_with_its_shape_in_the_config(small_run, tmp_path):
    out = export_projector(small_run, tmp_path / "tb", binary=True, scalars=False)
    entry = read_config(out).embeddings[0]
    assert entry.tensor_path.endswith(".bytes")
    tensor = np.fromfile(asset(out, entry.tensor_path), dtype="float32").reshape(list(entry.tensor_shape))
    np.testing.assert_array_equal(tensor, small_run.z())


def test_metadata_without_labels_is_one_column_without_header():
    assert metadata_tsv(3, None) == "0\n1\n2\n"
    assert metadata_tsv(2, np.array(["a\nb", "c\td"])) == "index\tlabel\n0\ta b\n1\tc d\n"


def test_config_text_parses_as_tensorboards_proto_whatever_the_name():
    odd = 'z "quoted" \\ back\nslash é'
    config = ProjectorConfig()
    text_format.Parse(projector_config([(odd, "z.tsv", (5, 3))]), config)
    assert config.embeddings[0].tensor_name == odd
    assert config.embeddings[0].tensor_path == "z.tsv" and list(config.embeddings[0].tensor_shape) == [5, 3]


def test_tensor_tsv_refuses_what_the_projector_cannot_read():
    assert tensor_tsv(np.array([[1.5, -2.0]])) == b"1.5\t-2\n"
    with pytest.raises(ZlensError, match="NaN"):
        tensor_tsv(np.array([[np.nan, 0.0]]))
    with pytest.raises(ZlensError, match="2-D"):
        tensor_tsv(np.zeros(3))


def test_scalars_are_tensorboard_events_with_every_epoch(small_run, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = export_projector(small_run, tmp_path / "tb")
    assert len(list((out / "scalars").glob("events.out.tfevents.*"))) == 1
    events = EventAccumulator(str(out / "scalars"))  # read as TensorBoard reads it
    events.Reload()
    history = small_run.history
    for name in ("loss", "val_loss", "z_drift_max", "z_drift_mean"):
        scalars = events.Scalars(name)
        assert [s.step for s in scalars] == history["epoch"]
        np.testing.assert_allclose([s.value for s in scalars], history[name], rtol=1e-6)


def test_exporting_twice_into_one_folder_gives_the_same_files(small_run, tmp_path):
    first = export_projector(small_run, tmp_path / "tb", epoch=[0, -1])
    listing = sorted(p.relative_to(first).as_posix() for p in first.rglob("*"))
    contents = {name: (first / name).read_bytes() for name in listing if name.endswith((".tsv", ".pbtxt"))}
    export_projector(small_run, tmp_path / "tb", epoch=[0, -1])
    assert sorted(p.relative_to(first).as_posix() for p in first.rglob("*")) == listing
    assert {name: (first / name).read_bytes() for name in contents} == contents
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]  # nothing left beside it


def test_a_failed_export_leaves_the_folder_as_it_was(small_run, tmp_path, monkeypatch):
    out = export_projector(small_run, tmp_path / "tb", scalars=False)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    import zlens.report.projector as projector

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(projector, "write_scalars", broken)
    with pytest.raises(OSError, match="disk full"):
        export_projector(small_run, tmp_path / "tb", epoch=0)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


def test_the_export_needs_no_tensorboard(small_run, tmp_path):
    """The README's install has no TensorBoard: export with its import blocked, in a process of its own."""
    import subprocess
    import sys
    import textwrap

    small_run_dir = small_run.path
    if small_run_dir is None:
        pytest.skip("needs a run directory")
    code = textwrap.dedent(f"""
        import sys
        sys.modules["tensorboard"] = None  # any import of tensorboard now fails
        import zlens
        from zlens.report import export_projector
        export_projector(zlens.open_run({str(small_run_dir)!r}), {str(tmp_path / "tb")!r})
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "tb" / "projector_config.pbtxt").is_file()
    assert len(list((tmp_path / "tb" / "scalars").iterdir())) == 1


def test_bad_requests_are_one_line_errors(small_run, tmp_path):
    with pytest.raises(ZlensError, match="no tap 'bottleneck'"):
        export_projector(small_run, tmp_path / "tb", tap="bottleneck")
    with pytest.raises(ZlensError, match="was not captured"):
        export_projector(small_run, tmp_path / "tb", epoch=99)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ZlensError, match="is a file"):
        export_projector(small_run, tmp_path / "file")
