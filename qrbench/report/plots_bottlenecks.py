"""Figures and styled tables of the bottlenecks report (matplotlib, pandas Styler).

A figure function returns None when its input holds nothing measured (no blank figures); the caller prints a
sentence instead (`qrbench.report.format.not_measured`).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .plots import error_bars, finish, interval_series, log_scale, stacked_bars, target_line

__all__ = [
    "stacked_breakdown",
    "overhead_ratios",
    "aer_vs_exact",
    "memory_growth",
    "under_load_profile",
    "opportunities_chart",
    "line_table",
    "cost_by_size",
]

COMPONENT_COLOURS = {
    "embed query": "#1e88e5",
    "embed documents": "#90caf9",
    "classical cosine": "#00897b",
    "encode states": "#8e24aa",
    "fidelity": "#e53935",
    "combine": "#fdd835",
    "unattributed": "#bdbdbd",
    "parse JSON": "#6d4c41",
    "validate request": "#a1887f",
    "rank candidates": "#ffb74d",
    "serialise response": "#f57c00",
    "HTTP and framework": "#424242",
}


def stacked_breakdown(request: pd.DataFrame, *, share: bool = False):
    """One panel per batch size, one bar per method and backend, stacked by component (mean ms, or share)."""
    if request.empty:
        return None
    sizes = sorted(request["batch_size"].unique())
    fig, axes = plt.subplots(1, len(sizes), figsize=(3.6 * len(sizes) + 1.5, 4.6), sharey=share, squeeze=False)
    value = "share" if share else "mean_ms"
    order = [c for c in COMPONENT_COLOURS if c in set(request["component"])]
    for ax, n in zip(axes[0], sizes, strict=True):
        g = request[request["batch_size"] == n]
        wide = g.pivot_table(index=["method", "backend"], columns="component", values=value, aggfunc="sum")
        wide = wide.reindex(columns=order).fillna(0.0).clip(lower=0)
        labels = [f"{m}\n{b}" if m != "classical" else m for m, b in wide.index]
        stacked_bars(ax, labels, wide, colours=COMPONENT_COLOURS, width=0.7)
        ax.set_title(f"{n} documents")
        ax.set_xlabel("method and backend")
        ax.tick_params(axis="x", labelsize=8)
        ax.set_ylabel("share of the request" if share else "mean time per request (ms)")
    handles, names = axes[0][0].get_legend_handles_labels()
    fig.legend(handles[::-1], names[::-1], loc="center right", fontsize=8)
    fig.suptitle("Where a rerank's time goes (documents cached; negative unattributed shown as 0)")
    fig.tight_layout(rect=(0, 0, 1 - 1.5 / (3.6 * len(sizes) + 1.5), 1))
    return fig


def overhead_ratios(overhead: pd.DataFrame):
    """Quantum and hybrid latency over classical (ratio of medians, 95% interval) against batch size."""
    if overhead.empty:
        return None
    fig, ax = plt.subplots(figsize=(8, 4))
    for (method, backend), g in overhead.groupby(["method", "backend"]):
        g = g.sort_values("batch_size")
        interval_series(ax, g, "batch_size", "median_ratio", fmt="-o", label=f"{method} on {backend}")
    ax.axhline(1.0, color="grey", ls=":")
    ax.set_xlabel("documents per rerank")
    ax.set_ylabel("engine time / classical engine time")
    log_scale(ax, "y")
    ax.legend(fontsize=8)
    ax.set_title("Quantum overhead over the classical path (bars: 95% intervals)")
    return finish(fig)


def aer_vs_exact(table: pd.DataFrame):
    """Left: time of one batched aer call against shots (exact for reference). Right: its shot noise."""
    if table.empty:
        return None
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4))
    for q, g in table.groupby("qubits"):
        g = g.sort_values("shots")
        a1.plot(g["shots"], g["aer_ms"], "-o", label=f"aer, {q} qubits")
        interval_series(a2, g, "shots", "rmse", "rmse_", fmt="-o", label=f"measured, {q} qubits")
        a2.plot(g["shots"], g["expected_sd"], ":", color="grey")
    a1.axhline(float(table["exact_ms"].median()), color="black", ls="--", label="exact (closed form)")
    a1.set(
        xscale="log",
        yscale="log",
        xlabel="shots",
        ylabel="ms per batched call",
        title=f"Cost of the fidelity for {int(table['documents'].median())} documents",
    )
    a1.legend(fontsize=8)
    a2.set(
        xscale="log",
        yscale="log",
        xlabel="shots",
        ylabel="RMSE of the fidelity vs exact",
        title="Shot noise (dotted: sqrt((1 - F^2) / shots))",
    )
    a2.legend(fontsize=8)
    return finish(fig)


def memory_growth(memory: pd.DataFrame, *, limit_gb: float | None = None):
    """Peak RSS and its increment against the documents of one cold rerank; increment per document."""
    if memory.empty:
        return None
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 4))
    a1.plot(memory["documents"], memory["peak_mib"] * 2**20 / 1e9, "-o", label="peak RSS")
    a1.plot(memory["documents"], memory["before_mib"] * 2**20 / 1e9, "--", color="grey", label="RSS before")
    target_line(a1, limit_gb, "PRD limit {:g} GB (100 documents)")
    a1.set(xscale="log", xlabel="documents in one rerank (cold)", ylabel="GB", title="Peak memory of the process")
    a1.set_ylim(bottom=0)
    a1.legend(fontsize=8)
    a2.bar(memory["documents"].astype(str), memory["per_document_kib"], color="#90caf9")
    a2.set(
        xlabel="documents in one rerank",
        ylabel="KiB of peak increment per document",
        title="Increment per document (falls when activations are bounded by the batch)",
    )
    return finish(fig)


def under_load_profile(shares: pd.DataFrame):
    """Share of the busy threads' samples per activity, one bar per phase and sampler (all threads, GIL holder)."""
    if shares.empty:
        return None
    wide = shares.pivot_table(index=["phase", "sampler"], columns="activity", values="active_share", aggfunc="sum")
    wide = wide.fillna(0)
    wide = wide[wide.sum().sort_values(ascending=False).index]
    fig, ax = plt.subplots(figsize=(11, 0.8 + 0.7 * len(wide)))
    colours = plt.get_cmap("tab20")(np.linspace(0, 1, max(len(wide.columns), 2)))
    labels = [f"{p} ({s})" for p, s in wide.index]
    stacked_bars(ax, labels, wide, colours=dict(zip(wide.columns, colours, strict=False)), horizontal=True)
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of py-spy samples of threads not idle")
    ax.set_ylabel("phase (sampler)")
    ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.25))
    ax.set_title("What the service's threads do: one user against load")
    return finish(fig)


def opportunities_chart(opportunities: pd.DataFrame):
    """Time each opportunity would save per request (95% interval where there is one), coloured by where it lives."""
    t = opportunities[opportunities["kind"] == "time"].iloc[::-1] if len(opportunities) else opportunities
    if t.empty:
        return None
    colours = {
        "service code": "#2e7d32",
        "service setting": "#66bb6a",
        "service design": "#a5d6a7",
        "design choice": "#ffb74d",
        "dependency": "#9e9e9e",
        "runtime": "#bdbdbd",
    }
    c = [next((v for k, v in colours.items() if str(w).startswith(k)), "#e0e0e0") for w in t["lives_in"]]
    fig, ax = plt.subplots(figsize=(10, 1.8 + 0.38 * len(t)))
    err = error_bars(t["saving_ms"], t["saving_low"], t["saving_high"])
    # Savings near zero (or negative: a fix that did not hold) sit at the left edge; a floor 300 times below
    # the largest keeps the log axis to a readable two and a half decades.
    floor = max(float(t["saving_ms"].max()) / 300, 1e-3)
    ax.barh(t["opportunity"], t["saving_ms"].clip(lower=floor), xerr=err, color=c, capsize=2)
    log_scale(ax, "x")
    ax.set_xlim(left=floor)
    ax.set_xlabel("time saved per request (ms, log scale; bars: 95% intervals)")
    ax.set_ylabel("opportunity")
    present = [k for k in colours if any(str(w).startswith(k) for w in t["lives_in"])]
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours[k]) for k in present]
    ax.legend(
        handles, present, fontsize=7, title="lives in", title_fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1)
    )
    ax.set_title("Optimisation opportunities, ranked")
    return finish(fig)


def line_table(lines: pd.DataFrame, *, top: int = 15):
    """The `top` most expensive lines as a Styler, with a bar on the function share."""
    t = lines.sort_values("time_ms", ascending=False).head(top)
    cols = ["function", "file", "line", "hits", "time_ms", "per_hit_us", "share", "share_of_run", "source"]
    return (
        t[cols]
        .style.format({"time_ms": "{:.2f}", "per_hit_us": "{:.1f}", "share": "{:.1%}", "share_of_run": "{:.1%}"})
        .bar(subset=["share"], color="#ffcc80", vmin=0, vmax=1)
        .hide(axis="index")
    )


def cost_by_size(requests: pd.DataFrame, table: pd.DataFrame):
    """Latency against documents per request, one colour per kind, with the fitted fixed + per-document line."""
    ok = requests[(requests["status"] == 200) & requests["e2e_ms"].notna()] if len(requests) else requests
    if ok.empty or not (ok["e2e_ms"] > 0).any():
        return None
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    for i, (kind, g) in enumerate(ok.groupby("kind", sort=False)):
        colour = f"C{i}"
        ax.scatter(g["n_candidates"], g["e2e_ms"], s=14, alpha=0.6, color=colour, label=kind)
        fit = table[table["kind"] == kind] if len(table) else table
        if len(fit) and bool(fit["decided"].iloc[0]):
            xs = np.linspace(0, g["n_candidates"].max(), 20)
            a, b = float(fit["fixed_ms"].iloc[0]), float(fit["per_doc_ms"].iloc[0])
            ax.plot(xs, a + b * xs, color=colour, lw=1.2)
    ax.set_xlabel("documents per request")
    ax.set_ylabel("end-to-end latency (ms)")
    ax.set_title("The measured service: latency against request size (lines: fixed + per-document fit)")
    ax.legend(fontsize=8)
    return finish(fig)
