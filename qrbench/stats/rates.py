"""Rates with confidence intervals: throughput, success ratio, and the ratio of two samples' statistics."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Literal

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
from qrbench.stats.series import long_run_variance

__all__ = ["throughput", "success_ratio", "ratio_ci"]


def _positive_seconds(value: float | None, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{name} must be a positive number of seconds or None; got {value!r}.")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive, finite number of seconds; got {value!r}.")
    return float(value)


# Phases of the arrival rate: a split must stand out by this many noise units, each side >= _MIN_PHASE windows.
_PHASE_SCORE = 6.0
_MIN_PHASE = 5


def _phase_levels(rates: np.ndarray) -> np.ndarray:
    """Piecewise-constant level of per-window rates by binary segmentation (mean shifts that stand out by
    _PHASE_SCORE times the windows' own noise, from the median absolute first difference)."""
    n = rates.size
    diffs = np.diff(rates)
    noise = 1.4826 * float(np.median(np.abs(diffs - np.median(diffs)))) / math.sqrt(2.0) if n > 2 else 0.0
    fitted = np.full(n, rates.mean() if n else 0.0)
    if noise <= 0.0:
        return fitted
    pending, cuts = [(0, n)], []
    while pending and len(cuts) < n // _MIN_PHASE:
        a, b = pending.pop()
        if b - a < 2 * _MIN_PHASE:
            continue
        sums = np.cumsum(rates[a:b])
        k = np.arange(_MIN_PHASE, b - a - _MIN_PHASE + 1)
        left = sums[k - 1] / k
        right = (sums[-1] - sums[k - 1]) / (b - a - k)
        score = np.abs(right - left) / (noise * np.sqrt(1.0 / k + 1.0 / (b - a - k)))
        best = int(np.argmax(score))
        if score[best] < _PHASE_SCORE:
            continue
        cut = a + int(k[best])
        cuts.append(cut)
        pending += [(a, cut), (cut, b)]
    edges = [0, *sorted(cuts), n]
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        fitted[a:b] = rates[a:b].mean()
    return fitted


def _windowed_mean(rates: np.ndarray, confidence: float) -> Estimate:
    """Mean of per-window rates with an interval for correlated windows that is not widened by phases.

    Per-window rates are correlated (bursts, slow phases). A stage whose arrival rate changes in phases
    has a known mean over the stage: the phases are the load, not noise, so their levels are fitted
    (`_phase_levels`) and the interval is that of the mean of the residuals, whose long-run variance
    (overlapping batch means, qrbench.stats.series) still carries bursts shorter than a phase.
    """
    n = rates.size
    value = float(rates.mean())
    fitted = _phase_levels(rates)
    phases = int(np.count_nonzero(np.diff(fitted))) + 1
    # A stage may hold only a few windows: Geyer's estimate alone then, as long as two correlation times fit.
    lrv = long_run_variance(rates - fitted, min_samples=3, min_independent=2.0)
    where = f"{phases} rate phases fitted; " if phases > 1 else ""
    method = f"{where}Student t on {lrv.dof:.3g} dof from overlapping batch means of {lrv.batch} (tau = {lrv.tau:.3g})"
    if not lrv.decided:
        method = f"{where}undecided: {lrv.note}".replace("requests", "windows")
        return Estimate(
            value=value, low=-math.inf, high=math.inf, confidence=confidence, n=n, method=method, decided=False
        )
    dof = max(lrv.dof - (phases - 1), 1.0)
    half = float(_sps.t.ppf(0.5 + confidence / 2.0, dof)) * math.sqrt(lrv.variance / n)
    return Estimate(value=value, low=value - half, high=value + half, confidence=confidence, n=n, method=method)


def throughput(
    t_end_seconds: Iterable[float],
    *,
    duration_s: float | None = None,
    window_s: float | None = None,
    start_s: float | None = None,
    end_s: float | None = None,
    confidence: float = 0.95,
) -> Estimate:
    """Completions per second, from completion times in seconds (any common origin).

    Three interval methods, chosen by the arguments:

    - default: the rate over the span from the first to the last completion, (n - 1) / span. The
      span of n - 1 inter-completion gaps is Gamma-distributed under a Poisson process, which gives
      the exact chi-square interval. Under-states the spread of bursty traffic.
    - `duration_s`: n completions over a fixed observation window of that many seconds (the run's
      steady phase), with the exact Poisson (Garwood) interval; n = 0 still gives an upper bound.
    - `window_s`: completions counted in consecutive windows of that many seconds from `start_s` to
      `end_s` (default: the first and last completion; the last partial window dropped; windows are
      half-open, so a completion exactly on the last edge is not counted); mean rate with a
      Student-t interval over n / tau effective windows, tau the windows' autocorrelation time
      (qrbench.stats.series), so the windows effectively span the correlation time. It follows bursts
      and closed-loop regularity that a Poisson model misstates; needs >= 2 windows. Use it for the
      rates of load and scalability stages.
    """
    confidence = check_confidence(confidence)
    duration_s, window_s = _checked_throughput_options(duration_s, window_s, start_s, end_s)
    t = as_samples(t_end_seconds, name="t_end_seconds")
    if duration_s is not None:
        return _fixed_duration_throughput(int(t.size), duration_s, confidence)
    if window_s is not None:
        return _windowed_throughput(t, window_s, start_s, end_s, confidence)
    return _span_throughput(t, confidence)


def _checked_throughput_options(
    duration_s: float | None, window_s: float | None, start_s: float | None, end_s: float | None
) -> tuple[float | None, float | None]:
    """throughput()'s duration_s and window_s as floats (or None), after checking the options go together."""
    duration_s = _positive_seconds(duration_s, "duration_s")
    window_s = _positive_seconds(window_s, "window_s")
    if duration_s is not None and window_s is not None:
        raise ValueError("Pass at most one of duration_s and window_s to throughput(), not both.")
    if (start_s is not None or end_s is not None) and window_s is None:
        raise ValueError("start_s and end_s apply to windowed throughput only; pass window_s too.")
    for name, value in (("start_s", start_s), ("end_s", end_s)):
        number = isinstance(value, int | float | np.integer | np.floating) and not isinstance(value, bool)
        if value is not None and not (number and math.isfinite(value)):
            raise ValueError(f"{name} must be a finite time in seconds or None; got {value!r}.")
    return duration_s, window_s


def _fixed_duration_throughput(n: int, duration_s: float, confidence: float) -> Estimate:
    """n completions over a fixed observation window, with the exact Poisson (Garwood) interval."""
    alpha = 1.0 - confidence
    low = 0.0 if n == 0 else _sps.chi2.ppf(alpha / 2, 2 * n) / (2 * duration_s)
    high = _sps.chi2.ppf(1 - alpha / 2, 2 * n + 2) / (2 * duration_s)
    return Estimate(
        value=n / duration_s,
        low=float(low),
        high=float(high),
        confidence=confidence,
        n=n,
        method="Poisson count over a fixed duration (Garwood exact)",
    )


def _windowed_throughput(
    t: np.ndarray, window_s: float, start_s: float | None, end_s: float | None, confidence: float
) -> Estimate:
    """Mean rate over consecutive half-open windows of window_s seconds from start_s to end_s."""
    n = int(t.size)
    first = float(start_s) if start_s is not None else (float(t.min()) if n else 0.0)
    last = float(end_s) if end_s is not None else (float(t.max()) if n else first)
    n_windows = int(max(last - first, 0.0) // window_s)
    if n_windows < 2:
        return Estimate(
            value=math.nan,
            low=0.0,
            high=math.inf,
            confidence=confidence,
            n=n,
            method=f"mean of {window_s:g} s windows: fewer than 2 in the span",
            decided=False,
        )
    # Half-open windows [a, b): a completion exactly on the last edge belongs to the next, dropped window
    # (np.histogram would close the last bin and count it twice over the span).
    index = np.floor((t - first) / window_s)
    inside = (index >= 0) & (index < n_windows)
    counts = np.bincount(index[inside].astype(int), minlength=n_windows)
    est = _windowed_mean(counts / window_s, confidence)
    method = f"mean of {n_windows} windows of {window_s:g} s; {est.method}"
    if not est.decided:
        return Estimate(
            value=est.value,
            low=0.0,
            high=math.inf,
            confidence=confidence,
            n=int(counts.sum()),
            method=method,
            decided=False,
        )
    return Estimate(
        value=est.value,
        low=max(0.0, est.low),
        high=est.high,
        confidence=confidence,
        n=int(counts.sum()),
        method=method,
    )


def _span_throughput(t: np.ndarray, confidence: float) -> Estimate:
    """(n - 1) / span from the first to the last completion, with the exact Gamma (chi-square) interval."""
    n = int(t.size)
    span = float(t.max() - t.min()) if n else 0.0
    method = "Poisson process over first-to-last completion (Gamma exact)"
    if n < 2 or span == 0.0:
        return Estimate(
            value=math.nan, low=0.0, high=math.inf, confidence=confidence, n=n, method=method, decided=False
        )
    alpha = 1.0 - confidence
    k = n - 1
    low = _sps.chi2.ppf(alpha / 2, 2 * k) / (2 * span)
    high = _sps.chi2.ppf(1 - alpha / 2, 2 * k) / (2 * span)
    value = k / span
    return Estimate(
        value=value,
        low=float(min(low, value)),
        high=float(max(high, value)),
        confidence=confidence,
        n=n,
        method=method,
    )


def _check_count(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer count; got {value!r}.")
    return int(value)


def success_ratio(
    n_ok: int,
    n_total: int,
    *,
    confidence: float = 0.95,
    method: Literal["wilson", "clopper-pearson"] = "wilson",
) -> Estimate:
    """Fraction of requests that succeeded (0-1), with a Wilson score or Clopper-Pearson exact interval.

    The intervals equal scipy.stats.binomtest(n_ok, n_total).proportion_ci(confidence, method="wilson"
    or "exact"). Undecided (value NaN, interval [0, 1]) when there were no requests.
    """
    confidence = check_confidence(confidence)
    k = _check_count(n_ok, "n_ok")
    n = _check_count(n_total, "n_total")
    if k > n:
        raise ValueError(f"n_ok ({k}) must not exceed n_total ({n}).")
    if method not in ("wilson", "clopper-pearson"):
        raise ValueError(f"success_ratio method must be 'wilson' or 'clopper-pearson'; got {method!r}.")
    label = "Wilson score" if method == "wilson" else "Clopper-Pearson exact"
    if n == 0:
        return Estimate(value=math.nan, low=0.0, high=1.0, confidence=confidence, n=0, method=label, decided=False)
    alpha = 1.0 - confidence
    p = k / n
    if method == "wilson":
        z = float(_sps.norm.ppf(1 - alpha / 2))
        denom = 2 * (n + z * z)
        centre = (2 * n * p + z * z) / denom
        half = z * math.sqrt(z * z + 4 * n * p * (1 - p)) / denom
        low, high = max(0.0, centre - half), min(1.0, centre + half)
    else:
        low = 0.0 if k == 0 else float(_sps.beta.ppf(alpha / 2, k, n - k + 1))
        high = 1.0 if k == n else float(_sps.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return Estimate(value=p, low=min(low, p), high=max(high, p), confidence=confidence, n=n, method=label)


def ratio_ci(
    a: Iterable[float],
    b: Iterable[float],
    statistic: Callable[..., np.ndarray] = np.median,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> Estimate:
    """statistic(a) / statistic(b) (unitless) with a percentile-bootstrap interval.

    `a` and `b` are resampled independently (e.g. quantum and classical latencies in ms);
    `statistic(array, axis=-1)` must reduce along the last axis. `n` is the smaller sample size.
    Undecided when either sample has fewer than 2 values or a denominator can be 0.
    """
    confidence = check_confidence(confidence)
    n_resamples = check_resamples(n_resamples)
    x = as_samples(a, name="a")
    y = as_samples(b, name="b")
    n = int(min(x.size, y.size))
    method = f"ratio of statistics, independent percentile bootstrap ({n_resamples} resamples)"
    undecided = Estimate(
        value=math.nan, low=-math.inf, high=math.inf, confidence=confidence, n=n, method=method, decided=False
    )
    if n == 0:
        return undecided
    numerator, denominator = statistic_value(x, statistic), statistic_value(y, statistic)
    if denominator == 0.0 or not (math.isfinite(numerator) and math.isfinite(denominator)):
        return undecided
    value = numerator / denominator
    if n < 2:
        return Estimate(
            value=value,
            low=-math.inf,
            high=math.inf,
            confidence=confidence,
            n=n,
            method=method,
            decided=False,
        )
    rng = np.random.default_rng(seed)
    top = resample_statistic(x, statistic, n_resamples, rng)
    bottom = resample_statistic(y, statistic, n_resamples, rng)
    if np.any(bottom == 0.0):
        return Estimate(
            value=value,
            low=-math.inf,
            high=math.inf,
            confidence=confidence,
            n=n,
            method=method,
            decided=False,
        )
    low, high = percentile_interval(top / bottom, confidence)
    return Estimate(value=value, low=min(low, value), high=max(high, value), confidence=confidence, n=n, method=method)
