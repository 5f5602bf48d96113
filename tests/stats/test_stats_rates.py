"""Throughput, success ratio and ratio intervals against scipy and known processes."""

import math

import numpy as np
import pytest
from scipy import stats

from qrbench.stats import ratio_ci, success_ratio, throughput


@pytest.mark.parametrize(
    ("k", "n"),
    [(0, 1), (1, 1), (0, 10), (3, 10), (10, 10), (95, 100), (990, 1000), (9999, 10000), (5000, 10000)],
)
@pytest.mark.parametrize(("method", "scipy_method"), [("wilson", "wilson"), ("clopper-pearson", "exact")])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_success_ratio_matches_scipy_binomtest(k, n, method, scipy_method, confidence):
    est = success_ratio(k, n, confidence=confidence, method=method)
    ref = stats.binomtest(k, n).proportion_ci(confidence_level=confidence, method=scipy_method)
    assert est.value == k / n
    assert est.low == pytest.approx(ref.low, abs=1e-12)
    assert est.high == pytest.approx(ref.high, abs=1e-12)
    assert est.decided and est.n == n


def test_success_ratio_with_no_requests_is_undecided():
    est = success_ratio(0, 0)
    assert math.isnan(est.value) and (est.low, est.high) == (0.0, 1.0) and not est.decided


def test_all_failed_is_a_decided_zero():
    est = success_ratio(0, 500)
    assert est.value == 0.0 and est.low == 0.0 and est.high < 0.01 and est.decided


@pytest.mark.parametrize(
    ("k", "n", "message"),
    [(5, 3, "must not exceed"), (-1, 3, "n_ok"), (1, 2.5, "n_total"), (True, 3, "n_ok")],
)
def test_success_ratio_rejects_bad_counts(k, n, message):
    with pytest.raises(ValueError, match=message):
        success_ratio(k, n)


def test_success_ratio_rejects_unknown_method():
    with pytest.raises(ValueError, match="wilson"):
        success_ratio(1, 2, method="agresti")  # type: ignore[arg-type]


def test_poisson_throughput_interval_covers_true_rate():
    rng = np.random.default_rng(7)
    trials, covered = 400, 0
    for _ in range(trials):
        t = 1000.0 + np.cumsum(rng.exponential(1 / 100.0, size=400))
        est = throughput(rng.permutation(t))
        covered += est.low <= 100.0 <= est.high
    assert 0.92 <= covered / trials <= 0.98


def test_poisson_throughput_matches_gamma_formula():
    t = np.array([0.0, 0.5, 1.5, 2.0, 4.0])
    est = throughput(t)
    assert est.value == pytest.approx(4 / 4.0)
    assert est.low == pytest.approx(stats.chi2.ppf(0.025, 8) / 8.0)
    assert est.high == pytest.approx(stats.chi2.ppf(0.975, 8) / 8.0)


def test_fixed_duration_zero_completions_has_a_finite_upper_bound():
    est = throughput([], duration_s=10.0)
    # 95 % upper bound of a Poisson mean after observing 0 events is -ln(0.025) = 3.689.
    assert est.value == 0.0 and est.low == 0.0 and est.high == pytest.approx(-math.log(0.025) / 10.0)
    assert est.decided


def test_fixed_duration_matches_garwood_interval():
    est = throughput(np.linspace(0, 9.9, 50), duration_s=10.0, confidence=0.9)
    assert est.value == 5.0
    assert est.low == pytest.approx(stats.chi2.ppf(0.05, 100) / 20.0)
    assert est.high == pytest.approx(stats.chi2.ppf(0.95, 102) / 20.0)


def test_window_throughput_is_tight_for_regular_closed_loop_traffic():
    t = np.arange(0.0, 30.0, 0.01)  # exactly 100 completions per second
    est = throughput(t, window_s=1.0)
    assert est.value == pytest.approx(100.0, abs=0.5)
    assert est.width < 2.0
    poisson = throughput(t)
    assert poisson.width > 5 * est.width


def test_window_throughput_widens_for_bursty_traffic():
    rng = np.random.default_rng(2)
    # Bursts: per-second counts alternate between 20 and 180 (mean 100).
    t = np.concatenate([s + np.sort(rng.uniform(0, 1, 20 if s % 2 else 180)) for s in range(40)])
    windowed, poisson = throughput(t, window_s=1.0), throughput(t)
    assert windowed.low <= 100.0 <= windowed.high
    assert windowed.width > 3 * poisson.width


def test_throughput_degenerate_inputs():
    cases = [throughput([]), throughput([5.0]), throughput([5.0, 5.0]), throughput([0.0, 1.5], window_s=1.0)]
    for est in cases:
        assert not est.decided and est.high == math.inf and math.isnan(est.value)
    with pytest.raises(ValueError, match="not both"):
        throughput([1.0, 2.0], duration_s=1.0, window_s=1.0)
    with pytest.raises(ValueError, match="window_s"):
        throughput([1.0, 2.0], window_s=0.0)


def test_ratio_ci_of_medians():
    rng = np.random.default_rng(4)
    classical = rng.lognormal(np.log(20.0), 0.3, size=400)
    quantum = rng.lognormal(np.log(30.0), 0.3, size=400)
    est = ratio_ci(quantum, classical, np.median, seed=3)
    assert est.value == pytest.approx(np.median(quantum) / np.median(classical))
    assert est.low <= 1.5 <= est.high and est.low > 1.3 and est.high < 1.7
    assert ratio_ci(quantum, classical, np.median, seed=3) == est


def test_ratio_ci_coverage():
    rng = np.random.default_rng(8)
    trials, covered = 150, 0
    for i in range(trials):
        a, b = rng.lognormal(np.log(2.0), 0.5, size=200), rng.lognormal(0.0, 0.5, size=200)
        est = ratio_ci(a, b, np.median, n_resamples=500, seed=i)
        covered += est.low <= 2.0 <= est.high
    assert 0.89 <= covered / trials <= 0.99


def test_ratio_ci_degenerate_inputs():
    assert not ratio_ci([], [1.0, 2.0]).decided
    assert not ratio_ci([1.0], [1.0, 2.0]).decided
    zero = ratio_ci([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    assert not zero.decided and math.isnan(zero.value)
    same = ratio_ci([2.0] * 5, [1.0] * 5)
    assert (same.low, same.value, same.high) == (2.0, 2.0, 2.0)


@pytest.mark.parametrize(("phase_s", "rates"), [(120.0, (100.0,)), (40.0, (80.0, 120.0)), (24.0, (60.0, 140.0))])
def test_window_throughput_covers_when_the_arrival_rate_changes_in_phases(phase_s, rates):
    # A band over 200 seeded 120-s stages (sd 0.015 at 0.95): an honest interval lands in [0.90, 0.99] with
    # probability > 99 %; an undecided (infinite) one counts as covering, so it must also be decided.
    rng = np.random.default_rng(int(phase_s))
    phase_rates = [rates[i % len(rates)] for i in range(int(120.0 // phase_s))]
    truth = float(np.mean(phase_rates))
    covered = decided = 0
    for _ in range(200):
        t = np.concatenate(
            [rng.uniform(i * phase_s, (i + 1) * phase_s, rng.poisson(r * phase_s)) for i, r in enumerate(phase_rates)]
        )
        est = throughput(np.sort(t), window_s=1.0, start_s=0.0, end_s=120.0)
        covered += est.low <= truth <= est.high
        decided += est.decided
    assert 0.90 <= covered / 200 <= 0.99 and decided == 200
