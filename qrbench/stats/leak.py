"""Leak analysis of a soak run: the RSS slope (MB/h) once the caches are full, with its interval, and a verdict.

A service that caches grows while its caches fill; only growth after that is a leak. `caches_full_at`
finds when the caches stopped growing (from cache-size series, or from cumulative miss counters going
flat); `leak_check` fits a straight line to RSS from then on (OLS on at most 300 block means, which is as
good as GLS here: on AR(1) noise with phi 0.98 plus 1-MB steps, GLS's slope sd is 5.5 MB/h over 30 min
against OLS's 5.7) and bounds its slope.

RSS noise has two parts with different effects on a slope: stationary noise (AR-like drift around a
level, a GC sawtooth) and persistent steps up or down that stay (allocator arenas), i.e. a random walk.
The slope's variance is the sum of sum(c^2) * sigma^2 (sigma^2 the residuals' long-run variance, by
overlapping batch means, qrbench.stats.series) and D * c'Wc (D the walk's variance per block, W the walk's
covariance), D fitted to the residuals' semivariogram at lags of 10-70 % of the window against the shape
a random walk's OLS residuals would have (the fitted line absorbs part of the walk, most at long lags).
Student t on the batch means' degrees of freedom.

Chosen by simulation (benchmarks/stats_coverage.py, leak table; 1-s RSS, AR(1) phi 0.98 of 2.5 MB spread,
a 60-s 5-MB GC sawtooth, 1-MB steps every ~8 min). Coverage of the 95 % slope interval:

- batch means of blocks five correlation times long, 10+ batches (the former method): 0.82-0.94 without
  steps (the sawtooth makes the correlation time look short), 0.49-0.82 with steps (a random walk's batch
  means regress spuriously on time);
- this method: 0.94-0.98 without steps, 0.83-0.93 with them; wrong verdicts <= 0.5 % on every process. The
  price: without steps its interval is about 2.3 times as wide as one that knew the slope's variance (24
  against 10 MB/h over 40 minutes), because the walk's D read from noise is clipped at 0 from below; every
  weighting and lag range of the variogram fit tried (5-90 % of the window) traded that width one for one
  against coverage under steps (lags 20-90 %: 0.89-0.94 with steps, but 3 times the known-variance width and
  up to 1.00 without steps, over the band's 0.99);
- equal-weight cosine (fixed-b) variance with K = 3-14 terms: exact t_K under stationary noise, but under a
  random walk its 97.5 % point is 8.5-11.5 instead of 2.2-3.2, so an interval valid for both would be 3-4
  times too wide when there are no steps;
- a Satterthwaite t with 1-2 degrees of freedom for the walk part: wider, not more covering.

What is left is not in the variance formula: a random walk that happens to drift like a line over the
window is indistinguishable from a slope, and the walk's D then reads small exactly when the slope is most
wrong (the residual variogram is flat). Within 30-60 minutes the walk never dominates any frequency the data
hold (with D = 0.002 MB^2/s and AR long-run variance 625 MB^2 s it does only above ~1 h periods), so no
estimate from one soak can price it fully; longer soaks cover better.

Detection: a 30 MB/h leak against the 20 MB/h limit in a 30-minute window is found (lower bound above the
limit) in at most 0.77 of soaks without steps and 0.43 with them even by an interval that knew the slope's
variance (sd 3.8 and 5.5 MB/h); 0.90 needs about 36 minutes without steps and 65-70 minutes with them. This
method finds it in 0.29-0.40 of 30-minute soaks and 0.60-0.72 of 60-minute ones; the rest are "undecided",
not a wrong verdict.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
from scipy.stats import t as student_t

from qrbench.stats.estimate import Estimate
from qrbench.stats.series import long_run_variance

__all__ = ["LEAK_LIMIT_MB_PER_H", "LeakCheck", "caches_full_at", "leak_check"]

# A 20 MB/h drift is about 0.5 GB a day: the most a service restarted daily on a few-GB host can afford.
# Smaller drifts are also below what a 30-minute soak of 1-s samples resolves against allocator steps.
LEAK_LIMIT_MB_PER_H = 20.0

_MB = 1e6
_HOUR_S = 3600.0


@dataclass(frozen=True, slots=True, kw_only=True)
class LeakCheck:
    """The verdict of a leak analysis.

    slope: RSS growth in MB/h (1 MB = 10^6 bytes) over [start_s, end_s] (seconds, the input's clock),
    with its interval (stationary noise plus persistent steps, see the module docstring). verdict: "pass"
    when the interval's upper bound is below limit_mb_per_h, "fail" when its lower bound is above it,
    "undecided" when the interval straddles it,
    "insufficient" when there is no usable window (caches never full, window too short or too correlated);
    reason says why. block_len: samples per block mean.
    """

    slope: Estimate
    verdict: Literal["pass", "fail", "undecided", "insufficient"]
    limit_mb_per_h: float
    start_s: float
    end_s: float
    block_len: int
    reason: str


def _series(values: object, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D series; got shape {array.shape}.")
    return array


def caches_full_at(
    t_s: Sequence[float] | np.ndarray,
    *,
    misses: Sequence[Sequence[float] | np.ndarray] = (),
    sizes: Sequence[Sequence[float] | np.ndarray] = (),
    size_fraction: float = 0.99,
) -> float | None:
    """The time (seconds, t_s's clock) from which every cache is full, or None if one never was.

    misses: cumulative miss counters, one series per cache (as scraped from /metrics): a cache is full
    from the sample after its last increase, when its working set is all cached. This fits a soak whose
    working set is smaller than the cache; a cache evicting at capacity misses forever, so give sizes.
    sizes: cache-size series (bytes or entries): full from the first sample reaching size_fraction of
    its maximum. A series still rising at its last sample gives None (the caches were still filling).
    A missed scrape (NaN) is skipped: each scrape is compared with the previous one that arrived; a series
    never scraped gives None.
    """
    times = _series(t_s, "t_s")
    if not misses and not sizes:
        raise ValueError("caches_full_at needs at least one series in misses or sizes.")
    if not 0.0 < size_fraction <= 1.0:
        raise ValueError(f"size_fraction must be in (0, 1]; got {size_fraction!r}.")
    if times.size == 0:
        return None
    full = float(times[0])
    for i, counter in enumerate(misses):
        y = _series(counter, f"misses[{i}]")
        if y.shape != times.shape:
            raise ValueError(f"misses[{i}] has {y.size} samples but t_s has {times.size}.")
        # A missed scrape (NaN) is no sample: compare each scrape with the previous one that arrived.
        seen = np.flatnonzero(np.isfinite(y) & np.isfinite(times))
        if seen.size == 0:
            return None  # never scraped: nothing says the cache filled
        y_seen, t_seen = y[seen], times[seen]
        rises = np.flatnonzero(np.diff(y_seen) > 0)
        if rises.size and rises[-1] + 1 == y_seen.size - 1:
            return None  # still missing at the last scrape that arrived
        if rises.size:
            full = max(full, float(t_seen[rises[-1] + 1]))
    for i, size in enumerate(sizes):
        y = _series(size, f"sizes[{i}]")
        if y.shape != times.shape:
            raise ValueError(f"sizes[{i}] has {y.size} samples but t_s has {times.size}.")
        seen = np.flatnonzero(np.isfinite(y) & np.isfinite(times))
        if seen.size == 0:
            return None
        y_seen, t_seen = y[seen], times[seen]
        top = float(np.max(y_seen))
        first = int(np.argmax(y_seen >= size_fraction * top))
        if first == y_seen.size - 1 and y_seen.size > 1 and y_seen[-1] > y_seen[-2]:
            return None  # reached its maximum only by rising into the last scrape
        full = max(full, float(t_seen[first]))
    return full


# The slope is fitted to at most this many block means (the RW basis below is an m x m matrix).
_MAX_BLOCKS = 300
# The random-walk share is read from the residual variogram between these fractions of the window.
_VARIOGRAM_LAGS = (0.1, 0.7)


@lru_cache(maxsize=16)
def _random_walk_basis(m: int) -> tuple[np.ndarray, float, int, int]:
    """For m equally spaced block means: the expected semivariogram of the OLS residuals of a unit random walk at
    the lags read (_VARIOGRAM_LAGS), the OLS slope variance that walk gives (per block step), and those lags.

    The residuals' variogram is not the walk's (the fitted line absorbs part of it, most at long lags), so the
    walk's share is fitted against this expected shape, not against the straight line h / 2.
    """
    s = np.arange(m, dtype=float)
    design = np.c_[np.ones(m), s]
    hat = design @ np.linalg.solve(design.T @ design, design.T)
    residual_maker = np.eye(m) - hat
    walk = np.minimum(s[:, None], s[None, :]) + 1.0
    r = residual_maker @ walk @ residual_maker
    d = np.diag(r)
    lo, hi = max(2, int(_VARIOGRAM_LAGS[0] * m)), max(3, int(_VARIOGRAM_LAGS[1] * m))
    psi = np.array([np.mean(d[h:] + d[:-h] - 2.0 * np.diag(r, h)) / 2.0 for h in range(lo, hi)])
    c = np.linalg.solve(design.T @ design, design.T)[1]
    return psi, float(c @ walk @ c), lo, hi


def _slope_interval(
    hours: np.ndarray, mb: np.ndarray, confidence: float
) -> tuple[float, float, float, int, int, float, bool]:
    """OLS slope of block means, its interval half-width, and what it rests on.

    Returns (slope, half_width, dof, block_len, blocks, random-walk share of the variance, decided). The slope's
    variance has two parts (see the module docstring): the stationary noise's, sum c^2 * sigma^2 with sigma^2
    the residuals' long-run variance (overlapping batch means, qrbench.stats.series), and the persistent steps',
    D * c' W c with D the random walk's variance per block step, fitted to the residual variogram at long lags.
    """
    n = hours.size
    block_len = max(1, n // _MAX_BLOCKS)
    m = n // block_len
    used = m * block_len
    x = hours[:used].reshape(m, block_len).mean(axis=1)
    z = mb[:used].reshape(m, block_len).mean(axis=1)
    xc = x - x.mean()
    sxx = float(xc @ xc)
    slope = float(xc @ (z - z.mean())) / sxx
    residuals = z - z.mean() - slope * xc
    lrv = long_run_variance(residuals)
    var_stationary = lrv.variance / sxx  # sum c^2 = 1 / sxx for the OLS slope
    psi, walk_gain, lo, hi = _random_walk_basis(m)
    variogram = np.array([np.mean((residuals[h:] - residuals[:-h]) ** 2) / 2.0 for h in range(lo, hi)])
    _, per_step = np.linalg.lstsq(np.c_[np.ones(psi.size), psi], variogram, rcond=None)[0]
    step_h = (x[-1] - x[0]) / (m - 1)
    var_walk = max(float(per_step), 0.0) * walk_gain / step_h**2
    total = var_stationary + var_walk
    dof = max(lrv.dof, 1.0)
    half = float(student_t.ppf(0.5 + confidence / 2.0, dof)) * math.sqrt(total)
    share = var_walk / total if total > 0 else 0.0
    return slope, half, dof, block_len, m, share, lrv.decided


def _refuse_milliseconds(times: np.ndarray, min_window_s: float) -> None:
    """Refuse sample times that are evidently milliseconds: a slope per "hour" would be off by 1000."""
    finite = np.sort(times[np.isfinite(times)])
    if finite.size < 3:
        return
    step = float(np.median(np.diff(finite)))
    span = float(finite[-1] - finite[0])
    # Scrapes are seconds apart; steps of >= 500 "seconds" over a span that, read as ms, is a soak are ms.
    if step >= 500.0 and span / 1000.0 >= min(min_window_s, 60.0):
        raise ValueError(
            f"t_s looks like milliseconds: samples are a median {step:g} apart over {span:g}, which in seconds "
            f"would be a {span / 86400:.3g}-day soak sampled every {step / 60:.3g} minutes. Pass seconds "
            "(t_ms / 1000)."
        )


def _checked_inputs(t_s, rss_bytes, limit_mb_per_h: float, confidence: float, min_window_s: float):
    """The two series as float arrays; ValueError naming what is wrong (lengths, confidence, limit, units)."""
    times = _series(t_s, "t_s")
    rss = _series(rss_bytes, "rss_bytes")
    if times.shape != rss.shape:
        raise ValueError(f"t_s and rss_bytes must be of one length; got {times.size} and {rss.size}.")
    if not (0.5 <= confidence < 1.0):
        raise ValueError(f"confidence must be between 0.5 and 1; got {confidence!r}.")
    if not (math.isfinite(limit_mb_per_h) and limit_mb_per_h > 0):
        raise ValueError(f"limit_mb_per_h must be a positive number of MB per hour; got {limit_mb_per_h!r}.")
    _refuse_milliseconds(times, min_window_s)
    return times, rss


def _verdict(estimate: Estimate, limit_mb_per_h: float) -> tuple[str, str]:
    if estimate.high < limit_mb_per_h:
        return "pass", f"the upper bound {estimate.high:.1f} MB/h is below the limit {limit_mb_per_h:g} MB/h"
    if estimate.low > limit_mb_per_h:
        return "fail", f"the lower bound {estimate.low:.1f} MB/h is above the limit {limit_mb_per_h:g} MB/h"
    return "undecided", (
        f"the interval [{estimate.low:.1f}, {estimate.high:.1f}] MB/h contains the limit {limit_mb_per_h:g} MB/h; "
        "a longer soak narrows it"
    )


def leak_check(
    t_s: Sequence[float] | np.ndarray,
    rss_bytes: Sequence[float] | np.ndarray,
    *,
    full_at_s: float | None,
    limit_mb_per_h: float = LEAK_LIMIT_MB_PER_H,
    confidence: float = 0.95,
    min_window_s: float = 600.0,
) -> LeakCheck:
    """The RSS slope (MB/h) after the caches are full, with its interval, and its verdict.

    t_s: sample times in seconds (times that are evidently milliseconds are refused); rss_bytes: the
    service's resident memory at those times. full_at_s:
    when the caches were full (from caches_full_at); None means they never were, and gives
    "insufficient". Only samples at or after full_at_s are used; fewer than min_window_s seconds of them
    (or fewer than 30 samples, or fewer than ten correlation times) also give "insufficient". The slope and
    its interval come from the regression of block means (see the module docstring and _slope_interval);
    the verdict compares the interval with limit_mb_per_h (LEAK_LIMIT_MB_PER_H by default). Samples are
    taken to be about evenly spaced (the variance model works in block steps).
    """
    times, rss = _checked_inputs(t_s, rss_bytes, limit_mb_per_h, confidence, min_window_s)
    keep = np.isfinite(times) & np.isfinite(rss)
    if full_at_s is not None:
        keep &= times >= full_at_s
    t, y = times[keep], rss[keep] / _MB
    order = np.argsort(t, kind="stable")
    t, y = t[order] / _HOUR_S, y[order]
    start_s = float(t[0] * _HOUR_S) if t.size else math.nan
    end_s = float(t[-1] * _HOUR_S) if t.size else math.nan

    def insufficient(reason: str) -> LeakCheck:
        slope = Estimate(
            value=math.nan,
            low=-math.inf,
            high=math.inf,
            confidence=confidence,
            n=int(t.size),
            method="OLS slope of block means",
            decided=False,
        )
        return LeakCheck(
            slope=slope,
            verdict="insufficient",
            limit_mb_per_h=limit_mb_per_h,
            start_s=start_s,
            end_s=end_s,
            block_len=0,
            reason=reason,
        )

    if full_at_s is None:
        return insufficient("the caches were still filling at the end of the run, so growth is not a leak yet")
    if t.size < 30 or (end_s - start_s) < min_window_s:
        return insufficient(
            f"only {end_s - start_s if t.size else 0:.0f} s ({t.size} samples) after the caches were full; "
            f"the analysis needs at least {min_window_s:.0f} s and 30 samples"
        )
    slope, half_width, dof, block_len, blocks, walk_share, decided = _slope_interval(t, y, confidence)
    method = (
        f"OLS slope of {blocks} block means of {block_len} samples; variance from the residuals' long-run variance "
        f"and a random-walk (persistent step) part fitted to their variogram ({walk_share:.0%} of it); "
        f"Student t on {dof:.3g} dof"
    )
    if not decided:
        return insufficient(
            f"the {t.size} samples after the caches were full are too correlated to bound the slope "
            "(fewer than ten correlation times); a longer soak is needed"
        )
    estimate = Estimate(
        value=slope,
        low=slope - half_width,
        high=slope + half_width,
        confidence=confidence,
        n=int(t.size),
        method=method,
    )
    verdict, reason = _verdict(estimate, limit_mb_per_h)
    return LeakCheck(
        slope=estimate,
        verdict=verdict,
        limit_mb_per_h=limit_mb_per_h,
        start_s=start_s,
        end_s=end_s,
        block_len=block_len,
        reason=reason,
    )
