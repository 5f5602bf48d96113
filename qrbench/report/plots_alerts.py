"""Alerts next to what they were about: latency and failed requests per window with the PRD's target and
critical limits, the spans when Prometheus held each alert pending (amber) and firing (red), and one lane per
alert. Used by the load report ("Alerts under load") and, as an overlay, by the live view.

intervals: a table with alert, severity, state (pending|firing), start, end, in seconds on the records' clock
(qrbench.monitor.prometheus_server.alert_intervals; the load study's AlertReport.intervals).
thresholds: as in plots_load (metric name to a Threshold, a {target, threshold} mapping or a number).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..stats import Threshold
from .plots_load import windowed

__all__ = ["alert_timeline", "shade_alerts", "overlay_alerts", "LATENCY_ALERTS", "FAILURE_ALERTS", "STATE_COLOURS"]

LATENCY_ALERTS = ("QrbenchLatencyP95High",)
FAILURE_ALERTS = ("QrbenchSheddingHigh", "QrbenchErrorRatioHigh")
STATE_COLOURS = {"pending": "#ffb300", "firing": "#d32f2f"}
_TARGET = {"color": "#2e7d32", "ls": "--", "lw": 1}
_CRITICAL = {"color": "#b00020", "ls": ":", "lw": 1.2}


def _limits(thresholds: Mapping[str, Any] | None, key: str) -> tuple[float, float] | None:
    if not thresholds or key not in thresholds:
        return None
    value = thresholds[key]
    if isinstance(value, Threshold):
        return value.target, value.threshold
    if isinstance(value, Mapping):
        return float(value["target"]), float(value.get("threshold", value["target"]))
    return float(value), float(value)


def _failure_limits(thresholds: Mapping[str, Any] | None) -> tuple[float, float] | None:
    """The success_ratio limits as the largest acceptable share of failed requests, in %."""
    limits = _limits(thresholds, "success_ratio")
    return None if limits is None else (100 * (1 - limits[0]), 100 * (1 - limits[1]))


def _draw_limits(ax, limits: tuple[float, float] | None, label: str, unit: str) -> None:
    if limits is None:
        return
    ax.axhline(limits[0], **_TARGET, label=f"{label} target {limits[0]:g} {unit}")
    if limits[1] != limits[0]:
        ax.axhline(limits[1], **_CRITICAL, label=f"{label} critical {limits[1]:g} {unit}")


def shade_alerts(ax, intervals: pd.DataFrame | None, alerts: Sequence[str]) -> int:
    """Shade the spans when any of `alerts` (any severity) was pending or firing on `ax`; firing drawn over
    pending. Returns the number of spans drawn."""
    if intervals is None or intervals.empty:
        return 0
    rows = intervals[intervals["alert"].isin(alerts)]
    drawn = 0
    for state in ("pending", "firing"):
        for i, (start, end) in enumerate(rows.loc[rows["state"] == state, ["start", "end"]].to_numpy()):
            ax.axvspan(
                start,
                end,
                color=STATE_COLOURS[state],
                alpha=0.18 if state == "pending" else 0.25,
                lw=0,
                label=f"alert {state}" if i == 0 else None,
            )
            drawn += 1
    return drawn


def _failure_share(w: pd.DataFrame) -> pd.Series:
    answered = w["achieved"] + w["errors"]
    return (100 * w["errors"] / answered).where(answered > 0)


def alert_timeline(
    records: pd.DataFrame,
    intervals: pd.DataFrame,
    thresholds: Mapping[str, Any] | None = None,
    *,
    window_s: float = 1.0,
    title: str = "",
):
    """Three panels on the records' clock: p95 latency of the successful requests per window with the p95 limits
    and the p95 alert's spans; the share of failed requests (and of 503 refusals) with the success-ratio limits
    and the shedding and error-ratio alerts' spans; one lane per alert and severity, pending and firing.
    None when there are no records."""
    if records.empty:
        return None
    w = windowed(records, window_s)
    half = window_s / 2
    fig, (lat, fail, lanes) = plt.subplots(
        3, 1, sharex=True, figsize=(11, 7.5), gridspec_kw={"height_ratios": [2.2, 2.2, 1.6]}
    )
    lat.plot(w["t"] + half, w["p95"], ".-", ms=3, lw=1, color="#ef6c00", label="p95 of successful requests")
    _draw_limits(lat, _limits(thresholds, "p95_ms"), "p95", "ms")
    shade_alerts(lat, intervals, LATENCY_ALERTS)
    if (w["p95"] > 0).any():
        lat.set_yscale("log")
    lat.set_ylabel("latency (ms)")
    lat.legend(fontsize=7, loc="upper left", ncol=4)

    fail.plot(w["t"] + half, _failure_share(w), ".-", ms=3, lw=1, color="#c62828", label="failed requests")
    if "errors_http_503" in w:
        answered = (w["achieved"] + w["errors"]).where(lambda a: a > 0)
        fail.plot(
            w["t"] + half,
            100 * w["errors_http_503"] / answered,
            lw=1,
            color="#7b1fa2",
            alpha=0.7,
            label="refused with 503 (shed)",
        )
    _draw_limits(fail, _failure_limits(thresholds), "failed share", "%")
    shade_alerts(fail, intervals, FAILURE_ALERTS)
    fail.set_ylabel("failed (% of answers)")
    fail.set_ylim(-2, 102)
    fail.legend(fontsize=7, loc="upper left", ncol=4)

    _draw_lanes(lanes, intervals)
    lanes.set_xlabel(f"seconds since the run started (windows of {window_s:g} s)")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _draw_lanes(ax, intervals: pd.DataFrame) -> None:
    keys = (
        sorted({(a, s) for a, s in zip(intervals["alert"], intervals["severity"], strict=True)})
        if not intervals.empty
        else []
    )
    for row, (alert, severity) in enumerate(keys):
        mine = intervals[(intervals["alert"] == alert) & (intervals["severity"] == severity)]
        for state in ("pending", "firing"):
            spans = mine.loc[mine["state"] == state, ["start", "end"]].to_numpy()
            ax.broken_barh([(a, b - a) for a, b in spans], (row - 0.35, 0.7), color=STATE_COLOURS[state])
    ax.set_yticks(np.arange(len(keys)), [f"{a.removeprefix('Qrbench')} ({s})" for a, s in keys], fontsize=7)
    ax.set_ylim(-0.7, max(len(keys), 1) - 0.3)
    ax.set_ylabel("alert")
    if not keys:
        ax.text(
            0.5,
            0.5,
            "no alert was pending or firing",
            transform=ax.transAxes,
            ha="center",
            va="center",
            color="#607d8b",
        )
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in STATE_COLOURS.values()]
    ax.legend(handles, list(STATE_COLOURS), fontsize=7, loc="upper right")


def overlay_alerts(
    fig,
    records: pd.DataFrame,
    thresholds: Mapping[str, Any] | None,
    intervals: pd.DataFrame | None = None,
    *,
    window_s: float = 1.0,
) -> None:
    """On a plots_load.timeline figure: the p95 critical limit on its latency panel (the target is drawn
    already), the share of failed requests with the success-ratio limits on a right axis of its errors panel,
    and, given `intervals`, the pending and firing spans of the latency and failure alerts on both. Lays the
    figure out again."""
    panels = {ax.get_ylabel(): ax for ax in fig.axes}
    latency, errors = panels.get("latency (ms)"), panels.get("errors/s")
    p95 = _limits(thresholds, "p95_ms")
    if latency is not None:
        if p95 is not None and p95[1] != p95[0]:
            latency.axhline(p95[1], **_CRITICAL, label=f"p95 critical {p95[1]:g}")
        shade_alerts(latency, intervals, LATENCY_ALERTS)
    if errors is not None:
        failure = _failure_limits(thresholds)
        if failure is not None and not records.empty:
            w = windowed(records, window_s)
            share = errors.twinx()
            share.plot(w["t"] + window_s / 2, _failure_share(w), lw=1, color="#c62828", alpha=0.8)
            _draw_limits(share, failure, "failed share", "%")
            share.set_ylabel("failed %")
            share.set_ylim(0, 100)
        shade_alerts(errors, intervals, FAILURE_ALERTS)
    fig.tight_layout()  # room for the right axis' label
