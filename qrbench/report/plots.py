"""Figures and styled tables of the study reports (matplotlib, pandas Styler).

A figure function returns None when its input holds nothing measured (no blank figures); the caller prints a
sentence instead (`qrbench.report.format.not_measured`).
"""

from __future__ import annotations

from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .format import StakeholderTable, number, stakeholder_table

__all__ = [
    "show",
    "finish",
    "log_scale",
    "error_bars",
    "interval_series",
    "target_line",
    "stacked_bars",
    "panel_note",
    "legend",
    "rows_table",
    "latency_by_stage",
    "percentiles_by_batch",
    "memory_by_documents",
    "cache_effect",
    "reliability_table",
    "quality_vs_cost",
]

# A PRD target or limit, or an SLO: red and dashed on every figure.
TARGET_LINE = {"color": "#b00020", "ls": "--"}


def show(fig, *, otherwise: str) -> None:
    """Show `fig` in the notebook, or the sentence `otherwise` when it is None (nothing was measured):
    `plots.show(splots.vertical_settings(...), otherwise=not_measured("the thread, qubit and shot sweeps"))`."""
    if fig is None:
        from IPython.display import Markdown, display

        display(Markdown(otherwise))
        return
    plt.show()
    plt.close(fig)  # in a kernel show() has drawn it; anywhere else (a test, a script) it would stay open forever


def finish(fig, title: str = "", **title_style):
    """The last step of a figure function: the figure's title (when given), its layout, the figure."""
    if title:
        fig.suptitle(title, **title_style)
    fig.tight_layout()
    return fig


def log_scale(ax, *names: str) -> None:
    """Log scale on the named axes ("x", "y"), labelled with plain numbers at 1-2-5 steps: "200", not "2×10²"."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    for name in names:
        getattr(ax, f"set_{name}scale")("log")
        axis = getattr(ax, f"{name}axis")
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        axis.set_major_formatter(FuncFormatter(lambda value, _pos: number(value, 2)))
        axis.set_minor_formatter(NullFormatter())


def error_bars(mid, low, high) -> list[np.ndarray]:
    """Error-bar lengths below and above `mid` from its interval [low, high]; an unbounded or unknown end (inf,
    NaN) draws no bar on that side."""
    below = np.clip(np.atleast_1d(mid - low).astype(float), 0, None)
    above = np.clip(np.atleast_1d(high - mid).astype(float), 0, None)
    return [np.nan_to_num(below, posinf=0.0), np.nan_to_num(above, posinf=0.0)]


def interval_series(ax, frame: pd.DataFrame, x: str, y: str, bounds: str = "", **style) -> None:
    """frame[y] against frame[x] with bars over its interval, the columns <bounds>low and <bounds>high."""
    mid = frame[y]
    yerr = error_bars(mid, frame[f"{bounds}low"], frame[f"{bounds}high"])
    ax.errorbar(frame[x], mid, yerr=yerr, **{"capsize": 3, **style})


def target_line(ax, value: float | None, label: str = "", *, vertical: bool = False, **style) -> None:
    """A line at a target, limit or SLO (TARGET_LINE, or `style`); none without a value. label: the legend's
    text, "{:g}" standing for the value ("PRD target {:g} ms")."""
    if value:
        (ax.axvline if vertical else ax.axhline)(value, **{**TARGET_LINE, **style}, label=label.format(value))


def stacked_bars(ax, positions, parts, *, colours=None, horizontal: bool = False, **style) -> None:
    """One bar per position made of `parts` (label -> lengths, a mapping or a DataFrame), stacked in order;
    colours: label -> colour (default: the colour cycle)."""
    base = np.zeros(len(positions))
    for label, lengths in parts.items():
        colour = colours[label] if colours else None
        if horizontal:
            ax.barh(positions, lengths, left=base, color=colour, label=label, **style)
        else:
            ax.bar(positions, lengths, bottom=base, color=colour, label=label, **style)
        base = base + np.asarray(lengths)


def panel_note(ax, text: str, **style) -> None:
    """A sentence in the middle of a panel that has nothing to draw ("no errors", "not measured: ...")."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", **style)


def legend(ax, *twins, **style) -> None:
    """One legend on `ax` for the labelled lines of `ax` and its `twins` (twinx axes); none when nothing is labelled."""
    handles = [h for a in (ax, *twins) for h in a.get_legend_handles_labels()[0]]
    if handles:
        ax.legend(handles, [h.get_label() for h in handles], **style)


def rows_table(rows: list[dict[str, Any]], headers: dict[str, str]) -> StakeholderTable:
    """Rows (dicts) as a table for people, with `headers` (column -> header) in order."""
    return stakeholder_table(pd.DataFrame(rows, columns=list(headers)), headers)


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
    log_scale(ax, "x")
    ax.set_xlabel("latency (ms, log scale; whiskers at p1 and p99)")
    ax.set_ylabel("stage")
    target_line(ax, target_ms, "PRD target {:g} ms", vertical=True)
    legend(ax, loc="lower right")
    ax.set_title(title)
    return finish(fig)


def percentiles_by_batch(stages: pd.DataFrame, *, target_ms: float | None = None):
    """p50 and p95 (with their confidence intervals) of rerank latency against the batch size, per method."""
    df = stages[stages["kind"].str.startswith("rerank_")].copy()
    if df.empty:
        return None
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for method, g in df.groupby("method"):
        g = g.sort_values("n_candidates")
        for q, style in (("p50", "-o"), ("p95", "--s")):
            interval_series(ax, g, "n_candidates", f"{q}_ms", f"{q}_", fmt=style, label=f"{method} {q}")
    target_line(ax, target_ms, "PRD target {:g} ms")
    ax.set_xlabel("documents per rerank")
    ax.set_ylabel("latency (ms)")
    log_scale(ax, "y")
    ax.legend(fontsize=8, ncol=2)
    ax.set_title(
        "Rerank latency by batch size\n(bars: 95% intervals; no upper bar: too few samples to bound it)", fontsize=10
    )
    return finish(fig)


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
    target_line(a1, target_gb, "PRD limit {:g} GB")
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
    return finish(fig)


def cache_effect(cache: pd.DataFrame):
    """Median latency (ms) of a cold request, known documents and a repeated request; None when not measured."""
    if cache.empty:
        return None
    fig, ax = plt.subplots(figsize=(7, 3.5))
    y = np.arange(len(cache))
    err = error_bars(cache["p50_ms"], cache["p50_low"], cache["p50_high"])
    ax.barh(y, cache["p50_ms"], xerr=err, color=["#ef9a9a", "#ffe082", "#a5d6a7"][: len(cache)], capsize=3)
    ax.set_yticks(y, cache["stage"])
    ax.set_ylabel("request")
    log_scale(ax, "x")
    ax.set_xlabel("median latency (ms, log scale, 95% interval)")
    ax.set_title("Cold, known documents, repeated request")
    return finish(fig)


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
        xerr = error_bars(r.p50_ms, r.p50_low, r.p50_high)
        yerr = error_bars(r.ndcg, r.ndcg_low, r.ndcg_high)
        ax.errorbar([r.p50_ms], [r.ndcg], xerr=xerr, yerr=yerr, fmt="o", capsize=4, markersize=8, label=r.method)
        ax.annotate(r.method, (r.p50_ms, r.ndcg), textcoords="offset points", xytext=(8, 6))
    size = quality["cost_stage"].iloc[0].rsplit("/", 1)[-1]
    ax.set_xlabel(f"median latency of a rerank of {size} documents (ms, 95% interval)")
    ax.set_ylabel("nDCG@10 (95% interval over queries)")
    ax.set_ylim(0, 1.05)
    ax.set_xlim(left=0)
    ax.legend(loc="lower right")
    ax.set_title("Ranking quality against its latency cost")
    return finish(fig)


def reliability_table(checks) -> StakeholderTable:
    """The reliability checks as a table for people: check, passed (yes/NO), what it means."""
    rows = [{"check": c.name, "ok": "yes" if c.ok else "NO", "message": c.message} for c in checks]
    return rows_table(rows, {"check": "Check", "ok": "Passed", "message": "What it means"})
