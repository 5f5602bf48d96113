"""Seeded Monte-Carlo coverage of the time-ordered intervals on reference processes (qrbench.stats.processes).

For each process and series length: how often the nominal interval of p50, p95, p99 and the mean covers
the exact stationary value, overall (an undecided, unbounded interval covers) and among decided runs,
the share of decided runs, and the mean width of decided intervals relative to the independent-sample
interval of the same series (order statistics for percentiles, Student t for the mean). Used by
tests/stats/test_stats_coverage.py and benchmarks/stats_coverage.py.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from scipy import stats as _sps

from qrbench.stats.percentiles import percentile_label, percentile_table
from qrbench.stats.processes import ReferenceProcess
from qrbench.stats.series import series_mean_ci

__all__ = ["CoverageRow", "interval_coverage"]


@dataclass(frozen=True, kw_only=True)
class CoverageRow:
    """Coverage of one statistic's interval on one process at one series length, over `reps` series.

    coverage_decided and width_vs_iid are NaN when no run was decided.
    """

    process: str
    n: int
    statistic: str
    reps: int
    coverage: float
    coverage_decided: float
    share_decided: float
    width_vs_iid: float


def interval_coverage(
    process: ReferenceProcess,
    n: int,
    reps: int,
    *,
    seed: int = 0,
    qs: Iterable[float] = (50.0, 95.0, 99.0),
    confidence: float = 0.95,
) -> tuple[CoverageRow, ...]:
    """Coverage rows (each percentile in `qs`, then "mean") of `reps` seeded series of length `n`."""
    if reps < 1 or n < 3:
        raise ValueError(f"interval_coverage needs reps >= 1 and n >= 3; got reps={reps!r}, n={n!r}.")
    qs = tuple(float(q) for q in qs)
    series = process.sample(np.random.default_rng(seed), reps, n)
    names = [percentile_label(q) for q in qs] + ["mean"]
    truth = [process.quantile(q / 100.0) for q in qs] + [process.mean]
    covered = np.zeros((len(names), reps), dtype=bool)
    decided = np.zeros((len(names), reps), dtype=bool)
    ratio = np.full((len(names), reps), np.nan)
    t_iid = float(_sps.t.ppf(0.5 + confidence / 2.0, n - 1))
    for r, x in enumerate(series):
        ordered_table = percentile_table(x, qs, confidence, time_ordered=True)
        iid_table = percentile_table(x, qs, confidence)
        estimates = [ordered_table[name] for name in names[:-1]] + [series_mean_ci(x, confidence=confidence)]
        iid_widths = [iid_table[name].width for name in names[:-1]] + [2 * t_iid * x.std(ddof=1) / math.sqrt(n)]
        for i, (est, value, iid_width) in enumerate(zip(estimates, truth, iid_widths, strict=True)):
            covered[i, r] = est.low <= value <= est.high
            decided[i, r] = est.decided
            if est.decided and iid_width > 0:
                ratio[i, r] = est.width / iid_width
    rows = []
    for i, name in enumerate(names):
        d = decided[i]
        rows.append(
            CoverageRow(
                process=process.name,
                n=n,
                statistic=name,
                reps=reps,
                coverage=float(covered[i].mean()),
                coverage_decided=float(covered[i, d].mean()) if d.any() else math.nan,
                share_decided=float(d.mean()),
                width_vs_iid=float(np.nanmean(ratio[i])) if d.any() else math.nan,
            )
        )
    return tuple(rows)
