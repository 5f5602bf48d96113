"""A run folder is the whole truth of a run: its analysis reads the folder alone, and `qrbench load` and the load
study's report say the same about it. The folder is written by hand here (records with a known outage), so the
test needs no server and every number is known."""

from __future__ import annotations

import dataclasses
import math
import os

import numpy as np
import pandas as pd
import pytest

import qrbench.target
import qrbench.target.settings
from qrbench.load import RecordWriter, RequestSpec, finalize_run, request_record, write_run_info
from qrbench.params import build, to_dict
from qrbench.studies import STUDIES, RunFolder, get_study
from qrbench.studies.load import LOAD_DIR, LoadParams
from qrbench.studies.load.sections import screen
from qrbench.target import EngineSettings

SPEC = RequestSpec.from_payload(
    kind="rerank_small", endpoint="/v1/rerank", payload={"query": "q", "candidates": ["a", "b"], "method": "classical"}
)
DOWN = (6.0, 8.0)  # seconds of the run in which the target refused every connection


@pytest.fixture
def run_dir(tmp_path):
    """A 12 s open-model run at 20 req/s with the target down from 6 s to 8 s, and a server CPU timeline."""
    params = LoadParams(name="hand-made", model="open", rate_rps=20.0, duration_s=12.0)
    folder = RunFolder.create(
        tmp_path / "run", study="load", params=to_dict(params), calibration_s=[0.010, 0.011, 0.010, 0.012]
    )
    folder.update(
        machine={**folder.facts["machine"], "cores": 4, "usable_cores": 4},
        target={
            "url": "http://127.0.0.1:1",
            "embedded": True,
            "pid": 1,
            "params": None,
            "settings": {**to_dict(EngineSettings()), "compute_threads": 4},
        },
    )
    folder.write_json(
        "phases.json",
        [{"name": "steady", "kind": "steady", "start_s": 0.0, "end_s": 12.0, "offered": 20.0, "unit": "rps"}],
    )
    folder.write_json(
        "result.json",
        {
            "duration_s": 12.0,
            "achieved_rps": 18.0,
            "processes": 1,
            "generator_cpu_percent": 5.0,
            "send_lag_p50_ms": 0.1,
            "send_lag_p99_ms": 0.5,
            "n_late": 0,
            "n_dropped": 0,
            "saturated": False,
            "saturation_reasons": [],
        },
    )
    load_dir = folder.file(LOAD_DIR)
    load_dir.mkdir()
    t0_unix = 1_800_000_000.0
    write_run_info(load_dir, {"t0_unix": t0_unix})
    rng = np.random.default_rng(1)
    with RecordWriter(load_dir, worker=0) as writer:
        for i, t in enumerate(np.arange(0.0, 12.0, 0.05)):
            if DOWN[0] <= t < DOWN[1]:
                writer.append(
                    request_record(
                        seq=i,
                        worker=0,
                        user=-1,
                        stage="",
                        spec=SPEC,
                        t_intended=t,
                        t_start=t,
                        t_end=t + 0.001,
                        status=0,
                        body=b"",
                        error="connect",
                    )
                )
            else:
                end = t + 0.02 + float(rng.exponential(0.01))
                writer.append(
                    request_record(
                        seq=i,
                        worker=0,
                        user=-1,
                        stage="",
                        spec=SPEC,
                        t_intended=t,
                        t_start=t,
                        t_end=end,
                        status=200,
                        body=b'{"results": [], "computation_time_ms": 3.0}',
                    )
                )
    finalize_run(load_dir)
    times = t0_unix + np.arange(0.0, 12.0, 0.5)
    pd.DataFrame({"t_unix": times, "cpu_percent": 150.0, "rss_bytes": 5e8}).to_parquet(folder.file("server.parquet"))
    return folder.path


def test_qrbench_load_and_the_study_report_agree_on_outages_and_percentiles(run_dir):
    study = get_study("load")
    report = study.analyse(run_dir)
    shown_screen = screen(report).data  # `qrbench load`'s screen: a section of the same analysis
    assert len(report.outages) == 1
    (outage,) = shown_screen["outages"]
    assert outage == {
        k: (v if not isinstance(v, float) or not math.isnan(v) else outage[k])
        for k, v in report.outages.iloc[0].to_dict().items()
    }
    assert DOWN[0] == outage["start_s"] and outage["end_s"] < DOWN[1] and outage["errors"] == {"connect": 40}
    for q in ("p50", "p95", "p99"):
        (row,) = report.compliance[report.compliance["metric"] == f"{q}_ms"].to_dict(orient="records")
        shown = shown_screen["latency_ms"][q]
        assert (shown["value"], shown["low"], shown["high"], shown["n"]) == (
            row["value"],
            row["low"],
            row["high"],
            row["n"],
        )
    assert study.summary(report)["outages"] == report.outages.to_dict(orient="records")


def test_the_analysis_reads_the_folder_not_the_analysing_machine(run_dir, monkeypatch):
    study = get_study("load")
    before = study.analyse(run_dir)
    monkeypatch.setattr(os, "cpu_count", lambda: 1234)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(1234)), raising=False)

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class OtherDefaults(EngineSettings):
        compute_threads: int = 99
        torch_threads: int | None = 7

    monkeypatch.setattr(qrbench.target, "EngineSettings", OtherDefaults)
    monkeypatch.setattr(qrbench.target.settings, "EngineSettings", OtherDefaults)
    after = study.analyse(run_dir)
    pd.testing.assert_frame_equal(before.compliance, after.compliance)
    pd.testing.assert_frame_equal(before.phases, after.phases)
    cpu = before.compliance[before.compliance["metric"] == "cpu_utilization"]
    assert cpu["value"].iloc[0] == pytest.approx(1.5 / 4)  # 150 % of a core on the run's 4 cores


def test_run_json_holds_the_facts_of_the_run(run_dir):
    facts = RunFolder(run_dir).facts
    assert facts["study"] == "load" and facts["params"]["name"] == "hand-made"
    assert {"cores", "usable_cores", "cpu_model", "memory_bytes"} <= set(facts["machine"])
    assert {"python", "qrbench", "torch", "qiskit", "qiskit-aer"} <= set(facts["versions"])
    assert facts["started_unix"] > 0 and facts["calibration_s"] == [0.010, 0.011, 0.010, 0.012]
    assert "git_commit" in facts


def test_every_study_registers_once_with_its_parameter_file():
    from qrbench.cli import build_parser
    from qrbench.resources import resolve_params_file

    commands = build_parser()._subparsers._group_actions[0].choices
    (choices,) = [a.choices for a in commands["study"]._actions if a.dest == "study"]
    # The CLI's study names are the registry's (no hand-kept copy).
    assert tuple(choices) == tuple(STUDIES) == ("baseline", "load", "bottlenecks", "scalability")
    for study in STUDIES.values():
        params = study.load_params(study.default_params)
        assert isinstance(params, study.params_type)
        # What run.json keeps of the parameters gives them back: analyse(folder) needs nothing else.
        assert build(study.params_type, to_dict(params), where="run.json") == params
        assert resolve_params_file(study.default_params).is_file()


def test_run_json_is_read_once_and_sees_every_write(tmp_path, monkeypatch):
    """RunFolder caches run.json: reading facts twice opens it once; its own update and another RunFolder's
    update of the same folder are both seen."""
    folder = RunFolder.create(tmp_path / "run", study="load", params={"name": "x"})
    reads = []
    real = type(folder.file("run.json")).read_text
    monkeypatch.setattr(
        type(folder.file("run.json")), "read_text", lambda self, *a, **k: reads.append(self) or real(self)
    )
    assert folder.facts["study"] == folder.facts["study"] == "load"
    assert len(reads) == 1
    folder.update(pairs_done=3)
    assert folder.facts["pairs_done"] == 3
    RunFolder(folder.path).update(metric_sources={"cpu": "process"})
    folder.finish()
    facts = RunFolder(folder.path).facts
    assert facts["pairs_done"] == 3 and facts["metric_sources"] == {"cpu": "process"} and facts["ended_unix"] > 0
