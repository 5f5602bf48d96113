"""Figures of the scalability study, from its report's tables (its sections' `Figure.inputs`, drawn through
report.sections.DRAWINGS). Each returns its figure, or None when nothing was measured (`Figure.otherwise` says so).
"""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from ..stats import predict
from .plots import error_bars, finish, interval_series, legend, log_scale, panel_note, stacked_bars, target_line


def step_curves(steps: pd.DataFrame, *, slo_p95_ms: float):
    """p95 latency and throughput against the offered rate, one line per configuration (bars: 95 % intervals);
    None when no step was measured."""
    if steps.empty:
        return None
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(13, 4.5))
    for config, g in steps.groupby("config", sort=False):
        g = g.sort_values("rate_rps")
        for ax, y, stem in ((a1, "p95_ms", "p95_"), (a2, "throughput_rps", "throughput_")):
            interval_series(ax, g, "rate_rps", y, stem, fmt="-o", label=config)
    target_line(a1, slo_p95_ms, "SLO p95 {:g} ms", lw=1.2)
    log_scale(a1, "x", "y")
    a1.set_xlabel("offered rate (req/s, log)")
    a1.set_ylabel("p95 latency (ms, log)")
    a1.set_title("Latency at each step")
    top = float(steps["rate_rps"].max())
    a2.plot([0, top], [0, top], color="grey", lw=0.8, ls=":", label="throughput = offered")
    a2.set_xlabel("offered rate (req/s)")
    a2.set_ylabel("successful completions (req/s)")
    a2.set_title("Throughput at each step")
    for ax in (a1, a2):
        ax.legend(fontsize=8)
    return finish(fig)


def capacity_bars(configs: pd.DataFrame):
    """The highest rate meeting the SLO per configuration, with its interval (an open end: the SLO never broke);
    None when no configuration finished."""
    ran = configs[configs["status"] == "ok"] if len(configs) else configs
    if ran.empty:
        return None
    fig, ax = plt.subplots(figsize=(9, 0.6 + 0.5 * max(1, len(ran))))
    y = np.arange(len(ran))
    high = ran["capacity_high"].replace(np.inf, np.nan)
    ax.barh(y, ran["capacity_rps"], color="#90caf9")
    ax.errorbar(
        ran["capacity_rps"],
        y,
        xerr=error_bars(ran["capacity_rps"], ran["capacity_low"], high.fillna(ran["capacity_rps"])),
        fmt="none",
        ecolor="black",
        capsize=4,
    )
    for yi, (_, c) in zip(y, ran.iterrows(), strict=True):
        if not math.isfinite(c["capacity_high"]):
            ax.annotate(
                "≥ (SLO never broke)",
                (c["capacity_rps"], yi),
                xytext=(4, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
            )
    ax.set_yticks(y, ran["config"])
    ax.set_xlim(0, 1.35 * float(np.nanmax(high.fillna(ran["capacity_rps"]).to_numpy(float))))  # room for the note
    ax.set_xlabel("capacity under the SLO (req/s; bar: from the last step met surely to the first step broken)")
    ax.set_title("Highest arrival rate meeting the SLO")
    return finish(fig)


def usl_fit(fit: dict, *, cores: int, axis: str):
    """Measured throughput against N, with the USL and Amdahl fits drawn over the measured range of N only;
    None when nothing was measured. With fewer than three levels no model is drawn: two points bound no curve."""
    points = fit["points"]
    if points.empty:
        return None
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(points["n"], points["throughput_rps"], "o", alpha=0.6, color="#1565c0", label="measured (windows)")
    means = points.groupby("n")["throughput_rps"].mean()
    ax.plot(means.index, means.to_numpy(), "D", color="#0d47a1", label="mean per N")
    low, high = float(points["n"].min()), float(points["n"].max())
    if points["n"].nunique() >= 3:
        grid = np.linspace(low, high, 200)
        for name, style in (("usl", "-"), ("amdahl", "--")):
            model = fit.get(name)
            if model is None:
                continue
            label = (
                f"USL σ={model.sigma.value:.2g}, κ={model.kappa.value:.2g}"
                if name == "usl"
                else f"Amdahl σ={model.sigma.value:.2g}"
            )
            ax.plot(grid, predict(model, grid), style, label=label)
            if name == "usl" and math.isfinite(model.peak_n.value) and low <= model.peak_n.value <= high:
                ax.axvline(
                    model.peak_n.value, color="#6a1b9a", lw=0.8, ls=":", label=f"peak at N = {model.peak_n.value:.2g}"
                )
    if high > cores:
        ax.axvspan(cores, high + 0.5, color="grey", alpha=0.08, label=f"more than this machine's {cores} cores")
    ax.set_xlabel(f"{axis} (N)")
    ax.set_ylabel("throughput (req/s)")
    ax.set_title(f"Universal Scalability Law: {axis} (fit over the measured range only)", fontsize=10)
    ax.set_xlim(low - 0.5, high + 0.5)
    ax.set_xticks(sorted(points["n"].unique()))
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    return finish(fig)


def lb_shares(shares: pd.DataFrame):
    """Each instance's share of the requests per configuration and step, and its embedding-cache hit rate;
    None without a configuration of several instances."""
    multi = shares.groupby("config")["instance"].transform("nunique") > 1 if len(shares) else shares
    shares = shares[multi] if len(shares) else shares
    if shares.empty:
        return None
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(13, 4))
    table = shares.pivot_table(index=["config", "rate_rps"], columns="instance", values="share")
    labels = [f"{c}\n{r:g} req/s" for c, r in table.index]
    stacked_bars(a1, range(len(table)), table.fillna(0))
    for x, n in enumerate(table.notna().sum(axis=1)):
        a1.hlines([k / n for k in range(1, n)], x - 0.4, x + 0.4, color="black", lw=0.8, ls=":")
    a1.set_xticks(range(len(table)), labels, fontsize=7, rotation=30, ha="right")
    hits = shares.pivot_table(index=["config", "rate_rps"], columns="instance", values="embedding_hit_rate")
    width = 0.8 / max(1, hits.shape[1])
    for i, instance in enumerate(hits.columns):
        a2.bar(np.arange(len(hits)) + i * width, hits[instance].fillna(0).to_numpy(), width, label=instance)
    a2.set_xticks(
        np.arange(len(hits)) + 0.4 - width / 2,
        [f"{c}\n{r:g} req/s" for c, r in hits.index],
        fontsize=7,
        rotation=30,
        ha="right",
    )
    a2.set_ylim(0, 1)
    for ax, ylabel, title in (
        (a1, "share of requests", "Load balancer: each instance's share (dotted: an even split)"),
        (a2, "embedding cache hit rate", "Per-instance cache hit rate (caches are per instance)"),
    ):
        ax.set_xlabel("configuration and offered rate")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.legend(fontsize=8)
    return finish(fig)


_NO_PROCESS = "no local process of the service\nto sample (run it on this machine)"
# Per resource: panel title, y label, and why the panel can be empty (and how to fill it).
_SATURATION_PANELS = {
    "cpu": ("service CPU / cores", "utilisation (fraction of the cores)", _NO_PROCESS),
    "memory": ("service RSS / memory", "fraction of the machine's memory", _NO_PROCESS),
    "event_loop": (
        "event-loop probe p95 (ms)",
        "event-loop delay p95 (ms, log)",
        "no health path answered\n(/health/live or /health)",
    ),
    "thread_pool": (
        "in computation / threads",
        "busy fraction of the threads",
        "no in-flight gauge on /metrics\n(qrbench_requests_in_flight,\nor map yours under metrics:)",
    ),
}


def saturation(table: pd.DataFrame, limits: dict[str, float], config: str):
    """Utilisation of each resource against the offered rate for one configuration, each against its limit;
    None without saturation samples of that configuration."""
    g = table[table["config"] == config].sort_values("rate_rps") if len(table) else table
    if g.empty:
        return None
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.4))
    for ax, (key, (label, unit, gap)) in zip(axes, _SATURATION_PANELS.items(), strict=True):
        ax.set_title(label, fontsize=9)
        values = pd.to_numeric(g[key], errors="coerce") if key in g else pd.Series(np.nan, index=g.index)
        empty = not (values > 0).any() if key == "event_loop" else values.isna().all()
        if empty:
            # Nothing to draw (the target lacks what this panel needs): say so in the panel, never a log of zeros.
            panel_note(ax, "not measured:\n" + gap, fontsize=8, wrap=True)
            ax.set_xticks([])
            ax.set_yticks([])
            continue
        ax.set_ylabel(unit, fontsize=8)
        ax.plot(g["rate_rps"], values, "-o")
        if key == "cpu" and "machine_cpu" in g:
            ax.plot(g["rate_rps"], g["machine_cpu"], ":", color="grey", label="whole machine")
            ax.legend(fontsize=7)
        target_line(ax, limits[key], lw=1.2)
        log_scale(ax, "x", *(["y"] if key == "event_loop" else []))
        ax.set_xlabel("offered (req/s, log)")
    return finish(fig, f"Which resource saturates first ({config}; red: saturation limit)", fontsize=10)


def documents_cost(documents: pd.DataFrame, cost: dict):
    """Latency against the document count (log-log, with the fitted power law over the measured counts) and
    peak server memory (a second panel only when server memory was sampled); None without a document sweep."""
    if documents.empty:
        return None
    d = documents
    memory = "rss_peak_mb" in d and d["rss_peak_mb"].notna().any()
    fig, axes = plt.subplots(1, 2 if memory else 1, figsize=(12 if memory else 6.5, 4), squeeze=False)
    a1 = axes[0][0]
    interval_series(a1, d, "documents", "p50_ms", "p50_", fmt="o", label="p50 (95 % interval)")
    a1.plot(d["documents"], d["server_ms_median"], "s", label="server time, median")
    if math.isfinite(cost.get("slope", math.nan)):
        grid = np.geomspace(d["documents"].min(), d["documents"].max(), 50)
        a1.plot(
            grid,
            np.exp(cost["log_intercept"]) * grid ** cost["slope"],
            "-",
            label=f"fit over the measured counts: latency ∝ N^{cost['slope']:.2f} "
            f"(95 %: {cost['slope_low']:.2f} to {cost['slope_high']:.2f})",
        )
    log_scale(a1, "x", "y")
    a1.set_xlabel("documents per rerank (log)")
    a1.set_ylabel("latency (ms, log)")
    a1.set_title("Cost against the document count (cached documents)")
    a1.legend(fontsize=8)
    if memory:
        a2 = axes[0][1]
        a2.plot(d["documents"], d["rss_peak_mb"], "-o")
        a2.set_xscale("log")
        a2.set_xlabel("documents per rerank (log)")
        a2.set_ylabel("server peak RSS (MB)")
        a2.set_title("Memory against the document count")
    return finish(fig)


def vertical_settings(tables: dict[str, pd.DataFrame]):
    """Latency (and throughput) against torch threads, qubits and shots: one panel per sweep measured; None
    when no sweep was measured."""
    measured = {k: v for k, v in tables.items() if len(v)}
    if not measured:
        return None
    fig, axes = plt.subplots(1, len(measured), figsize=(5 * len(measured), 3.8), squeeze=False)
    for ax, (name, t) in zip(axes[0], measured.items(), strict=True):
        interval_series(ax, t, "value", "p50_ms", "p50_", fmt="-o", label="p50")
        ax.plot(t["value"], t["p95_ms"], "--s", label="p95")
        ax.set_xlabel(name)
        ax.set_ylabel("latency (ms)")
        if name == "shots":
            ax.set_xscale("log")
        else:
            ax.set_xticks(sorted(t["value"].unique()))
        ax.set_ylim(bottom=0)
        right = ax.twinx()
        right.plot(t["value"], t["throughput_rps"], ":^", color="#2e7d32", label="throughput")
        right.set_ylabel("throughput (req/s)", color="#2e7d32")
        right.set_ylim(bottom=0)
        legend(ax, right, fontsize=8, loc="lower left")
        ax.set_title(f"Latency and throughput against {name}")
    return finish(fig)


def autoscale_timeline(auto: dict | None):
    """The autoscaling scenario (`ScalabilityReport.autoscale`): instances running against the rule's steady-state
    need and the offered rate (top), p95 latency per second of intended send time (bottom); None when it did
    not run or measured nothing."""
    if auto is None or auto["timeline"].empty:
        return None
    timeline, phases, latency = auto["timeline"], auto["phases"], auto["latency"]
    fig, (a1, a2) = plt.subplots(2, 1, figsize=(11, 6.5), sharex=True)
    a1.step(timeline["t_s"], timeline["instances"], where="post", color="#1565c0", lw=2, label="instances running")
    a1.plot(timeline["t_s"], timeline["need"], color="#2e7d32", ls="--", lw=1.5, label="steady-state need of the rule")
    a1.set_ylabel("instances")
    a1.yaxis.set_major_locator(MaxNLocator(integer=True))
    a1.set_ylim(
        0,
        max(
            float(timeline["instances"].max()),
            float(np.nanmax(timeline["need"].to_numpy(float)) if timeline["need"].notna().any() else 1),
        )
        + 1,
    )
    rate = a1.twinx()
    edges = np.r_[phases["start_s"].to_numpy(float), phases["end_s"].to_numpy(float)[-1:]]
    rate.stairs(phases["rate_rps"].to_numpy(float), edges, color="grey", ls=":", label="offered rate")
    rate.set_ylabel("offered rate (req/s)")
    rate.set_ylim(0, 1.3 * float(phases["rate_rps"].max()))
    legend(a1, rate, fontsize=8, loc="upper right")
    a1.set_title("HPA rule simulated on this machine (not a cluster): instances against the load", fontsize=10)
    if len(latency):
        a2.plot(latency["second"], latency["p95_ms"], "-o", ms=3, color="#c62828", label="p95 per second")
        log_scale(a2, "y")
        a2.legend(fontsize=8)
    a2.set_ylabel("p95 latency (ms, log)")
    a2.set_xlabel("time since the load started (s)")
    for ax in (a1, a2):
        for x in phases["start_s"].to_numpy(float)[1:]:
            ax.axvline(x, color="grey", lw=0.6)
    return finish(fig)
