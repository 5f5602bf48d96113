"""Warm-up detection and trimming: MSER-5, or a fixed number of seconds or requests.

MSER-5 (White 1997; White, Cobb & Spratt 2000) cuts the series, in time order, into batch means of 5
and drops the first d batches that minimise the squared standard error of the remaining mean,
sum_{j>=d} (Y_j - mean_d)^2 / (m - d)^2. The search runs over all batches but the last few (the
statistic degenerates as the remainder vanishes). When the minimum falls in the second half, White's
diagnostic applies: the run is too short to have reached a steady state. The result then says so
(`too_short` and a sentence) and trims only half the samples, the most any method here drops.

Warm-up is not any change. MSER picks the cut that minimises the remaining variance whichever side is
slow, so its cut is kept only when the dropped prefix is a warm-up: slower than the rest and either
converging toward it (its second half closer to the rest's level than its first half) or short (at most
a fifth of the run, e.g. a cold cache). A fast prefix, or a long flat one, is a level shift. After the
trim, the kept requests are searched for a level shift (medians of batch medians of log latency before
and after every split in the middle 80 %, against the batch medians' own noise): a change of at least
1.5x in median latency that stands out by 8 noise units makes the run *non-steady*. It is reported
(`level_shift`: when, how large, each regime's percentiles), never trimmed.

A run with deliberate phases (ramp, steady, spike) is trimmed by `trim_first_steady_phase`: MSER looks
only at the first steady phase and never trims across a phase change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from qrbench.stats._samples import as_samples
from qrbench.stats.estimate import Estimate
from qrbench.stats.percentiles import percentile_table

__all__ = ["LevelShift", "WarmupTrim", "trim_warmup", "trim_first_steady_phase"]

# A level shift: median latency changes by at least this factor, standing out by this many noise units.
_SHIFT_FACTOR = 1.5
_SHIFT_SCORE = 8.0
# A slow prefix this short (share of the run) is a warm-up even when flat (a cold cache, JIT, connections).
_SHORT_PREFIX = 0.2

# MSER is not searched in the last batches: with few left, their spread is small by chance.
_MIN_TAIL_BATCHES = 5

WarmupMethod = Literal["mser5", "seconds", "count", "none"]


@dataclass(frozen=True, kw_only=True)
class LevelShift:
    """A change of latency level inside the kept requests: the run was not steady.

    at_s: seconds from the first kept request's start to the first request of the new level; index: kept
    requests before it; before_median / after_median: median latency of each regime (the caller's unit);
    before / after: each regime's p50, p95, p99 (time-ordered intervals); sentence: for a report.
    """

    at_s: float
    index: int
    n: int
    before_median: float
    after_median: float
    before: dict[str, Estimate] = field(compare=False, repr=False)
    after: dict[str, Estimate] = field(compare=False, repr=False)
    sentence: str

    @property
    def factor(self) -> float:
        """after_median / before_median (> 1 for a step up)."""
        return self.after_median / self.before_median if self.before_median > 0 else math.inf


@dataclass(frozen=True, kw_only=True)
class WarmupTrim:
    """What warm-up trimming removed.

    `kept` is a read-only boolean mask in the caller's original order (True = steady-state sample);
    `seconds_trimmed` is the time from the first start to the first kept start, in seconds.
    """

    n_trimmed: int
    n_kept: int
    seconds_trimmed: float
    method: str
    reason: str
    kept: np.ndarray = field(compare=False, repr=False)
    too_short: bool = False
    level_shift: LevelShift | None = None

    @property
    def steady(self) -> bool:
        """False when the kept requests hold a level shift (see `level_shift`)."""
        return self.level_shift is None


def _mser_truncation(batch_means: np.ndarray) -> int:
    """Number of leading batches that minimise MSER, searched over all but the last few batches."""
    m = batch_means.size
    suffix_sum = np.cumsum(batch_means[::-1])[::-1]
    suffix_sq = np.cumsum((batch_means**2)[::-1])[::-1]
    remaining = np.arange(m, 0, -1, dtype=float)
    squared_deviation = np.maximum(suffix_sq - suffix_sum**2 / remaining, 0.0)
    mser = squared_deviation / remaining**2
    limit = max(m - _MIN_TAIL_BATCHES, 0)
    return int(np.argmin(mser[: limit + 1]))


def _mser_trim(y_sorted: np.ndarray, batch_size: int, min_batches: int, label: str) -> tuple[int, str, bool]:
    """Requests MSER drops from the time-ordered latencies, the sentence saying why, and "too short"."""
    n = y_sorted.size
    m = n // batch_size
    if m < min_batches:
        return (
            0,
            (
                f"Only {n} requests ({m} batches of {batch_size}, fewer than {min_batches}): too few to "
                "detect a warm-up, so nothing was trimmed."
            ),
            False,
        )
    d = _mser_truncation(y_sorted[: m * batch_size].reshape(m, batch_size).mean(axis=1))
    if d and not _is_warmup(y_sorted[: d * batch_size], y_sorted[d * batch_size :]):
        return (
            0,
            f"{label} would cut the first {d * batch_size} requests, but they are not a warm-up (not slower "
            "than the rest and converging toward it): nothing was trimmed.",
            False,
        )
    if d == 0:
        return 0, f"{label} found no warm-up: the full series has the smallest standard error of its mean.", False
    if d > m // 2:
        return (
            (m // 2) * batch_size,
            (
                f"{label} puts the end of the warm-up after {d * batch_size} of {n} requests, in the second half "
                "of the run: the run is too short to have reached a steady state, so its numbers describe a "
                f"system still warming up. Only the first half ({(m // 2) * batch_size} requests) was trimmed; "
                "run it longer"
            ),
            True,
        )
    return d * batch_size, f"{label} found the steady state after the first {d * batch_size} requests.", False


def _is_warmup(prefix: np.ndarray, rest: np.ndarray) -> bool:
    """A prefix is a warm-up when it is slower than the rest and converges toward it, or is short and slower."""
    level = float(np.median(rest))
    if prefix.size == 0 or float(np.median(prefix)) <= level:
        return False
    if prefix.size <= _SHORT_PREFIX * (prefix.size + rest.size):
        return True
    half = prefix.size // 2
    return abs(float(np.median(prefix[half:])) - level) < 0.8 * abs(float(np.median(prefix[:half])) - level)


def _find_level_shift(t_sorted: np.ndarray, y_sorted: np.ndarray, unit: str) -> LevelShift | None:
    """The largest level shift in time-ordered latencies, or None when the run is steady (module docstring)."""
    n = y_sorted.size
    batch = max(5, n // 200)
    m = n // batch
    if m < 20:
        return None
    z = np.log(np.maximum(y_sorted[: m * batch], np.finfo(float).tiny)).reshape(m, batch)
    medians = np.median(z, axis=1)
    noise = 1.4826 * float(np.median(np.abs(np.diff(medians) - np.median(np.diff(medians))))) / math.sqrt(2.0)
    noise = max(noise, 1e-9)
    best_k, best_score, best_diff = 0, 0.0, 0.0
    for k in range(max(2, math.ceil(0.1 * m)), math.floor(0.9 * m) + 1):
        diff = float(np.median(medians[k:]) - np.median(medians[:k]))
        score = abs(diff) / (noise * math.sqrt(1.0 / k + 1.0 / (m - k)))
        if score > best_score:
            best_k, best_score, best_diff = k, score, diff
    if best_score < _SHIFT_SCORE or abs(best_diff) < math.log(_SHIFT_FACTOR):
        return None
    index = best_k * batch
    before, after = y_sorted[:index], y_sorted[index:]
    b_med, a_med = float(np.median(before)), float(np.median(after))
    at_s = float(t_sorted[index] - t_sorted[0])
    direction = "slower" if a_med > b_med else "faster"
    sentence = (
        f"Not a steady run: latency changed level {at_s:.3g} s in (after {index:,} of {n:,} requests), median "
        f"{b_med:.3g} {unit} before and {a_med:.3g} {unit} after ({max(a_med, b_med) / min(a_med, b_med):.2g}x "
        f"{direction}). It was not trimmed; each regime's percentiles are reported apart."
    )
    return LevelShift(
        at_s=at_s,
        index=index,
        n=n,
        before_median=b_med,
        after_median=a_med,
        before=percentile_table(before, (50.0, 95.0, 99.0), time_ordered=True),
        after=percentile_table(after, (50.0, 95.0, 99.0), time_ordered=True),
        sentence=sentence,
    )


def _capped(wanted: int, n: int, why: str) -> tuple[int, str]:
    """A fixed trim limited to half of the `n` requests, and its sentence."""
    if wanted > n // 2:
        return n // 2, f"{why}, capped at half of the {n} requests ({n // 2})."
    return wanted, why + "."


def _non_negative(value: float | None, name: str, method: str) -> float:
    if value is None:
        raise ValueError(f"trim_warmup(method={method!r}) needs {name}; pass a non-negative number.")
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float | np.integer | np.floating)
        or not (np.isfinite(value) and value >= 0)
    ):
        raise ValueError(f"{name} must be a non-negative finite number; got {value!r}.")
    return float(value)


def trim_warmup(
    t_start_seconds: object,
    latencies: object,
    *,
    method: WarmupMethod = "mser5",
    seconds: float | None = None,
    count: int | None = None,
    batch_size: int = 5,
    min_batches: int = 10,
    unit: str = "ms",
) -> WarmupTrim:
    """Find the warm-up at the start of a run (by request start time, seconds) and say what was dropped.

    `method`: "mser5" detects it from `latencies` (in `unit`); "seconds" drops requests that started in
    the first `seconds`; "count" drops the first `count` requests; "none" keeps everything. No method
    drops more than half the requests: a fixed trim beyond that is capped, and the reason says so.
    MSER-5 trims nothing when there are fewer than `min_batches` batches of `batch_size`.
    """
    t = as_samples(t_start_seconds, name="t_start_seconds")
    y = as_samples(latencies, name="latencies")
    if t.size != y.size:
        raise ValueError(f"t_start_seconds and latencies must have the same length; got {t.size} and {y.size}.")
    if method not in ("mser5", "seconds", "count", "none"):
        raise ValueError(f"Warm-up method must be 'mser5', 'seconds', 'count' or 'none'; got {method!r}.")
    n = int(t.size)
    order = np.argsort(t, kind="stable")
    t_sorted, y_sorted = t[order], y[order]

    too_short = False
    if method == "seconds":
        secs = _non_negative(seconds, "seconds", method)
        wanted = int(np.searchsorted(t_sorted, t_sorted[0] + secs, side="left")) if n else 0
        label, why = f"fixed {secs:g} s", f"Requests that started in the first {secs:g} s were dropped"
        n_trim, why = _capped(wanted, n, why)
    elif method == "count":
        wanted = int(_non_negative(count, "count", method))
        if count != wanted:
            raise ValueError(f"count must be a whole number of requests; got {count!r}.")
        label = f"fixed {wanted} requests"
        n_trim, why = _capped(wanted, n, f"The first {wanted} requests were dropped")
    elif method == "mser5":
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer (MSER-5 uses 5); got {batch_size!r}.")
        label = f"MSER-{batch_size}"
        # A warm-up belongs to the first regime: with a later level shift, MSER looks only before it.
        first = _find_level_shift(t_sorted, y_sorted, unit)
        limit = n
        if first is not None and not _is_warmup(y_sorted[: first.index], y_sorted[first.index :]):
            limit = first.index
        n_trim, why, too_short = _mser_trim(y_sorted[:limit], batch_size, min_batches, label)
    else:
        n_trim, label, why = 0, "none", "Warm-up trimming was switched off; all requests are kept."

    if n == 0:
        why = "No requests were recorded, so nothing was trimmed."
    elif n_trim:
        before, after = np.median(y_sorted[:n_trim]), np.median(y_sorted[n_trim:])
        why += (
            f" Dropped {n_trim} of {n} requests ({t_sorted[n_trim] - t_sorted[0]:.3g} s); their median "
            f"latency was {before:.4g} {unit} against {after:.4g} {unit} afterwards."
        )

    shift = _find_level_shift(t_sorted[n_trim:], y_sorted[n_trim:], unit) if method != "none" else None
    if shift is not None:
        why += " " + shift.sentence
    kept = np.zeros(n, dtype=bool)
    kept[order[n_trim:]] = True
    kept.setflags(write=False)
    seconds_trimmed = float(t_sorted[n_trim] - t_sorted[0]) if n_trim else 0.0
    return WarmupTrim(
        level_shift=shift,
        n_trimmed=n_trim,
        n_kept=n - n_trim,
        seconds_trimmed=seconds_trimmed,
        method=label,
        reason=why,
        kept=kept,
        too_short=too_short,
    )


def trim_first_steady_phase(
    t_start_seconds: object,
    latencies: object,
    phases: object,
    *,
    steady: object,
    batch_size: int = 5,
    min_batches: int = 10,
    unit: str = "ms",
) -> WarmupTrim:
    """MSER warm-up trimming of a multi-phase run: only within the first steady phase, never across phases.

    `phases`: each request's phase label; `steady`: the labels of steady phases (e.g. {"steady"}). The
    first steady phase in time gets MSER (`trim_warmup`); every other request is kept, since a ramp or a
    spike is a deliberate change of load, not a warm-up (callers leave ramps out of verdicts themselves).
    `kept` is in the caller's order; `too_short` refers to the first steady phase.
    """
    t = as_samples(t_start_seconds, name="t_start_seconds")
    y = as_samples(latencies, name="latencies")
    labels = np.asarray(phases, dtype=object)
    if not (t.size == y.size == labels.size) or labels.ndim != 1:
        raise ValueError(
            f"t_start_seconds, latencies and phases must have one entry per request; got {t.size}, {y.size} "
            f"and {labels.size}."
        )
    steady_set = {steady} if isinstance(steady, str) else set(steady)  # type: ignore[arg-type]
    in_steady = np.isin(labels, list(steady_set)) if steady_set else np.zeros(t.size, dtype=bool)
    kept = np.ones(t.size, dtype=bool)
    if not np.any(in_steady):
        kept.setflags(write=False)
        return WarmupTrim(
            n_trimmed=0,
            n_kept=int(t.size),
            seconds_trimmed=0.0,
            method="none",
            reason="No steady phase was found, so nothing was trimmed.",
            kept=kept,
        )
    first = labels[np.flatnonzero(in_steady)[np.argmin(t[in_steady])]]
    inside = labels == first
    trim = trim_warmup(t[inside], y[inside], method="mser5", batch_size=batch_size, min_batches=min_batches, unit=unit)
    kept[np.flatnonzero(inside)] = trim.kept
    kept.setflags(write=False)
    return WarmupTrim(
        n_trimmed=trim.n_trimmed,
        n_kept=int(kept.sum()),
        seconds_trimmed=trim.seconds_trimmed,
        method=f"{trim.method} within the first steady phase ({first})",
        reason=f"Phase {first!s}: {trim.reason} Other phases are deliberate load changes and were not trimmed.",
        kept=kept,
        too_short=trim.too_short,
        level_shift=trim.level_shift,
    )
