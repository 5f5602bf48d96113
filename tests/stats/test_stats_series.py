"""Intervals for time-ordered samples: seeded Monte-Carlo coverage on autocorrelated and independent series."""

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from qrbench.stats import autocorrelation_time, interval_ranks, percentile_ci, percentile_table, series_mean_ci

TRIALS, N = 300, 2000


def _ar1(seed, phi, trials=TRIALS, n=N):
    """`trials` stationary AR(1) series of unit variance (log-latency), vectorised over trials."""
    rng = np.random.default_rng(seed)
    e = rng.standard_normal((trials, n))
    x = np.empty_like(e)
    x[:, 0] = e[:, 0]
    scale = math.sqrt(1 - phi**2)
    for i in range(1, n):
        x[:, i] = phi * x[:, i - 1] + scale * e[:, i]
    return x


def _coverage(series, q, **kwargs):
    truth = math.exp(stats.norm.ppf(q / 100))
    hits = [(lambda e: e.low <= truth <= e.high)(percentile_ci(np.exp(x), q, **kwargs)) for x in series]
    return float(np.mean(hits))


def test_p95_interval_covers_on_autocorrelated_latencies():
    series = _ar1(1, 0.9)
    # The independent-sample interval is the defect: it covers about half the time.
    assert _coverage(series, 95) < 0.7
    assert 0.93 <= _coverage(series, 95, time_ordered=True) <= 0.99


@pytest.mark.parametrize("q", [50, 95])
def test_independent_series_keep_independent_behaviour(q):
    series = _ar1(2, 0.0)
    coverage = _coverage(series, q, time_ordered=True)
    assert 0.93 <= coverage <= 0.99
    # No autocorrelation: the interval is close to the independent-sample one (the estimated long-run
    # variance and its Student t degrees of freedom cost about a fifth of the width, not more).
    ratio = np.median([percentile_ci(x, q, time_ordered=True).width / percentile_ci(x, q).width for x in series[:50]])
    assert 1.0 <= ratio <= 1.35


def test_mean_interval_covers_on_autocorrelated_series():
    series = _ar1(3, 0.9)
    hits = [(lambda e: e.low <= 0.0 <= e.high)(series_mean_ci(x)) for x in series]
    naive = [abs(x.mean()) <= 1.96 * x.std(ddof=1) / math.sqrt(x.size) for x in series]
    # Measured: naive 0.33, overlapping batch means with a growing batch 0.95.
    assert np.mean(naive) < 0.6
    assert 0.93 <= np.mean(hits) <= 0.99


def test_autocorrelation_time_of_ar1_is_near_theory():
    taus = [autocorrelation_time(x) for x in _ar1(4, 0.5, trials=40, n=5000)]
    assert np.median(taus) == pytest.approx((1 + 0.5) / (1 - 0.5), rel=0.15)
    assert autocorrelation_time(np.ones(10)) == 1.0 and autocorrelation_time([1.0, 2.0]) == 1.0


def test_correlated_p95_needs_more_samples_to_be_decided():
    x = np.exp(_ar1(5, 0.9, trials=1, n=300)[0])
    assert percentile_ci(x, 95).decided and not percentile_ci(x, 95, time_ordered=True).decided
    table = percentile_table(x, time_ordered=True)
    assert "effective samples" in table["p50"].method


def test_series_shorter_than_its_correlation_time_is_undecided_and_says_why():
    x = np.exp(_ar1(6, 0.995, trials=1, n=400)[0])
    est = percentile_ci(x, 50, time_ordered=True)
    assert not est.decided and "400 requests, but strongly correlated: about" in est.method
    assert not series_mean_ci(x).decided and "strongly correlated" in series_mean_ci(x).method
    # A short iid series is not "strongly correlated": its p99 is open because of the count.
    short = np.random.default_rng(7).exponential(size=50)
    assert "strongly correlated" not in percentile_ci(short, 99, time_ordered=True).method


def test_empty_and_degenerate_series():
    assert not series_mean_ci([]).decided and not series_mean_ci([1.0]).decided
    est = series_mean_ci([2.0] * 10)
    assert est.decided and est.low == est.high == 2.0


def test_a_short_series_is_undecided_for_its_count_not_called_correlated():
    x = np.random.default_rng(8).exponential(size=12)
    for est in (percentile_ci(x, 50, time_ordered=True), series_mean_ci(x)):
        assert not est.decided
        assert "only 12 requests: too few to estimate how correlated they are" in est.method
        assert "strongly correlated" not in est.method


def test_a_real_closed_load_runs_p95_is_bounded_far_below_its_target():
    """The judged requests of a real quick load run (embedded service, 12 closed users, 2.7 s think time, 362
    requests; 2026-12-08): its few slow requests come in a handful of clusters. An interval rule that refuses
    such a tail (tried in issue 20: "fewer than 5 independent clusters beyond the percentile: undecided")
    turned this run's p95 of 89 ms from PASS against 500 ms into INSUFFICIENT DATA; whatever the next rule, a
    run like this must keep a decided p95 whose upper end is far below the target."""
    import pandas as pd

    from qrbench import stats as qstats

    run = pd.read_csv(Path(__file__).parent / "data" / "quick_load_closed_run.csv")
    by_kind = qstats.censored_latency(
        run["latency_ms"].to_numpy(),
        run["ok"].to_numpy(),
        np.full(len(run), 15_000.0),
        run["kind_label"].to_numpy(),
        time_ordered=True,
    )
    p95 = by_kind["all"].with_failures["p95"].estimate
    assert p95.decided and 60 < p95.value < 120, p95
    assert p95.high < 250, p95  # the target is 500 ms


def test_the_mean_of_a_queue_reaches_further_up_than_down_and_an_iid_mean_stays_symmetric():
    from qrbench.stats.processes import mm1

    queue = mm1(0.8).sample(np.random.default_rng(12), 1, 10_000)[0]
    est = series_mean_ci(queue)
    assert est.decided and est.high - est.value > 1.3 * (est.value - est.low), est
    assert "regenerative cycles" in est.method
    iid = series_mean_ci(np.random.default_rng(13).exponential(10.0, 2000))
    assert iid.decided and iid.high - iid.value == pytest.approx(iid.value - iid.low)


def test_a_mean_whose_half_width_reaches_its_excess_over_the_low_level_has_no_upper_end():
    # 2,000 requests at ~10 ms with stalls of 40 requests at ~200 ms: three stalls carry the mean's excess and
    # cannot bound it from above; six shorter ones can (an interval reaching further up than down).
    def with_stalls(count, length):
        rng = np.random.default_rng(14)
        x = 10.0 * rng.lognormal(0.0, 0.3, 2000)
        for start in np.linspace(200, 1800, count).astype(int):
            x[start : start + length] = 200.0 * rng.lognormal(0.0, 0.3, length)
        return series_mean_ci(x)

    few = with_stalls(3, 40)
    assert not few.decided and few.high == math.inf, few
    assert math.isfinite(few.low) and few.low < few.value
    assert "upper end not bounded" in few.method and "strongly correlated" in few.method
    more = with_stalls(6, 20)
    assert more.decided and more.high - more.value > 2.0 * (more.value - more.low), more


def test_the_upper_end_of_a_percentile_reaches_the_stalls_its_far_side_would_hold():
    # Three stalls of 15 requests (2.25 % of the run): were the p95 among the stalls, its far side would be
    # those three clusters. The upper end is measured at its own level, so it reaches the stall values.
    rng = np.random.default_rng(11)
    x = 10.0 * rng.lognormal(0.0, 0.3, 2000)
    for start in (300, 1100, 1700):
        x[start : start + 15] = 80.0 * rng.lognormal(0.0, 0.3, 15)
    assert percentile_ci(x, 95).high < 25.0
    est = percentile_ci(x, 95, time_ordered=True)
    assert est.decided and est.high > 60.0 and est.low < 17.0, est


def test_each_end_of_a_percentile_interval_has_its_own_tau():
    lower, upper = interval_ranks(1000, 0.95, 0.95, (1.0, 4.0))
    assert lower == interval_ranks(1000, 0.95, 0.95, 1.0)[0] and upper == interval_ranks(1000, 0.95, 0.95, 4.0)[1]
