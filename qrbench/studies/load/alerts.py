"""Prometheus during a load study (``monitor: {prometheus: true}``): starting it, and reading what it saw.

`prometheus_monitor` runs a real Prometheus for the length of the load, with the alert rules rendered from the
scenario's thresholds file and short windows, and writes alerts.parquet (its ALERTS record every ALERT_STEP_S
seconds), scrape.parquet (each /metrics scrape) and prometheus/ into the run folder. `alert_report(run_dir)`
reads only the folder: when each alert was pending and firing (seconds since the driver's t0, the records'
clock), and the scrape latency of the monitoring endpoint under load.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ...errors import QrbenchError, RunError
from ...load import load_run_info
from ...monitor.alerts import RuleWindows, load_thresholds, rules_yaml
from ...monitor.prometheus_server import AlertPoller, PrometheusServer, alert_intervals
from ...resources import resolve_params_file
from ..folder import RunFolder
from .params import LOAD_DIR, MonitorParams

__all__ = ["prometheus_monitor", "alert_report", "AlertReport", "t0_unix"]

ALERT_STEP_S = 0.5  # seconds between the samples of alerts.parquet


def t0_unix(run_dir: Path) -> float | None:
    """The driver's t0 (Unix seconds) from the run's load/run.json; None before the driver started."""
    try:
        return float(load_run_info(run_dir / LOAD_DIR)["t0_unix"])
    except (RunError, KeyError, TypeError, ValueError):
        return None


@contextlib.contextmanager
def prometheus_monitor(
    monitor: MonitorParams, thresholds_file: str, targets: Sequence[str], run_dir: str | Path
) -> Iterator[AlertPoller]:
    """Prometheus scraping `targets` (base URLs on loopback) and alerting on `thresholds_file`'s load limits for
    the body of the with-block; yields the running AlertPoller. The tables are written on exit, also when the
    body raised (what was seen up to then is kept)."""
    run_dir = Path(run_dir)
    windows = RuleWindows(
        rate_window_s=monitor.rate_window_s,
        warning_for_s=monitor.for_s,
        critical_for_s=monitor.for_s,
        evaluation_interval_s=monitor.scrape_interval_s,
    )
    path = resolve_params_file(thresholds_file)
    rules = rules_yaml(load_thresholds(path), windows, source=str(thresholds_file))
    with PrometheusServer(
        targets,
        run_dir=run_dir,
        rules=rules,
        scrape_interval_s=monitor.scrape_interval_s,
        evaluation_interval_s=monitor.scrape_interval_s,
    ) as server:
        start = time.time()
        try:
            with AlertPoller(server, period_s=ALERT_STEP_S, max_duration_s=48 * 3600.0) as poller:
                yield poller
        finally:
            _write_tables(
                server, poller, run_dir, start, time.time() + monitor.scrape_interval_s, monitor.scrape_interval_s
            )


def _write_tables(
    server: PrometheusServer, poller: AlertPoller, run_dir: Path, start: float, end: float, scrape_interval_s: float
) -> None:
    try:
        alerts = server.alert_series(start - 1.0, end, step_s=ALERT_STEP_S)
        scrape = server.scrape_durations(start, end, step_s=scrape_interval_s)
    except (QrbenchError, OSError, ValueError) as exc:  # Prometheus unreadable at the end: keep the poller's view
        alerts, scrape = poller.frame(), pd.DataFrame(columns=["t_unix", "instance", "seconds", "up"])
        RunFolder(run_dir).write_note("prometheus/read-error.txt", f"{type(exc).__name__}: {exc}\n")
    t0 = t0_unix(run_dir)
    for frame, name in ((alerts, "alerts"), (scrape, "scrape")):
        frame = frame.copy()
        frame["t_run"] = frame["t_unix"].astype(float) - t0 if t0 is not None else np.nan
        RunFolder(run_dir).write_frame(name, frame)


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertReport:
    """What Prometheus saw during a load run. Times are seconds since the driver's t0 (the records' clock)."""

    intervals: pd.DataFrame  # alert, severity, labels, state (pending|firing), start, end: the spans of each state
    onsets: pd.DataFrame  # per alert and severity, its first firing (else pending) series: see _onsets
    scrape: pd.DataFrame  # per instance: n scrapes, failed (no answer within the interval), p50/p95/p99/max ms
    alerts: pd.DataFrame  # alerts.parquet
    scrapes: pd.DataFrame  # scrape.parquet
    for_s: float  # the rules' windows (s)
    rate_window_s: float

    def onset_table(self) -> pd.DataFrame:
        """onsets for people: alert, severity, pending_s, firing_s, delay_s and `within for` as words."""
        out = self.onsets.drop(columns=["labels", "within_for"]).copy()
        out["within for"] = np.where(
            self.onsets["firing_s"].isna(), "never fired", np.where(self.onsets["within_for"], "yes", "no (later)")
        )
        return out

    def summary(self) -> dict:
        """The alerts' keys for the alerts section's data."""
        worst = self.scrape["p95_ms"].max() if len(self.scrape) else float("nan")
        return {
            "fired": self.firing(),
            "for_s": self.for_s,
            "rate_window_s": self.rate_window_s,
            "scrape_p95_ms": None if np.isnan(worst) else round(float(worst), 3),
            "failed_scrapes": int(self.scrape["failed"].sum()) if len(self.scrape) else 0,
        }

    def firing(self) -> list[str]:
        """The alerts that fired, as "Name (severity)"."""
        f = self.onsets[self.onsets["firing_s"].notna()]
        return [f"{a} ({s})" for a, s in zip(f["alert"], f["severity"], strict=True)]


def _onsets(intervals: pd.DataFrame, slack_s: float, for_s: float) -> pd.DataFrame:
    """Per alert and severity, its series (labels) that fired first, else the one pending first: pending_s (start
    of the pending span that led to firing), firing_s (NaN if it never fired), delay_s, and within_for (fired no
    later than its `for:` plus `slack_s`)."""
    columns = ["alert", "severity", "labels", "pending_s", "firing_s", "delay_s", "within_for"]
    rows = []
    for (alert, severity, labels), g in intervals.groupby(["alert", "severity", "labels"], sort=True):
        pending = g.loc[g["state"] == "pending", "start"].sort_values().to_numpy(dtype=float)
        firing = g.loc[g["state"] == "firing", "start"].sort_values().to_numpy(dtype=float)
        fired = firing[0] if firing.size else np.nan
        # The pending span that led to the first firing: the last one to start before it.
        led = pending[pending <= fired + 1e-9] if firing.size else pending
        began = led[-1] if firing.size and led.size else (pending[0] if pending.size else np.nan)
        rows.append(
            {
                "alert": alert,
                "severity": severity,
                "labels": labels,
                "pending_s": began,
                "firing_s": fired,
                "delay_s": fired - began,
                "within_for": bool(fired - began <= for_s + slack_s),
            }
        )
    out = pd.DataFrame(rows, columns=columns)
    if out.empty:
        return out
    out = out.sort_values(["firing_s", "pending_s"], na_position="last").groupby(["alert", "severity"]).head(1)
    return out.sort_values(["alert", "severity"], ignore_index=True)


def _scrape_table(scrapes: pd.DataFrame) -> pd.DataFrame:
    columns = ["instance", "n", "failed", "p50_ms", "p95_ms", "p99_ms", "max_ms"]
    rows = []
    for instance, g in scrapes.groupby("instance"):
        ms = 1000.0 * g["seconds"].dropna().to_numpy(dtype=float)
        q = np.percentile(ms, [50, 95, 99]) if ms.size else [np.nan] * 3
        rows.append(
            {
                "instance": instance,
                "n": len(g),
                "failed": int((g["up"] == 0).sum()),
                "p50_ms": q[0],
                "p95_ms": q[1],
                "p99_ms": q[2],
                "max_ms": float(ms.max()) if ms.size else np.nan,
            }
        )
    return pd.DataFrame(rows, columns=columns)


def alert_report(run_dir: str | Path) -> AlertReport | None:
    """The alerts and scrape latency of a load run folder, or None when it ran without Prometheus."""
    folder = RunFolder(run_dir)
    alerts = folder.read_frame("alerts", default=None)
    if alerts is None:
        return None
    m = MonitorParams(**(folder.facts.get("params", {}).get("monitor") or {}))
    scrapes = folder.read_frame("scrape")
    intervals = alert_intervals(alerts, step_s=ALERT_STEP_S, time_column="t_run")
    return AlertReport(
        intervals=intervals,
        onsets=_onsets(intervals, 2 * m.scrape_interval_s, m.for_s),
        scrape=_scrape_table(scrapes),
        alerts=alerts,
        scrapes=scrapes,
        for_s=m.for_s,
        rate_window_s=m.rate_window_s,
    )
