"""The suite against a service qrbench did not write (tests/foreign/service.py): every study completes, every
finding is about that service, and everything it lacks reads "not measured" with its reason.

One suite run (the smoke parameters, made smaller still) is shared by the assertions of this module.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from qrbench.report.suite import plan_suite, run_suite
from qrbench.resources import bundled

# Smaller than parameters/smoke/: the point is that each study completes and says what it could not measure.
SHRINK = {
    "baseline": {
        "warmup_requests": 2,
        "repetitions": 1,
        "stage_budget_s": 10,
        "similarity": {"iterations": 3},
        "rerank": {"batch_sizes": [50], "iterations": 3},
        "memory": {"document_counts": [25], "sustained_s": 1},
        "cache": {"iterations": 2, "batch_size": 10},
        "comparison": {"queries": 2, "batch_size": 10},
        "quality": {"queries": 3, "candidates": 10},
    },
    "load_normal": {"users": 4, "ramp_up_s": 1, "duration_s": 8, "warmup_s": 1},
    "bottlenecks": {
        "outside": {"sizes": [1, 10, 50], "repeats": 2, "budget_s": 15},
        "under_load": {"single_user_s": 2, "users": 3, "load_s": 3, "rate_hz": 50, "pool_size": 20, "warmup": False},
    },
    "scalability": {
        "stage_budget_s": 5,
        "steps": {"rates_rps": [4, 16], "step_s": 3},
        "vertical": {"documents": [10], "document_requests": 2},
    },
}
FORBIDDEN = re.compile(r"\baer\b|\bshots?\b|fidelity\.py|engine\.py|qiskit", re.IGNORECASE)


def _merge(base: dict, changes: dict) -> dict:
    out = dict(base)
    for key, value in changes.items():
        out[key] = _merge(base.get(key) or {}, value) if isinstance(value, dict) else value
    return out


@pytest.fixture(scope="module")
def suite(tmp_path_factory, start_foreign_service):
    params = tmp_path_factory.mktemp("params")
    for name, changes in SHRINK.items():
        base = yaml.safe_load((bundled("parameters") / "smoke" / f"{name}.yaml").read_text())
        (params / f"{name}.yaml").write_text(yaml.safe_dump(_merge(base, changes)))
    out = tmp_path_factory.mktemp("outputs")
    # Slow enough per document that the fixed and per-document parts separate; a few fast 500s as in the issue.
    with start_foreign_service("--rerank-per-doc-ms", "4", "--error-share", "0.01", "--cpu-fraction", "0.3") as url:
        result = run_suite(plan_suite("smoke", params_dir=params), url=url, out_root=out, progress=False)
    return result


def test_every_study_completes(suite):
    assert {s.study: s.verdict for s in suite.studies}.keys() == {"baseline", "load", "bottlenecks", "scalability"}
    assert all(s.verdict != "error" for s in suite.studies), [(s.study, s.error) for s in suite.studies]


def test_findings_are_about_the_measured_service(suite):
    summary = json.loads((suite.folder / "bottlenecks" / "summary.json").read_text())
    assert summary["reference_engine"] is False
    top = summary["top_opportunities"]
    assert top, "the bottleneck study found nothing about the service"
    for o in top:
        assert not FORBIDDEN.search(f"{o['opportunity']} {o['lives_in']}"), o
    bottlenecks = [b for s in suite.studies for b in s.bottlenecks]
    assert bottlenecks and not any(FORBIDDEN.search(f"{b.name} {b.where}") for b in bottlenecks)
    report = Path(suite.report).read_text()
    first_screen = report.split("PRD compliance")[0]
    assert "a service qrbench did not write" in first_screen  # the probe's paragraph in the header
    assert not FORBIDDEN.search(re.sub(r"<[^>]+>", " ", first_screen))


def test_every_gap_reads_not_measured_with_its_reason(suite):
    gaps = json.loads((suite.folder / "bottlenecks" / "summary.json").read_text())["not_measured"]
    assert gaps and all(g["status"] == "not measured" and g["why"] and g["how to enable"] for g in gaps)
    load = json.loads((suite.folder / "load" / "summary.json").read_text())
    rows = {r["metric"]: r for r in load["compliance"]}
    for metric in ("quantum_time_ms", "cache_hit_rate"):
        assert "not measured:" in rows[metric]["reason"] and "/metrics" in rows[metric]["reason"]
        assert "too few samples" not in rows[metric]["reason"]
    run = json.loads((suite.folder / "load" / "run.json").read_text())
    assert run["target"]["probe"]["health_path"] == "/health" and run["metric_sources"] == {}
