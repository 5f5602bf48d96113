"""Is the current run worse than the baseline? A bootstrap ratio interval plus a rank test.

The rule (direction "lower_is_better", e.g. latency): *regressed* when all three hold

1. the point ratio current / baseline of the statistic exceeds 1 + min_effect (the change matters),
2. the lower bound of its (1 - alpha) bootstrap interval exceeds 1 (it is not noise in the statistic),
3. the one-sided Mann-Whitney U test that current is stochastically larger has p < alpha
   (by default only for the central statistics "median", "p50" and "mean", see below).

*improved* mirrors it with 1 - min_effect. For "higher_is_better" (e.g. throughput) the sides swap.
The rank test looks at whole distributions: a 50 % slower p95 with an unchanged bulk has a
Mann-Whitney p near 0.5. So for tail statistics (p90, p95, p99, ...) condition 3 is off unless
require_rank_test=True, and the bootstrap interval (one-sided error at most alpha / 2) carries the
evidence.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats as _sps

from qrbench.stats._named import named_statistic
from qrbench.stats._samples import as_samples
from qrbench.stats.estimate import Estimate
from qrbench.stats.rates import ratio_ci

__all__ = ["RegressionResult", "compare_samples"]

RegressionVerdict = Literal["regressed", "improved", "unchanged", "insufficient data"]
Direction = Literal["lower_is_better", "higher_is_better"]

_CENTRAL = ("median", "p50", "mean")


@dataclass(frozen=True, kw_only=True)
class RegressionResult:
    """Comparison of one statistic between a baseline and a current sample (values in the samples' unit).

    `ratio` is current / baseline with its bootstrap interval; `p_value_worse` and `p_value_better` are
    the one-sided Mann-Whitney U p-values for "current is worse" and "current is better".
    """

    statistic: str
    direction: Direction
    n_baseline: int
    n_current: int
    baseline_value: float
    current_value: float
    ratio: Estimate
    p_value_worse: float
    p_value_better: float
    min_effect: float
    alpha: float
    regressed: bool
    improved: bool
    verdict: RegressionVerdict
    summary: str


def _fraction(value: float, name: str, upper: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not (0 < value < upper):
        raise ValueError(f"{name} must be a number between 0 and {upper:g} (exclusive); got {value!r}.")
    return float(value)


def compare_samples(
    baseline: Iterable[float],
    current: Iterable[float],
    *,
    statistic: str = "median",
    min_effect: float = 0.10,
    alpha: float = 0.05,
    n_resamples: int = 2000,
    seed: int = 0,
    direction: Direction = "lower_is_better",
    require_rank_test: bool | None = None,
    min_samples: int = 5,
    unit: str = "ms",
) -> RegressionResult:
    """Compare `statistic` of `current` against `baseline` (both in `unit`); see the module docstring.

    Fewer than `min_samples` values on either side, identical values throughout, or a baseline
    statistic of 0 give verdict "insufficient data" with NaN p-values, never an exception.
    """
    stat = named_statistic(statistic)
    if require_rank_test is None:
        require_rank_test = statistic in _CENTRAL
    min_effect = _fraction(min_effect, "min_effect", 1.0)
    alpha = _fraction(alpha, "alpha", 0.5)
    if direction not in ("lower_is_better", "higher_is_better"):
        raise ValueError(f"direction must be 'lower_is_better' or 'higher_is_better'; got {direction!r}.")
    if isinstance(min_samples, bool) or not isinstance(min_samples, int) or min_samples < 2:
        raise ValueError(f"min_samples must be an integer of at least 2; got {min_samples!r}.")
    base = as_samples(baseline, name="baseline")
    cur = as_samples(current, name="current")
    n_b, n_c = int(base.size), int(cur.size)
    base_value = float(stat(base, axis=-1)) if n_b else math.nan
    cur_value = float(stat(cur, axis=-1)) if n_c else math.nan
    ratio = ratio_ci(cur, base, stat, confidence=1.0 - alpha, n_resamples=n_resamples, seed=seed)

    def result(
        verdict: RegressionVerdict, summary: str, p_worse: float = math.nan, p_better: float = math.nan
    ) -> RegressionResult:
        return RegressionResult(
            statistic=statistic,
            direction=direction,
            n_baseline=n_b,
            n_current=n_c,
            baseline_value=base_value,
            current_value=cur_value,
            ratio=ratio,
            p_value_worse=p_worse,
            p_value_better=p_better,
            min_effect=min_effect,
            alpha=alpha,
            regressed=verdict == "regressed",
            improved=verdict == "improved",
            verdict=verdict,
            summary=summary,
        )

    if min(n_b, n_c) < min_samples:
        return result(
            "insufficient data",
            f"Not enough data to compare the {statistic}: the baseline has "
            f"{n_b} and the current run {n_c} samples; at least {min_samples} each are needed.",
        )
    if np.ptp(np.concatenate([base, cur])) == 0.0:
        return result(
            "insufficient data",
            f"Cannot compare the {statistic}: every sample in both runs has "
            f"the same value ({base[0]:.4g} {unit}), so there is no variation to test.",
        )
    if not ratio.decided:
        return result(
            "insufficient data",
            f"Cannot compare the {statistic}: the baseline value is "
            f"{base_value:.4g} {unit}, so the ratio current / baseline is not defined.",
        )

    worse_alt, better_alt = ("greater", "less") if direction == "lower_is_better" else ("less", "greater")
    p_worse = float(_sps.mannwhitneyu(cur, base, alternative=worse_alt).pvalue)
    p_better = float(_sps.mannwhitneyu(cur, base, alternative=better_alt).pvalue)
    up_big = ratio.value > 1 + min_effect and ratio.low > 1
    down_big = ratio.value < 1 - min_effect and ratio.high < 1
    worse_big, better_big = (up_big, down_big) if direction == "lower_is_better" else (down_big, up_big)
    regressed = worse_big and (p_worse < alpha or not require_rank_test)
    improved = better_big and (p_better < alpha or not require_rank_test)

    change = abs(ratio.value - 1.0)
    detail = (
        f"current {cur_value:.4g} {unit} against baseline {base_value:.4g} {unit}, ratio "
        f"{ratio.value:.3f} ({ratio.confidence:.0%} CI {ratio.low:.3f}-{ratio.high:.3f})"
    )
    if regressed:
        return result(
            "regressed",
            f"The {statistic} got {change:.1%} worse: {detail}, Mann-Whitney p = {p_worse:.2g}.",
            p_worse,
            p_better,
        )
    if improved:
        return result(
            "improved",
            f"The {statistic} got {change:.1%} better: {detail}, Mann-Whitney p = {p_better:.2g}.",
            p_worse,
            p_better,
        )
    if worse_big or better_big:
        p_value, way = (p_worse, "worse") if worse_big else (p_better, "better")
        because = (
            f"not flagged because the Mann-Whitney test does not find the whole distribution {way} "
            f"(p = {p_value:.2g}, alpha {alpha:g}); pass require_rank_test=False to judge by the interval"
        )
    else:
        because = (
            f"a change is flagged only when it exceeds {min_effect:.0%} and its interval excludes 1"
            + (f" and the rank test is significant at {alpha:g}" if require_rank_test else "")
            + f" (Mann-Whitney p = {min(p_worse, p_better):.2g})"
        )
    return result("unchanged", f"No established change of the {statistic}: {detail}; {because}.", p_worse, p_better)
