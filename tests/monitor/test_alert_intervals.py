"""Alert tables become spans (alert_intervals), and the live view's overlay draws them with the critical limits."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from qrbench.monitor.prometheus_server import alert_intervals
from qrbench.report.plots_alerts import overlay_alerts
from qrbench.report.plots_load import timeline


def _samples(alert: str, state: str, times) -> list[dict]:
    return [
        {"t_run": t, "alert": alert, "severity": "critical", "state": state, "labels": "job=qrbench", "value": 1.0}
        for t in times
    ]


FRAME = pd.DataFrame(
    _samples("QrbenchSheddingHigh", "pending", [1.0, 1.5, 2.0])
    + _samples("QrbenchSheddingHigh", "firing", [2.5, 3.0, 3.5, 6.0, 6.5])
    + _samples("QrbenchLatencyP95High", "pending", [4.0])
)


def test_samples_become_spans_split_at_gaps():
    spans = alert_intervals(FRAME, step_s=0.5, time_column="t_run")
    shed = spans[spans["alert"] == "QrbenchSheddingHigh"]
    assert shed[["state", "start", "end"]].values.tolist() == [
        ["pending", 1.0, 2.5],
        ["firing", 2.5, 4.0],
        ["firing", 6.0, 7.0],
    ]
    assert spans[spans["alert"] == "QrbenchLatencyP95High"][["start", "end"]].values.tolist() == [[4.0, 4.5]]
    assert alert_intervals(FRAME.iloc[:0], step_s=0.5).empty


def test_overlay_draws_the_critical_limits_and_the_alert_spans():
    n = 80
    t = np.arange(n) * 0.1
    records = pd.DataFrame(
        {
            "t_intended": t,
            "t_start": t,
            "t_end": t + 0.05,
            "latency_ms": np.full(n, 50.0),
            "ok": np.arange(n) % 4 != 0,
            "error": np.where(np.arange(n) % 4 == 0, "http_503", ""),
            "stage": "",
            "kind": "similarity",
        }
    )
    thresholds = {"p95_ms": {"target": 500, "threshold": 750}, "success_ratio": {"target": 0.99, "threshold": 0.95}}
    fig = timeline(records, thresholds=thresholds)
    try:
        overlay_alerts(fig, records, thresholds, alert_intervals(FRAME, step_s=0.5, time_column="t_run"))
        axes = {ax.get_ylabel(): ax for ax in fig.axes}
        latency, errors, share = axes["latency (ms)"], axes["errors/s"], axes["failed %"]
        assert 750 in [line.get_ydata()[0] for line in latency.get_lines()]
        assert {1.0, 5.0} <= {round(line.get_ydata()[0], 6) for line in share.get_lines()[1:]}
        assert len(errors.patches) >= 3 and len(latency.patches) >= 1  # spans (bars of errors/s too)
    finally:
        plt.close(fig)
