"""The bottlenecks notebook runs through papermill with the smoke parameters (in the smoke suite, against its
embedded service) and records its numbers."""

from __future__ import annotations

import ast
import json

import nbformat

from qrbench.report import browser
from qrbench.resources import bundled

LOGIC = (ast.For, ast.While, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.comprehension)


def test_notebook_is_committed_clean_and_thin():
    nb = nbformat.read(bundled("notebooks") / "bottlenecks.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[1].metadata.get("tags", [])
    assert "study.load_params" in code[2].source  # the validation cell follows the parameters
    assert "write_summary" in code[-1].source
    for cell in code:
        assert not cell.get("outputs") and cell.get("execution_count") is None
        loops = [n for n in ast.walk(ast.parse(cell.source)) if isinstance(n, LOGIC)]
        assert not loops, cell.source


def test_smoke_run_records_its_numbers(smoke_suite):
    run_dir = smoke_suite.study("bottlenecks")  # the smoke suite's run (tests/conftest.py)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["study"] == "bottlenecks"
    assert summary["verdict"] in ("pass", "warn", "fail", "insufficient")
    assert summary["scenarios"] >= 10
    assert summary["max_unattributed_share"] is not None
    assert summary["top_opportunities"]
    assert {r["phase"] for r in summary["load_runs"]} <= {"single user", "under load"}
    assert (run_dir / "bottlenecks.html").is_file() and (run_dir / "bottlenecks-code.html").is_file()
    # The summary contract: the key figure exists, every compliance row names its workload, rerank-50 is
    # judged on the statistic thresholds.yaml defines (p95, as in the baseline study).
    assert summary["key_figure"] == "key_figure.png" and (run_dir / "key_figure.png").is_file()
    assert all(c["workload"] for c in summary["compliance"])
    assert all(c["statistic"] == "p95" for c in summary["compliance"] if "rerank 50" in c["metric"])
    assert all(
        {"opportunity", "saving_ms", "saving_low", "saving_high", "lives_in"} <= set(o)
        for o in summary["top_opportunities"]
    )
    plain = (run_dir / "bottlenecks.html").read_text()
    assert "Top opportunity:" in plain  # the top finding is in the headline
    assert "ncalls" not in plain and "BottlenecksParams(" not in plain  # no profiler dumps, no parameter dump
    assert browser.check_report(run_dir / "bottlenecks.html").problems == []
