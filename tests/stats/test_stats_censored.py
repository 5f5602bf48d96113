"""Censored latency: failures count at (at least) their timeout, per request kind, beside success-only."""

import math

import numpy as np
import pytest

from qrbench.stats import censored_latency, censored_percentile, percentile_ci

TIMEOUT_MS = 1000.0


def _requests(seed, n=2000, fail=0.5):
    rng = np.random.default_rng(seed)
    lat = rng.lognormal(np.log(50.0), 0.3, n)
    ok = rng.random(n) >= fail
    lat[~ok] = np.nan
    kinds = np.where(rng.random(n) < 0.5, "similarity", "rerank-50")
    return lat, ok, kinds


def test_a_server_timing_out_half_its_requests_does_not_look_fast():
    lat, ok, kinds = _requests(1)
    table = censored_latency(lat, ok, TIMEOUT_MS, kinds)
    overall = table["all"]
    assert overall.n == 2000 and 900 < overall.n_failed < 1100
    # Success-only: the survivorship-biased figure; counting failures, p95 is at least the timeout.
    assert overall.success_only["p95"].value < 100
    p95 = overall.with_failures["p95"]
    assert p95.at_least and p95.estimate.value >= TIMEOUT_MS and p95.text.startswith(">= ")
    assert not p95.estimate.decided and p95.estimate.low >= TIMEOUT_MS
    assert set(table) == {"all", "similarity", "rerank-50"}
    assert table["similarity"].n + table["rerank-50"].n == 2000


def test_without_failures_it_equals_the_order_statistic_interval():
    lat, ok, _ = _requests(2, fail=0.0)
    result = censored_latency(lat, ok, TIMEOUT_MS)["all"]
    for q in (50, 95, 99):
        got, plain = result.with_failures[f"p{q}"], percentile_ci(lat, q)
        assert (got.estimate.value, got.estimate.low, got.estimate.high) == (plain.value, plain.low, plain.high)
        assert not got.at_least and got.estimate.decided == plain.decided


def test_few_failures_leave_the_median_exact_and_bound_the_tail():
    lat, ok, _ = _requests(3, fail=0.02)
    result = censored_latency(lat, ok, TIMEOUT_MS)["all"]
    p50 = result.with_failures["p50"]
    assert not p50.at_least and p50.estimate.decided
    assert p50.estimate.value > result.success_only["p50"].value  # failures push the median up
    assert result.with_failures["p99"].at_least


def test_the_upper_bound_counts_uncensored_values_only():
    # Two failures censored at 5 ms while successes are 1..100 ms: their true values may be anywhere above 5.
    values = np.arange(1.0, 101.0)
    censored = np.zeros(100, dtype=bool)
    censored[[0, 1]] = True
    values[[0, 1]] = 5.0
    est = censored_percentile(values, censored, 50).estimate
    plain = percentile_ci(np.arange(1.0, 101.0), 50)
    assert est.high >= plain.high and est.low <= plain.high


def test_a_recorded_latency_above_the_timeout_is_kept():
    lat = np.array([10.0, 20.0, 5000.0])
    ok = np.array([True, True, False])
    result = censored_latency(lat, ok, TIMEOUT_MS, qs=(100,))["all"]
    assert result.with_failures["p100"].estimate.value == 5000.0


def test_invalid_inputs_name_the_argument():
    with pytest.raises(ValueError, match="censor_ms"):
        censored_latency([1.0, math.nan], [True, False], math.nan)
    with pytest.raises(ValueError, match="kinds"):
        censored_latency([1.0, 2.0], [True, True], TIMEOUT_MS, ["a"])
    empty = censored_latency([], [], TIMEOUT_MS)["all"]
    assert empty.n == 0 and not empty.with_failures["p50"].estimate.decided


def test_a_few_fast_failures_keep_every_percentile_decided():
    # 0.5 % of requests answered by a fast 500: they met no latency target, but they do not open p50..p99.
    rng = np.random.default_rng(11)
    n = 5000
    latency = rng.lognormal(np.log(20.0), 0.3, n)
    ok = rng.random(n) >= 0.005
    latency[~ok] = 1.0  # the 500 came back fast
    result = censored_latency(latency, ok, latency, time_ordered=True)["all"]
    assert result.failure_share == pytest.approx(0.005, abs=0.002)
    for q in ("p50", "p95", "p99"):
        c = result.with_failures[q]
        assert c.estimate.decided and not c.at_least, q
        # Counting failures above every target can only raise a percentile over the success-only one.
        assert c.estimate.value >= result.success_only[q].value
    assert "too few" not in result.with_failures["p99"].estimate.method


def test_failures_beyond_the_percentile_say_so_not_too_few_samples():
    latency = np.r_[np.full(900, 10.0), np.full(100, 2.0)]
    ok = np.r_[np.ones(900, bool), np.zeros(100, bool)]
    p95 = censored_latency(latency, ok, 2.0)["all"].with_failures["p95"]
    assert p95.at_least and not p95.estimate.decided
    assert "100 of 1,000 requests failed, so p95 lies above every latency target" in p95.estimate.method
