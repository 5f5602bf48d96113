"""The timeline's server CPU is a share of the machine the run was made on (run.json's cores), never of the
analysing machine (issue 9: CPU share from the recorded cores)."""

from __future__ import annotations

import os

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from qrbench.report.plots_load import timeline


def _records():
    t = np.arange(0.0, 10.0, 0.1)
    return pd.DataFrame(
        {
            "t_intended": t,
            "t_start": t,
            "t_end": t + 0.05,
            "latency_ms": 50.0,
            "ok": True,
            "error": "",
            "kind": "similarity",
            "method": "classical",
            "quantum_ms": np.nan,
            "fallback": False,
            "stage": "",
            "server_ms": 3.0,
        }
    )


def test_the_cpu_panel_divides_by_the_recorded_cores(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 1234)
    server = pd.DataFrame(
        {"t": np.arange(0.0, 10.0, 1.0), "t_unix": np.arange(0.0, 10.0, 1.0), "cpu_percent": 150.0, "rss_bytes": 5e8}
    )
    fig = timeline(_records(), server=server, t0_unix=0.0, cores=4)
    try:
        lines = [ln for ax in fig.axes for ln in ax.get_lines() if ln.get_label().startswith("server CPU")]
        (cpu,) = lines
        assert cpu.get_label() == "server CPU (% of 4 cores)"
        assert np.allclose(cpu.get_ydata(), 37.5)
    finally:
        plt.close(fig)
