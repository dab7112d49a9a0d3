"""The benchmark suite's plumbing on a toy size: every row, its process, the table and the JSON.

Benchmarks are not tests: nothing here looks at a timing, only at the shape of the results.
PyTorch is optional (CI installs `.[test]` only): its rows are then skipped, and say why.
"""

import json

import pytest

from benchmarks.__main__ import main
from benchmarks.suite import ROWS, run_suite, select
from benchmarks.table import render
from benchmarks.work import Sizes

TOY = Sizes(n_train=512, n_stream=4096, repeats=1, encode_batch=256, stream_batch=1024, conv_batch=128, n_conv=256,
            n_large=2048, large_budget=2**20, heavy_repeats=1)
TORCH_ROWS = ("torch", "encode-torch", "conv-torch")


@pytest.fixture(scope="module")
def result():
    return run_suite(TOY, rate_seconds=0.02, log=lambda _: None)


def test_every_row_is_reported_with_ratios(result):
    rows = {row["key"]: row for section in result["sections"] for row in section["rows"]}
    assert set(rows) == {row.key for row in ROWS}
    for row in rows.values():
        if row["skipped"]:  # only the optional PyTorch rows may be skipped, saying so
            assert row["key"] in TORCH_ROWS and "torch not installed" in row["skipped"]
            continue
        assert len(row["samples"]) == TOY.repeats
        assert row["min"] <= row["median"] <= row["max"]
        assert row["ratio_to_zlens"] > 0
        if row["section"] in ("training", "encode", "stream"):
            assert row["ratio_to_limit"] > 0 and row["ratio_to_peak"] > 0


def test_every_row_runs_in_its_own_process_with_only_its_framework(result):
    rows = {row["key"]: row for section in result["sections"] for row in section["rows"]}
    zlens_process = rows["zlens"]["process"]
    for key, row in rows.items():
        if row["skipped"] or key.startswith(("limit", "encode-limit", "encode-peak", "stream-limit", "stream-peak",
                                             "large-resident")):
            continue
        frameworks = result["info"][key]["threads"]["frameworks"] if key in result["info"] else None
        if key in ("zlens", "zlens-off", "conv-zlens", "encode-zlens", "stream-memory"):
            assert row["process"] == zlens_process and frameworks == ["tensorflow"]
        else:  # a competitor, or a row whose memory is its own: a process of its own
            assert [r["key"] for r in rows.values() if r["process"] == row["process"]] == [key]
            assert frameworks == (["torch"] if key in TORCH_ROWS else ["tensorflow"])
        assert row["threads"], key


def test_limits_are_positive_and_explained(result):
    limits = {s["name"]: s["limit"] for s in result["sections"]}
    medians = {row["key"]: row["median"] for s in result["sections"] for row in s["rows"]}
    assert all(medians[key] > 0 for key in limits.values() if key)
    rep = result["info"]["limit"]["reps"][0]
    shapes = rep["sets"]["limit"]["shapes"]
    assert len(shapes) == 11 and all(s["best"] in ("numpy", "tensorflow", "torch") for s in shapes.values())
    assert rep["peak_gflops"] >= max(rep["sets"][name]["step_gflops"] for name in rep["sets"])
    assert medians["limit-peak"] <= medians["limit"]


def test_streaming_and_memory_mapped_processes_report_their_own_peak_rss(result):
    assert result["info"]["stream-zlens"]["peak_rss_bytes"] > 0
    assert result["info"]["stream-memory"]["outputs_match"] is True
    assert result["info"]["large-memmap"]["peak_rss_bytes"] > 0


def test_table_and_json_carry_the_same_rows_and_targets(result):
    text = render(result)
    assert "training: seconds per epoch" in text and "targets (issue 14):" in text
    assert "conv: seconds per epoch" in text and "large: seconds per epoch" in text
    for row in ROWS:
        assert row.label[:40] in text
    again = json.loads(json.dumps(result))
    assert [t["target"] for t in again["targets"]] == [t["target"] for t in result["targets"]]
    assert all(t["met"] in (True, False, None) for t in again["targets"])


def test_rows_selection_keeps_the_limits_and_rejects_unknown_names(capsys):
    from benchmarks import rows_classic

    assert [p.builders for p in select(["classic"])] == [((rows_classic.classic_probe, (rows_classic.CLASSIC,)),)]
    assert {p.name for p in select(["stream-zlens"])} == {"zlens", "stream"}  # the input's writer comes along
    assert main(["--rows", "no-such-row"]) == 2
    assert "unknown rows" in capsys.readouterr().err


def test_gpu_request_without_a_gpu_is_a_clear_error(capsys):
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU: --device gpu would run the suite")
    assert main(["--device", "gpu", "--rows", "classic"]) == 2
    assert "no GPU" in capsys.readouterr().err


def test_capture_cost_prints_the_paced_rows_and_the_end_of_epoch_parts(capsys):
    from benchmarks import capture_cost

    capture_cost.main(["--rows", "600", "--repeats", "1"])
    out = capsys.readouterr().out
    for row in ("capture off", "in-memory store", "store write left out", "Keras' own step loop"):
        assert row in out
    assert out.count("paired ratio to off") == 4
    parts = out.split("end-of-epoch parts")[1]
    for part in ("completeness check", "host read of z", "store commit"):
        assert part in parts
