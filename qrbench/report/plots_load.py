"""Figures and tables of the load study: the run's timeline on one time axis, and degradation against the
offered rate. Times are seconds since the run's t0 (the records' clock); server and /metrics frames carry
t_unix and are placed on that clock with the run's t0_unix. Thresholds: metric name (thresholds.yaml `load`)
to a qrbench.stats.Threshold, a mapping with target/threshold, or a plain number (target = threshold).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.transforms import blended_transform_factory

from ..load.records import ERROR_KINDS
from ..monitor.metrics_sampler import rates
from ..stats import Threshold
from .format import StakeholderTable, interval, number, quantity
from .plots import finish, legend, panel_note, rows_table, stacked_bars

__all__ = [
    "windowed",
    "by_offered_rate",
    "timeline",
    "degradation",
    "latency_table",
    "phase_table",
    "littles_law_table",
    "limits",
    "draw_limits",
    "LIMIT_LINE",
]

PERCENTILES = (50, 95, 99)
_QS = tuple(f"p{q}" for q in PERCENTILES)
_P_COLOURS = {50: "#1565c0", 95: "#ef6c00", 99: "#6a1b9a"}
_KIND_COLOURS = dict(zip(ERROR_KINDS, plt.get_cmap("tab10").colors, strict=False))
_TARGET = {"color": "#2e7d32", "ls": "--", "lw": 1}
LIMIT_LINE = {"color": "#b00020", "ls": ":", "lw": 1.2}


def _percentile_text(row: Mapping[str, Any], q: str) -> str:
    """ "412 ms [380, 450]", or "at least 15,000 ms (failures)" when the percentile falls on failures."""
    value = row.get(f"{q}_ms")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return number(value)
    if row.get(f"{q}_at_least"):
        return f"at least {quantity(value, 'ms')} (failures)"
    low, high = row.get(f"{q}_low"), row.get(f"{q}_high")
    if not all(isinstance(x, int | float) and math.isfinite(x) for x in (low, high)):
        why = row.get(f"{q}_why") or "too few samples to bound it"
        return f"{quantity(value, 'ms')} ({why})"
    return f"{quantity(value, 'ms')} {interval(low, high)}"


def _failed_text(row: Mapping[str, Any]) -> str:
    """ "12 (0.5 %)": failed requests and their share, shown beside the percentiles that count them."""
    share = row.get("failed_share")
    if not isinstance(share, int | float) or not math.isfinite(share):
        return number(row.get("failed"))
    return f"{number(row.get('failed'))} ({share:.1%})"


def latency_table(latency: pd.DataFrame) -> StakeholderTable:
    """The per-kind latency frame for people: p50/p95/p99 counting failures with their intervals and the
    failure share, and the success-only p95/p99 beside them."""
    rows = [
        {
            "kind": r["kind"],
            "requests": r["requests"],
            "failed": _failed_text(r),
            **{q: _percentile_text(r, q) for q in _QS},
            "p95_ok": quantity(r.get("p95_success_only_ms"), "ms"),
            "p99_ok": quantity(r.get("p99_success_only_ms"), "ms"),
        }
        for r in latency.to_dict(orient="records")
    ]
    headers = {"kind": "Request kind", "requests": "requests", "failed": "failed"}
    headers |= {q: f"{q}, failures counted" for q in _QS}
    return rows_table(rows, headers | {"p95_ok": "p95, successes only", "p99_ok": "p99, successes only"})


def phase_table(phases: pd.DataFrame) -> StakeholderTable:
    """The per-phase frame for people: length, offered level, sent and achieved rates, errors, p50/p95/p99
    counting failures with intervals."""
    rows = []
    for r in phases.to_dict(orient="records"):
        unit = {"rps": "req/s", "users": "users"}.get(r.get("offered_unit") or "", r.get("offered_unit") or "")
        rows.append(
            {
                **r,
                "offered": quantity(r.get("offered"), unit),
                **{q: _percentile_text(r, q) for q in _QS},
            }
        )
    headers = {
        "phase": "Phase",
        "seconds": "length (s)",
        "offered": "offered",
        "requests": "requests",
        "sent_rps": "sent (req/s)",
        "achieved_rps": "answered OK (req/s)",
        "error_rate": "errors (%)",
    }
    return rows_table(rows, headers | {q: q for q in _QS})


def littles_law_table(littles: pd.DataFrame) -> StakeholderTable:
    """Little's law per phase: predicted concurrency against the observed one, the difference, flagged > 10 %."""
    rows = [
        {
            **r,
            "predicted": f"{number(r['predicted'])} {interval(r['predicted_low'], r['predicted_high'])}",
            "difference": f"{100 * r['difference']:+.0f} %"
            if math.isfinite(r["difference"])
            else number(r["difference"]),
            "flagged": "YES (> 10 %)" if r["flagged"] else "no",
        }
        for r in littles.to_dict(orient="records")
    ]
    headers = {
        "phase": "Phase",
        "model": "Little's law",
        "compared_with": "compared with",
        "predicted": "predicted (requests)",
        "observed": "observed",
        "difference": "difference",
        "flagged": "flagged",
    }
    return rows_table(rows, headers)


def _check_window(window_s: object) -> None:
    if isinstance(window_s, bool) or not (
        isinstance(window_s, int | float) and math.isfinite(window_s) and window_s > 0
    ):
        raise ValueError(f"window_s must be a positive number of seconds, not {window_s!r}.")


def windowed(records: pd.DataFrame, window_s: float = 1.0) -> pd.DataFrame:
    """Per window of `window_s` seconds (t = window start, s since t0), from t = 0 to the last record:

    offered: requests per second by intended send time (dropped ones included); achieved: successful
    answers per second by end time; n_ok: those answers; p50, p95, p99: latency (ms, numpy's linear
    percentile) of the successful answers ending in the window, NaN when none; errors: failed requests
    per second by end time, and errors_<kind> per error kind present.
    """
    _check_window(window_s)
    base = ["t", "offered", "achieved", "n_ok", *_QS, "errors"]
    if records.empty:
        return pd.DataFrame(columns=base, dtype=float)
    intended = np.floor(records["t_intended"].to_numpy() / window_s).astype(np.int64)
    ended = np.floor(records["t_end"].fillna(records["t_intended"]).to_numpy() / window_s).astype(np.int64)
    index = pd.RangeIndex(min(0, intended.min(), ended.min()), max(intended.max(), ended.max()) + 1)
    out = pd.DataFrame(index=index)
    out["t"] = index * window_s
    out["offered"] = pd.Series(intended).value_counts().reindex(index, fill_value=0) / window_s
    ok = records["ok"].to_numpy(dtype=bool)
    ok_windows = pd.Series(ended[ok])
    out["achieved"] = ok_windows.value_counts().reindex(index, fill_value=0) / window_s
    out["n_ok"] = ok_windows.value_counts().reindex(index, fill_value=0)
    latency = pd.Series(records["latency_ms"].to_numpy()[ok]).groupby(ok_windows.to_numpy())
    quantiles = latency.quantile([q / 100 for q in PERCENTILES]).unstack() if ok.any() else None
    for q in PERCENTILES:
        out[f"p{q}"] = quantiles[q / 100].reindex(index) if quantiles is not None else np.nan
    kinds = records["error"].where(records["error"] != "", "other").to_numpy()[~ok]
    failed = pd.DataFrame({"w": ended[~ok], "kind": kinds})
    out["errors"] = failed["w"].value_counts().reindex(index, fill_value=0) / window_s
    present = [k for k in ERROR_KINDS if k in set(kinds)] + sorted(set(kinds) - set(ERROR_KINDS))
    for kind in present:
        per = failed.loc[failed["kind"] == kind, "w"].value_counts()
        out[f"errors_{kind}"] = per.reindex(index, fill_value=0) / window_s
    return out.reset_index(drop=True).astype(float)


def by_offered_rate(records: pd.DataFrame, *, window_s: float = 1.0, bins: int | Sequence[float] = 10) -> pd.DataFrame:
    """Requests grouped by the offered rate of their window (by intended send time), in `bins` rate buckets.

    Per bucket: offered_low, offered_high (requests/s), offered_rps (mean offered rate of its windows),
    windows, requests, error_rate (failed / all), p95_ms (successful requests; NaN when none). Empty
    buckets are left out.
    """
    _check_window(window_s)
    columns = ["offered_low", "offered_high", "offered_rps", "windows", "requests", "error_rate", "p95_ms"]
    if records.empty:
        return pd.DataFrame(columns=columns, dtype=float)
    window = np.floor(records["t_intended"].to_numpy() / window_s).astype(np.int64)
    per_window = pd.Series(window).value_counts()
    rate = per_window.reindex(window).to_numpy() / window_s  # each request's window's offered rate
    edges = np.histogram_bin_edges(per_window.to_numpy() / window_s, bins=bins)
    bucket = np.clip(np.searchsorted(edges, rate, side="right") - 1, 0, len(edges) - 2)
    ok = records["ok"].to_numpy(dtype=bool)
    latency = records["latency_ms"].to_numpy()
    rows = []
    for b in np.unique(bucket):
        inside = bucket == b
        good = latency[inside & ok]
        rows.append(
            {
                "offered_low": edges[b],
                "offered_high": edges[b + 1],
                "offered_rps": float(np.mean(np.unique(rate[inside]))),
                "windows": len(np.unique(window[inside])),
                "requests": int(inside.sum()),
                "error_rate": float(1 - ok[inside].mean()),
                "p95_ms": float(np.percentile(good, 95)) if good.size else np.nan,
            }
        )
    return pd.DataFrame(rows, columns=columns)


def limits(thresholds: Mapping[str, Any] | None, key: str) -> tuple[float, float] | None:
    """(target, threshold) of `key`, or None when it is not given."""
    if not thresholds or key not in thresholds:
        return None
    value = thresholds[key]
    if isinstance(value, Threshold):
        return value.target, value.threshold
    if isinstance(value, Mapping):
        return float(value["target"]), float(value.get("threshold", value["target"]))
    return float(value), float(value)


def draw_limits(
    ax, pair: tuple[float, float] | None, label: str, *, scale=1.0, colour=None, unit="", limit_word="limit"
) -> None:
    """A target line (and the limit's, when it differs) labelled "<label> target <value>[ <unit>]"."""
    if pair is None:
        return
    target, limit = pair[0] * scale, pair[1] * scale
    suffix = f" {unit}" if unit else ""
    style = {**_TARGET, "color": colour} if colour else _TARGET
    ax.axhline(target, **style, label=f"{label} target {target:g}{suffix}")
    if limit != target:
        ax.axhline(limit, **LIMIT_LINE, label=f"{label} {limit_word} {limit:g}{suffix}")


def _relative_time(frame: pd.DataFrame, t0_unix: float | None) -> pd.Series:
    if t0_unix is not None and "t_unix" in frame:
        return frame["t_unix"] - t0_unix
    return frame["t"]


def _shade_phases(axes, phases: Sequence[Mapping[str, Any]] | None) -> None:
    top = axes[0]
    for i, phase in enumerate(phases or ()):
        for ax in axes:
            ax.axvspan(phase["start_s"], phase["end_s"], color="#607d8b", alpha=0.06 if i % 2 else 0.13, lw=0)
        top.text(
            phase["start_s"],
            1.01,
            str(phase["name"]),
            transform=blended_transform_factory(top.transData, top.transAxes),
            fontsize=8,
            va="bottom",
            ha="left",
            clip_on=False,
        )


def _legend(ax, **kw) -> None:
    legend(ax, **{"fontsize": 7, "loc": "upper left", "ncol": 3, **kw})


def _panel_rates(ax, w: pd.DataFrame, window_s: float, thresholds) -> None:
    t = w["t"] + window_s / 2
    ax.step(t, w["offered"], where="mid", color="#90a4ae", label="offered (intended sends)")
    ax.step(t, w["achieved"], where="mid", color="#1565c0", label="achieved (successful answers)")
    draw_limits(ax, limits(thresholds, "throughput_rps"), "throughput")
    ax.set_ylabel("requests/s")
    ax.set_ylim(bottom=0)
    _legend(ax)


def _panel_latency(ax, w: pd.DataFrame, window_s: float, thresholds) -> None:
    for q in PERCENTILES:
        ax.plot(w["t"] + window_s / 2, w[f"p{q}"], ".-", ms=3, lw=1, color=_P_COLOURS[q], label=f"p{q}")
        target = limits(thresholds, f"p{q}_ms")
        if target:
            ax.axhline(target[0], color=_P_COLOURS[q], ls="--", lw=0.8, label=f"p{q} target {target[0]:g}")
    if w[list(_QS)].gt(0).any().any():
        ax.set_yscale("log")
    ax.set_ylabel("latency (ms)")
    _legend(ax, ncol=6)


def _panel_errors(ax, w: pd.DataFrame, window_s: float) -> None:
    kinds = {c.removeprefix("errors_"): w[c] for c in w.columns if c.startswith("errors_")}
    colours = {kind: _KIND_COLOURS.get(kind, "#9e9e9e") for kind in kinds}
    stacked_bars(ax, w["t"], kinds, colours=colours, width=window_s, align="edge")
    if not kinds:
        panel_note(ax, "no errors", color="#607d8b")
    ax.set_ylabel("errors/s")
    ax.set_ylim(bottom=0)
    _legend(ax, ncol=5)


def _panel_server(ax, server: pd.DataFrame, t: pd.Series, thresholds, cores: int | None) -> None:
    # The share of the machine the run was made on (run.json's cores), never the analysing machine's; without
    # cpu_percent (a /metrics with a memory gauge and no CPU counter) only the memory is drawn.
    if "cpu_percent" in server and cores:
        ax.plot(t, server["cpu_percent"] / cores, color="#c62828", label=f"server CPU (% of {cores} cores)")
    elif "cpu_percent" in server:
        ax.plot(t, server["cpu_percent"], color="#c62828", label="server CPU (% of one core; cores not recorded)")
    if "machine_cpu_percent" in server:
        ax.plot(t, server["machine_cpu_percent"], color="#c62828", alpha=0.35, lw=0.8, label="machine CPU %")
    if cores:
        draw_limits(ax, limits(thresholds, "cpu_utilization"), "CPU", scale=100)
    ax.set_ylabel("CPU %")
    ax.set_ylim(0, 105 if cores else None)
    rss = ax.twinx()
    rss.plot(t, server["rss_bytes"] / 1e9, color="#00695c", label="server RSS (GB)")
    draw_limits(rss, limits(thresholds, "memory_gb"), "RSS", colour="#00695c")
    rss.set_ylabel("RSS (GB)")
    rss.set_ylim(bottom=0)
    _legend(ax)
    _legend(rss, loc="upper right")


def _panel_quantum(ax, r: pd.DataFrame, t: pd.Series, thresholds) -> None:
    ax.plot(t, r["quantum_ms_mean"], ".-", ms=3, color="#4527a0", label="mean quantum time (ms)")
    draw_limits(ax, limits(thresholds, "quantum_time_ms"), "quantum ms", colour="#4527a0")
    ax.set_ylabel("quantum (ms)")
    ax.set_ylim(bottom=0)
    share = ax.twinx()
    share.plot(t, r["fallback_rate"], color="#d84315", label="classical fallback rate")
    share.plot(t, r["similarity_cache_hit_rate"], color="#00838f", label="similarity cache hit rate")
    share.plot(t, r["embedding_cache_hit_rate"], color="#00838f", ls="-.", label="embedding cache hit rate")
    draw_limits(share, limits(thresholds, "classical_fallback_rate"), "fallback", colour="#d84315")
    draw_limits(share, limits(thresholds, "cache_hit_rate"), "cache hit", colour="#00838f")
    share.set_ylabel("fraction")
    share.set_ylim(-0.02, 1.02)
    _legend(ax)
    _legend(share, loc="upper right", ncol=2)


def timeline(
    records: pd.DataFrame,
    server: pd.DataFrame | None = None,
    metrics: pd.DataFrame | None = None,
    phases: Sequence[Mapping[str, Any]] | None = None,
    thresholds: Mapping[str, Any] | None = None,
    window_s: float = 1.0,
    *,
    t0_unix: float | None = None,
    title: str = "",
    cores: int | None = None,
):
    """The run on one time axis (s since t0), one panel each: offered vs achieved rate; latency p50/p95/p99
    per window with the PRD targets; errors per second by kind (stacked); server CPU and RSS (if `server`, a
    ProcessSampler frame); mean quantum time, fallback and cache hit rates (if `metrics`, a MetricsSampler
    frame or its rates()). phases: [{name, start_s, end_s}], shaded. t0_unix places the server and metrics
    frames on the records' clock (default: records.attrs["t0_unix"], else their own column t). cores: the run's
    machine's logical cores, for the server CPU as a share of the machine; None plots it in percent of one core."""
    t0_unix = t0_unix if t0_unix is not None else records.attrs.get("t0_unix")
    w = windowed(records, window_s)
    r = None
    if metrics is not None and len(metrics):
        r = metrics if "quantum_ms_mean" in metrics else rates(metrics)
    panels = [
        lambda ax: _panel_rates(ax, w, window_s, thresholds),
        lambda ax: _panel_latency(ax, w, window_s, thresholds),
        lambda ax: _panel_errors(ax, w, window_s),
    ]
    if server is not None and len(server):
        panels.append(lambda ax: _panel_server(ax, server, _relative_time(server, t0_unix), thresholds, cores))
    if r is not None and len(r):
        panels.append(lambda ax: _panel_quantum(ax, r, _relative_time(r, t0_unix), thresholds))
    fig, axes = plt.subplots(len(panels), 1, sharex=True, figsize=(11, 0.8 + 2.2 * len(panels)), squeeze=False)
    axes = list(axes[:, 0])
    try:
        for ax, draw in zip(axes, panels, strict=True):
            draw(ax)
            ax.grid(alpha=0.3)
        _shade_phases(axes, phases)
    except BaseException:
        plt.close(fig)  # a figure that failed to draw must not stay registered with pyplot
        raise
    axes[-1].set_xlabel(f"seconds since the run started (windows of {window_s:g} s)")
    return finish(fig, title)


def degradation(
    records: pd.DataFrame,
    *,
    thresholds: Mapping[str, Any] | None = None,
    failure_rate: float | None = None,
    window_s: float = 1.0,
    bins: int | Sequence[float] = 10,
):
    """Error rate and p95 latency against the offered rate (buckets of windows, see by_offered_rate).
    failure_rate: the acceptable share of failed requests (default: 1 - thresholds' success_ratio threshold,
    else 0.05, the stress scenario's limit)."""
    if failure_rate is None:
        success = limits(thresholds, "success_ratio")
        failure_rate = 1 - success[1] if success else 0.05
    table = by_offered_rate(records, window_s=window_s, bins=bins)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
    a1.plot(table["offered_rps"], 100 * table["error_rate"], "-o", color="#c62828", label="error rate")
    a1.axhline(100 * failure_rate, **LIMIT_LINE, label=f"failure threshold {100 * failure_rate:g} %")
    a1.set_ylabel("failed requests (%)")
    a1.set_ylim(bottom=0)
    a2.plot(table["offered_rps"], table["p95_ms"], "-o", color=_P_COLOURS[95], label="p95 of successful requests")
    draw_limits(a2, limits(thresholds, "p95_ms"), "p95")
    a2.set_ylabel("latency p95 (ms)")
    a2.set_ylim(bottom=0)
    for ax in (a1, a2):
        ax.set_xlabel(f"offered rate (requests/s, per {window_s:g} s window)")
        ax.grid(alpha=0.3)
        _legend(ax, ncol=1)
    return finish(fig, "Degradation with the offered load")
