"""The executive report from fixed study summaries: the answer first, honest about what is missing."""

from __future__ import annotations

import json
import math

import pytest

from qrbench.report.executive import (
    ComplianceRow,
    StudySummary,
    executive_html,
    failed_study,
    from_summary,
    overall_verdict,
    write_executive_report,
)


def _row(verdict: str, study: str = "baseline") -> ComplianceRow:
    return ComplianceRow(
        metric="similarity p95",
        target=100.0,
        unit="ms",
        value=41.2,
        low=38.9,
        high=45.0,
        verdict=verdict,
        study=study,
        workload="one pair",
    )


def test_overall_verdict_fail_names_the_first_failing_target(tmp_path, suite_studies):
    verdict, reason = overall_verdict(suite_studies(tmp_path))
    assert verdict == "fail"
    assert reason == (
        "1 of 4 PRD checks fail; first: rerank 50 docs p95 (baseline study, quantum, aer backend) "
        "measured 912 ms against a target of 500 ms. The load study failed to run."
    )


@pytest.mark.parametrize(
    ("summaries", "verdict", "reason"),
    [
        ([], "insufficient", "No study ran, so nothing was measured."),
        (
            [StudySummary(study="baseline", verdict="pass", compliance=(_row("pass"),))],
            "pass",
            "All 1 PRD checks across 1 studies pass.",
        ),
        (
            [
                StudySummary(study="baseline", verdict="pass", compliance=(_row("pass"),)),
                StudySummary(study="load", verdict="error", error="boom"),
            ],
            "insufficient",
            "The answer is incomplete: the load study failed to run; the 1 PRD checks that ran pass.",
        ),
        (
            [StudySummary(study="baseline", verdict="warn", compliance=(_row("warn"),))],
            "warn",
            "No PRD target fails, but similarity p95 (baseline study, one pair) is close to its limit.",
        ),
    ],
)
def test_overall_verdict_cases(summaries, verdict, reason):
    assert overall_verdict(summaries) == (verdict, reason)


def test_study_summary_validates_its_verdict():
    with pytest.raises(ValueError, match="verdict must be one of"):
        StudySummary(study="x", verdict="ok")
    with pytest.raises(ValueError, match="carries an error"):
        StudySummary(study="x", verdict="pass", error="boom")


def test_first_screen_order_and_content(tmp_path, suite_studies):
    page = executive_html(suite_studies(tmp_path), scale="quick", started="30 Nov 2026, 04:47 UTC", base=tmp_path)
    order = [
        "FAIL</span> with reservations: 1 of 4 PRD checks fail",
        "Reservations: baseline: Only 40 samples",
        "Next: fix the failed load study",
        "Capacity under the SLO",
        "14.9 req/s",
        "limited by service CPU",
        "Top bottlenecks",
        "one torch thread per worker: saves <b>392 ms</b>",
        "Scaling recommendation:",
        "Regression against the previous suite run",
        "PRD compliance",
        'id="study-baseline"',
        "data:image/png;base64,",
        'href="baseline/baseline.html"',
        'id="study-load"',
    ]
    positions = [page.find(text) for text in order]
    assert -1 not in positions, [t for t, p in zip(order, positions, strict=True) if p < 0]
    assert positions == sorted(positions)
    # Top three only, by saving: the 1.2 ms one is left out.
    assert "orjson" not in page
    assert "rerank 50 docs p95 is judged differently by different studies" in page
    # The failed study shows its error and what to do.
    assert "Connection refused" in page and "Check that the service at --url is running" in page


def test_missing_parts_say_so(tmp_path):
    page = executive_html([StudySummary(study="baseline", verdict="insufficient")], base=tmp_path)
    for text in (
        "PRD compliance: not measured in this run.",
        "Capacity under the SLO:</b> not measured in this run",
        "Top bottlenecks:</b> not measured in this run",
        "Scaling recommendation:</b> not measured",
        "no previous suite run to compare with",
        "Key figure: not measured in this run.",
        "Full report: not produced in this run.",
        "Ranking quality:</b> not measured in this run.",
    ):
        assert text in page


def test_a_target_the_service_does_not_expose_reads_not_measured_with_its_reason(tmp_path):
    why = "the service exposes no Prometheus /metrics — export qrbench_quantum_computation_seconds"
    gap = ComplianceRow(
        metric="quantum_time_ms",
        target=85.0,
        unit="ms",
        value=math.nan,
        low=-math.inf,
        high=math.inf,
        verdict="insufficient",
        study="load",
        workload="closed model",
        reason=f"quantum_time_ms: not measured: {why}",
    )
    page = executive_html([StudySummary(study="load", verdict="pass", compliance=(_row("pass"), gap))], base=tmp_path)
    row = page[page.index("mean quantum time per request") :].split("</tr>")[0]
    assert "not measured" in row and "too few samples" not in row and "not bounded" not in row
    assert f"mean quantum time per request (load study) not measured: {why}" in page
    assert "too few samples" not in page


def _quality(method: str, ndcg: float, low: float, high: float, **more) -> dict:
    return {"method": method, "ndcg": ndcg, "ndcg_low": low, "ndcg_high": high, "queries": 80, **more}


@pytest.mark.parametrize(
    ("quantum", "comparison"),
    [
        ((0.53, 0.47, 0.59), "Quantum ranks worse than classical (the intervals do not overlap)"),
        ((0.75, 0.70, 0.80), "Quantum and classical cannot be told apart on these queries (the intervals overlap)"),
    ],
)
def test_ranking_quality_answers_whether_quantum_is_worth_its_cost(tmp_path, quantum, comparison):
    summary = {
        "study": "baseline",
        "verdict": "pass",
        "quality": [
            _quality("classical", 0.774, 0.717, 0.830, p50_ms=None, cost_vs_classical=None),
            _quality("quantum", *quantum, p50_ms=None, cost_vs_classical=None),
            _quality("hybrid", 0.675, 0.611, 0.739, p50_ms=517.1, cost_vs_classical=None),
        ],
    }
    page = executive_html([from_summary(summary)], base=tmp_path)
    text = page[page.index("Is quantum worth its cost?") : page.index("PRD compliance")]
    assert "80 labelled queries" in text and "(baseline study)" in text
    assert "classical nDCG@10 <b>0.774</b> (95 % interval [0.717, 0.83])" in text
    assert f"quantum nDCG@10 <b>{quantum[0]:.3g}</b>" in text
    assert "hybrid nDCG@10 <b>0.675</b> (95 % interval [0.611, 0.739]) at a median 517 ms per rerank" in text
    assert comparison in text


def test_write_executive_report_writes_the_suite_summary(tmp_path, suite_studies):
    path = write_executive_report(tmp_path, suite_studies(tmp_path), scale="quick")
    assert path == tmp_path / "report.html" and path.is_file()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["study"] == "suite" and summary["verdict"] == "fail" and summary["scale"] == "quick"
    assert summary["studies"] == {"baseline": "fail", "bottlenecks": "pass", "scalability": "warn", "load": "error"}
    assert summary["key_numbers"]["rerank 50 docs p95 (ms)"] == 912.5
    assert math.isclose(summary["key_numbers"]["capacity (req/s)"], 14.86)


def test_from_summary_reads_todays_summary_json():
    summary = {
        "study": "scalability",
        "verdict": "warn",
        "verdict_reasons": ["A third worker adds nothing on 2 cores."],
        "compliance": [
            {
                "metric": "p95_ms",
                "value": 410.0,
                "low": 380.0,
                "high": "inf",
                "n": 40,
                "target": 500.0,
                "threshold": 600.0,
                "unit": "ms",
                "verdict": "insufficient",
                "reason": "Too few samples.",
            }
        ],
        "configs": [
            {"config": "workers-1", "status": "ok", "capacity_rps": 6.0, "capacity_low": 5.0, "capacity_high": 7.0},
            {"config": "workers-2", "status": "ok", "capacity_rps": 11.0, "capacity_low": 9.0, "capacity_high": "inf"},
            {"config": "workers-3", "status": "failed", "capacity_rps": None},
        ],
        "first_saturated": {"config": "workers-2", "resources": ["cpu"], "rate_rps": 12.0},
        "slo": {"p95_ms": 500.0, "success": 0.99},
        "top_opportunities": [
            {
                "opportunity": "one torch thread",
                "saving_ms": 391.0,
                "saving_low": 350.0,
                "saving_high": 430.0,
                "lives_in": "service setting",
            }
        ],
        "reliability": [{"name": "samples", "ok": False, "severity": "warning", "message": "Only 40 samples."}],
    }
    s = from_summary(summary, report_link="scalability/scalability.html", workload="step load, 2 cores")
    assert s.verdict == "warn" and s.reason == "A third worker adds nothing on 2 cores."
    assert s.compliance[0].high == math.inf and s.compliance[0].workload == "step load, 2 cores"
    assert (s.capacity.rps, s.capacity.high, s.capacity.config, s.capacity.limited_by) == (
        11.0,
        math.inf,
        "workers-2",
        "cpu",
    )
    assert s.capacity.slo == "p95 below 500 ms"
    assert s.bottlenecks[0].saving_ms == 391.0 and s.scaling is None
    assert s.reliability[0].ok is False


def test_failed_study_says_what_to_do():
    s = failed_study("load", "RunError: boom")
    assert s.verdict == "error" and "qrbench study load" in s.what_to_do


def test_compare_with_previous_moves_only_beyond_both_intervals(tmp_path):
    """Studies without their own run comparison get one from their PRD metrics' intervals, with its caveat;
    the suite reads the previous run's summary.json for it (suite._compared)."""
    from dataclasses import replace

    from qrbench.report.executive import compare_with_previous
    from qrbench.report.suite import _compared
    from qrbench.studies import write_summary

    p95 = replace(_row("pass", study="load"), metric="p95_ms", workload="normal day", value=210, low=200, high=220)
    rps = replace(p95, metric="throughput", unit="req/s", direction="above", value=120, low=110, high=130)
    before = StudySummary(study="load", verdict="pass", compliance=(p95, rps))
    slower = replace(p95, value=320, low=300, high=340)
    same_rps = replace(rps, value=125, low=112, high=138)
    after = StudySummary(study="load", verdict="warn", compliance=(slower, same_rps))

    reg = compare_with_previous(after, before, "20261130T000000Z-suite")
    assert reg.verdict == "regressed" and reg.previous_run == "20261130T000000Z-suite"
    assert "1 of 2 PRD metrics" in reg.summary and "p95 latency of all requests 210 ms → 320 ms" in reg.summary
    assert "cannot be told from a change of the service" in reg.summary

    assert compare_with_previous(before, before).verdict == "unchanged"
    other_workload = StudySummary(study="load", verdict="pass", compliance=(replace(p95, workload="peak"),))
    assert compare_with_previous(other_workload, before) is None  # nothing measured by both runs

    folder = tmp_path / "previous" / "load"
    folder.mkdir(parents=True)
    write_summary(
        folder,
        {"study": "load", "verdict": "pass", "compliance": [{**p95.__dict__} for p95 in before.compliance]},
    )
    assert _compared(after, folder, "prev").verdict == "regressed"
    assert _compared(after, tmp_path / "missing", "prev") is None  # unreadable: no comparison, no failure
    html = executive_html([replace(after, regression=reg)], scale="quick", started="2026-11-30 08:00 UTC", target="t")
    assert "Regression against the previous suite run" in html and "p95 latency of all requests 210 ms → 320 ms" in html
