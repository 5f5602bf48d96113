"""Time-ordered samples: long-run variance, effective sample size and intervals that use them.

Latencies of consecutive requests are correlated (queueing, stalls, garbage collection, load regimes), so
n requests carry less information than n independent draws. The long-run variance
sigma^2 = lim n Var(mean) = gamma_0 * tau, tau = 1 + 2 sum_k rho_k the integrated autocorrelation time,
says how much: n / tau is the effective sample size.

Estimator (`long_run_variance`), chosen by simulation (benchmarks/stats_coverage.py, tests/stats/
test_stats_coverage.py) over M/M/1 sojourn times (rho 0.5-0.9), stall episodes, regime switching, iid
heavy tails and AR(1) at n = 2,000 and 10,000:

- overlapping batch means (OBM, Meketon-Schmeiser scaling) with a *growing* batch size: the starting
  batch is three correlation times of the series (Geyer's initial monotone sequence estimate, and a
  caller's hint such as the ranks' tau), at least sqrt(n); it is doubled while ten batches still fit,
  and the largest estimate is kept. A batch mean underestimates sigma^2 by about 2 sum_k k rho_k / b,
  which is large for queues (a busy period correlates requests far beyond the lag where the sample
  autocorrelation drowns in noise); growing the batch until the estimate stops rising removes most of it.
- a lugsail correction (Vats & Flegal 2022, r = 2, c = 1/2) when the batch ran out first: the largest batch b
  that fits ten times still underestimates by about C / b, and 2 OBM(b) - OBM(b / 2) removes that term. It
  replaces the OBM estimate when larger and when tau >= 3 (so independent samples keep their narrow interval),
  with 1.5 / 2.5 of OBM's degrees of freedom (its variance is about 2.5 times OBM's). On regime switching at
  n = 2,000 it lifted p50 / p95 / mean coverage from 0.82 / 0.82 / 0.86 to 0.88 / 0.88 / 0.91, on M/M/1
  rho = 0.8 the mean from 0.86 to 0.91; iid widths are unchanged (1.1-1.3 x the iid interval).
- Geyer's initial monotone sequence (and gamma_0 itself) is a floor: it is reliable when the correlation
  is short and batch means are noisy.
- the estimate carries its degrees of freedom, 1.5 (n / b - 1) for OBM, and intervals use Student t on
  them, so a variance estimated from a few batches widens the interval instead of narrowing it.

Rejected by the same simulation: Sokal's automatic window (the former estimator: on the ranks it covered
p95 0.44-0.87 on stalls and M/M/1 rho 0.8; its window stops at lags where a queue is still correlated),
Geyer's sequence alone on the indicator (0.65-0.88 among decided runs), OBM with a fixed batch n^(1/2) or
n^(0.6) (0.5-0.86 on M/M/1), batches up to n / 5 (+0.01 on regimes), and a lugsail generalised to exponential
correlation (OBM at b / 4, b / 2 and b fitted to sigma^2 - D (1 - lambda^b) / b; the lugsail is its lambda^b = 0
case): regimes at n = 2,000 gained 0.01-0.02 (p50 0.89 -> 0.91), but the noisy fit left an iid p99 decided in
0.91 of runs instead of all and stretched the decided stall means to 160 times the iid width. A circular block
bootstrap with the Politis-White block length needs the same truncated autocorrelation sum to pick its block, so
it inherits Sokal's and Geyer's failure; it was not kept.

Fewer than 20 samples cannot show their correlation: undecided ("only N requests: too few to estimate
how correlated they are"). When fewer than ten correlation times fit, the series is too short for its own
correlation time: the result is undecided ("N requests, but strongly correlated: about M independent"), never a
narrow interval.

What a single run cannot show: on skewed, long-memory series the runs that miss are those that saw no long
busy period or stall, and their estimate and variance read low together. Every rule that judges a run by how
even its own data look (few regeneration cycles, few cycles carrying the variance, heavy-tailed cycles) keeps
exactly those runs. What helps is to ask, for a value the interval might reach, what variance the series would
have *there*: a higher percentile level is where the stall episodes or busy periods sit, and a higher mean is
one with more of them. Both methods below do that (benchmark, --reps 200, before -> after):

- Means (`series_mean_ci`): standard error sqrt(sigma^2 / n), Student t on the estimate's degrees of freedom.
  Short series (no batch of the starting size fits ten times) use Geyer's estimate alone, n / tau - 1 dof.
  On a clearly correlated series (tau >= 3; independent samples keep the symmetric t interval):
  - the degrees of freedom are at most those of the series' regenerative cycles (Crane & Iglehart): a cycle
    starts where the series returns to its lowest decile b (a queue's idle-like state), and the Satterthwaite
    degrees of freedom of the sum of squared cycle deviations, 2 (sum d^2)^2 / (sum d^4 - (sum d^2)^2 / k), say
    how many cycles carry the variance (about 1 when one stall or busy period does);
  - the upper end is the mu whose own standard error still reaches it when the standard error grows in
    proportion to the excess over b: mu = b + (mean - b)^2 / (mean - b - half). An episode-driven mean's
    variance grows at least in proportion to its excess (compound Poisson, fixed episodes) and faster for a
    queue (M/M/1: sigma^2 ~ (1 - rho)^-4 while the mean ~ (1 - rho)^-1); the standard error in proportion
    (the variance with the square) sits between. When the half-width reaches the excess the mean has no upper
    end (undecided, the lower end kept). The lower end stays mean - half.
  Symmetric t -> this: M/M/1 rho 0.8 at n = 2,000 0.87 -> 0.94, rho 0.9 0.76 -> 0.92 (0.87 among the 68 %
  decided) at 2,000 and 0.87 -> 0.96 at 10,000, stalls 0.82 -> 0.94 (2,000), regimes 0.88 -> 0.91, AR(1)
  0.97 -> 0.99, iid unchanged. The price is width where episodes are few: the decided M/M/1 rho >= 0.8
  intervals average 38-55 times the iid width at 2,000 (the upper end grows without bound as the half-width
  nears the excess). Rejected: the variance (not the standard error) in proportion to the excess (rho 0.9 at
  2,000 0.86, stalls 0.92); the degrees of freedom alone (0.90 / 0.86 / 0.88 / 0.87 / 0.91 on the cells
  above); deciding only when the half-width is below a half or three quarters of the excess (it keeps exactly
  the runs that miss: rho 0.9 at 2,000 covered 0.62 / 0.82 among decided); the median as b (AR(1) 1.00).
- Percentiles (`series_percentile_taus`, used by `percentile_ci(..., time_ordered=True)`): the count of
  samples below the true quantile has variance n sigma_I^2, sigma_I^2 the long-run variance of the
  indicator series 1{x <= theta}, with the ranks' correlation time as the starting batch hint (the indicator
  of a tail quantile is sparse, so its own autocorrelations are noise beyond a few lags). The order-statistic
  ranks of n / tau_I independent samples are scaled back to the n observed ones, tau_I (the dispersion: the
  long-run variance over the indicator's own binomial variance) inflated by (t_dof / z)^2 for the estimate's
  own uncertainty.
  - The dispersion is measured where each end of the interval rests, not only at the sample quantile (a test
    inversion): an end is moved with the larger dispersion found at its own level, while that level is
    clearly clustered (dispersion >= 2, so independent samples keep the exact binomial interval).
  - A regenerative dispersion over the far side's clusters (a cycle starts where a run of samples beyond theta
    starts) is a floor from 3 up: stall episodes sit beyond the true p95 whole, and few of them are in the run.
  - Undecided when the far side holds fewer than 18 separate lasting episodes (MIN_EPISODES).
  Stalls p95 at n = 10,000 0.88 -> 0.94 and at 2,000 0.75 -> 0.85, M/M/1 rho 0.9 p50 at 2,000 0.89 -> 0.93,
  rho 0.8 p95 at 10,000 0.92 -> 0.94, regimes p95 / p99 at 2,000 0.88 / 0.92 -> 0.92 / 0.93; iid widths are
  unchanged.
  Rejected: undecided when the far side holds fewer than five independent clusters (its samples over the
  dispersion). It refused queue tails the runs could not bound, but on a real 40-s closed load run against the
  reference service (tests/stats/data/quick_load_closed_run.csv: 362 requests whose slow ones all came in the
  first, cold-cache half) it turned a p95 of 89 ms [60, 182], judged against 500 ms, into "about 3.9
  independent clusters": the count reads a warm cache as clustering.

Also rejected, for both: the regenerative variance (cycles at returns below the 10th, 25th or 50th percentile)
as a floor of the long-run variance (it was rarely larger; no cell moved by more than 0.02), and a decision by
the cycles: undecided when their Satterthwaite degrees of freedom fall below 3 or 4 (the M/M/1 rho 0.9 mean at
2,000 was then decided in 56 % / 35 % of runs, covering 0.86 / 0.80: the runs that miss have the more even
cycles, median 5.0 degrees of freedom against 3.7 for those that cover), or by a Hill estimate of the cycles'
tail index (M/M/1 rho 0.5, which covers, read 1.3-1.7, rho 0.9 0.9-1.2, and the missed runs read lighter
tails). Still short of the band (tests/stats/test_stats_coverage.py KNOWN_GAPS): stalls and regimes at
n = 2,000, M/M/1 rho >= 0.8 tails and the queue means' widths.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from scipy import stats as _sps

from qrbench.stats._samples import as_samples, check_confidence
from qrbench.stats.estimate import Estimate

__all__ = [
    "LongRunVariance",
    "autocorrelation_time",
    "correlation_note",
    "interval_ranks",
    "long_run_variance",
    "series_mean_ci",
    "series_percentile_taus",
]

# Sokal's window constant: the sum of autocorrelations is cut at the first lag M >= 5 tau(M).
_SOKAL_C = 5.0
# Batch means need this many batches of the starting size before an interval is given at all.
MIN_BATCHES = 10
# Fewer samples than this cannot show how correlated they are: a time-ordered interval is then undecided.
MIN_SERIES = 2 * MIN_BATCHES
# A percentile whose rarer side (beyond it) is visited in fewer separate episodes than this, episodes that last,
# is undecided: the indicator's long-run variance rests on how long they last, and a handful cannot say (on
# M/M/1 at rho = 0.8 and n = 2,000 the p99's 20 exceedances come in 2-4 busy periods, and the intervals decided
# from them covered in none of the runs).
MIN_EPISODES = 18
# The starting batch is this many correlation times long.
_BATCH_TAUS = 3.0
# The lugsail correction applies from this correlation time up; it multiplies OBM's variance by about 2.5
# (r = 2, c = 1/2: (1 / (1 - c))^2 (1 + c^2 / r - 2 c / r)), so its degrees of freedom are 1.5 / 2.5 of OBM's.
_LUGSAIL_MIN_TAU = 3.0
_LUGSAIL_VARIANCE_FACTOR = 2.5
# The clusters' regenerative dispersion is a floor of an indicator's tau from this value up (independent samples
# give about 1); an end of the interval is re-estimated at its own level only when its dispersion there is at
# least _END_GATE (so independent samples keep the exact binomial interval), at most _INVERSION_STEPS times.
_CLUSTER_GATE = 3.0
_END_GATE = 2.0
_INVERSION_STEPS = 4
# The mean's regeneration level: a cycle starts where the series returns to its lowest decile (the idle-like
# state of a queue: requests that found it empty); it is also the level the score-type upper end measures from.
_LOW_LEVEL_Q = 10.0


def _autocovariance(y: np.ndarray) -> np.ndarray:
    """Biased (divided by n) autocovariance of a centred series at lags 0..n-1, by FFT."""
    n = y.size
    size = 1 << (2 * n - 1).bit_length()
    spectrum = np.fft.rfft(y, size)
    return np.fft.irfft(spectrum * np.conj(spectrum), size)[:n] / n


def autocorrelation_time(samples: object) -> float:
    """Integrated autocorrelation time by Sokal's automatic window (in samples, >= 1).

    1 for fewer than 3 samples or a constant series. Kept for callers that want a quick point estimate;
    intervals use `long_run_variance`, which does not stop at the window Sokal's rule picks.
    """
    x = as_samples(samples)
    n = x.size
    y = x - x.mean() if n else x
    if n < 3 or not np.any(y):
        return 1.0
    acf = _autocovariance(y)
    acf /= acf[0]
    taus = 2.0 * np.cumsum(acf) - 1.0  # tau(M) = 1 + 2 sum_{k=1..M} rho_k
    window = np.nonzero(np.arange(n) >= _SOKAL_C * taus)[0]
    tau = taus[window[0]] if window.size else taus[-1]
    return float(max(1.0, tau))


def _geyer_tau(y: np.ndarray, gamma: np.ndarray) -> float:
    """Geyer's (1992) initial monotone sequence estimate of tau from autocovariances `gamma` (>= 1)."""
    m = gamma.size // 2
    pairs = gamma[0 : 2 * m : 2] + gamma[1 : 2 * m : 2]
    negative = np.flatnonzero(pairs <= 0)
    pairs = np.minimum.accumulate(pairs[: negative[0] if negative.size else pairs.size])
    return float(max(1.0, (2.0 * pairs.sum() - gamma[0]) / gamma[0]))


def _obm_variance(y: np.ndarray, batch: int) -> float:
    """Overlapping batch means estimate of the long-run variance (Meketon & Schmeiser 1984 scaling)."""
    n = y.size
    sums = np.concatenate(([0.0], np.cumsum(y)))
    means = (sums[batch:] - sums[:-batch]) / batch
    return float(n * batch / ((n - batch) * (n - batch + 1)) * np.sum((means - y.mean()) ** 2))


@dataclass(frozen=True, kw_only=True)
class LongRunVariance:
    """sigma^2 = lim n Var(mean) of a series (its unit squared) and what it rests on.

    tau = variance / marginal variance (>= 1); effective_n = n / tau; batch: the OBM batch length whose
    estimate was kept; dof: its degrees of freedom; decided False when fewer than ten batches of the
    correlation times fit (the series is shorter than its correlation time allows to estimate).
    """

    variance: float
    tau: float
    batch: int
    dof: float
    decided: bool
    n: int
    too_short: bool = False
    episodes: int | None = None  # separate excursions beyond a percentile, when too few decided it

    @property
    def note(self) -> str:
        """Why the estimate is undecided: too few samples to see the correlation, or too correlated."""
        if self.episodes is not None:
            return (
                f"{self.n:,} requests, but only {self.episodes} separate episodes beyond this percentile: too few "
                f"to tell how long they last (an interval needs at least {MIN_EPISODES})"
            )
        if self.too_short:
            return (
                f"only {self.n:,} requests: too few to estimate how correlated they are (a time-ordered "
                f"interval needs at least {MIN_SERIES})"
            )
        return correlation_note(self.n, self.effective_n)

    @property
    def effective_n(self) -> float:
        """n / tau: how many independent samples the series is worth."""
        return self.n / self.tau if self.tau > 0 else float(self.n)


def long_run_variance(
    samples: object,
    *,
    tau_hint: float = 1.0,
    min_samples: int = MIN_SERIES,
    min_independent: float = MIN_BATCHES,
) -> LongRunVariance:
    """Long-run variance of a time-ordered series by OBM with a growing batch (see the module docstring).

    `tau_hint`: a correlation time known from elsewhere (e.g. of the ranks, for an indicator series);
    the starting batch is at least three times it. Undecided below `min_samples` samples or when fewer
    than `min_independent` correlation times fit (defaults 20 and 10; a short series of aggregates, such
    as per-second rates, may ask for less, e.g. 3 and 2: then Geyer's estimate stands alone).
    """
    x = as_samples(samples)
    n = int(x.size)
    if n < 2:
        return LongRunVariance(variance=0.0, tau=1.0, batch=1, dof=0.0, decided=False, n=n)
    y = x - x.mean()
    gamma = _autocovariance(y)
    if gamma[0] <= 0.0:
        return LongRunVariance(variance=0.0, tau=1.0, batch=1, dof=float(n - 1), decided=True, n=n)
    if n < min_samples:
        return LongRunVariance(variance=float(gamma[0]), tau=1.0, batch=1, dof=0.0, decided=False, n=n, too_short=True)
    tau_g = _geyer_tau(y, gamma)
    tau0 = max(tau_g, tau_hint, 1.0)
    if n / math.ceil(tau0) < min_independent:
        return LongRunVariance(
            variance=float(gamma[0]) * tau0, tau=tau0, batch=math.ceil(tau0), dof=0.0, decided=False, n=n
        )
    start = max(math.ceil(_BATCH_TAUS * tau0), min(math.ceil(math.sqrt(n)), n // MIN_BATCHES), 1)
    best, best_batch, batch = tau_g * float(gamma[0]), 0, start
    while n // batch >= MIN_BATCHES:
        value = _obm_variance(y, batch)
        if value > best:
            best, best_batch = value, batch
        batch *= 2
    variance = best
    # Geyer's estimate alone (no batch fits, or none exceeded it): about n / tau independent samples.
    dof = 1.5 * (n // best_batch - 1) if best_batch else n / tau_g - 1.0
    # Lugsail correction (Vats & Flegal): when the batch ran out before the estimate stopped rising, the largest
    # batch b still underestimates by about C / b; 2 OBM(b) - OBM(b / 2) removes that term. Only for clearly
    # correlated series (its tau >= _LUGSAIL_MIN_TAU), where it is needed; its variance is 2.5 times OBM's.
    top = batch // 2
    if top >= max(2, start) and n // top >= MIN_BATCHES:
        lugsail = 2.0 * _obm_variance(y, top) - _obm_variance(y, max(1, top // 2))
        if lugsail > variance and lugsail >= _LUGSAIL_MIN_TAU * float(gamma[0]):
            variance, best_batch = lugsail, top
            dof = 1.5 / _LUGSAIL_VARIANCE_FACTOR * (n // top - 1)
    best_batch = best_batch or math.ceil(tau_g)
    tau = variance / float(gamma[0])
    return LongRunVariance(variance=variance, tau=tau, batch=best_batch, dof=dof, decided=True, n=n)


def correlation_note(n: int, effective_n: float) -> str:
    """The sentence for an interval kept open by correlation rather than by the sample size."""
    return f"{n:,} requests, but strongly correlated: about {max(1, round(effective_n)):,} independent"


def _t_inflation(dof: float, confidence: float) -> float:
    """(t_dof / z)^2: how much an estimated variance with `dof` degrees of freedom widens an interval."""
    if not math.isfinite(dof) or dof > 1e6:
        return 1.0
    tail = 0.5 + confidence / 2.0
    return float((_sps.t.ppf(tail, max(dof, 1.0)) / _sps.norm.ppf(tail)) ** 2)


def series_percentile_taus(
    samples: object, q: float, confidence: float = 0.95
) -> tuple[tuple[float, float], LongRunVariance]:
    """Effective autocorrelation times of the lower and upper end of percentile `q`'s interval, and the estimate.

    Each tau is the dispersion of the indicator 1{x <= theta} (its long-run variance over its own binomial
    variance, times (t_dof / z)^2) at the level that end rests on (see the module docstring): first the sample
    quantile, then each end of the interval in turn while the dispersion there is larger. The pair goes to
    `interval_ranks`; the estimate says whether the percentile is decided and, if not, why.
    """
    x = as_samples(samples)
    if x.size < MIN_SERIES:
        lrv = LongRunVariance(variance=0.0, tau=1.0, batch=1, dof=0.0, decided=False, n=int(x.size), too_short=True)
        return (1.0, 1.0), lrv
    ranks = _sps.rankdata(x)
    hint = _geyer_tau(ranks - ranks.mean(), _autocovariance(ranks - ranks.mean()))
    point = _level(x, float(np.percentile(x, q)), q, hint, confidence)
    if point is None:  # q = 0 or 100 or a constant series: the ranks speak instead
        lrv = long_run_variance(ranks)
        tau = lrv.tau * _t_inflation(lrv.dof, confidence)
        return (tau, tau), lrv
    lrv = point.lrv
    far = point.far
    episodes = _episodes(far)
    # Few episodes that last (on average 1.5 samples or more): how long they last cannot be estimated. Few
    # episodes of one sample each are what independent samples give, and the count speaks for itself.
    if lrv.decided and episodes < MIN_EPISODES and far.sum() >= 1.5 * episodes:
        return (point.tau, point.tau), replace(lrv, decided=False, episodes=episodes)
    if not lrv.decided:
        return (point.tau, point.tau), lrv
    return (_end_tau(x, q, hint, confidence, point, 0), _end_tau(x, q, hint, confidence, point, 1)), lrv


@dataclass(frozen=True)
class _Level:
    """The indicator series at one level: its far side, long-run variance and dispersion."""

    far: np.ndarray
    lrv: LongRunVariance
    dispersion: float  # Var(count) / binomial variance, without the t inflation
    tau: float  # the dispersion with the (t_dof / z)^2 inflation of the long-run variance's own estimate


def _level(x: np.ndarray, theta: float, q: float, hint: float, confidence: float) -> _Level | None:
    """The indicator 1{x <= theta}: None when it is constant (theta below or above every sample)."""
    below = x <= theta
    if below.all() or not below.any():
        return None
    lrv = long_run_variance(below.astype(float), tau_hint=hint)
    far = (~below if q >= 50 else below).astype(float)
    dispersion, tau = lrv.tau, lrv.tau * _t_inflation(lrv.dof, confidence)
    clustered = _cluster_dispersion(far)
    if clustered >= _CLUSTER_GATE and clustered > dispersion:
        dispersion, tau = clustered, max(tau, clustered)
    return _Level(far=far, lrv=lrv, dispersion=dispersion, tau=tau)


def _end_tau(x: np.ndarray, q: float, hint: float, confidence: float, point: _Level, side: int) -> float:
    """The tau of one end of the interval (side 0 lower, 1 upper), re-estimated at the level that end rests on.

    Starting from the sample quantile's, the end is moved with the larger tau found at its own level, at most
    _INVERSION_STEPS times, while that level is clearly clustered (dispersion >= _END_GATE) and decided.
    """
    ordered = np.sort(x)
    tau = point.tau
    for _ in range(_INVERSION_STEPS):
        rank = interval_ranks(x.size, q / 100.0, confidence, max(tau, 1.0))[side]
        if not 1 <= rank <= x.size:
            break
        level = _level(x, float(ordered[rank - 1]), q, hint, confidence)
        if level is None or not level.lrv.decided or level.dispersion < _END_GATE or level.tau <= tau:
            break
        tau = level.tau
    return tau


def _cluster_dispersion(far: np.ndarray) -> float:
    """Regenerative dispersion of a 0/1 series: cycles start where a run of ones starts (treated as independent).

    Var(count) is estimated by the sum of squared cycle deviations (ones minus their expected number), over the
    binomial variance n p (1 - p). A far side made of whole episodes (a stall, a busy period) gives about the
    mean episode size weighted by size; independent samples give about 1.
    """
    share = float(far.mean())
    starts = np.concatenate(([0], np.flatnonzero(np.diff(far) > 0) + 1))
    deviations = np.add.reduceat(far - share, starts)
    return float(np.sum(deviations**2) / (far.size * share * (1.0 - share)))


def _episodes(flags: np.ndarray) -> int:
    """How many separate runs of ones a 0/1 series holds."""
    return int(flags[0] > 0) + int(np.count_nonzero(np.diff(flags) > 0))


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


def interval_ranks(
    n: int, fraction: float, confidence: float, tau: float | tuple[float, float] = 1.0
) -> tuple[int, int]:
    """1-based ranks (l, u) of a percentile interval [x_(l), x_(u)] among n samples with autocorrelation
    time `tau` (or a pair: the lower end's and the upper end's); l = 0 means -inf and u = n + 1 means +inf.

    With tau = 1 these are the exact binomial ranks. Otherwise the count below the quantile is treated as
    tau times a Binomial(n / tau, fraction) count (same mean and variance), whose ranks are scaled by tau.
    """
    if isinstance(tau, tuple):
        return _ranks(n, fraction, confidence, tau[0])[0], _ranks(n, fraction, confidence, tau[1])[1]
    return _ranks(n, fraction, confidence, tau)


def _ranks(n: int, fraction: float, confidence: float, tau: float) -> tuple[int, int]:
    """`interval_ranks` for one tau."""
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
    """Mean of a time-ordered series with an OBM interval (growing batch, Student t), in its unit.

    Undecided when the series is too short for its correlation time (fewer than ten batches fit). On a clearly
    correlated series (tau >= 3) the degrees of freedom are at most those of its regenerative cycles and the
    upper end is a score-type one (see the module docstring).
    """
    confidence = check_confidence(confidence)
    x = as_samples(samples)
    n = int(x.size)
    lrv = long_run_variance(x)
    method = (
        f"mean, Student t on {lrv.dof:.3g} degrees of freedom from overlapping batch means of {lrv.batch} "
        f"(tau = {lrv.tau:.3g})"
    )
    if n == 0:
        return Estimate(
            value=math.nan, low=-math.inf, high=math.inf, confidence=confidence, n=0, method=method, decided=False
        )
    value = float(x.mean())
    if not lrv.decided or n < 2:
        if n >= 2:
            method = f"mean; undecided: {lrv.note}"
        return Estimate(
            value=value, low=-math.inf, high=math.inf, confidence=confidence, n=n, method=method, decided=False
        )
    if lrv.tau < _LUGSAIL_MIN_TAU:
        half = float(_sps.t.ppf(0.5 + confidence / 2.0, max(lrv.dof, 1.0))) * math.sqrt(lrv.variance / n)
        return Estimate(value=value, low=value - half, high=value + half, confidence=confidence, n=n, method=method)
    return _episodic_mean(x, lrv, confidence)


def _episodic_mean(x: np.ndarray, lrv: LongRunVariance, confidence: float) -> Estimate:
    """The mean of a clearly correlated series: regenerative degrees of freedom and a level-scaled upper end.

    The upper end is the mu whose own standard error still reaches it, when the standard error grows in
    proportion to the excess over the low level b: mu - mean = half (mu - b) / (mean - b), i.e.
    mu = b + (mean - b)^2 / (mean - b - half). When half reaches the excess there is no such mu: the series
    cannot bound its mean from above (undecided, with the lower end kept).
    """
    n, value = x.size, float(x.mean())
    base = float(np.percentile(x, _LOW_LEVEL_Q))
    dof = min(lrv.dof, _cycle_dof(x, base))
    half = float(_sps.t.ppf(0.5 + confidence / 2.0, max(dof, 1.0))) * math.sqrt(lrv.variance / n)
    excess = value - base
    method = (
        f"mean, Student t on {dof:.3g} degrees of freedom (overlapping batch means of {lrv.batch}, tau = "
        f"{lrv.tau:.3g}; regenerative cycles at the 10th percentile), upper end scaled with the excess over it"
    )
    if excess <= half:
        method = (
            f"mean; upper end not bounded: its half-width ({half:.3g}) reaches the mean's excess over the "
            f"10th percentile ({excess:.3g}), {correlation_note(n, lrv.effective_n)}"
        )
        return Estimate(
            value=value, low=value - half, high=math.inf, confidence=confidence, n=n, method=method, decided=False
        )
    high = base + excess**2 / (excess - half)
    return Estimate(value=value, low=value - half, high=high, confidence=confidence, n=n, method=method)


def _cycle_dof(x: np.ndarray, level: float) -> float:
    """Satterthwaite degrees of freedom of the variance carried by the series' regenerative cycles.

    A cycle starts where the series returns to `level` or below from above; its deviation is the sum of
    x - mean over it. With k cycles of deviations d_i, sum d_i^2 estimates the variance of the total and has
    about 2 (sum d^2)^2 / (sum d^4 - (sum d^2)^2 / k) degrees of freedom: k for even cycles, about 1 when one
    cycle carries it all.
    """
    low = x <= level
    starts = np.concatenate(([0], np.flatnonzero(low[1:] & ~low[:-1]) + 1))
    squares = np.add.reduceat(x - x.mean(), starts) ** 2
    total = float(squares.sum())
    spread = float(np.sum(squares**2)) - total**2 / squares.size
    return 2.0 * total**2 / spread if spread > 0 and total > 0 else float(squares.size)
