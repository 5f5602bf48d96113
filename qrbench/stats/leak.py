"""Leak analysis of a soak run: the RSS slope (MB/h) once the caches are full, with its interval, and a verdict.

A service that caches grows while its caches fill; only growth after that is a leak. `caches_full_at`
finds when the caches stopped growing (from cache-size series, or from cumulative miss counters going
flat); `leak_check` fits a straight line to RSS from then on and bounds its slope from batch means of
blocks several correlation times long, because 1-s RSS samples are strongly autocorrelated (the
allocator grows in steps and holds them) and an i.i.d. interval would be far too narrow. On synthetic
AR(1) noise (phi 0.98) the 95 % interval covers the planted slope 95 % of the time; RSS that also
random-walks (steps up and down that stay) makes any slope interval optimistic (about 80 % there).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.stats import t as student_t

from qrbench.stats.estimate import Estimate

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
    with its batch-means interval. verdict: "pass" when the interval's upper bound is below
    limit_mb_per_h, "fail" when its lower bound is above it, "undecided" when the interval straddles it,
    "insufficient" when there is no usable window (caches never full, window too short); reason says why.
    block_len: samples per batch.
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


def _block_length(residuals: np.ndarray) -> int:
    """Samples per batch: five correlation times of the residuals (the first lag with autocorrelation
    below 1/e), at least n^(1/3), and at most n/10 so that there are at least ten batches.

    Means of batches five correlation times long are close to independent (adjacent ones correlate by
    about a fifth for an AR(1)); shorter batches would make the interval too narrow.
    """
    n = residuals.size
    centred = residuals - residuals.mean()
    variance = float(centred @ centred)
    lag = 1
    if variance > 0:
        max_lag = max(1, n // 10)
        spectrum = np.fft.rfft(centred, n=2 * n)
        acf = np.fft.irfft(spectrum * np.conj(spectrum))[: max_lag + 1] / variance
        below = np.flatnonzero(acf < math.exp(-1))
        lag = int(below[0]) if below.size else max_lag
    return int(min(max(5 * lag, math.ceil(n ** (1 / 3))), max(1, n // 10)))


def _batch_slope(hours: np.ndarray, mb: np.ndarray, block_len: int, confidence: float) -> tuple[float, float, int]:
    """OLS slope of the batch means (non-overlapping blocks of block_len samples) and its interval half-width.

    Batch means of blocks several correlation times long are nearly independent, so the OLS standard
    error of their regression with a Student t of (batches - 2) degrees of freedom is honest for
    autocorrelated samples: the batch-means member of the HAC family, with fixed-b critical values.
    """
    batches = hours.size // block_len
    used = batches * block_len
    x = hours[:used].reshape(batches, block_len).mean(axis=1)
    y = mb[:used].reshape(batches, block_len).mean(axis=1)
    centred = x - x.mean()
    sxx = float(centred @ centred)
    slope = float(centred @ (y - y.mean())) / sxx
    residuals = y - y.mean() - slope * centred
    se = math.sqrt(float(residuals @ residuals) / (batches - 2) / sxx)
    return slope, float(student_t.ppf(0.5 + confidence / 2.0, batches - 2)) * se, batches


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


def leak_check(
    t_s: Sequence[float] | np.ndarray,
    rss_bytes: Sequence[float] | np.ndarray,
    *,
    full_at_s: float | None,
    limit_mb_per_h: float = LEAK_LIMIT_MB_PER_H,
    confidence: float = 0.95,
    min_window_s: float = 600.0,
) -> LeakCheck:
    """The RSS slope (MB/h) after the caches are full, with a batch-means interval, and its verdict.

    t_s: sample times in seconds (times that are evidently milliseconds are refused); rss_bytes: the
    service's resident memory at those times. full_at_s:
    when the caches were full (from caches_full_at); None means they never were, and gives
    "insufficient". Only samples at or after full_at_s are used; fewer than min_window_s seconds of them
    (or fewer than 30 samples) also give "insufficient". The slope and its interval come from the
    regression of batch means (see _block_length and _batch_slope); the verdict compares the interval
    with limit_mb_per_h (LEAK_LIMIT_MB_PER_H by default).
    """
    times = _series(t_s, "t_s")
    rss = _series(rss_bytes, "rss_bytes")
    if times.shape != rss.shape:
        raise ValueError(f"t_s and rss_bytes must be of one length; got {times.size} and {rss.size}.")
    if not (0.5 <= confidence < 1.0):
        raise ValueError(f"confidence must be between 0.5 and 1; got {confidence!r}.")
    if not (math.isfinite(limit_mb_per_h) and limit_mb_per_h > 0):
        raise ValueError(f"limit_mb_per_h must be a positive number of MB per hour; got {limit_mb_per_h!r}.")
    _refuse_milliseconds(times, min_window_s)
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
            method="OLS slope of batch means",
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
    centred_t = t - t.mean()
    line = float(centred_t @ (y - y.mean())) / float(centred_t @ centred_t)
    block_len = _block_length(y - y.mean() - line * centred_t)
    slope, half_width, batches = _batch_slope(t, y, block_len, confidence)
    estimate = Estimate(
        value=slope,
        low=slope - half_width,
        high=slope + half_width,
        confidence=confidence,
        n=int(t.size),
        method=f"OLS slope of {batches} batch means of {block_len} samples, Student t",
    )
    if estimate.high < limit_mb_per_h:
        verdict, reason = "pass", f"the upper bound {estimate.high:.1f} MB/h is below the limit {limit_mb_per_h:g} MB/h"
    elif estimate.low > limit_mb_per_h:
        verdict, reason = "fail", f"the lower bound {estimate.low:.1f} MB/h is above the limit {limit_mb_per_h:g} MB/h"
    else:
        verdict = "undecided"
        reason = (
            f"the interval [{estimate.low:.1f}, {estimate.high:.1f}] MB/h contains the limit {limit_mb_per_h:g} MB/h; "
            "a longer soak narrows it"
        )
    return LeakCheck(
        slope=estimate,
        verdict=verdict,
        limit_mb_per_h=limit_mb_per_h,
        start_s=start_s,
        end_s=end_s,
        block_len=block_len,
        reason=reason,
    )
