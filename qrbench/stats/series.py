"""Time-ordered samples: integrated autocorrelation time, effective sample size and intervals that use them.

Latencies of consecutive requests are correlated (queueing, garbage collection, machine load), so n
requests carry less information than n independent draws. The integrated autocorrelation time
tau = 1 + 2 * sum_k rho_k says how many consecutive samples count as one independent one; n / tau is the
effective sample size. tau is estimated from the data with Sokal's automatic window (the smallest lag M
with M >= 5 * tau(M), autocorrelations by FFT; Sokal 1997, as in `emcee.autocorr`), and floored at 1 so
that independent or negatively correlated series get today's independent-sample intervals.

This is batch means with the batch length chosen from the data: a batch of tau samples behaves like one
independent sample, and the intervals below are those of n / tau independent samples.

- Means (`series_mean_ci`): standard error s * sqrt(tau / n), Student t with n / tau - 1 degrees of freedom,
  tau of the series itself.
- Percentiles (`interval_ranks`, used by `percentile_ci(..., time_ordered=True)`): the count of samples
  below the true quantile has variance n p (1 - p) tau_I, tau_I that of the indicator series. The
  order-statistic ranks of n / tau independent samples are scaled back to the n observed ones. tau_I is
  noisy to estimate at tail quantiles (its own estimate under-covers: ~0.91 at p95, AR(1) phi = 0.9), so
  the tau of the rank-transformed series is used instead: invariant to the latency scale, stably estimated,
  and at least tau_I for the usual dependence (an indicator is less correlated than the ranks it thresholds).
  Measured (seeded, AR(1) log-latency, phi = 0.9, n = 1000-3000): p95 coverage 0.98-0.99 at nominal 0.95,
  against 0.49-0.51 for the independent-sample interval; with phi = 0 both cover 0.96.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy import stats as _sps

from qrbench.stats._samples import as_samples, check_confidence
from qrbench.stats.estimate import Estimate

__all__ = ["autocorrelation_time", "effective_sample_size", "interval_ranks", "series_mean_ci"]

# Sokal's window constant: the sum of autocorrelations is cut at the first lag M >= 5 tau(M).
_SOKAL_C = 5.0


def autocorrelation_time(samples: object) -> float:
    """Integrated autocorrelation time of a time-ordered series (in samples, >= 1).

    1 for fewer than 3 samples or a constant series (nothing to estimate).
    """
    x = as_samples(samples)
    n = x.size
    y = x - x.mean() if n else x
    if n < 3 or not np.any(y):
        return 1.0
    size = 1 << (2 * n - 1).bit_length()
    spectrum = np.fft.rfft(y, size)
    acf = np.fft.irfft(spectrum * np.conj(spectrum), size)[:n]
    acf /= acf[0]
    taus = 2.0 * np.cumsum(acf) - 1.0  # tau(M) = 1 + 2 sum_{k=1..M} rho_k
    window = np.nonzero(np.arange(n) >= _SOKAL_C * taus)[0]
    tau = taus[window[0]] if window.size else taus[-1]
    return float(max(1.0, tau))


def effective_sample_size(samples: object, *, rank_based: bool = False) -> float:
    """n / tau: how many independent samples the series is worth. `rank_based` uses the ranks' tau."""
    x = as_samples(samples)
    if x.size == 0:
        return 0.0
    series = _sps.rankdata(x) if rank_based else x
    return x.size / autocorrelation_time(series)


@lru_cache(maxsize=1024)
def _binomial_ranks(n: int, fraction: float, confidence: float) -> tuple[int, int]:
    """Equal-tailed 1-based order-statistic ranks (l, u) for n independent samples; 0 / n + 1 = unbounded."""
    tail = (1.0 - confidence) / 2.0
    sd = math.sqrt(n * fraction * (1.0 - fraction))
    k_lo = max(0, math.floor(n * fraction - 12.0 * sd - 12.0))
    k_hi = min(n, math.ceil(n * fraction + 12.0 * sd + 12.0))
    ks = np.arange(k_lo, k_hi + 1)
    below = np.nonzero(_sps.binom.cdf(ks, n, fraction) <= tail)[0]
    lower = int(ks[below[-1]]) + 1 if below.size else k_lo
    above = np.nonzero(_sps.binom.sf(ks, n, fraction) <= tail)[0]
    upper = int(ks[above[0]]) + 1 if above.size else n + 1
    return lower, upper


def interval_ranks(n: int, fraction: float, confidence: float, tau: float = 1.0) -> tuple[int, int]:
    """1-based ranks (l, u) of a percentile interval [x_(l), x_(u)] among n samples with autocorrelation
    time `tau`; l = 0 means -inf and u = n + 1 means +inf.

    With tau = 1 these are the exact binomial ranks. Otherwise the count below the quantile is treated as
    tau times a Binomial(n / tau, fraction) count (same mean and variance), whose ranks are scaled by tau.
    """
    if n <= 0:
        return 0, 1
    if tau <= 1.0:
        return _binomial_ranks(n, fraction, confidence)
    n_eff = max(1, int(n // tau))
    scale = n / n_eff
    low_e, up_e = _binomial_ranks(n_eff, fraction, confidence)
    lower = max(1, math.floor(scale * low_e)) if low_e >= 1 else 0
    upper = min(n, math.ceil(scale * (up_e - 1)) + 1) if up_e <= n_eff else n + 1
    return lower, upper


def series_mean_ci(samples: object, *, confidence: float = 0.95) -> Estimate:
    """Mean of a time-ordered series with a batch-means interval (batches of tau samples), in its unit.

    Undecided when the series is worth fewer than 2 independent samples.
    """
    confidence = check_confidence(confidence)
    x = as_samples(samples)
    n = int(x.size)
    tau = autocorrelation_time(x)
    method = f"mean, Student t on n / tau effective samples (tau = {tau:.3g} by Sokal's window)"
    if n == 0:
        return Estimate(
            value=math.nan, low=-math.inf, high=math.inf, confidence=confidence, n=0, method=method, decided=False
        )
    value = float(x.mean())
    n_eff = n / tau
    if n_eff < 2.0:
        return Estimate(
            value=value, low=-math.inf, high=math.inf, confidence=confidence, n=n, method=method, decided=False
        )
    half = float(_sps.t.ppf(0.5 + confidence / 2.0, n_eff - 1.0)) * float(np.std(x, ddof=1)) / math.sqrt(n_eff)
    return Estimate(value=value, low=value - half, high=value + half, confidence=confidence, n=n, method=method)
