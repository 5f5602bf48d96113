"""The scalability analysis on data with known answers: the capacity rule, step summaries, USL points and fits,
load-balancer shares and imbalance, the first resource to saturate, and the cost's growth with N."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from qrbench.load import RECORD_COLUMNS
from qrbench.studies.scalability import SloParams
from qrbench.studies.scalability.analysis import (
    SATURATION_LIMITS,
    capacity_estimate,
    cost_growth,
    first_saturated,
    fit_scaling,
    imbalance,
    instance_shares,
    step_summary,
    usl_points,
)


def records(latency_ms, ok=None, t_end=None) -> pd.DataFrame:
    n = len(latency_ms)
    frame = pd.DataFrame({c: 0 for c in RECORD_COLUMNS}, index=range(n))
    frame["latency_ms"] = np.asarray(latency_ms, float)
    frame["ok"] = np.ones(n, bool) if ok is None else np.asarray(ok, bool)
    frame["error"] = np.where(frame["ok"], "", "http_503")
    frame["t_end"] = np.linspace(0.05, 9.95, n) if t_end is None else np.asarray(t_end, float)
    return frame


def test_capacity_is_the_last_step_before_the_break_with_its_interval():
    cap = capacity_estimate(
        np.array([2, 4, 8, 16.0]), np.array([True, True, True, False]), np.array([False, True, False, False])
    )
    assert (cap.value, cap.low, cap.high, cap.decided) == (8.0, 4.0, 16.0, True)
    # Steps after the first break do not count even if they happen to meet the SLO again.
    cap = capacity_estimate(np.array([2, 4, 8.0]), np.array([True, False, True]), np.array([True, False, True]))
    assert (cap.value, cap.high) == (2.0, 4.0)


def test_a_transient_break_is_tolerated_only_when_asked():
    rates, meets = np.array([2, 4, 8, 16, 32.0]), np.array([True, False, True, False, False])
    strict = capacity_estimate(rates, meets, meets)
    assert (strict.value, strict.high) == (2.0, 4.0)
    tolerant = capacity_estimate(rates, meets, meets, tolerated=1)
    assert (tolerant.value, tolerant.low, tolerant.high) == (8.0, 8.0, 16.0)
    assert "transient breaks at 4 req/s" in tolerant.method
    # A break in the last step ends the search even without the steps to confirm it.
    assert capacity_estimate(rates[:4], meets[:4], meets[:4], tolerated=1).high == 16.0


def test_capacity_when_the_first_step_breaks_or_none_does():
    broke_at_once = capacity_estimate(np.array([5.0, 10.0]), np.array([False, False]), np.array([False, False]))
    assert (broke_at_once.value, broke_at_once.low, broke_at_once.high) == (0.0, 0.0, 5.0)
    never = capacity_estimate(np.array([5.0, 10.0]), np.array([True, True]), np.array([True, True]))
    assert never.value == 10.0 and never.high == math.inf and not never.decided
    assert "never broke" in never.method
    assert math.isnan(capacity_estimate(np.array([]), np.array([]), np.array([])).value)


def test_step_summary_judges_p95_and_success():
    slo = SloParams(p95_ms=500, success=0.99)
    fast = step_summary(records(np.full(200, 100.0)), duration_s=10, slo=slo)
    assert fast["meets"] and fast["meets_surely"] and fast["throughput"].value == pytest.approx(20.0)
    slow = step_summary(records(np.r_[np.full(180, 100.0), np.full(20, 900.0)]), duration_s=10, slo=slo)
    assert not slow["meets"]  # p95 is 900 ms
    failing = step_summary(records(np.full(200, 100.0), ok=np.r_[np.ones(195), np.zeros(5)]), duration_s=10, slo=slo)
    assert not failing["meets"] and failing["success"].value == pytest.approx(0.975)
    few = step_summary(records(np.full(20, 100.0)), duration_s=10, slo=slo)
    assert few["meets"] and not few["meets_surely"]  # 20 samples cannot bound a p95


def test_usl_points_split_completions_into_windows():
    frame = records(np.ones(40), t_end=np.r_[np.full(10, 0.5), np.full(30, 1.5)])
    assert usl_points(frame, duration_s=2.0, windows=2).tolist() == [10.0, 30.0]
    # Completions after the step's end are not throughput of the step.
    late = records(np.ones(10), t_end=np.full(10, 3.0))
    assert usl_points(late, duration_s=2.0, windows=2).tolist() == [0.0, 0.0]


def test_fit_scaling_recovers_a_known_usl_and_says_what_it_cannot_fit():
    rng = np.random.default_rng(3)
    n = np.repeat([1, 2, 3, 4, 6, 8], 4).astype(float)
    true = 10 * n / (1 + 0.08 * (n - 1) + 0.01 * n * (n - 1))
    points = pd.DataFrame({"n": n, "throughput_rps": true * (1 + rng.normal(0, 0.02, n.size))})
    fit = fit_scaling(points)
    usl = fit["usl"]
    assert usl.sigma.low <= 0.08 <= usl.sigma.high and usl.kappa.low <= 0.01 <= usl.kappa.high
    assert fit["amdahl"] is not None and fit["note"] == ""
    two = fit_scaling(points[points["n"] <= 2])
    assert two["usl"] is None and two["amdahl"] is not None and "USL needs 4 distinct levels" in two["note"]
    # Three levels make the three-parameter USL exact: no fit (issue 9), whatever the windows per level.
    three = fit_scaling(points[points["n"] <= 3])
    assert three["usl"] is None and "USL needs 4 distinct levels; this run measured 3" in three["note"]
    one = fit_scaling(points[points["n"] == 1])
    assert one["usl"] is None and one["amdahl"] is None


def scrape(requests: float, hits: float, misses: float) -> dict[str, float]:
    return {
        "qrbench_requests_total{endpoint=/v1/rerank,method=hybrid,status=200}": requests,
        "qrbench_requests_total{endpoint=/health/ready,method=,status=200}": 999.0,  # not a /v1/ request
        "qrbench_embedding_cache_hits_total{}": hits,
        "qrbench_embedding_cache_misses_total{}": misses,
    }


def test_instance_shares_and_imbalance_from_metrics_deltas():
    steps = [
        {
            "step": 0,
            "rate_rps": 10.0,
            "metrics_before": {"instance-0": scrape(5, 0, 10), "instance-1": scrape(5, 0, 10)},
            "metrics_after": {"instance-0": scrape(65, 30, 20), "instance-1": scrape(45, 20, 20)},
        }
    ]
    shares = instance_shares(steps, "instances-2-round_robin")
    assert shares["requests"].tolist() == [60.0, 40.0]
    assert shares["share"].tolist() == [0.6, 0.4]
    assert shares["embedding_hit_rate"].tolist() == [0.75, 2 / 3]
    imb = imbalance(shares)
    assert imb["imbalance"].iloc[0] == pytest.approx(0.2)  # 60 % of the requests against an even 50 %
    assert 0.04 < imb["chi2_p"].iloc[0] < 0.06  # chi-square of 60/40 against 50/50


def test_first_saturated_is_the_lowest_rate_at_which_a_limit_is_reached():
    table = pd.DataFrame(
        {
            "rate_rps": [5.0, 10.0, 20.0],
            "cpu": [0.3, 0.95, 0.99],
            "memory": [0.1, 0.1, 0.1],
            "event_loop": [5.0, 20.0, 300.0],
            "thread_pool": [0.1, 1.2, 4.0],
        }
    )
    for resource, limit in SATURATION_LIMITS.items():
        table[f"{resource}_saturated"] = table[resource] >= limit
    assert first_saturated(table) == (["cpu", "thread_pool"], 10.0)
    calm = table.assign(**{f"{r}_saturated": False for r in SATURATION_LIMITS})
    resources, rate = first_saturated(calm)
    assert resources == [] and math.isnan(rate)


def test_cost_growth_recovers_the_exponent_and_the_cost_per_document():
    rng = np.random.default_rng(0)
    n = np.repeat([10, 25, 50, 100, 250, 500, 1000], 20).astype(float)
    linear = cost_growth(n, (20 + 0.5 * n) * np.exp(rng.normal(0, 0.05, n.size)))
    assert linear["ms_per_doc_low"] <= 0.5 <= linear["ms_per_doc_high"]
    root = cost_growth(n, 3 * n**0.5 * np.exp(rng.normal(0, 0.05, n.size)))
    assert root["slope_low"] <= 0.5 <= root["slope_high"] and root["slope_high"] - root["slope_low"] < 0.1
    assert math.isnan(cost_growth(np.full(5, 10.0), np.ones(5))["slope"])  # one level: nothing to fit
