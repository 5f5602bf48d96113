"""Figures: labelled axes with units, nothing drawn when nothing was measured, no fit past the data."""

from __future__ import annotations

import math
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from qrbench.report import plots, plots_bottlenecks, plots_scalability  # noqa: E402
from qrbench.report.browser import figure_problems  # noqa: E402
from qrbench.stats import fit_amdahl, fit_usl  # noqa: E402
from qrbench.studies.scalability.sections import SECTIONS  # noqa: E402

EMPTY = pd.DataFrame()


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _usl_points(levels):
    rng = np.random.default_rng(7)
    n = np.repeat(levels, 4).astype(float)
    x = 20 * n / (1 + 0.1 * (n - 1) + 0.01 * n * (n - 1)) * rng.normal(1, 0.02, n.size)
    points = pd.DataFrame({"n": n, "throughput_rps": x})
    fits = {"usl": fit_usl(n, x), "amdahl": fit_amdahl(n, x)} if len(levels) >= 3 else {"usl": None, "amdahl": None}
    return {"points": points, **fits, "levels": len(levels), "note": ""}


def _fixed_figures():
    stages = pd.DataFrame(
        {
            "kind": ["rerank_quantum"] * 2,
            "method": ["quantum"] * 2,
            "n_candidates": [10, 50],
            "p50_ms": [40.0, 200.0],
            "p50_low": [38.0, 190.0],
            "p50_high": [42.0, math.inf],
            "p95_ms": [60.0, 300.0],
            "p95_low": [55.0, 280.0],
            "p95_high": [70.0, math.inf],
        }
    )
    cache = pd.DataFrame(
        {
            "stage": ["cold", "known documents", "repeated"],
            "p50_ms": [300.0, 60.0, 2.0],
            "p50_low": [280.0, 55.0, 1.8],
            "p50_high": [320.0, 65.0, math.inf],
        }
    )
    memory = pd.DataFrame({"documents": [25, 100], "rss_max_mb": [900.0, 1072.9], "rss_median_mb": [880.0, 1000.0]})
    sweep = pd.DataFrame(
        {
            "value": [1, 2, 4],
            "p50_ms": [300.0, 200.0, 210.0],
            "p50_low": [290.0, 190.0, 200.0],
            "p50_high": [310.0, 210.0, 220.0],
            "p95_ms": [350.0, 260.0, 270.0],
            "throughput_rps": [3.0, 5.0, 4.8],
        }
    )
    documents = pd.DataFrame(
        {
            "documents": [10, 50, 100],
            "p50_ms": [30.0, 120.0, 250.0],
            "p50_low": [28.0, 110.0, 240.0],
            "p50_high": [32.0, 130.0, 260.0],
            "server_ms_median": [25.0, 110.0, 230.0],
            "rss_peak_mb": [np.nan] * 3,
        }
    )
    cost = {"slope": 0.97, "log_intercept": 1.1, "slope_low": 0.9, "slope_high": 1.05}
    overhead = pd.DataFrame(
        {
            "method": ["quantum"] * 2,
            "backend": ["aer"] * 2,
            "batch_size": [10, 50],
            "median_ratio": [3.0, 5.0],
            "low": [2.5, 4.0],
            "high": [3.5, math.inf],
        }
    )
    opportunities = pd.DataFrame(
        {
            "kind": ["time", "time"],
            "lives_in": ["service setting", "service code"],
            "opportunity": ["one torch thread", "batch embeddings"],
            "saving_ms": [390.0, 52.0],
            "saving_low": [350.0, np.nan],
            "saving_high": [430.0, np.nan],
        }
    )
    steps = pd.DataFrame(
        {
            "config": ["workers-1"] * 3,
            "rate_rps": [2.0, 4.0, 8.0],
            "p95_ms": [200.0, 300.0, 900.0],
            "p95_low": [190.0, 280.0, 800.0],
            "p95_high": [210.0, 320.0, math.inf],
            "throughput_rps": [2.0, 3.9, 5.0],
            "throughput_low": [1.9, 3.7, 4.8],
            "throughput_high": [2.1, 4.1, 5.2],
        }
    )
    configs = pd.DataFrame(
        {
            "config": ["workers-1", "workers-2"],
            "status": ["ok", "ok"],
            "capacity_rps": [4.0, 7.0],
            "capacity_low": [3.0, 6.0],
            "capacity_high": [5.0, math.inf],
        }
    )
    saturation = pd.DataFrame(
        {
            "config": ["workers-1"] * 3,
            "rate_rps": [2.0, 4.0, 8.0],
            "cpu": [0.3, 0.6, 0.97],
            "machine_cpu": [0.4, 0.7, 1.0],
            "memory": [0.2, 0.2, 0.21],
            "event_loop": [1.0, 2.0, 40.0],
            "thread_pool": [0.2, 0.5, 1.0],
        }
    )
    limits = {"cpu": 0.9, "memory": 0.9, "event_loop": 20.0, "thread_pool": 0.95}
    aer = pd.DataFrame(
        {
            "qubits": [4, 4],
            "shots": [256, 1024],
            "aer_ms": [40.0, 120.0],
            "rmse": [0.03, 0.015],
            "rmse_low": [0.02, 0.01],
            "rmse_high": [0.04, 0.02],
            "expected_sd": [0.031, 0.016],
            "exact_ms": [0.2, 0.2],
            "documents": [50, 50],
        }
    )
    growth = pd.DataFrame(
        {
            "documents": [10, 100],
            "peak_mib": [900.0, 1100.0],
            "before_mib": [880.0, 880.0],
            "per_document_kib": [2048.0, 2250.0],
        }
    )
    records = pd.DataFrame(
        {
            "stage": ["rerank/a"] * 5 + ["rerank/b"] * 5,
            "ok": [True] * 10,
            "latency_ms": [100.0, 120.0, 130.0, 150.0, 400.0] * 2,
        }
    )
    breakdown = pd.DataFrame(
        {
            "batch_size": [10] * 4,
            "method": ["classical", "classical", "quantum", "quantum"],
            "backend": ["exact"] * 4,
            "component": ["embed query", "fidelity"] * 2,
            "mean_ms": [20.0, 0.0, 20.0, 5.0],
        }
    )
    return {
        "latency_by_stage": plots.latency_by_stage(records, "rerank/", target_ms=500),
        "step_curves": plots_scalability.step_curves(steps, slo_p95_ms=500),
        "capacity_bars": plots_scalability.capacity_bars(configs),
        "saturation": plots_scalability.saturation(saturation, limits, "workers-1"),
        "aer_vs_exact": plots_bottlenecks.aer_vs_exact(aer),
        "memory_growth": plots_bottlenecks.memory_growth(growth, limit_gb=2),
        "stacked_breakdown": plots_bottlenecks.stacked_breakdown(breakdown),
        "percentiles_by_batch": plots.percentiles_by_batch(stages, target_ms=500),
        "cache_effect": plots.cache_effect(cache),
        "memory_by_documents": plots.memory_by_documents(memory, EMPTY, EMPTY, target_gb=2),
        "usl_fit": plots_scalability.usl_fit(_usl_points([1, 2, 3, 4]), cores=2, axis="workers"),
        "vertical_settings": plots_scalability.vertical_settings({"torch threads": sweep, "qubits": EMPTY}),
        "documents_cost": plots_scalability.documents_cost(documents, cost),
        "overhead_ratios": plots_bottlenecks.overhead_ratios(overhead),
        "opportunities_chart": plots_bottlenecks.opportunities_chart(opportunities),
    }


def test_every_figure_labels_its_axes():
    for name, fig in _fixed_figures().items():
        assert fig is not None, name
        assert figure_problems(fig) == [], name


def test_figure_problems_finds_a_missing_label():
    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4])
    ax.set_xlabel("documents")
    assert figure_problems(fig) == ["'axes 0': no y-axis label."]


def test_nothing_measured_draws_nothing():
    configs = pd.DataFrame({"status": ["failed"], "config": ["workers-1"]})
    assert plots_scalability.vertical_settings({"torch threads": EMPTY, "qubits": EMPTY, "shots": EMPTY}) is None
    assert plots_scalability.step_curves(EMPTY, slo_p95_ms=500) is None
    assert plots_scalability.capacity_bars(configs) is None
    assert (
        plots_scalability.usl_fit({"points": pd.DataFrame({"n": [], "throughput_rps": []})}, cores=2, axis="instances")
        is None
    )
    assert plots_scalability.documents_cost(EMPTY, {}) is None
    assert plots_scalability.lb_shares(EMPTY) is None
    assert plots_scalability.saturation(EMPTY, {}, "workers-1") is None
    assert plots.cache_effect(EMPTY) is None
    assert plots.memory_by_documents(EMPTY, EMPTY, EMPTY) is None
    assert plots_bottlenecks.opportunities_chart(EMPTY) is None
    assert plots_bottlenecks.overhead_ratios(EMPTY) is None
    assert plt.get_fignums() == []  # no blank figure left behind either


def test_usl_fit_stays_inside_the_measured_range():
    fig = plots_scalability.usl_fit(_usl_points([1, 2, 3, 4]), cores=2, axis="workers")
    ax = fig.axes[0]
    drawn = [line.get_xdata() for line in ax.lines if len(line.get_xdata()) > 2]
    assert drawn and max(float(np.max(x)) for x in drawn) <= 4 and min(float(np.min(x)) for x in drawn) >= 1
    assert ax.get_xlim()[1] <= 4.5


def test_usl_fit_draws_no_model_from_two_levels():
    fit = _usl_points([1, 2])
    fig = plots_scalability.usl_fit(fit, cores=2, axis="instances")
    assert [line.get_label() for line in fig.axes[0].lines] == ["measured (windows)", "mean per N"]
    # The scalability report's section says so beside the figure.
    section = SECTIONS["usl_instances"](SimpleNamespace(usl={"instances": fit}, cores=2))
    assert [f.draw for f in section.figures] == ["scalability_usl"]
    assert section.sentence == (
        "Only 2 levels of instances (1, 2) were measured: too few to bound a scalability model, so none is drawn "
        "and nothing is predicted beyond 2."
    )


def test_quality_vs_cost_leaves_out_methods_whose_cost_was_not_measured():
    # The quick baseline times only the hybrid rerank: classical and quantum have quality but no cost.
    import pandas as pd

    from qrbench.report import plots

    nan = float("nan")
    quality = pd.DataFrame(
        {
            "method": ["classical", "quantum", "hybrid"],
            "ndcg": [0.93, 0.70, 0.78],
            "ndcg_low": [0.85, 0.55, 0.66],
            "ndcg_high": [0.98, 0.83, 0.89],
            "p50_ms": [nan, nan, 120.0],
            "p50_low": [nan, nan, 110.0],
            "p50_high": [nan, nan, 130.0],
            "cost_stage": [None, None, "rerank/hybrid/50"],
        }
    )
    fig = plots.quality_vs_cost(quality)
    assert [t.get_text() for t in fig.axes[0].texts] == ["hybrid"]
    assert "50 documents" in fig.axes[0].get_xlabel()
    assert plots.quality_vs_cost(quality.iloc[:2]) is None  # nothing with a cost: no figure
