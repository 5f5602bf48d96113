"""Latency percentiles that count failures: a failed request is above every latency target (+inf).

Percentiles over successful requests only are survivorship-biased: a server that times out half its
requests looks fast. A failed request's outcome is known: it met no latency target. So it counts as +inf
in the judged percentiles (k6 counts timeouts at the timeout; HdrHistogram's expected-interval
correction adds the requests a stalled server never answered), and the order-statistic interval of that
variable is exact:

- while the failure share stays below 1 - q (with the interval's margin), the percentile and both ends
  of its interval are finite: a few fast 500s do not make p50..p99 undecided;
- when the percentile's rank falls on failures, the result says "at least" with the largest lower bound
  known (the failures' censoring values, e.g. the timeout) and is undecided: the percentile is above
  every latency target, and the method says that failures, not the sample size, are the reason.

Success-only percentiles are returned beside them, labelled, per request kind and overall, with the
failure share (`LatencyByKind.failure_share`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from qrbench.stats._samples import as_samples, check_confidence
from qrbench.stats.estimate import Estimate
from qrbench.stats.percentiles import percentile_ci, percentile_label
from qrbench.stats.series import correlation_note, interval_ranks, series_percentile_taus

__all__ = ["CensoredPercentile", "LatencyByKind", "censored_percentile", "censored_latency"]

ALL_KINDS = "all"


@dataclass(frozen=True, kw_only=True)
class CensoredPercentile:
    """A percentile counting failures at their censoring value; `at_least` means the value is a lower bound."""

    estimate: Estimate
    at_least: bool
    n_censored: int

    @property
    def text(self) -> str:
        """The value for a report, e.g. "412 ms" or ">= 30000 ms" (unit added by the caller)."""
        return f"{'>= ' if self.at_least else ''}{self.estimate.value:.4g}"


@dataclass(frozen=True, kw_only=True)
class LatencyByKind:
    """Percentiles of one request kind ("all" for every request): counting failures and successes only."""

    kind: str
    n: int
    n_failed: int
    with_failures: dict[str, CensoredPercentile]
    success_only: dict[str, Estimate]

    @property
    def failure_share(self) -> float:
        """Failed requests / requests (NaN when there were none), to show beside the percentiles."""
        return self.n_failed / self.n if self.n else math.nan


def censored_percentile(
    values: object,
    censored: object,
    q: float,
    confidence: float = 0.95,
    *,
    tau: float | tuple[float, float] = 1.0,
    note: str | None = None,
) -> CensoredPercentile:
    """Percentile `q` (0-100) of `values` where `censored[i]` marks values[i] as a lower bound of the truth.

    `tau`: autocorrelation time of the series (1 for independent samples), or a pair for the lower and the upper
    end (qrbench.stats.series.series_percentile_taus).
    `note`: given when the series is too short for (or to show) its correlation: the interval is then
    unbounded and the method gives this reason (e.g. "N requests, but strongly correlated: about M independent").
    """
    confidence = check_confidence(confidence)
    x = as_samples(values, name="values")
    c = np.asarray(censored, dtype=bool)
    if c.shape != x.shape:
        raise ValueError(f"censored must have one flag per value; got {c.shape} flags for {x.shape} values.")
    n, n_cens = int(x.size), int(c.sum())
    taus = tau if isinstance(tau, tuple) else (tau, tau)
    tau = max(taus)
    method = "order statistics with right-censored failures" + (f", n / {tau:.3g} effective samples" if tau > 1 else "")
    if n == 0:
        return CensoredPercentile(
            estimate=Estimate(
                value=math.nan, low=-math.inf, high=math.inf, confidence=confidence, n=0, method=method, decided=False
            ),
            at_least=False,
            n_censored=0,
        )
    # A failure is above every latency target: it sorts as +inf (its censoring value is only a lower bound
    # of the latency it would have had). The order statistics of that variable give an exact interval.
    keyed = np.sort(np.where(c, np.inf, x))
    floor = np.sort(x)  # failures at their censoring value: lower bounds of the true order statistics
    n_ok = n - n_cens
    pos = (n - 1) * q / 100.0
    at_least = math.ceil(pos) >= n_ok  # the percentile's rank falls on failures
    if not at_least:
        value_low = float(np.percentile(keyed, q)) if n_ok == n else _interpolate(keyed, pos)
    else:
        value_low = float(np.percentile(floor, q))
    lower, upper = interval_ranks(n, q / 100.0, confidence, taus)
    low = float(keyed[lower - 1]) if lower >= 1 else -math.inf
    if not math.isfinite(low) and lower >= 1:
        low = float(floor[lower - 1])
    high = float(keyed[upper - 1]) if upper <= n else math.inf
    uncensored_upper = keyed
    low = min(low, value_low)
    high = max(high, value_low) if not at_least else math.inf
    if at_least:
        method += f"; undecided: {n_cens:,} of {n:,} requests failed, so p{q:g} lies above every latency target"
    elif note is not None:
        low, high = -math.inf, math.inf
        method += f"; undecided: {note}"
    elif tau > 1.0 and not (math.isfinite(low) and math.isfinite(high)) and not at_least:
        iid_low, iid_high = interval_ranks(n, q / 100.0, confidence, 1.0)
        if iid_low >= 1 and iid_high <= n and math.isfinite(float(uncensored_upper[iid_high - 1])):
            method += f"; undecided: {correlation_note(n, n / tau)}"

    est = Estimate(
        value=value_low,
        low=low,
        high=high,
        confidence=confidence,
        n=n,
        method=method,
        decided=math.isfinite(low) and math.isfinite(high),
    )
    return CensoredPercentile(estimate=est, at_least=at_least, n_censored=n_cens)


def _interpolate(ordered: np.ndarray, pos: float) -> float:
    """np.percentile's linear interpolation at 0-based position `pos` of a sorted array with finite ends there."""
    k = math.floor(pos)
    frac = pos - k
    return float(ordered[k] + (ordered[min(k + 1, ordered.size - 1)] - ordered[k]) * frac if frac else ordered[k])


def censored_latency(
    latency_ms: object,
    ok: object,
    censor_ms: object,
    kinds: Iterable[str] | None = None,
    *,
    qs: Iterable[float] = (50.0, 95.0, 99.0),
    confidence: float = 0.95,
    time_ordered: bool = False,
) -> dict[str, LatencyByKind]:
    """Per request kind and overall ("all"): percentiles counting failures, and success-only ones (ms).

    latency_ms: each request's latency (NaN allowed for failures that never answered); ok: success flags;
    censor_ms: the value a failure counts at, at least (a number, e.g. the timeout, or one per request);
    a failure's recorded latency is used when larger. kinds: each request's kind (e.g. "similarity",
    "rerank-50"); None puts every request in "all" only. `time_ordered`: requests are in time order, so
    intervals use n / tau_I effective samples (tau_I of each percentile's indicator, qrbench.stats.series).
    """
    confidence = check_confidence(confidence)
    qs = tuple(float(q) for q in qs)
    lat = np.asarray(latency_ms, dtype=float)
    good = np.asarray(ok, dtype=bool)
    if lat.ndim != 1 or good.shape != lat.shape:
        raise ValueError(f"latency_ms and ok must be 1-D and of one length; got {lat.shape} and {good.shape}.")
    cens = np.broadcast_to(np.asarray(censor_ms, dtype=float), lat.shape)
    if np.any(~np.isfinite(cens[~good])) or np.any(cens[~good] < 0):
        raise ValueError("censor_ms must be a finite, non-negative number of milliseconds for every failure.")
    if np.any(~np.isfinite(lat[good])):
        raise ValueError("latency_ms must be finite for every successful request.")
    values = np.where(good, lat, np.fmax(np.nan_to_num(lat, nan=-np.inf), cens))
    labels = np.full(lat.shape, ALL_KINDS, dtype=object) if kinds is None else np.asarray(list(kinds), dtype=object)
    if labels.shape != lat.shape:
        raise ValueError(f"kinds must give one kind per request; got {labels.shape} for {lat.shape} requests.")
    groups = [ALL_KINDS] + ([] if kinds is None else [str(k) for k in dict.fromkeys(labels.tolist())])
    out: dict[str, LatencyByKind] = {}
    for kind in groups:
        mask = np.ones(lat.shape, dtype=bool) if kind == ALL_KINDS else labels == kind
        v, g = values[mask], good[mask]
        with_failures = {}
        for q in qs:
            taus, lrv = series_percentile_taus(v, q, confidence) if time_ordered and v.size > 2 else (1.0, None)
            note = None if lrv is None or lrv.decided else lrv.note
            with_failures[percentile_label(q)] = censored_percentile(v, ~g, q, confidence, tau=taus, note=note)
        out[kind] = LatencyByKind(
            kind=kind,
            n=int(v.size),
            n_failed=int((~g).sum()),
            with_failures=with_failures,
            success_only={
                percentile_label(q): percentile_ci(v[g], q, confidence, time_ordered=time_ordered) for q in qs
            },
        )
    return out
