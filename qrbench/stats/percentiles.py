"""Percentiles with distribution-free confidence intervals, and a bootstrap interval for other statistics.

The interval of a percentile comes from order statistics: with B ~ Binomial(n, q) the number of samples
below the true q-quantile, [x_(l), x_(u)] covers it with probability P(l <= B <= u - 1). The ranks are
chosen equal-tailed, each tail at most (1 - confidence) / 2, so coverage is at least the stated
confidence for any continuous distribution (asv `_stats.quantile_ci` does the same). When the sample is
too small for a tail, that side is x_(0) = -inf or x_(n+1) = +inf and the estimate is undecided.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from functools import lru_cache

import numpy as np
from scipy import stats as _sps

from qrbench.stats._bootstrap import (
    check_resamples,
    percentile_interval,
    resample_statistic,
    statistic_value,
)
from qrbench.stats._samples import as_samples, check_confidence
from qrbench.stats.estimate import Estimate

__all__ = ["percentile_ci", "percentile_table", "percentile_label", "bootstrap_ci", "DEFAULT_PERCENTILES"]

DEFAULT_PERCENTILES: tuple[float, ...] = (50.0, 90.0, 95.0, 99.0, 99.9)

ORDER_STATISTIC_METHOD = "order statistics (binomial, equal-tailed)"


def percentile_label(q: float) -> str:
    """Table key of percentile `q` (in percent): 50 -> "p50", 99.9 -> "p99.9"."""
    return f"p{float(q):g}"


@lru_cache(maxsize=1024)
def _ranks(n: int, fraction: float, confidence: float) -> tuple[int, int]:
    """1-based ranks (l, u) of the interval; 0 means -inf and n + 1 means +inf."""
    tail = (1.0 - confidence) / 2.0
    # Only a window around n*fraction carries binomial mass; outside it cdf is 0 or 1 to double precision.
    sd = math.sqrt(n * fraction * (1.0 - fraction))
    k_lo = max(0, math.floor(n * fraction - 12.0 * sd - 12.0))
    k_hi = min(n, math.ceil(n * fraction + 12.0 * sd + 12.0))
    ks = np.arange(k_lo, k_hi + 1)
    cdf = _sps.binom.cdf(ks, n, fraction)  # P(B <= k)
    sf = _sps.binom.sf(ks, n, fraction)  # P(B > k) = P(B >= k + 1)
    # l - 1 is the largest k with P(B <= k) <= tail, so P(B < l) <= tail.
    below = np.nonzero(cdf <= tail)[0]
    lower = int(ks[below[-1]]) + 1 if below.size else k_lo
    # u - 1 is the smallest k with P(B >= k + 1) <= tail, so P(B >= u) <= tail.
    above = np.nonzero(sf <= tail)[0]
    upper = int(ks[above[0]]) + 1 if above.size else n + 1
    return lower, upper


def _check_q(q: float) -> float:
    if (
        isinstance(q, bool)
        or not isinstance(q, int | float | np.integer | np.floating)
        or not (0 <= q <= 100)
    ):
        raise ValueError(f"Percentile q must be a number from 0 to 100 (e.g. 95 for p95); got {q!r}.")
    return float(q)


def _percentile_of_sorted(ordered: np.ndarray, q: float, confidence: float) -> Estimate:
    n = ordered.size
    if n == 0:
        return Estimate(
            value=math.nan,
            low=-math.inf,
            high=math.inf,
            confidence=confidence,
            n=0,
            method=ORDER_STATISTIC_METHOD,
            decided=False,
        )
    # np.percentile's default (linear) is the point estimate, so tables agree with pandas/numpy users.
    value = float(np.percentile(ordered, q))
    lower, upper = _ranks(n, q / 100.0, confidence)
    low = float(ordered[lower - 1]) if lower >= 1 else -math.inf
    high = float(ordered[upper - 1]) if upper <= n else math.inf
    # The interpolated point can sit a hair outside [x_(l), x_(u)] at tiny n; widening keeps coverage.
    low, high = min(low, value), max(high, value)
    return Estimate(
        value=value,
        low=low,
        high=high,
        confidence=confidence,
        n=n,
        method=ORDER_STATISTIC_METHOD,
        decided=math.isfinite(low) and math.isfinite(high),
    )


def percentile_ci(samples: Iterable[float], q: float, confidence: float = 0.95) -> Estimate:
    """Percentile `q` (0-100) of `samples` with a distribution-free interval, in the samples' unit.

    Undecided (an infinite bound) when the sample is too small: roughly n < 6 for p50, n < 72 for
    p95 and n < 367 for p99 at 95 % confidence.
    """
    q = _check_q(q)
    confidence = check_confidence(confidence)
    return _percentile_of_sorted(np.sort(as_samples(samples)), q, confidence)


def percentile_table(
    samples: Iterable[float],
    qs: Iterable[float] = DEFAULT_PERCENTILES,
    confidence: float = 0.95,
) -> dict[str, Estimate]:
    """Estimates keyed "p50", "p90", ... plus "max", in the samples' unit.

    "max" is the observed maximum: its low bound is the maximum itself and its high bound +inf,
    since no sample bounds a distribution's maximum from above; it is always undecided.
    """
    confidence = check_confidence(confidence)
    ordered = np.sort(as_samples(samples))
    table = {percentile_label(q): _percentile_of_sorted(ordered, _check_q(q), confidence) for q in qs}
    n = ordered.size
    top = float(ordered[-1]) if n else math.nan
    table["max"] = Estimate(
        value=top,
        low=top if n else -math.inf,
        high=math.inf,
        confidence=confidence,
        n=n,
        method="sample maximum (no upper bound)",
        decided=False,
    )
    return table


def bootstrap_ci(
    samples: Iterable[float],
    statistic: Callable[..., np.ndarray] = np.mean,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> Estimate:
    """Percentile-bootstrap interval of `statistic` (e.g. the mean), in the samples' unit.

    `statistic(array, axis=-1)` must reduce along the last axis, as numpy reductions do. Undecided
    when fewer than 2 samples: one value says nothing about the spread of the statistic.
    """
    confidence = check_confidence(confidence)
    n_resamples = check_resamples(n_resamples)
    x = as_samples(samples)
    method = f"percentile bootstrap ({n_resamples} resamples)"
    if x.size == 0:
        return Estimate(
            value=math.nan,
            low=-math.inf,
            high=math.inf,
            confidence=confidence,
            n=0,
            method=method,
            decided=False,
        )
    value = statistic_value(x, statistic)
    if x.size < 2 or not math.isfinite(value):
        return Estimate(
            value=value,
            low=-math.inf,
            high=math.inf,
            confidence=confidence,
            n=int(x.size),
            method=method,
            decided=False,
        )
    replicates = resample_statistic(x, statistic, n_resamples, np.random.default_rng(seed))
    low, high = percentile_interval(replicates, confidence)
    low, high = min(low, value), max(high, value)
    return Estimate(
        value=value,
        low=low,
        high=high,
        confidence=confidence,
        n=int(x.size),
        method=method,
        decided=math.isfinite(low) and math.isfinite(high),
    )
