"""The load study's figures and their window tables, on seeded synthetic records (checked against numpy)."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from qrbench.monitor import METRIC_COLUMNS, rates
from qrbench.report.plots_load import by_offered_rate, degradation, timeline, windowed
from qrbench.stats import thresholds_from_mapping

LOAD_THRESHOLDS = {
    "p50_ms": {"target": 200, "threshold": 300, "direction": "below", "unit": "ms"},
    "p95_ms": {"target": 500, "threshold": 750, "direction": "below", "unit": "ms"},
    "p99_ms": {"target": 1000, "threshold": 1500, "direction": "below", "unit": "ms"},
    "throughput_rps": {"target": 100, "threshold": 50, "direction": "above", "unit": "rps"},
    "success_ratio": {"target": 0.99, "threshold": 0.95, "direction": "above", "unit": "fraction"},
    "cpu_utilization": {"target": 0.7, "threshold": 0.9, "direction": "below", "unit": "fraction"},
    "memory_gb": {"target": 1.5, "threshold": 2.0, "direction": "below", "unit": "GB"},
    "quantum_time_ms": {"target": 85, "threshold": 100, "direction": "below", "unit": "ms"},
    "classical_fallback_rate": {"target": 0.01, "threshold": 0.05, "direction": "below", "unit": "fraction"},
    "cache_hit_rate": {"target": 0.2, "threshold": 0.1, "direction": "above", "unit": "fraction"},
}


def synthetic_records(n=3000, duration_s=12.0, seed=1):
    rng = np.random.default_rng(seed)
    t_intended = np.sort(rng.uniform(0, duration_s, n) ** 1.3 / duration_s**0.3)  # rising rate
    latency = rng.lognormal(np.log(80), 0.6, n)
    error = rng.choice(["", "", "", "", "", "", "", "timeout", "http_503", "dropped"], n)
    ok = error == ""
    latency[error == "dropped"] = np.nan
    t_end = np.where(error == "dropped", t_intended, t_intended + np.nan_to_num(latency) / 1000)
    return pd.DataFrame(
        {
            "t_intended": t_intended,
            "t_start": t_intended,
            "t_end": t_end,
            "latency_ms": latency,
            "ok": ok,
            "error": error,
            "status": np.where(ok, 200, 0),
            "kind": "similarity",
            "method": "classical",
            "stage": "",
        }
    )


@pytest.fixture(autouse=True)
def no_figure_leaks():
    before = set(plt.get_fignums())
    yield
    leaked = set(plt.get_fignums()) - before
    for number in leaked:
        plt.close(number)
    assert not leaked, "a test left figures open"


@pytest.mark.parametrize("window_s", [1.0, 0.5, 2.5])
def test_windowed_matches_numpy(window_s):
    df = synthetic_records()
    w = windowed(df, window_s)
    intended = np.floor(df["t_intended"] / window_s)
    ended = np.floor(df["t_end"] / window_s)
    assert len(w) == int(max(intended.max(), ended.max())) + 1
    assert np.allclose(w["t"], np.arange(len(w)) * window_s)
    ok = df["ok"].to_numpy()
    for k, row in w.iterrows():
        assert row["offered"] == pytest.approx((intended == k).sum() / window_s)
        in_window = ok & (ended == k).to_numpy()
        assert row["achieved"] == pytest.approx(in_window.sum() / window_s) and row["n_ok"] == in_window.sum()
        for q in (50, 95, 99):
            expected = np.percentile(df["latency_ms"][in_window], q) if in_window.any() else np.nan
            assert row[f"p{q}"] == pytest.approx(expected, nan_ok=True)
        for kind in ("timeout", "http_503", "dropped"):
            expected = ((df["error"] == kind) & (ended == k)).sum() / window_s
            assert row[f"errors_{kind}"] == pytest.approx(expected)
        assert row["errors"] == pytest.approx(((~ok) & (ended == k)).sum() / window_s)
    assert w["offered"].sum() * window_s == len(df)
    assert [c for c in w.columns if c.startswith("errors_")] == ["errors_timeout", "errors_http_503", "errors_dropped"]


def test_windowed_degenerate_inputs():
    empty = windowed(synthetic_records().iloc[:0])
    assert empty.empty and {"t", "offered", "achieved", "p50", "p95", "p99", "errors"} <= set(empty.columns)
    failed = synthetic_records(n=20).assign(ok=False, error="timeout")
    w = windowed(failed)
    assert w[["p50", "p95", "p99"]].isna().all().all() and (w["achieved"] == 0).all()
    with pytest.raises(ValueError, match="window_s"):
        windowed(failed, 0)


def test_by_offered_rate_buckets_requests_by_their_window_rate():
    df = synthetic_records()
    table = by_offered_rate(df, window_s=1.0, bins=4)
    assert table["requests"].sum() == len(df)
    counts = np.floor(df["t_intended"]).map(np.floor(df["t_intended"]).value_counts())
    edges = np.histogram_bin_edges(np.floor(df["t_intended"]).value_counts().to_numpy(), bins=4)
    for _, row in table.iterrows():
        inside = (counts >= row["offered_low"]) & (
            (counts < row["offered_high"]) if row["offered_high"] < edges[-1] else (counts <= row["offered_high"])
        )
        assert row["requests"] == inside.sum()
        assert row["error_rate"] == pytest.approx(1 - df["ok"][inside].mean())
        assert row["p95_ms"] == pytest.approx(np.percentile(df["latency_ms"][inside & df["ok"]], 95))
    assert table["offered_rps"].is_monotonic_increasing


def _server(t0_unix, seconds=12):
    t = np.arange(seconds, dtype=float)
    return pd.DataFrame(
        {
            "t": t,
            "t_unix": t0_unix + t,
            "cpu_percent": 50 + 5 * t,
            "rss_bytes": 6e8 + 1e7 * t,
            "threads": 10,
            "open_files": 3,
            "processes": 1,
            "machine_cpu_percent": 60.0,
        }
    )


def _metrics(t0_unix, seconds=12):
    t = np.arange(seconds, dtype=float)
    f = pd.DataFrame({c: np.zeros(seconds) for c in METRIC_COLUMNS})
    f["t"], f["t_unix"] = t, t0_unix + t
    f["requests_total"] = f["ok_total"] = 100 * t
    f["quantum_seconds_count"], f["quantum_seconds_sum"] = 100 * t, 0.05 * t
    f["fallbacks_total"], f["similarity_cache_hits"], f["similarity_cache_misses"] = t, 30 * t, 70 * t
    f["embedding_cache_hits"], f["embedding_cache_misses"] = 50 * t, 50 * t
    f["cpu_seconds"], f["rss_bytes"] = 0.6 * t, 7e8
    return f


@pytest.mark.parametrize(
    "thresholds",
    [LOAD_THRESHOLDS, thresholds_from_mapping(LOAD_THRESHOLDS), {"p50_ms": 200, "p95_ms": 500, "p99_ms": 1000}, None],
)
def test_timeline_has_a_panel_per_source(thresholds):
    df = synthetic_records()
    df.attrs["t0_unix"] = 1_700_000_000.0
    phases = [{"name": "ramp", "start_s": 0, "end_s": 4}, {"name": "steady", "start_s": 4, "end_s": 12}]
    fig = timeline(df, phases=phases, thresholds=thresholds)
    assert len(fig.axes) == 3
    plt.close(fig)
    fig = timeline(
        df,
        server=_server(df.attrs["t0_unix"] + 0.5),
        metrics=_metrics(df.attrs["t0_unix"]),
        phases=phases,
        thresholds=thresholds,
        window_s=2.0,
        title="run",
    )
    # five panels, two of them with a second y axis (RSS; fractions)
    assert len(fig.axes) == 7
    server_ax = fig.axes[3]
    cpu_line = server_ax.get_lines()[0]
    assert cpu_line.get_xdata()[0] == pytest.approx(0.5)  # placed by t_unix on the records' clock
    latency_ax = fig.axes[1]
    targets = sorted(line.get_ydata()[0] for line in latency_ax.get_lines() if "target" in str(line.get_label()))
    assert targets == ([200, 500, 1000] if thresholds else [])
    assert [t.get_text() for t in fig.axes[0].texts] == ["ramp", "steady"]
    plt.close(fig)


def test_timeline_accepts_rates_and_skips_empty_frames():
    df = synthetic_records()
    fig = timeline(df, server=pd.DataFrame(), metrics=rates(_metrics(0.0)), t0_unix=0.0)
    assert len(fig.axes) == 5  # rates, latency, errors, quantum (+ its fraction axis)
    plt.close(fig)
    fig = timeline(df.iloc[:0], metrics=_metrics(0.0).iloc[:1])
    assert len(fig.axes) == 3
    plt.close(fig)


def test_degradation_draws_the_failure_threshold():
    df = synthetic_records()
    fig = degradation(df, thresholds=thresholds_from_mapping(LOAD_THRESHOLDS), bins=5)
    errors_ax, p95_ax = fig.axes
    assert any(line.get_ydata()[0] == pytest.approx(5.0) for line in errors_ax.get_lines()[1:])
    assert len(errors_ax.get_lines()[0].get_xdata()) == len(by_offered_rate(df, bins=5))
    assert any(line.get_ydata()[0] == 500 for line in p95_ax.get_lines()[1:])
    plt.close(fig)
    fig = degradation(df, failure_rate=0.1)
    assert any(line.get_ydata()[0] == pytest.approx(10.0) for line in fig.axes[0].get_lines()[1:])
    plt.close(fig)
