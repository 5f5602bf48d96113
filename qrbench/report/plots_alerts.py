"""Alerts next to what they were about: latency and failed requests per window with the PRD's target and
critical limits, the spans when Prometheus held each alert pending (amber) and firing (red), and one lane per
alert. Used by the load report ("Alerts under load") and, as an overlay, by the live view.

intervals: alert, severity, state (pending|firing), start, end, in seconds on the records' clock
(qrbench.monitor.prometheus_server.alert_intervals). thresholds: as in plots_load.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from .plots import finish, panel_note
from .plots_load import LIMIT_LINE, draw_limits, limits, windowed

__all__ = ["alert_timeline", "overlay_alerts"]

LATENCY_ALERTS = ("QrbenchLatencyP95High",)
FAILURE_ALERTS = ("QrbenchSheddingHigh", "QrbenchErrorRatioHigh")
STATE_COLOURS = {"pending": "#ffb300", "firing": "#d32f2f"}


def _failure_limits(thresholds: Mapping[str, Any] | None) -> tuple[float, float] | None:
    """The success_ratio limits as the largest acceptable share of failed requests, in %."""
    success = limits(thresholds, "success_ratio")
    return None if success is None else (100 * (1 - success[0]), 100 * (1 - success[1]))


def _shade_alerts(ax, intervals: pd.DataFrame | None, alerts: Sequence[str]) -> None:
    """Shade the spans when any of `alerts` (any severity) was pending or firing; firing drawn over pending."""
    if intervals is None or intervals.empty:
        return
    rows = intervals[intervals["alert"].isin(alerts)]
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


def _share_of_answers(w: pd.DataFrame, column: str) -> pd.Series:
    """A per-window count as a share (%) of the requests answered in the window (NaN when none)."""
    answered = w["achieved"] + w["errors"]
    return (100 * w[column] / answered).where(answered > 0)


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
    t = w["t"] + window_s / 2
    fig, (lat, fail, lanes) = plt.subplots(
        3, 1, sharex=True, figsize=(11, 7.5), gridspec_kw={"height_ratios": [2.2, 2.2, 1.6]}
    )
    lat.plot(t, w["p95"], ".-", ms=3, lw=1, color="#ef6c00", label="p95 of successful requests")
    draw_limits(lat, limits(thresholds, "p95_ms"), "p95", unit="ms", limit_word="critical")
    _shade_alerts(lat, intervals, LATENCY_ALERTS)
    if (w["p95"] > 0).any():
        lat.set_yscale("log")
    lat.set_ylabel("latency (ms)")
    lat.legend(fontsize=7, loc="upper left", ncol=4)

    fail.plot(t, _share_of_answers(w, "errors"), ".-", ms=3, lw=1, color="#c62828", label="failed requests")
    if "errors_http_503" in w:
        shed = _share_of_answers(w, "errors_http_503")
        fail.plot(t, shed, lw=1, color="#7b1fa2", alpha=0.7, label="refused with 503 (shed)")
    draw_limits(fail, _failure_limits(thresholds), "failed share", unit="%", limit_word="critical")
    _shade_alerts(fail, intervals, FAILURE_ALERTS)
    fail.set_ylabel("failed (% of answers)")
    fail.set_ylim(-2, 102)
    fail.legend(fontsize=7, loc="upper left", ncol=4)

    _draw_lanes(lanes, intervals)
    lanes.set_xlabel(f"seconds since the run started (windows of {window_s:g} s)")
    return finish(fig, title)


def _draw_lanes(ax, intervals: pd.DataFrame) -> None:
    keys = sorted(set(zip(intervals["alert"], intervals["severity"], strict=True)))
    for row, (alert, severity) in enumerate(keys):
        mine = intervals[(intervals["alert"] == alert) & (intervals["severity"] == severity)]
        for state in ("pending", "firing"):
            spans = mine.loc[mine["state"] == state, ["start", "end"]].to_numpy()
            ax.broken_barh([(a, b - a) for a, b in spans], (row - 0.35, 0.7), color=STATE_COLOURS[state])
    ax.set_yticks(np.arange(len(keys)), [f"{a.removeprefix('Qrbench')} ({s})" for a, s in keys], fontsize=7)
    ax.set_ylim(-0.7, max(len(keys), 1) - 0.3)
    ax.set_ylabel("alert")
    if not keys:
        panel_note(ax, "no alert was pending or firing", color="#607d8b")
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
    p95 = limits(thresholds, "p95_ms")
    if latency is not None:
        if p95 is not None and p95[1] != p95[0]:
            latency.axhline(p95[1], **LIMIT_LINE, label=f"p95 critical {p95[1]:g}")
        _shade_alerts(latency, intervals, LATENCY_ALERTS)
    if errors is not None:
        failure = _failure_limits(thresholds)
        if failure is not None and not records.empty:
            w = windowed(records, window_s)
            share = errors.twinx()
            share.plot(w["t"] + window_s / 2, _share_of_answers(w, "errors"), lw=1, color="#c62828", alpha=0.8)
            draw_limits(share, failure, "failed share", unit="%", limit_word="critical")
            share.set_ylabel("failed %")
            share.set_ylim(0, 100)
        _shade_alerts(errors, intervals, FAILURE_ALERTS)
    fig.tight_layout()  # room for the right axis' label
