"""The bottlenecks analysis on fixed data: shares that add up, differences with intervals, load changes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qrbench.profile import TOTAL, UNATTRIBUTED
from qrbench.studies.bottlenecks.analysis import breakdown_table, mean_difference, under_load_change, wide_breakdown


def _frame(rng: np.random.Generator) -> pd.DataFrame:
    rows = []
    for scenario, scale in (("a", 1.0), ("b", 3.0)):
        for r in range(20):
            parts = {"embed query": scale * rng.uniform(9, 11), "fidelity": scale * rng.uniform(1, 2)}
            total = sum(parts.values()) + rng.normal(0, 0.2)
            head = {
                "scenario": scenario,
                "batch_size": 10,
                "method": "quantum",
                "backend": "exact",
                "qubits": 4,
                "shots": None,
                "torch_threads": None,
                "documents": "cached",
                "settings": "",
                "fallback": False,
                "repeat": r,
            }
            rows += [{**head, "component": k, "ms": v, "cpu_ms": v} for k, v in parts.items()]
            rows.append({**head, "component": UNATTRIBUTED, "ms": total - sum(parts.values()), "cpu_ms": 0.0})
            rows.append({**head, "component": TOTAL, "ms": total, "cpu_ms": total})
    return pd.DataFrame(rows)


def test_breakdown_shares_sum_to_one_and_means_to_the_total():
    frame = _frame(np.random.default_rng(1))
    table = breakdown_table(frame)
    for _, g in table.groupby("scenario"):
        parts = g[g["component"] != TOTAL]
        assert parts["share"].sum() == pytest.approx(1.0, abs=1e-12)
        assert parts["mean_ms"].sum() == pytest.approx(g[g["component"] == TOTAL]["mean_ms"].iloc[0], rel=1e-12)
        assert (g["low_ms"] <= g["mean_ms"]).all() and (g["mean_ms"] <= g["high_ms"]).all()
    wide = wide_breakdown(table)
    assert list(wide.columns) == ["embed query", "fidelity", UNATTRIBUTED, TOTAL]


def test_mean_difference_matches_numpy_and_covers_the_truth():
    rng = np.random.default_rng(7)
    covered = 0
    for seed in range(60):
        a, b = rng.normal(10, 2, 40), rng.normal(7, 3, 30)
        e = mean_difference(a, b, confidence=0.9, n_resamples=500, seed=seed)
        assert e.value == pytest.approx(a.mean() - b.mean())
        covered += e.low <= 3.0 <= e.high
    assert 0.8 <= covered / 60 <= 0.98  # about 90 % coverage for a 90 % interval


def test_mean_difference_of_degenerate_samples_is_undecided():
    assert not mean_difference(np.array([]), np.array([1.0, 2.0])).decided
    assert not mean_difference(np.array([1.0]), np.array([1.0, 2.0])).decided


def test_under_load_change_in_percentage_points():
    shares = pd.DataFrame(
        {
            "phase": ["single user", "single user", "under load", "under load"],
            "sampler": ["all threads"] * 4,
            "activity": ["torch forward", "waiting: lock or condition"] * 2,
            "active_share": [0.9, 0.1, 0.4, 0.6],
        }
    )
    change = under_load_change(shares)
    assert change.index[0] in ("torch forward", "waiting: lock or condition")
    assert change.loc["waiting: lock or condition", ("all threads", "change (points)")] == pytest.approx(50.0)
    assert change.loc["torch forward", ("all threads", "change (points)")] == pytest.approx(-50.0)
