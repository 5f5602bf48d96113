"""Prometheus during a load study (`monitor: {prometheus: true}`): the run folder gets what a real Prometheus saw,
and the issue's criterion holds: a shortened copy of the load_stress smoke (more users than the service computes
at once) takes the p95 and shedding alerts from pending to firing within their `for:`, and a light load fires
none.

The rules are the production code with windows of seconds (rate over 8 s, `for:` 2 s). The p95 limits are low
(2 ms target, 3 ms critical, as in tests/monitor/test_prometheus_server.py): every computed request takes longer,
on any machine, so whether the alert fires depends on the rules and the plumbing, not on this machine's speed.
The service computes one request at a time and three users send, pausing 0.5 s between requests: when the
computations are quick, one in five or more requests still finds the slot busy (shedding past 5 %); when they
are slow (a busy machine), the two users refused meanwhile send only about 4 requests/s, so the computed ones
stay more than 5 % of the latency histogram, whose p95 (which also holds the fast 503s) is then a computed
request's, as the alert means it.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest

from qrbench.errors import ParameterError
from qrbench.load import ThinkTime, load_records
from qrbench.params import build
from qrbench.report.plots_alerts import alert_timeline
from qrbench.studies import get_study
from qrbench.studies.load import LoadParams, run_load_study
from qrbench.studies.load.alerts import alert_report
from qrbench.studies.load.params import MonitorParams

ROOT = Path(__file__).parents[2]
needs_prometheus = pytest.mark.skipif(
    shutil.which("prometheus") is None, reason="prometheus is missing (apt-get install prometheus)"
)
MONITOR = MonitorParams(prometheus=True, rate_window_s=8, for_s=2, scrape_interval_s=1)


def _thresholds(tmp_path: Path, p95_ms: tuple[float, float]) -> str:
    path = tmp_path / "thresholds.yaml"
    path.write_text(
        "load:\n"
        f"  p95_ms: {{target: {p95_ms[0]}, threshold: {p95_ms[1]}, direction: below, unit: ms, "
        "statistic: p95}\n"
        "  success_ratio: {target: 0.99, threshold: 0.95, direction: above, unit: fraction, "
        "statistic: fraction}\n"
    )
    return str(path)


def _stress(**changes) -> LoadParams:
    base = get_study("load").load_params(ROOT / "parameters" / "smoke" / "load_stress.yaml")
    return dataclasses.replace(
        base,
        **{
            "users": 3,
            "think_time": ThinkTime(distribution="constant", mean_s=0.5),
            "ramp_up_s": 0.0,
            "warmup_s": 0.0,
            "pool_size": 60,
            "monitor": MONITOR,
            **changes,
        },
    )


def test_monitor_keys_are_validated_with_clear_errors():
    base = {"model": "closed", "users": 1, "duration_s": 5}
    with pytest.raises(ParameterError, match="monitor.rate_window_s .* at least four scrape intervals"):
        build(LoadParams, {**base, "monitor": {"prometheus": True, "rate_window_s": 2}}, where="t")
    with pytest.raises(ParameterError, match="monitor.for_s"):
        build(LoadParams, {**base, "monitor": {"prometheus": True, "for_s": -1}}, where="t")
    with pytest.raises(ParameterError, match="unknown key.*prometheus"):
        build(LoadParams, {**base, "monitor": {"promethus": True}}, where="t")
    with pytest.raises(ParameterError, match="engine"):
        build(LoadParams, {**base, "engine": "k6"}, where="t")
    smoke = get_study("load").load_params(ROOT / "parameters" / "smoke" / "load_stress.yaml")
    assert smoke.monitor.prometheus and smoke.monitor.for_s < 10  # the smoke turns it on, with short windows
    assert alert_report(ROOT) is None  # a folder without alerts.parquet: Prometheus was off


@needs_prometheus
def test_stress_fires_the_p95_and_shedding_alerts_within_their_for(make_service, tmp_path):
    url, _ = make_service(max_concurrency=1, compute_threads=1)
    params = _stress(duration_s=14.0, thresholds_file=_thresholds(tmp_path, (2.0, 3.0)))
    run_dir = run_load_study(params, tmp_path / "stress", url=url, progress=False)
    for name in ("alerts.parquet", "scrape.parquet", "prometheus/rules.yml", "prometheus/prometheus.yml"):
        assert (run_dir / name).is_file(), name
    report = alert_report(run_dir)
    onsets = report.onsets.set_index(["alert", "severity"])
    for key in (("QrbenchLatencyP95High", "critical"), ("QrbenchSheddingHigh", "critical")):
        assert key in onsets.index, (key, report.intervals)
        row = onsets.loc[key]
        assert row["pending_s"] < row["firing_s"] and row["within_for"], (key, row)
        assert 0 <= row["firing_s"] <= params.duration_s + MONITOR.rate_window_s  # on the records' clock
    firing = report.intervals[report.intervals["state"] == "firing"]
    assert (firing["end"] > firing["start"]).all()
    assert "QrbenchSheddingHigh (critical)" in report.summary()["fired"]
    scrape = report.scrape.iloc[0]
    assert scrape["n"] >= 5 and scrape["p50_ms"] > 0 and scrape["p95_ms"] >= scrape["p50_ms"]
    fig = alert_timeline(load_records(run_dir / "load"), report.intervals, {"p95_ms": 3.0})
    try:
        assert all(ax.get_ylabel() for ax in fig.axes) and fig.axes[-1].get_xlabel()
    finally:
        plt.close(fig)


@needs_prometheus
def test_light_load_within_limits_fires_nothing(make_service, tmp_path):
    url, _ = make_service()
    params = _stress(
        users=1,
        think_time=ThinkTime(distribution="constant", mean_s=0.2),
        duration_s=12.0,
        thresholds_file=_thresholds(tmp_path, (10_000.0, 20_000.0)),
    )
    run_dir = run_load_study(params, tmp_path / "light", url=url, progress=False)
    report = alert_report(run_dir)
    assert load_records(run_dir / "load")["ok"].all()
    assert report.alerts.empty and report.intervals.empty and report.firing() == []
    assert len(report.scrapes) >= 5 and (pd.to_numeric(report.scrapes["up"]) == 1).all()
    assert report.scrape["n"].sum() > 0 and report.scrape["failed"].sum() == 0  # /metrics answered every scrape
    assert report.summary()["fired"] == []
