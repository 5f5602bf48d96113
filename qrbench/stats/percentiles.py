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

import numpy as np

from qrbench.stats._bootstrap import (
    check_resamples,
    percentile_interval,
    resample_statistic,
    statistic_value,
)
from qrbench.stats._samples import as_samples, check_confidence
from qrbench.stats.estimate import Estimate
from qrbench.stats.series import correlation_note, interval_ranks, series_percentile_taus

__all__ = ["percentile_ci", "percentile_table", "percentile_label", "bootstrap_ci", "DEFAULT_PERCENTILES"]

DEFAULT_PERCENTILES: tuple[float, ...] = (50.0, 90.0, 95.0, 99.0, 99.9)

ORDER_STATISTIC_METHOD = "order statistics (binomial, equal-tailed)"


def percentile_label(q: float) -> str:
    """Table key of percentile `q` (in percent): 50 -> "p50", 99.9 -> "p99.9"."""
    return f"p{float(q):g}"


def _check_q(q: float) -> float:
    if isinstance(q, bool) or not isinstance(q, int | float | np.integer | np.floating) or not (0 <= q <= 100):
        raise ValueError(f"Percentile q must be a number from 0 to 100 (e.g. 95 for p95); got {q!r}.")
    return float(q)


def _percentile_of_sorted(
    ordered: np.ndarray,
    q: float,
    confidence: float,
    taus: tuple[float, float] = (1.0, 1.0),
    *,
    note: str | None = None,
) -> Estimate:
    """Order-statistic interval of percentile q; `taus` (lower end, upper end) > 1 for a time-ordered series
    (qrbench.stats.series).

    `note`: when given, the series was too short for (or to show) its correlation and the estimate is
    undecided whatever the ranks say, with this sentence saying why.
    """
    n = ordered.size
    tau = max(taus)
    method = ORDER_STATISTIC_METHOD if tau <= 1.0 else f"{ORDER_STATISTIC_METHOD}, n / {tau:.3g} effective samples"
    if n == 0:
        return Estimate(
            value=math.nan,
            low=-math.inf,
            high=math.inf,
            confidence=confidence,
            n=0,
            method=method,
            decided=False,
        )
    # np.percentile's default (linear) is the point estimate, so tables agree with pandas/numpy users.
    value = float(np.percentile(ordered, q))
    lower, upper = interval_ranks(n, q / 100.0, confidence, taus)
    low = float(ordered[lower - 1]) if lower >= 1 else -math.inf
    high = float(ordered[upper - 1]) if upper <= n else math.inf
    # The interpolated point can sit a hair outside [x_(l), x_(u)] at tiny n; widening keeps coverage.
    low, high = min(low, value), max(high, value)
    decided = math.isfinite(low) and math.isfinite(high)
    if note is not None:
        low, high, decided = -math.inf, math.inf, False
        method += f"; undecided: {note}"
    elif tau > 1.0 and not decided:
        iid_low, iid_high = interval_ranks(n, q / 100.0, confidence, 1.0)
        if iid_low >= 1 and iid_high <= n:
            # The count would bound it; correlation is what keeps it open, and a one-sided bound from so few
            # effective samples is no safer than the other side (it under-covers on queues), so neither is kept.
            low, high = -math.inf, math.inf
            method += f"; undecided: {correlation_note(n, n / tau)}"
    return Estimate(
        value=value,
        low=low,
        high=high,
        confidence=confidence,
        n=n,
        method=method,
        decided=decided,
    )


def _series_estimate(x: np.ndarray, ordered: np.ndarray, q: float, confidence: float) -> Estimate:
    """Percentile of a time-ordered series: indicator long-run variance (qrbench.stats.series)."""
    taus, lrv = series_percentile_taus(x, q, confidence)
    return _percentile_of_sorted(ordered, q, confidence, taus, note=None if lrv.decided else lrv.note)


def percentile_ci(
    samples: Iterable[float], q: float, confidence: float = 0.95, *, time_ordered: bool = False
) -> Estimate:
    """Percentile `q` (0-100) of `samples` with a distribution-free interval, in the samples' unit.

    Undecided (an infinite bound) when the sample is too small: roughly n < 6 for p50, n < 72 for
    p95 and n < 367 for p99 at 95 % confidence. `time_ordered=True` (samples in the order they were
    taken, e.g. requests by start time) widens the interval for autocorrelation: the ranks are those of
    n / tau_I effective samples, tau_I the long-run variance of the indicator 1{x <= theta} over its binomial
    variance, measured at the level each end rests on (qrbench.stats.series), so "decided" then needs
    ~72 * tau_I samples for p95; a series shorter than ten correlation times is undecided and its method says
    "N requests, but strongly correlated", one whose far side holds too few independent clusters says so.
    """
    q = _check_q(q)
    confidence = check_confidence(confidence)
    x = as_samples(samples)
    if time_ordered and x.size > 2:
        return _series_estimate(x, np.sort(x), q, confidence)
    return _percentile_of_sorted(np.sort(x), q, confidence)


def percentile_table(
    samples: Iterable[float],
    qs: Iterable[float] = DEFAULT_PERCENTILES,
    confidence: float = 0.95,
    *,
    time_ordered: bool = False,
) -> dict[str, Estimate]:
    """Estimates keyed "p50", "p90", ... plus "max", in the samples' unit (`time_ordered` as in percentile_ci).

    "max" is the observed maximum: its low bound is the maximum itself and its high bound +inf,
    since no sample bounds a distribution's maximum from above; it is always undecided.
    """
    confidence = check_confidence(confidence)
    x = as_samples(samples)
    ordered = np.sort(x)
    if time_ordered and x.size > 2:
        table = {percentile_label(q): _series_estimate(x, ordered, _check_q(q), confidence) for q in qs}
    else:
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
