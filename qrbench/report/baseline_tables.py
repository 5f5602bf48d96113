"""The baseline report's layouts that need the report's number formatting (report/sections.py `_TABLES`): the
per-stage latency table (a percentile counting failures may be only a lower bound) and the ranking quality said
in a sentence (also in the executive report).
"""

from __future__ import annotations

import pandas as pd
from IPython.display import Markdown

from .format import StakeholderTable, interval, number, quantity, stakeholder_table


def _at_least(values: pd.Series, at_least: pd.Series, unit: str) -> list[str]:
    return [("at least " if bool(a) else "") + quantity(v, unit) for v, a in zip(values, at_least, strict=True)]


def stage_latency(stages: pd.DataFrame) -> StakeholderTable:
    """Per stage (the analysis's stage table with a `repetitions` column): successful-only p50/p95 (with the
    p95's interval), and p95 and p99 counting failures at the timeout."""
    view = pd.DataFrame(
        {
            "Stage": stages["stage"],
            "requests": stages["requests"],
            "failed": stages["failed"],
            "p50, successful only (ms)": stages["p50_ms"],
            "p95, successful only (ms)": stages["p95_ms"],
            "p95 95 % interval": [(lo, hi, "ms") for lo, hi in zip(stages["p95_low"], stages["p95_high"], strict=True)],
            "p95 with failures": _at_least(stages["p95_all_ms"], stages["p95_all_at_least"], "ms"),
            "p99 with failures": _at_least(stages["p99_all_ms"], stages["p99_all_at_least"], "ms"),
            "repetitions": stages["repetitions"],
        }
    )
    return stakeholder_table(view, {c: c for c in view.columns})


def quality_sentence(q: pd.DataFrame) -> Markdown:
    """Which method ranks best, and whether quantum's interval overlaps classical's."""
    if q.empty:
        return Markdown("")
    best = q.loc[q["ndcg"].idxmax()]
    text = (
        f"Best ranking: **{best['method']}**, nDCG@10 {number(best['ndcg'])} "
        f"({interval(best['ndcg_low'], best['ndcg_high'])}, {int(best['queries'])} queries)."
    )
    return Markdown(text + quantum_vs_classical(q))


def quantum_vs_classical(q: pd.DataFrame) -> str:
    """ " Quantum ranks worse than classical (...), at N times classical's latency." from a quality table
    (method, ndcg, ndcg_low, ndcg_high, optionally cost_vs_classical); "" without both methods."""
    by = q.set_index("method")
    if not {"quantum", "classical"} <= set(by.index):
        return ""
    qu, cl = by.loc["quantum"], by.loc["classical"]
    if qu["ndcg_high"] < cl["ndcg_low"]:
        text = " Quantum ranks worse than classical (the intervals do not overlap)"
    elif qu["ndcg_low"] > cl["ndcg_high"]:
        text = " Quantum ranks better than classical (the intervals do not overlap)"
    else:
        text = " Quantum and classical cannot be told apart on these queries (the intervals overlap)"
    cost = qu.get("cost_vs_classical", float("nan"))
    return text + (f", at {number(cost)} times classical's latency." if pd.notna(cost) else ".")
