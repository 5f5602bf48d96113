"""Reference latency processes with known stationary quantiles and mean, for coverage checks of intervals.

Each generator returns `reps` independent time-ordered series of `n` latencies (ms) as a (reps, n) array,
vectorised over series, every one started in its stationary distribution (no burn-in needed), and the
exact marginal truth:

- `mm1`: FCFS M/M/1 sojourn times (waiting plus service) at utilisation rho, by the Lindley recursion
  W_k = max(0, W_{k-1} + S_{k-1} - A_k) written as a running minimum of the random walk, W_0 drawn from the
  stationary waiting time (0 with probability 1 - rho, else Exp(mu - lambda)); the sojourn time is then
  exactly Exp(mu - lambda).
- `stalls`: lognormal latencies that jump tenfold in stall episodes (a two-state Markov chain, a stall
  every ~400 requests lasting ~20): the tail is made of whole episodes.
- `regimes`: two load regimes (medians 10 and 18 ms) switching every ~150 requests.
- `heavy_tailed`: iid Lomax (Pareto II) with tail index 3 (finite variance, infinite third moment).
- `ar1`: lognormal latency whose log is a stationary AR(1) with phi = 0.9 (the process of the first tests).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import optimize as _opt
from scipy import stats as _sps
from scipy.signal import lfilter

__all__ = ["ReferenceProcess", "reference_processes", "mm1", "stalls", "regimes", "heavy_tailed", "ar1", "rss_soak"]


@dataclass(frozen=True, kw_only=True)
class ReferenceProcess:
    """A seeded latency process: `sample(rng, reps, n)` -> (reps, n) ms; exact `quantile(p)` and `mean` (ms)."""

    name: str
    sample: Callable[[np.random.Generator, int, int], np.ndarray]
    quantile: Callable[[float], float]
    mean: float


def _markov_states(rng: np.random.Generator, reps: int, n: int, p_on: float, p_off: float) -> np.ndarray:
    """Stationary two-state chains (True = "on"), vectorised over `reps`."""
    states = np.empty((reps, n), dtype=bool)
    states[:, 0] = rng.random(reps) < p_on / (p_on + p_off)
    u = rng.random((reps, n))
    for i in range(1, n):
        states[:, i] = np.where(states[:, i - 1], u[:, i] >= p_off, u[:, i] < p_on)
    return states


def _lognormal_mixture(
    name: str, p_on: float, p_off: float, off: tuple[float, float], on: tuple[float, float]
) -> ReferenceProcess:
    """Log-normal latency (median ms, log-sd) whose parameters follow a two-state Markov chain."""
    share = p_on / (p_on + p_off)
    (m0, s0), (m1, s1) = (math.log(off[0]), off[1]), (math.log(on[0]), on[1])

    def cdf(x: float) -> float:
        z = math.log(x)
        return (1 - share) * _sps.norm.cdf((z - m0) / s0) + share * _sps.norm.cdf((z - m1) / s1)

    def quantile(p: float) -> float:
        return float(_opt.brentq(lambda x: cdf(x) - p, 1e-9, 1e9, xtol=1e-12, rtol=1e-12))

    def sample(rng: np.random.Generator, reps: int, n: int) -> np.ndarray:
        states = _markov_states(rng, reps, n, p_on, p_off)
        z = rng.standard_normal((reps, n))
        return np.exp(np.where(states, m1 + s1 * z, m0 + s0 * z))

    mean = (1 - share) * math.exp(m0 + s0**2 / 2) + share * math.exp(m1 + s1**2 / 2)
    return ReferenceProcess(name=name, sample=sample, quantile=quantile, mean=mean)


def mm1(rho: float, mean_service_ms: float = 10.0) -> ReferenceProcess:
    """M/M/1 FCFS sojourn times at utilisation `rho` (0 < rho < 1), service mean `mean_service_ms`."""
    if not 0.0 < rho < 1.0:
        raise ValueError(f"rho must lie strictly between 0 and 1 for a stable M/M/1 queue; got {rho!r}.")
    mu = 1.0 / mean_service_ms
    lam = rho * mu

    def sample(rng: np.random.Generator, reps: int, n: int) -> np.ndarray:
        service = rng.exponential(1.0 / mu, (reps, n))
        gaps = rng.exponential(1.0 / lam, (reps, n))
        w0 = np.where(rng.random(reps) < rho, rng.exponential(1.0 / (mu - lam), reps), 0.0)
        walk = np.concatenate([np.zeros((reps, 1)), np.cumsum(service[:, :-1] - gaps[:, 1:], axis=1)], axis=1)
        # W_k = walk_k - min(-W_0, min_{1<=j<=k} walk_j), and walk_k itself is in the minimum (W_k >= 0).
        floor = np.minimum.accumulate(np.concatenate([-w0[:, None], walk[:, 1:]], axis=1), axis=1)
        waiting = walk - np.minimum(floor, walk)
        return waiting + service

    rate = mu - lam
    return ReferenceProcess(
        name=f"M/M/1 rho={rho:g}", sample=sample, quantile=lambda p: -math.log1p(-p) / rate, mean=1.0 / rate
    )


def stalls() -> ReferenceProcess:
    """10 ms lognormal requests; stall episodes (every ~400 requests, ~20 long) at 80 ms."""
    return _lognormal_mixture("stall episodes", 1 / 400, 1 / 20, (10.0, 0.3), (80.0, 0.5))


def regimes() -> ReferenceProcess:
    """Two regimes (medians 10 and 18 ms, log-sd 0.4) switching every ~150 requests."""
    return _lognormal_mixture("regime switching", 1 / 150, 1 / 150, (10.0, 0.4), (18.0, 0.4))


def heavy_tailed(alpha: float = 3.0, scale_ms: float = 10.0) -> ReferenceProcess:
    """iid Lomax latencies with tail index `alpha` (> 2 for a finite variance)."""

    def sample(rng: np.random.Generator, reps: int, n: int) -> np.ndarray:
        return scale_ms * (rng.random((reps, n)) ** (-1.0 / alpha) - 1.0)

    return ReferenceProcess(
        name=f"iid Pareto tail {alpha:g}",
        sample=sample,
        quantile=lambda p: scale_ms * ((1.0 - p) ** (-1.0 / alpha) - 1.0),
        mean=scale_ms / (alpha - 1.0),
    )


def ar1(phi: float = 0.9, sigma: float = 0.5, median_ms: float = 10.0) -> ReferenceProcess:
    """Lognormal latency median_ms * exp(sigma * X), X a stationary unit-variance AR(1) with `phi`."""

    def sample(rng: np.random.Generator, reps: int, n: int) -> np.ndarray:
        shocks = rng.standard_normal((reps, n))
        x = lfilter([math.sqrt(1 - phi**2)], [1.0, -phi], shocks, axis=1)
        x += np.outer(rng.standard_normal(reps), phi ** np.arange(1, n + 1))
        return median_ms * np.exp(sigma * x)

    return ReferenceProcess(
        name=f"AR(1) phi={phi:g}",
        sample=sample,
        quantile=lambda p: median_ms * math.exp(sigma * _sps.norm.ppf(p)),
        mean=median_ms * math.exp(sigma**2 / 2),
    )


def reference_processes() -> tuple[ReferenceProcess, ...]:
    """The family the coverage test and benchmark run: M/M/1 at 0.5, 0.8, 0.9, stalls, regimes, heavy, AR(1)."""
    return (mm1(0.5), mm1(0.8), mm1(0.9), stalls(), regimes(), heavy_tailed(), ar1())


def rss_soak(
    rng: np.random.Generator, slope_mb_per_h: float, minutes: float, *, sawtooth: bool = True, steps: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """1-s RSS samples (bytes) of a soak after the caches are full: drift, stationary AR(1) noise (phi 0.98,
    2.5 MB spread), optionally a 60-s GC sawtooth of 5 MB and persistent 1-MB allocator steps up or down (a random
    walk, one step every ~8 min). The leak check's test and benchmark processes."""
    mb = 1e6
    t = np.arange(int(minutes * 60), dtype=float)
    noise = lfilter([1.0], [1.0, -0.98], rng.normal(0.0, 0.5 * mb, t.size))
    noise += rng.normal(0.0, 0.5 * mb / math.sqrt(1 - 0.98**2)) * 0.98 ** np.arange(1, t.size + 1)
    rss = 600 * mb + slope_mb_per_h * mb * t / 3600.0 + noise
    if sawtooth:
        rss += 5 * mb * ((t + rng.uniform(0, 60)) % 60.0) / 60.0
    if steps:
        rss += np.cumsum((rng.random(t.size) < 0.002) * rng.choice([-1.0, 1.0], t.size)) * mb
    return t, rss
