"""The baseline study end to end: papermill runs the notebook with the smoke parameters against the
embedded reference service (the smoke suite's run, tests/conftest.py); the recorded numbers must be consistent
and the reports rendered."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from qrbench.resources import bundled
from qrbench.studies import get_study

SMOKE = bundled("parameters") / "smoke" / "baseline.yaml"


@pytest.fixture(scope="module")
def smoke_run(smoke_suite) -> Path:
    return smoke_suite.study("baseline")


def test_sample_counts_are_as_asked(smoke_run):
    params = get_study("baseline").load_params(SMOKE)
    summary = json.loads((smoke_run / "summary.json").read_text())
    stages = {s["stage"]: s for s in summary["stages"]}
    # The latency stages ran as `repetitions` rounds in alternating order, each with its share of the requests.
    assert summary["repetitions"] == params.repetitions == 3
    # A stage that reached its time budget (stage_budget_s) keeps the sample it got, and says so: on a busy
    # machine any stage may be cut, so each stage has either its asked count or a cut with part of it.
    cut = {s["name"] for s in json.loads((smoke_run / "stages.json").read_text()) if s.get("cut")}

    def as_asked(stage: str, asked: int) -> bool:
        got = stages[stage]["requests"]
        return got == asked or (stage in cut and 0 < got < asked)

    for method in params.similarity.methods:
        assert as_asked(f"similarity/{method}", params.similarity.iterations)
    for n in params.rerank.batch_sizes:
        for method in params.rerank.methods:
            assert as_asked(f"rerank/{method}/{n}", params.rerank.iterations)
            assert stages[f"rerank/{method}/{n}"]["n_candidates"] == n
    for stage in ("cache/cold", "cache/warm_documents", "cache/repeat"):
        assert as_asked(stage, params.cache.iterations)
    if cut:
        assert "stage budgets" in (smoke_run / "baseline.html").read_text()
    assert all(s["ok"] == s["requests"] for s in stages.values()), "the embedded service failed requests"


def test_percentiles_are_ordered_and_inside_their_intervals(smoke_run):
    summary = json.loads((smoke_run / "summary.json").read_text())
    for s in summary["stages"]:
        assert 0 < s["p50_ms"] <= s["p95_ms"] <= s["p99_ms"]
        # Unbounded interval ends are written as "-inf" / "inf" (JSON has no infinity).
        assert float(s["p50_low"]) <= s["p50_ms"] <= float(s["p50_high"])


def test_verdicts_cover_every_prd_metric(smoke_run):
    summary = json.loads((smoke_run / "summary.json").read_text())
    assert summary["verdict"] in {"pass", "warn", "fail", "insufficient"}
    metrics = {c["metric"]: c["verdict"] for c in summary["compliance"]}
    assert set(metrics) == {
        "similarity (classical) p95",
        "similarity (quantum) p95",
        "similarity (hybrid) p95",
        "rerank 50 documents (classical) p95",
        "rerank 50 documents (quantum) p95",
        "rerank 50 documents (hybrid) p95",
        "memory with 100 documents (GB)",
    }
    assert all(v in {"pass", "warn", "fail", "insufficient"} for v in metrics.values())
    # Every row names the workload that judged it and the statistic thresholds.yaml defines for its target.
    rows = {c["metric"]: c for c in summary["compliance"]}
    # ... and, for a rerank, how many of its documents the service had already embedded (its cache).
    assert re.fullmatch(
        r"single user, 50 documents, \d+% of the documents already embedded by the service \(cache\)",
        rows["rerank 50 documents (hybrid) p95"]["workload"],
    )
    assert rows["similarity (classical) p95"]["statistic"] == "p95"
    assert all(c["workload"] and c["direction"] == "below" for c in summary["compliance"])
    # The embedded service runs here, so its memory was sampled and judged.
    assert metrics["memory with 100 documents (GB)"] != "insufficient"
    # Too few samples for a p95 interval: the report must say so rather than pass.
    assert any(not c["ok"] and c["name"].startswith("samples:") for c in summary["reliability"])


def test_cache_and_comparison_sections_measured_something(smoke_run):
    summary = json.loads((smoke_run / "summary.json").read_text())
    cache = {c["stage"]: c for c in summary["cache"]}
    assert cache["cache/cold"]["embedding_hit_rate"] == 0.0  # every text was new
    assert cache["cache/warm_documents"]["embedding_hit_rate"] > 0.9  # only the queries were new
    assert cache["cache/repeat"]["similarity_hit_rate"] == 1.0
    assert cache["cache/repeat"]["p50_ms"] < cache["cache/cold"]["p50_ms"]
    pairs = {a["methods"] for a in summary["agreement"]}
    assert "classical vs quantum" in pairs


def test_summary_follows_the_contract(smoke_run):
    summary = json.loads((smoke_run / "summary.json").read_text())
    assert summary["verdict_reasons"] and all(isinstance(r, str) for r in summary["verdict_reasons"])
    assert summary["key_figure"] == "key_figure.png" and (smoke_run / "key_figure.png").is_file()
    assert all({"name", "ok", "message"} <= set(r) for r in summary["reliability"])
    # Censored percentiles (failures at the timeout) sit beside the success-only ones.
    for s in summary["stages"]:
        assert s["p95_all_ms"] >= s["p95_ms"] and s["failed"] == s["requests"] - s["ok"]
    # Quality: nDCG@10 and MRR per method with intervals, next to its latency cost.
    quality = {q["method"]: q for q in summary["quality"]}
    assert set(quality) == {"classical", "quantum", "hybrid"}
    for q in quality.values():
        assert 0 <= float(q["ndcg_low"]) <= q["ndcg"] <= float(q["ndcg_high"]) <= 1
        assert q["queries"] == 10 and q["p50_ms"] > 0
    assert quality["classical"]["cost_vs_classical"] == 1.0


def test_reports_are_rendered_with_and_without_code(smoke_run, smoke_suite):
    plain = (smoke_run / "baseline.html").read_text()
    with_code = (smoke_run / "baseline-code.html").read_text()
    assert "get_study" not in plain and "get_study" in with_code  # code is highlighted token by token
    assert "Verdict against the PRD" in plain and "Is quantum worth its cost?" in plain
    assert "BaselineParams(" not in plain and "Holm" in plain
    assert "<img" in plain  # the figures are embedded
    assert "req/s, errors=" not in plain  # progress bars are left out of the stakeholder report
    index = (smoke_suite.folder.parent / "index.html").read_text()  # outputs/index.html links the report
    assert f"{smoke_suite.folder.name}/{smoke_run.name}/baseline.html" in index


def test_executed_notebook_has_no_errors(smoke_run):
    nb = json.loads((smoke_run / "baseline.ipynb").read_text())
    errors = [o for c in nb["cells"] for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors == []


def test_stakeholder_report_reads_cleanly_in_a_browser(smoke_run):
    """Chromium renders the no-code report: the verdict in the first screen, no inf/nan/dict/parameter dump."""
    from qrbench.report import browser

    check = browser.check_report(smoke_run / "baseline.html")
    assert check.problems == []


def test_report_sections_come_from_the_one_analysis_in_order(smoke_run, tmp_path, monkeypatch):
    """The report is the study's sections, in the notebook's order, each shown without reading the run again:
    the key figure is saved where asked, tables are in final form (intervals in words, percentages as such)."""
    import matplotlib

    matplotlib.use("Agg")
    import IPython.display

    from qrbench.report import format
    from qrbench.report.sections import show_section

    study = get_study("baseline")
    summary = json.loads((smoke_run / "summary.json").read_text())
    sections = study.sections_of(study.analyse(smoke_run))
    assert list(sections) == [
        "headline",
        "compliance",
        "key_figure",
        "latency",
        "warmup",
        "similarity",
        "rerank",
        "quality",
        "methods",
        "memory",
        "cache",
        "reliability",
        "contention",
        "regression",
    ]
    headline = sections["headline"]
    assert headline.verdict == summary["verdict"] and headline.sentence == summary["verdict_reasons"][0]
    failing = [c["metric"] for c in summary["compliance"] if c["verdict"] != "pass"]
    if failing and summary["verdict"] != "pass":
        assert headline.data["next_action"].startswith(f"look at {failing[0]} first")
    assert len(sections["compliance"].judgements) == len(summary["compliance"])
    quality = str(format.stakeholder_table(sections["quality"].tables[0].frame))
    assert "nDCG@10 95 % interval" in quality and "[0." in quality and "nan" not in quality
    cache = str(format.stakeholder_table(sections["cache"].tables[0].frame))
    assert "embedding hits (%)" in cache and ">100<" in cache  # cache/repeat: every pair a similarity hit
    assert "No previous baseline run was given" in sections["regression"].sentence

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda *objects, **_: shown.extend(objects))
    for section in sections.values():
        show_section(section, save_in=tmp_path)
    assert (tmp_path / "key_figure.png").is_file()  # the key figure section saves it for the executive report
    assert any("Best ranking" in str(getattr(o, "data", "")) for o in shown)
