"""What a workload can show: windowed rates, kept-up-with-offered, capacity, CPU share and Little's law.

A closed model (N users, think time Z) offers at most N / Z requests per second whatever the server
does, so its throughput can only be judged as "kept up with what was offered"; a capacity target (e.g.
>= 100 req/s within the latency SLO) needs a workload able to offer it: an open-model constant-rate
stage at the target rate, or a step load. Rates and CPU shares are means of correlated per-window
series, so their intervals use n / tau effective windows (batch means with batches of tau windows,
qrbench.stats.series) rather than Poisson counts or an independent-sample bootstrap: use
`throughput(..., window_s=...)` for rates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qrbench.stats._samples import as_samples
from qrbench.stats.compliance import Judgement, Threshold, Verdict, judge
from qrbench.stats.estimate import Estimate
from qrbench.stats.series import series_mean_ci

__all__ = [
    "closed_offered_rate",
    "judge_kept_up",
    "judge_capacity",
    "capacity_from_steps",
    "cpu_share",
    "LittlesLaw",
    "littles_law",
]


def _positive(value: float, name: str, unit: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{name} must be a positive number of {unit}; got {value!r}.")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive, finite number of {unit}; got {value!r}.")
    return float(value)


def closed_offered_rate(users: int, think_s: float, response_s: float = 0.0) -> float:
    """Requests per second N users offer with mean think time `think_s` and response time `response_s`.

    N / (Z + R); with R = 0 it is the most a closed workload can ever offer.
    """
    if isinstance(users, bool) or not isinstance(users, int | np.integer) or users < 1:
        raise ValueError(f"users must be a positive whole number; got {users!r}.")
    if not (isinstance(think_s, int | float) and math.isfinite(think_s) and think_s >= 0):
        raise ValueError(f"think_s must be a non-negative number of seconds; got {think_s!r}.")
    if not (isinstance(response_s, int | float) and math.isfinite(response_s) and response_s >= 0):
        raise ValueError(f"response_s must be a non-negative number of seconds; got {response_s!r}.")
    if think_s + response_s == 0:
        return math.inf
    return users / (think_s + response_s)


def judge_kept_up(achieved: Estimate, offered_rps: float, threshold: Threshold, *, workload: str) -> Judgement:
    """Judge achieved / offered (a fraction) against `threshold` (direction "above", unit "fraction").

    `achieved`: completed requests per second (e.g. `throughput(t_end, window_s=1.0, start_s=.., end_s=..)`,
    the windowed rate over the stage); `offered_rps`: what the
    workload asked for: the arrival rate of an open model, or for a closed model
    `closed_offered_rate(users, think_s, latency target in s)`, the rate its users produce when the
    server meets its latency target.
    """
    offered_rps = _positive(offered_rps, "offered_rps", "requests per second")
    ratio = Estimate(
        value=achieved.value / offered_rps if math.isfinite(achieved.value) else math.nan,
        low=achieved.low / offered_rps,
        high=achieved.high / offered_rps,
        confidence=achieved.confidence,
        n=achieved.n,
        method=f"achieved / offered ({offered_rps:.4g} req/s); {achieved.method}",
        decided=achieved.decided,
    )
    return judge(ratio, threshold, workload=workload)


def judge_capacity(
    achieved: Estimate,
    latency: Estimate,
    rate_threshold: Threshold,
    latency_threshold: Threshold,
    *,
    workload: str,
    offered_rps: float,
) -> Judgement:
    """Capacity: the rate a workload able to offer the target reached, within the latency target.

    `offered_rps` is the most the workload offered; below `rate_threshold.target` it cannot show the
    capacity and the verdict is "insufficient" (saying so). A rate that passes while `latency` (the
    statistic the latency target names, e.g. the stage's p95) fails its threshold becomes a fail, and one
    whose latency is only a warn or undecided becomes a warn.
    """
    offered_rps = _positive(offered_rps, "offered_rps", "requests per second")
    rate = judge(achieved, rate_threshold, workload=workload)
    if rate_threshold.direction == "above" and offered_rps < rate_threshold.target:
        reason = (
            f"{rate_threshold.metric}: {workload} offers at most {offered_rps:.4g} {rate_threshold.unit}, below "
            f"the target {rate_threshold.target:.4g} {rate_threshold.unit}, so it cannot show the capacity; "
            "judge it with an open-model stage at the target rate or a step load."
        )
        return _replace_verdict(rate, Verdict.INSUFFICIENT, reason)
    lat = judge(latency, latency_threshold, workload=workload)
    if rate.verdict == Verdict.PASS and lat.verdict != Verdict.PASS:
        worse = Verdict.FAIL if lat.verdict == Verdict.FAIL else Verdict.WARN
        return _replace_verdict(rate, worse, f"{rate.reason} But within the latency target: {lat.reason}")
    return rate


def _replace_verdict(j: Judgement, verdict: Verdict, reason: str) -> Judgement:
    return Judgement(
        metric=j.metric,
        estimate=j.estimate,
        target=j.target,
        threshold=j.threshold,
        direction=j.direction,
        unit=j.unit,
        verdict=verdict,
        reason=reason,
        workload=j.workload,
        statistic=j.statistic,
        kind=j.kind,
    )


def capacity_from_steps(
    offered_rps: Sequence[float],
    achieved: Sequence[Estimate],
    latency: Sequence[Estimate],
    rate_threshold: Threshold,
    latency_threshold: Threshold,
    *,
    workload: str = "step load",
) -> Judgement:
    """Capacity from a step load: the achieved rate of the highest step whose latency met its target.

    One entry per step (offered rate in req/s, achieved rate, the latency statistic the target names).
    A step counts when its latency interval lies wholly below the latency target. No such step gives the
    lowest step's rate judged: a fail when its latency interval lies wholly at or above the latency target,
    otherwise "insufficient" (its interval was undecided or straddled the target).
    """
    if not (len(offered_rps) == len(achieved) == len(latency)) or not offered_rps:
        raise ValueError("offered_rps, achieved and latency must give one entry per step, at least one step.")
    good = [i for i, lat in enumerate(latency) if lat.decided and lat.high < latency_threshold.target]
    if good:
        best = max(good, key=lambda i: achieved[i].value if math.isfinite(achieved[i].value) else -math.inf)
        return judge_capacity(
            achieved[best],
            latency[best],
            rate_threshold,
            latency_threshold,
            workload=f"{workload}, step at {offered_rps[best]:.4g} req/s",
            offered_rps=max(offered_rps),
        )
    # The lowest step decides: if even it surely missed the latency target, no rate meets it (a fail); if its
    # interval was undecided (a short low step), the load could not show the capacity either way.
    first = min(range(len(offered_rps)), key=lambda i: offered_rps[i])
    j = judge(achieved[first], rate_threshold, workload=workload)
    lowest = latency[first]
    missed = lowest.decided and lowest.low >= latency_threshold.target
    return _replace_verdict(
        j,
        Verdict.FAIL if missed else Verdict.INSUFFICIENT,
        f"{rate_threshold.metric}: no step of the {workload} met the latency target "
        f"{latency_threshold.target:.4g} {latency_threshold.unit}.",
    )


def cpu_share(cpu_percent: object, *, cores: int, confidence: float = 0.95) -> Estimate:
    """Mean share of the whole machine (0-1) from per-interval process CPU samples (percent of one core).

    `cores` is the core count recorded in the run folder when the run was made, never the analysing
    machine's. The samples (e.g. one per second) are correlated, so the interval is a batch-means one.
    """
    if isinstance(cores, bool) or not isinstance(cores, int | np.integer) or cores < 1:
        raise ValueError(f"cores must be the positive core count recorded with the run; got {cores!r}.")
    share = as_samples(cpu_percent, name="cpu_percent") / (100.0 * int(cores))
    est = series_mean_ci(share, confidence=confidence)
    if not est.decided:
        return est
    return Estimate(
        value=est.value,
        low=max(0.0, est.low),
        high=est.high,
        confidence=est.confidence,
        n=est.n,
        method=f"{est.method}; {int(cores)} cores recorded with the run",
    )


@dataclass(frozen=True, kw_only=True)
class LittlesLaw:
    """Little's law L = X * (W + Z) (closed) or X * W (open) against the observed concurrency.

    `predicted` in requests (users for a closed model, requests in flight for an open one) with the
    interval of X; `relative_difference` = (predicted - observed) / observed; `flagged` when its
    magnitude exceeds `tolerance`.
    """

    model: str
    predicted: Estimate
    observed: float
    relative_difference: float
    tolerance: float
    flagged: bool
    sentence: str


def littles_law(
    throughput: Estimate,
    response_s: float,
    observed: float,
    *,
    think_s: float | None = None,
    tolerance: float = 0.10,
    what: str = "",
) -> LittlesLaw:
    """Compare X * (W + Z) (`think_s` given: closed model) or X * W (open) with the observed concurrency.

    throughput: X in requests per second; response_s: mean response time W (s); think_s: mean think
    time Z (s); observed: users of a closed model, or the server's mean in-flight gauge for an open one.
    A difference above `tolerance` (relative) means the measurement and the model disagree: lost
    requests, a saturated generator, or a user count that was not reached.
    """
    if not (math.isfinite(response_s) and response_s >= 0):
        raise ValueError(f"response_s must be a non-negative number of seconds; got {response_s!r}.")
    if think_s is not None and not (math.isfinite(think_s) and think_s >= 0):
        raise ValueError(f"think_s must be a non-negative number of seconds or None; got {think_s!r}.")
    if not (math.isfinite(observed) and observed > 0):
        raise ValueError(f"observed must be a positive concurrency (users or requests in flight); got {observed!r}.")
    if not (0 < tolerance < 1):
        raise ValueError(f"tolerance must be a fraction between 0 and 1 (e.g. 0.10); got {tolerance!r}.")
    closed = think_s is not None
    span = response_s + (think_s or 0.0)
    model = "closed: X * (W + Z)" if closed else "open: X * W"
    predicted = Estimate(
        value=throughput.value * span,
        low=throughput.low * span,
        high=throughput.high * span,
        confidence=throughput.confidence,
        n=throughput.n,
        method=f"{model}, interval of X",
        decided=throughput.decided,
    )
    diff = (predicted.value - observed) / observed if math.isfinite(predicted.value) else math.nan
    flagged = not math.isfinite(diff) or abs(diff) > tolerance
    label = f"{what}: " if what else ""
    if math.isfinite(diff):
        sentence = (
            f"{label}Little's law ({model}) predicts {predicted.value:.3g} against {observed:.3g} observed, "
            f"{diff:+.0%}"
            + (
                f", beyond the {tolerance:.0%} tolerance: the model and the measurement disagree."
                if flagged
                else f", within {tolerance:.0%}."
            )
        )
    else:
        sentence = f"{label}Little's law cannot be checked: the throughput was not measured."
    return LittlesLaw(
        model=model,
        predicted=predicted,
        observed=float(observed),
        relative_difference=diff,
        tolerance=float(tolerance),
        flagged=flagged,
        sentence=sentence,
    )
