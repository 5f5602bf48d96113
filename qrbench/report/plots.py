"""Figures and styled tables of the study reports (matplotlib, pandas Styler).

A figure function returns None when its input holds nothing measured (no blank figures); the caller prints a
sentence instead (`qrbench.report.format.not_measured`).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .format import StakeholderTable, number, stakeholder_table

__all__ = [
    "show",
    "plain_log_axis",
    "latency_by_stage",
    "percentiles_by_batch",
    "memory_by_documents",
    "cache_effect",
    "reliability_table",
    "quality_vs_cost",
    "VERDICT_COLOURS",
]


def show(fig, *, otherwise: str) -> None:
    """Show `fig` in the notebook, or the sentence `otherwise` when it is None (nothing was measured):
    `plots.show(splots.vertical_settings(...), otherwise=not_measured("the thread, qubit and shot sweeps"))`."""
    if fig is None:
        from IPython.display import Markdown, display

        display(Markdown(otherwise))
        return
    plt.show()
    plt.close(fig)  # in a kernel show() has drawn it; anywhere else (a test, a script) it would stay open forever


def plain_log_axis(axis) -> None:
    """Label a log-scale axis (ax.xaxis or ax.yaxis) with plain numbers at 1-2-5 steps: "200", not "2×10²"."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda value, _pos: number(value, 2)))
    axis.set_minor_formatter(NullFormatter())


VERDICT_COLOURS = {
    "pass": "#c8e6c9",
    "warn": "#ffe0b2",
    "fail": "#ffcdd2",
    "insufficient": "#e0e0e0",
    "regressed": "#ffcdd2",
    "improved": "#c8e6c9",
}


def latency_by_stage(records: pd.DataFrame, prefix: str, *, target_ms: float | None = None, title: str = ""):
    """Distribution (ms, log scale) of successful requests of the stages starting with `prefix`; None when
    there is none."""
    df = records[records["stage"].str.startswith(prefix) & records["ok"]]
    if df.empty:
        return None
    stages = list(dict.fromkeys(df["stage"]))  # in the order they ran, first at the top
    fig, ax = plt.subplots(figsize=(9, 0.9 + 0.45 * len(stages)))
    # matplotlib's own boxplot: seaborn's passes the `vert` argument matplotlib 3.11 deprecates.
    ax.boxplot(
        [df.loc[df["stage"] == s, "latency_ms"].to_numpy() for s in stages],
        orientation="horizontal",
        whis=(1, 99),
        widths=0.6,
        patch_artist=True,
        boxprops={"facecolor": "#90caf9"},
        medianprops={"color": "black"},
        flierprops={"markersize": 2},
    )
    ax.set_yticks(range(1, len(stages) + 1), stages)
    ax.invert_yaxis()
    ax.set_xscale("log")
    plain_log_axis(ax.xaxis)
    ax.set_xlabel("latency (ms, log scale; whiskers at p1 and p99)")
    ax.set_ylabel("stage")
    if target_ms:
        ax.axvline(target_ms, color="#b00020", ls="--", label=f"PRD target {target_ms:g} ms")
        ax.legend(loc="lower right")
    ax.set_title(title)
    fig.tight_layout()
    return fig


def percentiles_by_batch(stages: pd.DataFrame, *, target_ms: float | None = None):
    """p50 and p95 (with their confidence intervals) of rerank latency against the batch size, per method."""
    df = stages[stages["kind"].str.startswith("rerank_")].copy()
    if df.empty:
        return None
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for method, g in df.groupby("method"):
        g = g.sort_values("n_candidates")
        for q, style in (("p50", "-o"), ("p95", "--s")):
            low = np.clip(g[f"{q}_ms"] - g[f"{q}_low"], 0, None)
            high = np.clip(g[f"{q}_high"] - g[f"{q}_ms"], 0, None).replace(np.inf, 0)
            ax.errorbar(g["n_candidates"], g[f"{q}_ms"], yerr=[low, high], fmt=style, capsize=3, label=f"{method} {q}")
    if target_ms:
        ax.axhline(target_ms, color="#b00020", ls="--", label=f"PRD target {target_ms:g} ms")
    ax.set_xlabel("documents per rerank")
    ax.set_ylabel("latency (ms)")
    ax.set_yscale("log")
    plain_log_axis(ax.yaxis)
    ax.legend(fontsize=8, ncol=2)
    ax.set_title(
        "Rerank latency by batch size\n(bars: 95% intervals; no upper bar: too few samples to bound it)", fontsize=10
    )
    fig.tight_layout()
    return fig


def memory_by_documents(
    memory: pd.DataFrame, server: pd.DataFrame, records: pd.DataFrame, *, target_gb: float | None = None
):
    """Peak RSS per document count, and the RSS timeline of the whole run (only when the server was sampled);
    None when memory was not measured."""
    if memory.empty:
        return None
    sampled = len(server) > 0
    fig, axes = plt.subplots(1, 2 if sampled else 1, figsize=(12 if sampled else 6.5, 4), squeeze=False)
    a1 = axes[0][0]
    a1.plot(memory["documents"], memory["rss_max_mb"] / 1000, "-o", label="peak RSS")
    a1.plot(memory["documents"], memory["rss_median_mb"] / 1000, "-s", label="median RSS")
    if target_gb:
        a1.axhline(target_gb, color="#b00020", ls="--", label=f"PRD limit {target_gb:g} GB")
    a1.set_xlabel("documents per rerank")
    a1.set_ylabel("server RSS (GB)")
    a1.set_ylim(bottom=0)
    a1.legend()
    a1.set_title("Server memory by document count")
    if sampled:
        a2 = axes[0][1]
        t0 = server["t_unix"].min()
        a2.plot(server["t_unix"] - t0, server["rss_bytes"] / 1e9)
        for _stage, g in records.groupby("stage", sort=False):
            a2.axvspan(g["t_unix"].min() - t0, g["t_unix"].max() - t0, alpha=0.08)
        a2.set_xlabel("seconds since the study started (shaded: stages)")
        a2.set_ylabel("server RSS (GB)")
        a2.set_title("Server memory over the whole study")
    fig.tight_layout()
    return fig


def cache_effect(cache: pd.DataFrame):
    """Median latency (ms) of a cold request, known documents and a repeated request; None when not measured."""
    if cache.empty:
        return None
    fig, ax = plt.subplots(figsize=(7, 3.5))
    y = np.arange(len(cache))
    err = [cache["p50_ms"] - cache["p50_low"], (cache["p50_high"] - cache["p50_ms"]).replace(np.inf, 0)]
    ax.barh(y, cache["p50_ms"], xerr=err, color=["#ef9a9a", "#ffe082", "#a5d6a7"][: len(cache)], capsize=3)
    ax.set_yticks(y, cache["stage"])
    ax.set_ylabel("request")
    ax.set_xscale("log")
    plain_log_axis(ax.xaxis)
    ax.set_xlabel("median latency (ms, log scale, 95% interval)")
    ax.set_title("Cold, known documents, repeated request")
    fig.tight_layout()
    return fig


def quality_vs_cost(quality: pd.DataFrame):
    """nDCG@10 per method (95 % interval over queries) against the median rerank latency it costs (ms, 95 %
    interval); None when quality or its cost was not measured. Up and to the left is better. A method whose
    rerank cost was not measured (e.g. a run that timed only the hybrid rerank) is left out of the figure."""
    if quality.empty or "p50_ms" not in quality or "cost_stage" not in quality:
        return None
    quality = quality[quality["cost_stage"].notna() & quality["p50_ms"].notna()]
    if quality.empty:
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    for r in quality.itertuples():
        xerr = [[max(r.p50_ms - r.p50_low, 0)], [max(r.p50_high - r.p50_ms, 0) if np.isfinite(r.p50_high) else 0]]
        yerr = [[max(r.ndcg - r.ndcg_low, 0)], [max(r.ndcg_high - r.ndcg, 0)]]
        ax.errorbar([r.p50_ms], [r.ndcg], xerr=xerr, yerr=yerr, fmt="o", capsize=4, markersize=8, label=r.method)
        ax.annotate(r.method, (r.p50_ms, r.ndcg), textcoords="offset points", xytext=(8, 6))
    size = quality["cost_stage"].iloc[0].rsplit("/", 1)[-1]
    ax.set_xlabel(f"median latency of a rerank of {size} documents (ms, 95% interval)")
    ax.set_ylabel("nDCG@10 (95% interval over queries)")
    ax.set_ylim(0, 1.05)
    ax.set_xlim(left=0)
    ax.legend(loc="lower right")
    ax.set_title("Ranking quality against its latency cost")
    fig.tight_layout()
    return fig


def reliability_table(checks) -> StakeholderTable:
    """The reliability checks as a table for people: check, passed (yes/NO), what it means."""
    frame = pd.DataFrame(
        [{"check": c.name, "ok": "yes" if c.ok else "NO", "message": c.message} for c in checks],
        columns=["check", "ok", "message"],
    )
    return stakeholder_table(frame, {"check": "Check", "ok": "Passed", "message": "What it means"})
