"""Regression detection: planted slowdowns, null trials, scipy agreement, degenerate inputs."""

import math

import numpy as np
import pytest
from scipy import stats

from qrbench.stats import compare_samples


def _latencies(rng, n=500, factor=1.0):
    return rng.lognormal(np.log(100.0), 0.3, size=n) * factor


@pytest.mark.parametrize("seed", range(5))
def test_planted_twenty_percent_slowdown_is_flagged(seed):
    rng = np.random.default_rng(seed)
    result = compare_samples(_latencies(rng), _latencies(rng, factor=1.2), seed=seed)
    assert result.regressed and not result.improved and result.verdict == "regressed"
    assert result.ratio.low > 1.0 and result.ratio.value > 1.1 and result.p_value_worse < 0.05
    assert result.summary.startswith("The median got") and "worse" in result.summary


@pytest.mark.parametrize("seed", range(5))
def test_two_percent_slowdown_is_not_flagged(seed):
    rng = np.random.default_rng(100 + seed)
    result = compare_samples(_latencies(rng), _latencies(rng, factor=1.02), seed=seed)
    assert not result.regressed and result.verdict == "unchanged"
    assert "No established change" in result.summary


@pytest.mark.parametrize("statistic", ["median", "p95"])
def test_identical_distributions_are_rarely_flagged(statistic):
    rng = np.random.default_rng(2024)
    trials = 40
    flagged = sum(
        compare_samples(
            _latencies(rng, 300), _latencies(rng, 300), statistic=statistic, n_resamples=500, seed=i
        ).verdict
        != "unchanged"
        for i in range(trials)
    )
    assert flagged / trials <= 0.05


def test_improvement_and_higher_is_better():
    rng = np.random.default_rng(9)
    base = _latencies(rng)
    faster = compare_samples(base, _latencies(rng, factor=0.7))
    assert faster.improved and faster.verdict == "improved" and faster.ratio.high < 1.0
    assert faster.p_value_better < 0.05
    throughput_base = rng.normal(100.0, 5.0, size=60)
    lower_throughput = rng.normal(80.0, 5.0, size=60)
    result = compare_samples(
        throughput_base, lower_throughput, statistic="mean", direction="higher_is_better", unit="rps"
    )
    assert result.regressed and result.ratio.value == pytest.approx(lower_throughput.mean() / throughput_base.mean())


def test_p_values_match_scipy_mannwhitneyu():
    rng = np.random.default_rng(5)
    base, cur = _latencies(rng, 200), _latencies(rng, 250, factor=1.05)
    result = compare_samples(base, cur)
    assert result.p_value_worse == pytest.approx(stats.mannwhitneyu(cur, base, alternative="greater").pvalue)
    assert result.p_value_better == pytest.approx(stats.mannwhitneyu(cur, base, alternative="less").pvalue)
    assert (result.n_baseline, result.n_current) == (200, 250)
    assert result.baseline_value == pytest.approx(np.median(base))
    assert result.current_value == pytest.approx(np.median(cur))


def test_tail_statistic_and_rank_test_switch():
    rng = np.random.default_rng(12)
    base = _latencies(rng, 2000)
    cur = _latencies(rng, 2000)
    tail = cur > np.percentile(cur, 90)
    cur[tail] *= 1.6  # only the slowest 10 % got slower
    result = compare_samples(base, cur, statistic="p95")
    assert result.ratio.value == pytest.approx(np.percentile(cur, 95) / np.percentile(base, 95))
    # The bulk did not move, so a rank test cannot see this; tail statistics are judged by the interval.
    assert result.regressed and result.p_value_worse > 0.05
    with_rank_test = compare_samples(base, cur, statistic="p95", require_rank_test=True)
    assert with_rank_test.verdict == "unchanged" and "require_rank_test=False" in with_rank_test.summary
    assert not compare_samples(base, cur, statistic="median").regressed


@pytest.mark.parametrize(
    ("baseline", "current", "phrase"),
    [
        ([], [1.0, 2.0, 3.0, 4.0, 5.0], "0 and the current run 5"),
        ([1.0], [1.0, 2.0, 3.0, 4.0, 5.0], "at least 5"),
        ([3.0] * 20, [3.0] * 30, "same value"),
        ([0.0] * 19 + [1.0], [1.0] * 20, "baseline value is 0"),
    ],
)
def test_degenerate_inputs_are_insufficient_data(baseline, current, phrase):
    result = compare_samples(baseline, current)
    assert result.verdict == "insufficient data" and not result.regressed and not result.improved
    assert phrase in result.summary
    assert math.isnan(result.p_value_worse) and math.isnan(result.p_value_better)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"statistic": "p101"}, "percentile such as 'p95'"),
        ({"statistic": "max"}, "'median', 'mean'"),
        ({"min_effect": 0}, "min_effect"),
        ({"alpha": 0.7}, "alpha"),
        ({"direction": "up"}, "lower_is_better"),
        ({"min_samples": 1}, "min_samples"),
        ({"n_resamples": 10}, "n_resamples"),
    ],
)
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        compare_samples([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], **kwargs)
