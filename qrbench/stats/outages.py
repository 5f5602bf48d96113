"""Outage windows: the stretches of a run in which every request failed, found from the records alone."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

__all__ = ["Outage", "outage_windows"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Outage:
    """A run of consecutive failed requests with no success among them; times in seconds (the input's clock).

    start_s / end_s: the first and last failure. last_ok_s: the last success before it (NaN when the
    run failed from its start); next_ok_s: the first success after it (NaN when it never recovered).
    The true outage began somewhere in (last_ok_s, start_s] and ended in [end_s, next_ok_s).
    """

    start_s: float
    end_s: float
    failures: int
    last_ok_s: float
    next_ok_s: float

    @property
    def duration_s(self) -> float:
        """Seconds from the first to the last failure."""
        return self.end_s - self.start_s

    @property
    def recovered(self) -> bool:
        """A success followed the outage."""
        return not math.isnan(self.next_ok_s)


def outage_windows(
    t: Iterable[float], ok: Iterable[bool], *, min_failures: int = 2, min_duration_s: float = 0.0
) -> tuple[Outage, ...]:
    """The outages in a run: maximal runs of failures, in time order, with no success between them.

    t: each request's time in seconds (its intended send time in an open model); ok: whether it
    succeeded. A run counts when it has at least min_failures failures and lasts at least min_duration_s
    seconds (first to last failure), so isolated errors under load are not reported as outages.
    """
    times = np.asarray(list(t) if not isinstance(t, np.ndarray) else t, dtype=float)
    good = np.asarray(list(ok) if not isinstance(ok, np.ndarray) else ok, dtype=bool)
    if times.ndim != 1 or good.ndim != 1 or times.shape != good.shape:
        raise ValueError(f"t and ok must be 1-D and of one length; got shapes {times.shape} and {good.shape}.")
    if not np.all(np.isfinite(times)):
        raise ValueError("t must hold finite times in seconds; it has NaN or infinite values.")
    if isinstance(min_failures, bool) or not isinstance(min_failures, int) or min_failures < 1:
        raise ValueError(f"min_failures must be a whole number of at least 1; got {min_failures!r}.")
    if not (isinstance(min_duration_s, int | float) and math.isfinite(min_duration_s) and min_duration_s >= 0):
        raise ValueError(f"min_duration_s must be a finite number of seconds, 0 or more; got {min_duration_s!r}.")
    order = np.argsort(times, kind="stable")
    times, good = times[order], good[order]
    failed = np.concatenate([[False], ~good, [False]]).astype(np.int8)
    edges = np.diff(failed)
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1  # inclusive indices
    out = []
    for a, b in zip(starts, ends, strict=True):
        n = int(b - a + 1)
        if n < min_failures or times[b] - times[a] < min_duration_s:
            continue
        out.append(
            Outage(
                start_s=float(times[a]),
                end_s=float(times[b]),
                failures=n,
                last_ok_s=float(times[a - 1]) if a > 0 else math.nan,
                next_ok_s=float(times[b + 1]) if b + 1 < times.size else math.nan,
            )
        )
    return tuple(out)
