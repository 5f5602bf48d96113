"""Percentile intervals: numpy point values, published ranks, Monte-Carlo coverage, degenerate inputs."""

import math

import numpy as np
import pytest
from scipy import stats

from qrbench.stats import Estimate, bootstrap_ci, percentile_ci, percentile_label, percentile_table


@pytest.mark.parametrize("n", [1, 2, 3, 10, 101, 1000])
@pytest.mark.parametrize("q", [0, 1, 50, 90, 95, 99, 99.9, 100])
def test_point_estimate_matches_numpy_linear_percentile(n, q):
    x = np.random.default_rng(n).lognormal(size=n)
    assert percentile_ci(x, q).value == pytest.approx(np.percentile(x, q), rel=1e-12)


def test_median_ranks_for_100_samples_match_published_table():
    # Distribution-free 95 % CI of the median for n = 100 is [x_(40), x_(61)] (Conover, Practical
    # Nonparametric Statistics, 3rd ed., Table A3; also Campbell & Gardner, BMJ 1988).
    x = np.arange(1.0, 101.0)
    est = percentile_ci(x, 50)
    assert (est.low, est.high) == (40.0, 61.0)
    assert est.decided and est.n == 100 and est.confidence == 0.95


@pytest.mark.parametrize("n", [6, 20, 72, 100, 367, 368, 1000, 5000])
@pytest.mark.parametrize("q", [50, 90, 95, 99])
def test_exact_coverage_of_chosen_ranks_is_at_least_nominal(n, q):
    x = np.arange(1.0, n + 1.0)
    est = percentile_ci(x, q)
    low_rank = 0 if math.isinf(est.low) else int(est.low)
    high_rank = n + 1 if math.isinf(est.high) else int(est.high)
    coverage = stats.binom.cdf(high_rank - 1, n, q / 100) - stats.binom.cdf(low_rank - 1, n, q / 100)
    assert coverage >= 0.95 - 1e-12
    assert est.decided == (low_rank >= 1 and high_rank <= n)


@pytest.mark.parametrize("q", [50, 95])
def test_monte_carlo_coverage_on_lognormal(q):
    dist = stats.lognorm(s=0.6, scale=100.0)
    truth = dist.ppf(q / 100)
    rng = np.random.default_rng(20240 + q)
    trials, n = 1000, 200
    samples = dist.rvs(size=(trials, n), random_state=rng)
    covered = 0
    for row in samples:
        est = percentile_ci(row, q)
        covered += est.low <= truth <= est.high
    # Exact coverage of these ranks is 0.960 (p50) and 0.967 (p95): conservative, never below 0.95.
    assert 0.94 <= covered / trials <= 0.985


def test_small_samples_give_unbounded_undecided_intervals():
    x = np.random.default_rng(3).normal(size=50)
    p99 = percentile_ci(x, 99)
    assert p99.high == math.inf and not p99.decided
    assert p99.value == pytest.approx(np.percentile(x, 99))
    p50 = percentile_ci(x, 50)
    assert p50.decided and p50.low < p50.value < p50.high


def test_empty_one_and_constant_samples_do_not_crash():
    empty = percentile_ci([], 95)
    assert math.isnan(empty.value) and empty.low == -math.inf and empty.high == math.inf
    assert not empty.decided and empty.n == 0
    one = percentile_ci([7.0], 50)
    assert one.value == 7.0 and not one.decided
    constant = percentile_ci([4.0] * 200, 95)
    assert (constant.low, constant.value, constant.high) == (4.0, 4.0, 4.0) and constant.decided
    assert constant.width == 0.0


def test_table_has_labelled_percentiles_and_an_unbounded_max():
    x = np.random.default_rng(5).exponential(10.0, size=2000)
    table = percentile_table(x)
    assert list(table) == ["p50", "p90", "p95", "p99", "p99.9", "max"]
    for q in (50, 90, 95, 99, 99.9):
        assert table[percentile_label(q)].value == pytest.approx(np.percentile(x, q))
    assert table["p99"].decided and not table["p99.9"].decided
    assert table["max"].value == x.max() and table["max"].high == math.inf and not table["max"].decided
    assert percentile_table([])["max"].n == 0


def test_labels():
    assert [percentile_label(q) for q in (50, 95.0, 99.9, 100)] == ["p50", "p95", "p99.9", "p100"]


def test_bootstrap_mean_interval_agrees_with_t_interval_on_normal_data():
    x = np.random.default_rng(11).normal(50.0, 5.0, size=400)
    est = bootstrap_ci(x, np.mean, confidence=0.95, n_resamples=4000, seed=1)
    t_low, t_high = stats.t.interval(0.95, x.size - 1, loc=x.mean(), scale=stats.sem(x))
    assert est.value == pytest.approx(x.mean())
    assert est.low == pytest.approx(t_low, abs=0.1) and est.high == pytest.approx(t_high, abs=0.1)
    assert bootstrap_ci(x, np.mean, seed=1) == bootstrap_ci(x, np.mean, seed=1)


def test_bootstrap_mean_coverage():
    rng = np.random.default_rng(99)
    trials, covered = 200, 0
    for _ in range(trials):
        x = rng.exponential(2.0, size=150)
        est = bootstrap_ci(x, np.mean, n_resamples=500, seed=int(rng.integers(1 << 30)))
        covered += est.low <= 2.0 <= est.high
    # Percentile bootstrap of a skewed mean under-covers a little; 0.95 nominal.
    assert 0.88 <= covered / trials <= 0.99


def test_bootstrap_degenerate_inputs():
    assert not bootstrap_ci([]).decided and math.isnan(bootstrap_ci([]).value)
    one = bootstrap_ci([3.0])
    assert one.value == 3.0 and not one.decided and one.high == math.inf
    same = bootstrap_ci([2.0] * 10)
    assert (same.low, same.value, same.high) == (2.0, 2.0, 2.0)


def test_bootstrap_rejects_non_reducing_statistic():
    with pytest.raises(ValueError, match="axis=-1"):
        bootstrap_ci([1.0, 2.0, 3.0], lambda a, axis: a)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"samples": [1.0], "q": 150}, "from 0 to 100"),
        ({"samples": [1.0], "q": 50, "confidence": 1.5}, "strictly between 0 and 1"),
        ({"samples": [1.0, float("nan")], "q": 50}, "NaN or infinite"),
        ({"samples": [[1.0, 2.0]], "q": 50}, "one-dimensional"),
        ({"samples": "abc", "q": 50}, "sequence of numbers"),
    ],
)
def test_invalid_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        percentile_ci(**kwargs)


def test_estimate_validates_itself():
    with pytest.raises(ValueError, match="decided=False"):
        Estimate(value=1.0, low=0.0, high=math.inf, confidence=0.95, n=3, method="x")
    with pytest.raises(ValueError, match="within its interval"):
        Estimate(value=5.0, low=0.0, high=1.0, confidence=0.95, n=3, method="x")
    with pytest.raises(ValueError, match="confidence"):
        Estimate(value=0.5, low=0.0, high=1.0, confidence=95, n=3, method="x")
    est = Estimate(value=10.0, low=9.0, high=11.0, confidence=0.9, n=3, method="x")
    assert est.width == 2.0 and est.relative_width == pytest.approx(0.2)
    with pytest.raises(AttributeError):
        est.value = 3.0  # type: ignore[misc]
