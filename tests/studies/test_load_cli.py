"""`qrbench load`: ad-hoc and scenario runs against a stub server print their summary; bad input exits 2."""

from __future__ import annotations

import json

import pytest

from qrbench.cli import main
from qrbench.load import load_records, start_stub_server
from qrbench.studies import read_summary


@pytest.fixture(scope="module")
def url():
    with start_stub_server() as u:
        yield u


def only_run(out):
    (run_dir,) = [p for p in out.iterdir() if p.is_dir()]
    return run_dir


def test_adhoc_open_load_prints_the_summary(url, tmp_path, capsys):
    code = main(
        [
            "load",
            "--url",
            url,
            "--mode",
            "open",
            "--rate",
            "20",
            "--duration",
            "2s",
            "--arrivals",
            "uniform",
            "--mix",
            "rerank_small=1,similarity=0",
            "--out",
            str(tmp_path),
            "--no-progress",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    run_dir = only_run(tmp_path)
    assert run_dir.name.endswith("-load-adhoc-open")
    assert f"records: {run_dir / 'load' / 'records.parquet'}" in out
    for text in (
        "scenario adhoc-open: 40 requests",
        "40 ok",
        "errors: none",
        "p50",
        "p95",
        "p99",
        "generator: 1 process(es)",
    ):
        assert text in out, text
    assert "saturated" in out.lower()  # "no", or SATURATED with its reasons on a busy machine
    records = load_records(run_dir / "load")
    assert len(records) == 40 and set(records["kind"]) == {"rerank_small"}
    summary = read_summary(run_dir)
    assert summary["study"] == "load" and summary["requests"] == 40
    # The percentiles are the load study's: ok requests after the warm-up (MSER-5 trims at most half).
    assert 20 <= summary["latency_ms"]["p50"]["n"] <= 40


def test_scenario_file_with_time_scale_and_closed_adhoc(url, tmp_path, capsys):
    scenario = tmp_path / "load_tiny.yaml"
    scenario.write_text(
        "model: closed\nusers: 2\nramp_up_s: 10\nduration_s: 20\nthink_time: {mean_s: 0.1}\n"
        "mix: {similarity: 1}\npool_size: 10\n"
    )
    out_dir = tmp_path / "out"
    assert (
        main(["load", "-p", str(scenario), "--url", url, "--time-scale", "0.1", "--out", str(out_dir), "--no-progress"])
        == 0
    )
    run_dir = only_run(out_dir)
    assert run_dir.name.endswith("-load-tiny")
    assert json.loads((run_dir / "run.json").read_text())["params"]["time_scale"] == pytest.approx(0.1)
    assert json.loads((run_dir / "result.json").read_text())["duration_s"] < 2 + 1  # 20 s scaled to 2 s
    assert "ramp_up" in capsys.readouterr().out
    assert (
        main(
            [
                "load",
                "--url",
                url,
                "--mode",
                "closed",
                "--users",
                "2",
                "--duration",
                "1",
                "--out",
                str(tmp_path / "closed"),
                "--no-progress",
            ]
        )
        == 0
    )


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--url", "http://10.1.2.3:80", "--mode", "open", "--rate", "5"], "10.1.2.3"),
        (["--url", "http://127.0.0.1:9", "--mode", "open"], "--rate"),
        (["--url", "http://127.0.0.1:9", "--mode", "open", "--rate", "-5"], "rate_rps"),
        (["--url", "http://127.0.0.1:9", "--mode", "open", "--rate", "5", "--mix", "rerank_huge=1"], "rerank_huge"),
        (["--url", "http://127.0.0.1:9", "--mode", "open", "--rate", "5", "--duration", "soon"], "soon"),
        (["--url", "http://127.0.0.1:9"], "-p FILE"),
        (["-p", "nope/load_missing.yaml"], "does not exist"),
    ],
)
def test_bad_input_exits_2_naming_it(tmp_path, capsys, argv, named):
    assert main(["load", *argv, "--out", str(tmp_path)]) == 2
    assert named in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # refused before any run folder or request
