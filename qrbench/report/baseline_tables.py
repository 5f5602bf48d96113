"""Tables and sentences of the baseline report for people, built from a `BaselineReport`'s frames.

Every function takes the tidy frame the analysis produced and returns a `format.StakeholderTable` (units in
the headers, 2-3 significant digits, intervals in words when unbounded) or a sentence in Markdown when
nothing was measured, so the notebook holds calls only.
"""

from __future__ import annotations

import pandas as pd
from IPython.display import Markdown

from .format import StakeholderTable, interval, not_measured, number, quantity, stakeholder_table

__all__ = [
    "stage_latency",
    "warmup",
    "quality",
    "quality_sentence",
    "quantum_vs_classical",
    "method_ratios",
    "agreement",
    "memory",
    "cache",
    "regression",
    "regression_sentence",
]


def _intervals(frame: pd.DataFrame, low: str, high: str, unit: str = "") -> list[str]:
    return [interval(lo, hi, unit) for lo, hi in zip(frame[low], frame[high], strict=True)]


def _at_least(values: pd.Series, at_least: pd.Series, unit: str) -> list[str]:
    return [("at least " if bool(a) else "") + quantity(v, unit) for v, a in zip(values, at_least, strict=True)]


def stage_latency(stages: pd.DataFrame, records: pd.DataFrame) -> StakeholderTable:
    """Per stage: requests, failures, successful-only p50/p95 (with the p95's interval), p95 and p99 counting
    failures at the timeout, and how many repetitions the stage ran as."""
    reps = records.groupby("stage")["repetition"].nunique() if "repetition" in records else pd.Series(dtype=int)
    view = pd.DataFrame(
        {
            "stage": stages["stage"],
            "requests": stages["requests"],
            "failed": stages["failed"],
            "p50_ms": stages["p50_ms"],
            "p95_ms": stages["p95_ms"],
            "p95_ci": _intervals(stages, "p95_low", "p95_high", "ms"),
            "p95_all": _at_least(stages["p95_all_ms"], stages["p95_all_at_least"], "ms"),
            "p99_all": _at_least(stages["p99_all_ms"], stages["p99_all_at_least"], "ms"),
            "repetitions": stages["stage"].map(reps).fillna(1).astype(int),
        }
    )
    return stakeholder_table(
        view,
        {
            "stage": "Stage",
            "requests": "requests",
            "failed": "failed",
            "p50_ms": "p50, successful only (ms)",
            "p95_ms": "p95, successful only (ms)",
            "p95_ci": "p95 95 % interval",
            "p95_all": "p95 with failures",
            "p99_all": "p99 with failures",
            "repetitions": "repetitions",
        },
    )


def warmup(trimmed: pd.DataFrame) -> StakeholderTable:
    """Warm-up removed per stage (summed over its repetitions)."""
    if trimmed.empty:
        return stakeholder_table(pd.DataFrame(columns=["stage"]), {"stage": "Stage"})
    w = trimmed.groupby("stage", sort=False)[["trimmed", "kept", "seconds_trimmed"]].sum().reset_index()
    return stakeholder_table(
        w,
        {
            "stage": "Stage",
            "trimmed": "requests trimmed",
            "kept": "requests kept",
            "seconds_trimmed": "seconds trimmed (s)",
        },
    )


def quality(q: pd.DataFrame) -> StakeholderTable | Markdown:
    """nDCG@10 and MRR per method with their intervals, beside the median latency and its ratio to classical."""
    if q.empty:
        return Markdown(not_measured("ranking quality (quality.queries is 0)"))
    view = pd.DataFrame(
        {
            "method": q["method"],
            "ndcg": q["ndcg"],
            "ndcg_ci": _intervals(q, "ndcg_low", "ndcg_high"),
            "mrr": q["mrr"],
            "mrr_ci": _intervals(q, "mrr_low", "mrr_high"),
            "queries": q["queries"],
            "p50_ms": q.get("p50_ms", pd.Series(float("nan"), index=q.index)),
            "cost": q.get("cost_vs_classical", pd.Series(float("nan"), index=q.index)),
        }
    )
    return stakeholder_table(
        view,
        {
            "method": "Method",
            "ndcg": "nDCG@10",
            "ndcg_ci": "nDCG@10 95 % interval",
            "mrr": "MRR",
            "mrr_ci": "MRR 95 % interval",
            "queries": "queries",
            "p50_ms": "median rerank latency (ms)",
            "cost": "latency / classical",
        },
    )


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
    """ " Quantum ranks worse than classical (...), at N times classical's latency." from the quality table
    (columns method, ndcg, ndcg_low, ndcg_high, optionally cost_vs_classical); "" without both methods."""
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


def method_ratios(r: pd.DataFrame) -> StakeholderTable | Markdown:
    if r.empty:
        return Markdown(not_measured("latency ratios between methods"))
    return stakeholder_table(
        r.assign(ci=_intervals(r, "low", "high")),
        {
            "request": "Request",
            "method": "Method",
            "median_ratio": "median latency / classical",
            "ci": "95 % interval",
            "n_method": "requests",
            "n_classical": "classical requests",
        },
    )


def agreement(a: pd.DataFrame) -> StakeholderTable | Markdown:
    if a.empty:
        return Markdown(not_measured("rank agreement between methods"))
    # A column named *share holding 0..1 is shown as a percentage.
    return stakeholder_table(
        a.assign(ci=_intervals(a, "low", "high"), top1_share=a["top1_agreement"]),
        {
            "methods": "Methods",
            "queries": "queries",
            "spearman_median": "median Spearman",
            "ci": "95 % interval",
            "top1_share": "same top document (%)",
        },
    )


def memory(m: pd.DataFrame) -> StakeholderTable:
    return stakeholder_table(
        m,
        {
            "documents": "documents per rerank",
            "requests": "requests",
            "rss_max_mb": "peak memory (MB)",
            "rss_median_mb": "median memory (MB)",
            "samples": "memory samples",
        },
    )


def cache(c: pd.DataFrame) -> StakeholderTable | Markdown:
    if c.empty:
        return Markdown(not_measured("cache effectiveness"))
    return stakeholder_table(
        c.assign(ci=_intervals(c, "p50_low", "p50_high", "ms")),
        {
            "stage": "Stage",
            "requests": "requests",
            "p50_ms": "median (ms)",
            "ci": "95 % interval",
            "embedding_hit_rate": "embedding hits (%)",
            "similarity_hit_rate": "similarity hits (%)",
            "cold_over_this": "speed-up over cold",
        },
    )


def regression_sentence(g: pd.DataFrame | None) -> Markdown:
    """What was compared, with which correction and how many repetitions, and what it found."""
    if g is None:
        return Markdown("No previous baseline run was given (`baseline_run`), so nothing was compared.")
    if g.empty:
        return Markdown("The previous baseline run has no stage in common with this one.")
    k = int(min(g["k_baseline"].min(), g["k_current"].min()))
    text = (
        f"Correction: **{g['correction'].iloc[0]}**; k = **{k}** repetitions per side (at least). "
        f"**{int(g['regressed'].sum())}** significant regression(s), {int(g['improved'].sum())} improvement(s), "
        f"{int((g['verdict'] == 'undecided').sum())} comparison(s) undecided (a tail not decided in every "
        "repetition), "
        f"{int((g['verdict'] == 'cannot tell').sum())} that cannot tell (their detectable change, the smallest "
        "found with 80 % power, exceeds the 10 % that matters, so finding nothing there means nothing)."
    )
    if not g["separable"].all():
        text += (
            " Some stages had one run per side: those comparisons cannot separate machine drift between the "
            "runs from a change, and their intervals were widened by the calibration loop's drift."
        )
    return Markdown(text)


def regression(g: pd.DataFrame | None) -> StakeholderTable | Markdown:
    if g is None or g.empty:
        return Markdown("")
    return stakeholder_table(
        g.assign(
            ci=_intervals(g, "ratio_low", "ratio_high"),
            detectable_percent=100 * g["detectable"] if "detectable" in g else float("nan"),
        ),
        {
            "stage": "Stage",
            "statistic": "statistic",
            "baseline_ms": "baseline (ms)",
            "current_ms": "this run (ms)",
            "ratio": "ratio",
            "ci": "95 % interval",
            "detectable_percent": "detectable change (%)",
            "p_adjusted": "adjusted p",
            "verdict": "Verdict",
        },
    )
