"""The load study end to end: papermill runs the notebook with a smoke scenario against the embedded
service (the smoke suite's run of load_normal, tests/conftest.py); the recorded numbers must be consistent and
the report rendered."""

from __future__ import annotations

import json

import pytest

from qrbench.report.browser import check_report

METRICS = {
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "similarity_ms",
    "rerank_50_ms",
    "kept_up",
    "throughput_rps",
    "success_ratio",
    "cpu_utilization",
    "memory_gb",
    "quantum_time_ms",
    "classical_fallback_rate",
    "cache_hit_rate",
    "rss_growth_mb_per_h",
}
WORKLOAD = "closed model, 8 users with 2.7 s mean think time"  # the smoke scenario, as every row names it


@pytest.fixture(scope="module")
def run(smoke_suite):
    run_dir = smoke_suite.study("load")
    return run_dir, json.loads((run_dir / "summary.json").read_text())


def test_the_seed_metric_table_is_complete(run):
    _, summary = run
    verdicts = {c["metric"]: c["verdict"] for c in summary["compliance"]}
    assert METRICS <= set(verdicts)
    assert set(verdicts.values()) <= {"pass", "warn", "fail", "insufficient"}
    assert summary["verdict"] in {"pass", "warn", "fail", "insufficient"}
    # The embedded service runs on this machine and exports /metrics: these were measured, not skipped (on a
    # busy machine a short run may hold too few CPU samples to bound their mean: measured all the same).
    rows = {c["metric"]: c for c in summary["compliance"]}
    for metric in ("cpu_utilization", "memory_gb", "quantum_time_ms", "cache_hit_rate"):
        value = rows[metric]["value"]
        assert isinstance(value, int | float) and value == value, metric
        assert "not measured" not in rows[metric]["reason"], rows[metric]["reason"]


def test_each_row_names_its_workload_and_throughput_is_judged_as_kept_up(run):
    _, summary = run
    rows = {c["metric"]: c for c in summary["compliance"]}
    assert {"metric", "target", "unit", "value", "low", "high", "verdict", "workload", "direction", "reason"} <= set(
        rows["p95_ms"]
    )
    assert all(r["workload"] == WORKLOAD for m, r in rows.items() if m not in ("throughput_rps",))
    # 8 users with think time cannot offer 100 req/s: the capacity target is left to a workload that can.
    assert rows["throughput_rps"]["verdict"] == "insufficient"
    assert "step load" in rows["throughput_rps"]["workload"]
    assert rows["kept_up"]["unit"] == "fraction" and "offer" in rows["kept_up"]["reason"]
    # A 20-s run cannot tell a leak: said plainly, and left out of the verdict.
    assert rows["rss_growth_mb_per_h"]["verdict"] == "insufficient" and "soak" in rows["rss_growth_mb_per_h"]["reason"]
    assert summary["verdict_reasons"] and summary["key_figure"] == "key_figure.png"


def test_phases_and_counts_are_consistent(run):
    _, summary = run
    phases = {p["phase"]: p for p in summary["phases"]}
    assert {"ramp_up", "steady"} <= set(phases)
    assert sum(p["requests"] for p in summary["phases"]) <= summary["requests"]
    for p in summary["phases"]:
        assert 0 <= p["ok"] <= p["requests"]
        if p["ok"] >= 2:
            assert p["p50_ms"] <= p["p95_ms"] <= p["p99_ms"]
    assert summary["generator"]["n_requests"] == summary["requests"]
    little = {row["compared_with"]: row for row in summary["littles_law"]}
    assert "virtual users" in little and little["virtual users"]["observed"] == 8
    assert all(abs(row["difference"]) <= 0.1 or row["flagged"] for row in summary["littles_law"])


def test_the_report_is_rendered_with_the_live_timeline(run):
    run_dir, _ = run
    plain = (run_dir / "load.html").read_text()
    assert "Verdict against the PRD load targets" in plain and "<img" in plain
    assert "run_load_study" not in plain and "run_load_study" in (run_dir / "load-code.html").read_text()
    assert (run_dir / "key_figure.png").is_file()
    check = check_report(run_dir / "load.html")
    assert check.problems == [], check.problems
    nb = json.loads((run_dir / "load.ipynb").read_text())
    assert not [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]


def test_a_run_made_by_hand_is_rendered_into_the_same_reports(run, tmp_path):
    """`qrbench render`: a run folder as a notebook run in JupyterLab leaves it (no executed notebook, no HTML,
    no summary) gets the reports `qrbench study` writes, from its own run.json, without measuring again."""
    import shutil

    from qrbench.cli import main

    run_dir, summary = run
    stamp = run_dir.parent.name.removesuffix("-suite")
    by_hand = tmp_path / "outputs" / f"{stamp}-load"  # named as a notebook run by hand names its run folder
    shutil.copytree(run_dir, by_hand, ignore=shutil.ignore_patterns("*.ipynb", "*.html", "summary.json"))
    before = sorted(p.name for p in (by_hand / "load").iterdir())
    assert main(["render", str(by_hand), "--no-progress"]) == 0
    assert (by_hand / "load.html").is_file() and (by_hand / "load-code.html").is_file()
    assert (tmp_path / "outputs" / "index.html").is_file()
    again = json.loads((by_hand / "summary.json").read_text())
    assert again["verdict"] == summary["verdict"] and again["compliance"] == summary["compliance"]
    assert sorted(p.name for p in (by_hand / "load").iterdir()) == before  # nothing was measured
    nb = json.loads((by_hand / "load.ipynb").read_text())
    assert not [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
