"""End to end, as CI runs them: `qrbench study|suite --fail-on-violation` (the pull-request gate), the success
path of `qrbench suite --baseline`, and a busy machine named first in a study's headline.

Every run is a trimmed twin of parameters/smoke/baseline.yaml (one classical similarity and rerank stage, one
memory count, no rank agreement or quality queries: a kernel, the embedded service and the HTML, ~40 s on two
idle cores), and `suite --studies baseline` keeps the suite to that one study. A target is made impossible with
a thresholds file whose similarity p95 must stay below 0.001 ms; the passing twin sets it to the client timeout
(60 s), which any answering service meets however busy the machine (the shipped 100 ms failed here, 507 ms,
with six agents on two cores): the gate exits 1 only on *fail*.

The busy machine. Two busy loops (`python -c 'while True: pass'`, started here, killed after) hold both cores of
a 2-core CI machine while the study runs: its headline must open with "The machine was busy: other programs
used ...". Only the busy half is tested end to end. A quiet end-to-end run cannot be made quiet by
construction: CI or a developer's machine may run anything beside the tests, so asserting that a real run is
*not* named busy would flake on a shared machine (it did here, with six agents on two cores). The quiet half is
judged on recorded samples instead (tests/stats/test_stats_contention.py), where the other programs' load is
known. The busy assertion cannot flake the other way: two loops add two cores of other programs' CPU, at least
100 % of a 2-core machine's, four times the documented limit; on a bigger machine the loops are as many as the
cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

TRIMMED = """\
seed: 0
warmup_requests: 3
repetitions: 1
target: {{url: null, backend: exact, qubits: 4}}
similarity: {{iterations: 12, methods: [classical]}}
rerank: {{batch_sizes: [10], iterations: 4, methods: [classical]}}
memory: {{document_counts: [25], sustained_s: 1, sample_interval_s: 0.5}}
cache: {{iterations: 2, batch_size: 10}}
comparison: {{queries: 0}}
quality: {{queries: 0}}
thresholds_file: {thresholds}
"""

THRESHOLDS = """\
baseline:
  similarity_ms: {{target: {similarity_ms}, direction: below, unit: ms, statistic: p95, kind: similarity}}
  rerank_50_ms: {{target: 500, direction: below, unit: ms, statistic: p95, kind: rerank-50}}
  memory_100_docs_gb: {{target: 2.0, direction: below, unit: GB, statistic: max}}
"""


def _params(folder: Path, *, impossible: bool) -> Path:
    """folder/baseline.yaml: the trimmed baseline, its similarity p95 judged against 0.001 ms (impossible) or
    against the client timeout (met by any service that answers, however busy the machine)."""
    folder.mkdir(parents=True, exist_ok=True)
    thresholds = folder / "thresholds.yaml"
    thresholds.write_text(THRESHOLDS.format(similarity_ms=0.001 if impossible else 60_000))
    path = folder / "baseline.yaml"
    path.write_text(TRIMMED.format(thresholds=thresholds))
    return path


def _summary(out: Path, pattern: str) -> tuple[Path, dict]:
    (run,) = out.glob(pattern)
    return run, json.loads((run / "summary.json").read_text())


def test_study_gate_exits_1_on_fail_and_the_busy_machine_is_named_first(tmp_path, qrbench):
    params = _params(tmp_path / "impossible", impossible=True)
    loops = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(max(2, os.cpu_count() or 2))]
    try:
        done = qrbench(
            "study", "baseline", "-p", str(params), "--out", "out", "--fail-on-violation", "--no-progress", cwd=tmp_path
        )
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()
    assert done.returncode == 1, done.stdout + done.stderr
    run, summary = _summary(tmp_path / "out", "*-baseline")
    assert summary["verdict"] == "fail"
    # Failing by 10^4x is far more than two busy loops explain: still fail, not insufficient (machine busy).
    similarity = next(r for r in summary["compliance"] if r["metric"].startswith("similarity"))
    assert similarity["verdict"] == "fail" and not similarity["machine_busy"]
    contention = summary["contention"]
    assert contention["contended"] and contention["other_share"] >= 0.5, contention
    first = summary["verdict_reasons"][0]
    assert first.startswith("The machine was busy: other programs used "), first
    assert first.index("machine was busy") < first.index("PRD targets fail")
    html = (run / "baseline.html").read_text()
    assert html.index("The machine was busy") < html.index("PRD targets fail")
    assert "Was the machine busy?" in html and "other programs (% of the cores)" in html  # the per-stage table
    assert (run / "contention.parquet").is_file() and (run / "contention.json").is_file()


def test_study_gate_exits_0_when_no_target_fails(tmp_path, qrbench):
    params = _params(tmp_path / "passing", impossible=False)
    done = qrbench(
        "study", "baseline", "-p", str(params), "--out", "out", "--fail-on-violation", "--no-progress", cwd=tmp_path
    )
    assert done.returncode == 0, done.stdout + done.stderr
    _, summary = _summary(tmp_path / "out", "*-baseline")
    assert summary["verdict"] != "fail" and "baseline: verdict" in done.stdout


def test_suite_gate_exits_0_on_pass_and_1_on_fail_with_a_baseline(tmp_path, qrbench):
    passing = _params(tmp_path / "passing", impossible=False).parent
    first = qrbench(
        "suite", "--params-dir", str(passing), "--studies", "baseline", "--out", "out", "--fail-on-violation",
        "--no-progress", cwd=tmp_path,
    )  # fmt: skip
    assert first.returncode == 0, first.stdout + first.stderr
    previous, summary = _summary(tmp_path / "out", "*-suite")
    assert summary["verdict"] != "fail" and list(summary["studies"]) == ["baseline"]

    failing = _params(tmp_path / "impossible", impossible=True).parent
    second = qrbench(
        "suite", "--params-dir", str(failing), "--studies", "baseline", "--baseline", str(previous), "--out", "out",
        "--fail-on-violation", "--no-progress", cwd=tmp_path,
    )  # fmt: skip
    assert second.returncode == 1, second.stdout + second.stderr
    assert "suite: verdict fail." in second.stdout
    (current,) = [p for p in (tmp_path / "out").glob("*-suite") if p != previous]
    summary = json.loads((current / "summary.json").read_text())
    assert summary["verdict"] == "fail" and summary["baseline"] == str(previous.resolve())
    report = (current / "report.html").read_text()
    assert "Regression against the previous suite run" in report and previous.name in report


def test_suite_studies_are_checked_against_the_registry():
    from qrbench.errors import ParameterError
    from qrbench.report.suite import plan_suite

    assert [name for name, _ in plan_suite("smoke", studies=("load", "baseline")).studies] == ["baseline", "load"]
    with pytest.raises(ParameterError, match="--studies names nope; choose one or more of baseline, load"):
        plan_suite("smoke", studies=("baseline", "nope"))
