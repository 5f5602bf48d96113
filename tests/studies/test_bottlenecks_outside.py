"""The bottleneck study's outside sections and their figures: planted costs are found, and empty, all-zero or
all-missing inputs give a sentence or an empty table, never an exception."""

from __future__ import annotations

import types

import matplotlib
import numpy as np
import pandas as pd
import pytest

from qrbench.profile import COST_COLUMNS
from qrbench.report import plots_bottlenecks as bplots
from qrbench.report import plots_scalability as splots
from qrbench.report.sections import show_section
from qrbench.stats import cost_model
from qrbench.studies.bottlenecks import sections
from qrbench.studies.bottlenecks.outside import cost_table, gaps, hot_functions, outside_opportunities
from qrbench.studies.scalability.analysis import SATURATION_LIMITS

matplotlib.use("Agg")


def _costs(fixed_ms: float, per_doc_ms: float, *, seed: int = 0, zero: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i, n in enumerate([1, 10, 25, 50] * 6):
        ms = 0.0 if zero else fixed_ms + per_doc_ms * n + rng.normal(0, 1)
        rows.append(
            {
                "order": i,
                "kind": "rerank",
                "endpoint": "/v1/rerank",
                "method": "hybrid",
                "n_candidates": n,
                "text_chars": 100 * n,
                "request_bytes": 120 * n,
                "response_bytes": 80,
                "status": 200,
                "error": "",
                "e2e_ms": ms,
                "server_ms": 0.8 * ms,
            }
        )
    return pd.DataFrame(rows, columns=list(COST_COLUMNS))


def test_cost_model_recovers_a_planted_fixed_and_per_document_cost():
    frame = _costs(20.0, 3.0)
    fit = cost_model(frame["n_candidates"], frame["e2e_ms"])
    assert fit.fixed.low <= 20.0 <= fit.fixed.high
    assert fit.per_item.low <= 3.0 <= fit.per_item.high
    table = cost_table(frame)
    assert table.loc[0, "decided"] and table.loc[0, "per_doc_ms"] == pytest.approx(3.0, abs=0.1)


def test_opportunities_rank_the_planted_per_document_cost_first():
    frame = _costs(2.0, 10.0)
    o = outside_opportunities(frame, cost_table(frame), pd.DataFrame(), pd.DataFrame(), reference_batch=50, rates={})
    assert o.iloc[0]["opportunity"].startswith("Halve the per-document cost of rerank")
    assert not o["opportunity"].str.contains("Aer|shots|fidelity|engine.py", regex=True).any()


@pytest.mark.parametrize("frame", [pd.DataFrame(), pd.DataFrame(columns=list(COST_COLUMNS)), _costs(0, 0, zero=True)])
def test_empty_and_all_zero_costs_give_no_exception(frame):
    table = cost_table(frame)
    o = outside_opportunities(frame, table, pd.DataFrame(), pd.DataFrame(), reference_batch=50, rates={"x": 1.0})
    assert o.empty or (o["saving_ms"] >= 0).all()
    report = types.SimpleNamespace(
        costs=table, cost_requests=frame, hot=pd.DataFrame(), gaps=pd.DataFrame(), info={}, target=""
    )
    assert bplots.cost_by_size(frame, table) is None
    show_section(sections.costs(report))  # its table, or why there is none
    assert "not measured" in sections.hot_functions(report).sentence
    assert sections.target(report).sentence.endswith("Every section of this study was measured on the target.")


def test_hot_functions_of_empty_or_idle_stacks_are_empty():
    assert hot_functions(pd.DataFrame()).empty
    idle = pd.DataFrame(
        {
            "leaf": ["select (selectors.py:468)"],
            "samples": [0],
            "phase": ["under load"],
            "sampler": ["all threads"],
            "stack": [""],
        }
    )
    assert hot_functions(idle).empty


def test_gaps_name_why_and_how():
    info = {"in_process": {"skipped": "the target is not qrbench's reference engine"}, "under_load": {"skipped": "x"}}
    g = gaps(info, None, has_server=False, has_stacks=False)
    assert (g["status"] == "not measured").all() and g["how to enable"].str.len().gt(10).all()


@pytest.mark.parametrize("value", [np.nan, 0.0])
def test_saturation_figure_without_loop_or_pool_metrics_says_not_measured(value):
    table = pd.DataFrame(
        {
            "config": ["given"] * 3,
            "rate_rps": [1.0, 2.0, 4.0],
            "cpu": [np.nan] * 3,
            "memory": [np.nan] * 3,
            "event_loop": [value] * 3,
            "thread_pool": [np.nan] * 3,
        }
    )
    fig = splots.saturation(table, SATURATION_LIMITS, "given")
    fig.canvas.draw()  # a log scale of zeros would fail here
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert sum("not measured" in t for t in texts) == 4


def test_a_hot_function_saves_its_gil_holding_time_per_request():
    runs = pd.DataFrame(
        [
            {"phase": "single user", "p50_ms": 100.0, "p50_low": 90.0, "p50_high": 110.0, "ok": 10, "users": 1},
            {
                "phase": "under load",
                "p50_ms": 100.0,
                "p50_low": 90.0,
                "p50_high": 110.0,
                "ok": 40,
                "users": 4,
                "throughput_rps": 10.0,
                "gil_held_share": 0.5,
            },
        ]
    )
    hot = pd.DataFrame({"function": ["score"], "file": ["service.py"], "samples": [80], "share": [0.8]})
    o = outside_opportunities(pd.DataFrame(), pd.DataFrame(), runs, hot, reference_batch=50, rates={})
    row = o[o["opportunity"].str.startswith("Hot function score")].iloc[0]
    assert row["saving_ms"] == pytest.approx(0.8 * 0.5 * 1000 / 10.0)  # 40 ms of GIL time per request
