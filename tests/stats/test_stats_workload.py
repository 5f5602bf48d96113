"""Workload-aware judgements: windowed rates, kept-up vs capacity, CPU share by recorded cores, Little's law."""

import math

import numpy as np
import pytest

from qrbench.stats import (
    Estimate,
    Threshold,
    Verdict,
    capacity_from_steps,
    closed_offered_rate,
    cpu_share,
    judge_capacity,
    judge_kept_up,
    littles_law,
    percentile_ci,
    throughput,
)

CAPACITY = Threshold(
    metric="throughput_rps",
    target=100,
    threshold=50,
    direction="above",
    unit="rps",
    statistic="rate",
    judged_by=("open", "step"),
)
KEPT_UP = Threshold(metric="kept_up", target=0.95, threshold=0.90, direction="above", unit="fraction")
P95 = Threshold(metric="p95_ms", target=500, threshold=750, direction="below", unit="ms", statistic="p95")


def _bursty_arrivals(seed, seconds=1200, mean_rps=16.0):
    """Arrival times whose per-second rate follows an AR(1) (bursts lasting ~5 s)."""
    rng = np.random.default_rng(seed)
    level = np.empty(seconds)
    level[0] = 0.0
    for i in range(1, seconds):
        level[i] = 0.8 * level[i - 1] + math.sqrt(1 - 0.64) * rng.standard_normal()
    rates = mean_rps * np.exp(0.4 * level - 0.08)
    counts = rng.poisson(rates)
    return np.concatenate([s + rng.random(c) for s, c in enumerate(counts)]), float(rates.mean())


def test_windowed_rate_covers_the_rate_of_bursty_traffic():
    hits = poisson_hits = 0
    trials = 100
    for seed in range(trials):
        t, truth = _bursty_arrivals(seed)
        est = throughput(t, window_s=1.0, start_s=0.0, end_s=1200.0)
        hits += est.low <= 16.0 <= est.high
        p = throughput(t, duration_s=1200.0)  # the Poisson (Garwood) interval load studies use today
        poisson_hits += p.low <= 16.0 <= p.high
    assert hits / trials >= 0.9
    assert poisson_hits / trials < 0.6


def test_a_closed_workload_is_judged_as_kept_up_not_against_capacity():
    # load_normal: 50 users, ~2.75 s think time: at most ~18 req/s whatever the server does.
    offered = closed_offered_rate(50, 2.75, 0.5)
    assert offered == pytest.approx(50 / 3.25)
    t = np.arange(0.0, 600.0, 1.0 / offered)  # the users' requests, all answered
    achieved = throughput(t, window_s=1.0, start_s=0.0, end_s=600.0)
    kept = judge_kept_up(achieved, offered, KEPT_UP, workload="load_normal (closed, 50 users)")
    assert kept.verdict == Verdict.PASS and kept.workload == "load_normal (closed, 50 users)"
    assert "judged by load_normal" in kept.reason
    p95 = percentile_ci(np.full(500, 120.0) + np.arange(500) * 0.01, 95)
    capacity = judge_capacity(
        achieved, p95, CAPACITY, P95, workload="load_normal (closed)", offered_rps=closed_offered_rate(50, 2.75)
    )
    assert capacity.verdict == Verdict.INSUFFICIENT and "cannot show the capacity" in capacity.reason
    assert not CAPACITY.can_be_judged_by("closed") and CAPACITY.can_be_judged_by("open")


def test_capacity_needs_the_latency_target_too():
    rate = Estimate(value=110.0, low=105.0, high=115.0, confidence=0.95, n=60000, method="windows")
    good = Estimate(value=300.0, low=280.0, high=320.0, confidence=0.95, n=60000, method="os")
    bad = Estimate(value=900.0, low=850.0, high=950.0, confidence=0.95, n=60000, method="os")
    assert judge_capacity(rate, good, CAPACITY, P95, workload="open 110 req/s", offered_rps=110).verdict == "pass"
    assert judge_capacity(rate, bad, CAPACITY, P95, workload="open 110 req/s", offered_rps=110).verdict == "fail"
    steps = capacity_from_steps(
        [50, 100, 150],
        [
            Estimate(value=50.0, low=49.0, high=51.0, confidence=0.95, n=1, method="w"),
            rate,
            Estimate(value=120.0, low=115.0, high=125.0, confidence=0.95, n=1, method="w"),
        ],
        [good, good, bad],
        CAPACITY,
        P95,
    )
    assert steps.verdict == "pass" and "step at 100 req/s" in steps.workload
    # No step met the latency target: a fail only when even the lowest step surely missed it; a lowest step with
    # too few samples to bound its p95 (and a higher one that missed) cannot show the capacity either way.
    few = Estimate(value=200.0, low=150.0, high=math.inf, confidence=0.95, n=20, method="os", decided=False)
    assert capacity_from_steps([6, 96], [rate, rate], [few, bad], CAPACITY, P95).verdict == "insufficient"
    assert capacity_from_steps([96, 6], [rate, rate], [few, bad], CAPACITY, P95).verdict == "fail"


def test_cpu_share_uses_the_recorded_cores_and_a_correlated_interval():
    rng = np.random.default_rng(3)
    level = np.zeros(300)
    for i in range(1, 300):
        level[i] = 0.9 * level[i - 1] + rng.standard_normal() * math.sqrt(0.19)
    percent = 100.0 + 30.0 * level  # one busy core out of 4, wandering
    share = cpu_share(percent, cores=4)
    assert share.value == pytest.approx(percent.mean() / 400)
    assert "4 cores recorded" in share.method
    iid_half = 1.96 * (percent / 400).std(ddof=1) / math.sqrt(300)
    assert (share.high - share.low) / 2 > 2 * iid_half
    with pytest.raises(ValueError, match="cores"):
        cpu_share(percent, cores=0)


def test_littles_law_flags_a_mismatch_above_ten_percent():
    x = Estimate(value=15.0, low=14.0, high=16.0, confidence=0.95, n=9000, method="windows")
    closed = littles_law(x, 0.5, 50, think_s=2.75, what="normal")
    assert closed.predicted.value == pytest.approx(48.75) and not closed.flagged
    assert closed.relative_difference == pytest.approx(-0.025)
    peak = littles_law(x, 0.5, 200, think_s=2.75, what="peak (spike users)")
    assert peak.flagged and "disagree" in peak.sentence
    open_model = littles_law(x, 0.2, 3.0)
    assert open_model.model.startswith("open") and open_model.predicted.value == pytest.approx(3.0)
