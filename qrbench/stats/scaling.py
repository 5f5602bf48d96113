"""Scalability models fitted to throughput measured at several concurrency levels.

Universal Scalability Law (Gunther): X(N) = lam * N / (1 + sigma * (N - 1) + kappa * N * (N - 1)),
with lam the throughput of one unit of concurrency, sigma contention and kappa coherency (crosstalk).
Amdahl's law is the special case kappa = 0. Fits are nonlinear least squares on relative residuals (scipy curve_fit, all
parameters >= 0) started from Gunther's linearisation; intervals are Wald intervals from the
covariance with Student t quantiles, clipped at 0 (undecided when the fit has no residual degrees
of freedom). Throughput peaks at N* = sqrt((1 - sigma) / kappa).

Measurements at one concurrency level (e.g. the windows of one step) are averaged into one observation
before fitting: they are not independent replicates of the model, and counting them as such makes the
intervals far too narrow. A USL fit is decided only with at least 4 distinct levels (3 make the
three-parameter fit exact). N*'s interval is built from kappa's, [sqrt((1 - sigma) / kappa_high),
sqrt((1 - sigma) / kappa_low)], with an infinite upper bound, hence undecided, whenever kappa's lower
bound is 0: a peak that may not exist is not reported as found. kappa's Wald interval ignores the
bound at 0 (with true kappa = 0 it excludes 0 in ~16 % of fits), so its lower bound is set to 0 unless
an extra-sum-of-squares F test of the USL against Amdahl's law (kappa = 0) rejects at 1 - confidence.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import optimize as _opt
from scipy import stats as _sps

from qrbench.stats._samples import as_samples, check_confidence
from qrbench.stats.estimate import Estimate

__all__ = ["USLFit", "fit_usl", "fit_amdahl", "predict"]


@dataclass(frozen=True, kw_only=True)
class USLFit:
    """A fitted scalability model; throughputs in the unit of the fitted data (e.g. requests/s).

    `peak_n` is the concurrency of highest throughput (inf when throughput keeps rising, as with
    Amdahl; 1 when it falls from the start) and `peak_throughput` the model throughput there (the
    asymptote lam / sigma when peak_n is inf). `r_squared` is on the throughput scale.
    """

    model: Literal["usl", "amdahl"]
    lam: Estimate
    sigma: Estimate
    kappa: Estimate
    peak_n: Estimate
    peak_throughput: float
    r_squared: float
    n_points: int


def _usl(n: np.ndarray, lam: float, sigma: float, kappa: float) -> np.ndarray:
    return lam * n / (1.0 + sigma * (n - 1.0) + kappa * n * (n - 1.0))


def _amdahl(n: np.ndarray, lam: float, sigma: float) -> np.ndarray:
    return _usl(n, lam, sigma, 0.0)


def predict(fit: USLFit, n: object) -> np.ndarray:
    """Model throughput at concurrency levels `n` (>= 1)."""
    levels = as_samples(np.atleast_1d(np.asarray(n, dtype=float)), name="n")
    return _usl(levels, fit.lam.value, fit.sigma.value, fit.kappa.value)


def _aggregated(levels: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One observation per distinct level: the mean throughput of its measurements."""
    distinct, inverse = np.unique(levels, return_inverse=True)
    return distinct, np.bincount(inverse, weights=x) / np.bincount(inverse)


def _validated(n: object, throughput: object, n_params: int) -> tuple[np.ndarray, np.ndarray]:
    levels = as_samples(n, name="n")
    x = as_samples(throughput, name="throughput")
    if levels.size != x.size:
        raise ValueError(f"n and throughput must have the same length; got {levels.size} and {x.size}.")
    if np.any(levels < 1):
        raise ValueError("n must hold concurrency levels of at least 1 (workers, users, instances).")
    if np.any(x < 0):
        raise ValueError("throughput must hold non-negative rates.")
    distinct = np.unique(levels).size
    if distinct < n_params:
        raise ValueError(
            f"A {n_params}-parameter scalability fit needs at least {n_params} distinct "
            f"concurrency levels; got {distinct}."
        )
    if not np.any(x > 0):
        raise ValueError("throughput is zero everywhere; there is nothing to fit.")
    levels, x = _aggregated(levels, x)
    # Per-window zeros are data (the fit averages a level's rows); a level that completed nothing is not.
    if np.any(x == 0):
        zero = ", ".join(f"{v:g}" for v in levels[x == 0])
        raise ValueError(
            f"throughput is 0 at concurrency level(s) {zero}: a level that completed nothing is a failed "
            "measurement (an outage, a crashed stage), not a point on the scalability curve; drop or re-run it."
        )
    return levels, x


def _start(levels: np.ndarray, x: np.ndarray, n_params: int) -> list[float]:
    # Gunther's linearisation: N * lam / X(N) - 1 = sigma (N - 1) + kappa N (N - 1), non-negative LS.
    lam0 = float(np.mean(x[levels == 1])) if np.any(levels == 1) else float(np.max(x / levels))
    positive = x > 0
    y = levels[positive] * lam0 / x[positive] - 1.0
    columns = [levels[positive] - 1.0, levels[positive] * (levels[positive] - 1.0)][: n_params - 1]
    coef = _opt.nnls(np.column_stack(columns), y)[0] if positive.sum() >= n_params - 1 else np.zeros(n_params - 1)
    return [lam0, *(float(c) + 1e-6 for c in coef)]


def _relative(x: np.ndarray) -> np.ndarray:
    """Residual scale proportional to throughput: measurement noise of a rate is relative, not absolute."""
    floor = 1e-3 * float(np.max(x))
    return np.maximum(x, floor)


def _kappa_zero_p(levels: np.ndarray, x: np.ndarray, params: np.ndarray, dof: int) -> float:
    """p-value of the extra-sum-of-squares F test of the USL against Amdahl's law (kappa = 0)."""
    if dof <= 0:
        return math.nan
    weights = _relative(x)
    rss_usl = float(np.sum(((x - _usl(levels, *params)) / weights) ** 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", _opt.OptimizeWarning)
        amdahl, _ = _opt.curve_fit(
            _amdahl,
            levels,
            x,
            p0=_start(levels, x, 2),
            sigma=weights,
            bounds=(0.0, np.inf),
            x_scale="jac",
            max_nfev=10_000,
        )
    rss_amdahl = float(np.sum(((x - _amdahl(levels, *amdahl)) / weights) ** 2))
    if rss_usl <= 0.0:
        return 0.0 if rss_amdahl > 0.0 else 1.0
    f = max(rss_amdahl - rss_usl, 0.0) / (rss_usl / dof)
    return float(_sps.f.sf(f, 1, dof))


def _wald(value: float, half: float, confidence: float, n: int, method: str) -> Estimate:
    """value -+ half clipped at 0; undecided (interval [0, inf)) when half is not finite."""
    if not math.isfinite(half):
        return Estimate(value=value, low=0.0, high=math.inf, confidence=confidence, n=n, method=method, decided=False)
    return Estimate(
        value=value,
        low=float(max(0.0, value - half)),
        high=float(value + half),
        confidence=confidence,
        n=n,
        method=method,
    )


def _usl_kappa(
    levels: np.ndarray, x: np.ndarray, params: np.ndarray, dof: int, half: float, confidence: float, method: str
) -> Estimate:
    """kappa's Wald interval, its lower bound set to 0 unless the F test against Amdahl's law rejects kappa = 0."""
    kappa = _wald(float(params[2]), half, confidence, int(levels.size), method)
    p_zero = _kappa_zero_p(levels, x, params, dof)
    if kappa.decided and kappa.low > 0.0 and not p_zero < 1.0 - confidence:
        # The Wald interval ignores the bound at 0; the F test against Amdahl's law does not exclude it.
        kappa = Estimate(
            value=kappa.value,
            low=0.0,
            high=kappa.high,
            confidence=confidence,
            n=kappa.n,
            method=f"{method}; lower bound 0: F test of kappa = 0 p = {p_zero:.2g}",
        )
    return kappa


def _peak(lam: Estimate, sigma: Estimate, kappa: Estimate, confidence: float, n: int) -> tuple[Estimate, float]:
    """The concurrency of highest throughput, N* = sqrt((1 - sigma) / kappa) with kappa's interval, and the model
    throughput there."""
    s, k = sigma.value, kappa.value
    peak_method = "sqrt((1 - sigma) / kappa), interval from kappa's"
    if s >= 1.0:
        peak_n = Estimate(
            value=1.0,
            low=1.0,
            high=1.0,
            confidence=confidence,
            n=n,
            method="throughput falls from N = 1 (sigma >= 1)",
        )
        peak_x = float(lam.value)
    elif k <= 0.0:
        peak_n = Estimate(
            value=math.inf,
            low=math.inf,
            high=math.inf,
            confidence=confidence,
            n=n,
            method="no peak: kappa = 0",
            decided=False,
        )
        peak_x = lam.value / s if s > 0 else math.inf
    else:
        star = math.sqrt((1.0 - s) / k)
        decided = kappa.decided and kappa.low > 0.0
        peak_n = Estimate(
            value=star,
            low=math.sqrt((1.0 - s) / kappa.high) if kappa.decided and kappa.high > 0 else 1.0,
            high=math.sqrt((1.0 - s) / kappa.low) if decided else math.inf,
            confidence=confidence,
            n=n,
            method=peak_method if decided else f"{peak_method}: kappa's interval reaches 0, so the peak is undecided",
            decided=decided,
        )
        peak_x = float(_usl(np.array([star]), lam.value, s, k)[0])
    return peak_n, peak_x


def _fit(levels: np.ndarray, x: np.ndarray, model: Literal["usl", "amdahl"], confidence: float) -> USLFit:
    func, n_params = (_usl, 3) if model == "usl" else (_amdahl, 2)
    p0 = _start(levels, x, n_params)
    with warnings.catch_warnings():
        # With no residual degrees of freedom curve_fit warns and returns an infinite covariance,
        # which becomes an undecided interval below.
        warnings.simplefilter("ignore", _opt.OptimizeWarning)
        params, cov = _opt.curve_fit(
            func, levels, x, p0=p0, sigma=_relative(x), bounds=(0.0, np.inf), x_scale="jac", max_nfev=10_000
        )
    # A USL fit through 3 levels is exact: its intervals need a fourth level (one residual degree).
    dof = levels.size - n_params
    t = float(_sps.t.ppf(0.5 + confidence / 2.0, dof)) if dof > 0 else math.inf
    se = np.sqrt(np.abs(np.diag(cov))) if dof > 0 and np.all(np.isfinite(cov)) else np.full(n_params, math.inf)
    method = f"{model.upper() if model == 'usl' else 'Amdahl'} least squares, Wald t interval"
    n = int(levels.size)

    lam = _wald(float(params[0]), t * se[0], confidence, n, method)
    sigma = _wald(float(params[1]), t * se[1], confidence, n, method)
    if model == "usl":
        kappa = _usl_kappa(levels, x, params, dof, t * se[2], confidence, method)
    else:
        kappa = Estimate(
            value=0.0,
            low=0.0,
            high=0.0,
            confidence=confidence,
            n=n,
            method="fixed at 0 (Amdahl's law)",
        )
    peak_n, peak_x = _peak(lam, sigma, kappa, confidence, n)

    residual = x - func(levels, *params)
    total = float(np.sum((x - x.mean()) ** 2))
    r_squared = 1.0 - float(np.sum(residual**2)) / total if total > 0 else math.nan
    return USLFit(
        model=model,
        lam=lam,
        sigma=sigma,
        kappa=kappa,
        peak_n=peak_n,
        peak_throughput=peak_x,
        r_squared=r_squared,
        n_points=n,
    )


def fit_usl(n: object, throughput: object, *, confidence: float = 0.95) -> USLFit:
    """Fit the Universal Scalability Law to throughput (any rate unit) at concurrency levels `n` (>= 1).

    Repeated measurements at one level (e.g. the windows of one step) are averaged into one
    observation. Needs at least 3 distinct levels, and 4 for decided intervals.
    """
    confidence = check_confidence(confidence)
    levels, x = _validated(n, throughput, 3)
    return _fit(levels, x, "usl", confidence)


def fit_amdahl(n: object, throughput: object, *, confidence: float = 0.95) -> USLFit:
    """Fit Amdahl's law (the USL with kappa = 0) to throughput at concurrency levels `n` (>= 1)."""
    confidence = check_confidence(confidence)
    levels, x = _validated(n, throughput, 2)
    return _fit(levels, x, "amdahl", confidence)
