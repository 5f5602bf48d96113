"""Reliability checks of a run, in the spirit of pyperf's `format_checks`: is the report trustworthy?

Each check says whether it passed; failed ones carry severity "warning" and a sentence saying what is
wrong and what to do. Inputs that were not measured (None) produce no check.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np

from qrbench.stats._samples import as_samples
from qrbench.stats.estimate import Estimate
from qrbench.stats.warmup import WarmupTrim

__all__ = ["Check", "reliability_checks", "noise_cv"]

Severity = Literal["info", "warning"]


@dataclass(frozen=True, kw_only=True)
class Check:
    """One reliability check: `ok` is True when it passed (severity "info"), False with "warning"."""

    name: str
    ok: bool
    severity: Severity
    message: str


def _check(name: str, ok: bool, message: str) -> Check:
    return Check(name=name, ok=ok, severity="info" if ok else "warning", message=message)


def noise_cv(timings: Iterable[float]) -> float:
    """Coefficient of variation (sample std / mean, unitless) of repeated timings of a fixed workload.

    NaN when there are fewer than 2 timings or their mean is 0.
    """
    x = as_samples(timings, name="timings")
    if x.size < 2:
        return math.nan
    mean = float(np.mean(x))
    return math.nan if mean == 0.0 else float(np.std(x, ddof=1) / abs(mean))


def _sample_check(group: str, n: int, min_samples_p95: int, min_samples_p99: int, p99_bounded: bool) -> Check:
    name = f"samples:{group}"
    if n < min_samples_p95:
        return _check(
            name,
            False,
            f"{group}: only {n} samples; p95 and higher percentiles need "
            f"at least {min_samples_p95} to be reliable. Run longer or at a higher rate.",
        )
    if n < min_samples_p99 and p99_bounded:  # the rule of thumb yields to the p99 interval this run decided
        return _check(name, True, f"{group}: {n} samples; the p99's own interval bounds it (see its interval).")
    if n < min_samples_p99:
        return _check(
            name,
            False,
            f"{group}: {n} samples are enough for p95 but not for p99, which needs at least {min_samples_p99}.",
        )
    return _check(name, True, f"{group}: {n} samples, enough for percentiles up to p99.")


def _interval_check(metric: str, est: Estimate, max_relative_width: float) -> Check:
    name = f"interval:{metric}"
    if est.n == 0:
        return _check(name, False, f"{metric}: no samples, so there is no estimate.")
    if not est.decided:
        because = est.method.partition("undecided: ")[2]  # the estimate's own cause, e.g. strong correlation
        if because:
            return _check(name, False, f"{metric}: not bounded at {est.confidence:.0%} confidence: {because}.")
        return _check(
            name,
            False,
            f"{metric}: {est.n} samples cannot bound it at "
            f"{est.confidence:.0%} confidence; collect more samples before trusting it.",
        )
    if est.value == 0.0:
        return _check(
            name,
            True,
            f"{metric}: estimated as 0 with interval [{est.low:.4g}, {est.high:.4g}]; a relative width does not apply.",
        )
    if est.relative_width > max_relative_width:
        return _check(
            name,
            False,
            f"{metric}: the {est.confidence:.0%} interval is "
            f"{est.relative_width:.0%} of the value (more than {max_relative_width:.0%}); "
            "the estimate is imprecise, collect more samples.",
        )
    return _check(name, True, f"{metric}: the {est.confidence:.0%} interval is {est.relative_width:.0%} of the value.")


def _generator_check(generator_cpu: float, max_generator_cpu: float) -> Check:
    ok = generator_cpu <= max_generator_cpu
    verdict = ("below the" if ok else "above the") + f" {max_generator_cpu:.0%} limit"
    tail = "" if ok else "; it may be saturated, so the latencies may be the generator's, not the server's"
    return _check("generator_cpu", ok, f"The load generator used {generator_cpu:.0%} of a CPU core, {verdict}{tail}.")


def _send_lag_check(send_lag_p99_ms: float, max_send_lag_ms: float) -> Check:
    ok = send_lag_p99_ms <= max_send_lag_ms
    tail = "" if ok else "; it could not keep the asked rate, so the numbers are not the server's alone"
    return _check("send_lag", ok, f"p99 send lag was {send_lag_p99_ms:.3g} ms (limit {max_send_lag_ms:g} ms){tail}.")


def _noise_check(machine_noise_cv: float, max_noise_cv: float) -> Check:
    ok = math.isfinite(machine_noise_cv) and machine_noise_cv <= max_noise_cv
    tail = (
        ""
        if ok
        else "; the machine is noisy (other load, frequency scaling), so small differences "
        "between runs are not meaningful"
    )
    return _check(
        "machine_noise",
        ok,
        f"A fixed calibration loop varied by {machine_noise_cv:.1%} "
        f"(coefficient of variation, limit {max_noise_cv:.0%}){tail}.",
    )


def _warmup_checks(warmup: WarmupTrim) -> list[Check]:
    checks = [_check("warmup", not warmup.too_short, warmup.reason)]
    if warmup.level_shift is not None:
        checks.append(_check("steady", False, warmup.level_shift.sentence))
    return checks


def reliability_checks(
    *,
    n_samples: Mapping[str, int] | None = None,
    estimates: Mapping[str, Estimate] | None = None,
    generator_cpu: float | None = None,
    send_lag_p99_ms: float | None = None,
    machine_noise_cv: float | None = None,
    warmup: WarmupTrim | None = None,
    min_samples_p95: int = 100,
    min_samples_p99: int = 1000,
    max_relative_width: float = 0.20,
    max_generator_cpu: float = 0.80,
    max_send_lag_ms: float = 10.0,
    max_noise_cv: float = 0.10,
) -> list[Check]:
    """Checks on sample counts per group, estimate intervals, the load generator and machine noise.

    `n_samples`: successful requests per group (e.g. scenario/endpoint), warned below `min_samples_p99` unless
    an estimate named "p99 ..." is decided (its interval then says how far it holds); `estimates`: named
    estimates (warned when undecided or when the interval is wider than `max_relative_width` of the value);
    `generator_cpu`: the generator's CPU use as a fraction of one core; `send_lag_p99_ms`: p99 of how
    late requests were sent, in milliseconds; `machine_noise_cv`: `noise_cv` of a calibration loop;
    `warmup`: the run's warm-up trim, warned when MSER found the run too short for a steady state and
    when the kept requests hold a level shift (a non-steady run).
    """
    p99_bounded = any(name.startswith("p99") and est.decided for name, est in (estimates or {}).items())
    checks = [
        _sample_check(group, n, min_samples_p95, min_samples_p99, p99_bounded) for group, n in (n_samples or {}).items()
    ]
    checks += [_interval_check(metric, est, max_relative_width) for metric, est in (estimates or {}).items()]
    if generator_cpu is not None:
        checks.append(_generator_check(generator_cpu, max_generator_cpu))
    if send_lag_p99_ms is not None:
        checks.append(_send_lag_check(send_lag_p99_ms, max_send_lag_ms))
    if machine_noise_cv is not None:
        checks.append(_noise_check(machine_noise_cv, max_noise_cv))
    if warmup is not None:
        checks += _warmup_checks(warmup)
    return checks
