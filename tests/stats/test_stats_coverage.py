"""Coverage bands of the time-ordered 95 % intervals on queueing, stall, regime, heavy-tailed and AR(1) series.

Each cell (process, n, statistic) must cover within [0.93, 0.99], overall (an undecided interval covers)
and among decided runs (a cell decided in at most a fifth of its runs only no further than three binomial sds
below the band, once 20 runs are decided), and decided intervals must be no narrower than the
independent-sample interval and at most WIDTH_FACTOR times it (1.35 for iid data: an estimated long-run
variance and its Student t cost about a fifth; correlated processes are allowed their sqrt(tau)).

Binomial reasoning: with R runs a cell's coverage has standard deviation sqrt(c (1 - c) / R). At
R = 300 (n = 2,000) and c = 0.96 that is 0.011, so a correct interval falls below 0.93 with probability
~0.4 % and above 0.99 with ~0.4 %, while one covering 0.90 passes with probability < 0.3 %. At n = 10,000
R = 120 (sd 0.018) keeps the test within ~1 minute of CPU; there the band is checked on the four
statistics pooled (480 runs, sd 0.009) and each cell only against a wider [0.90, 1.0] band. Everything is
seeded, so the test is deterministic; the reasoning says its seeds are not lucky ones.

KNOWN_GAPS lists the cells that do not reach the band yet (issue 20, measured with the benchmark
benchmarks/stats_coverage.py): a cell leaving the list must pass, and no other cell may fail.

UNDECIDABLE lists the cells where the series holds too few separate excursions beyond the percentile to bound
it (a p99 of 2,000 correlated requests: 20 exceedances in a few busy periods). There the right answer is
*undecided*, and the test asserts that it is given (at most 5 % of runs decided), in place of the band.
"""

import math

import pytest

from qrbench.stats.coverage import interval_coverage
from qrbench.stats.processes import reference_processes

BAND = (0.93, 0.99)
REPS = {2000: 300, 10000: 120}
WIDTH_FACTOR = {"iid Pareto tail 3": 1.35}
DEFAULT_WIDTH_FACTOR = 20.0
# (process, n, statistic) still outside the band (measured with this test's seeds): regime switching at
# n = 2,000 covers 0.90-0.92; the M/M/1 rho 0.8 p95 at 2,000 is decided in 16 % of runs, covering 0.67 there;
# the rho 0.9 p95 at 10,000 and the stalls' p95 at 2,000 cover 0.88 / 0.87 (0.61 / 0.76 among decided); the
# queue and stall means cover 0.91-0.97 but their decided intervals average 21-49 times the iid width (an upper
# end scaled with the excess over the lowest decile grows without bound as the half-width nears that excess).
UNDECIDABLE = {
    ("M/M/1 rho=0.5", 2000, "p99"),
    ("M/M/1 rho=0.8", 2000, "p99"),
    ("M/M/1 rho=0.9", 2000, "p99"),
}
KNOWN_GAPS = {
    ("regime switching", 2000, "p99"),
    ("M/M/1 rho=0.8", 2000, "p95"),
    ("M/M/1 rho=0.8", 2000, "mean"),
    ("M/M/1 rho=0.9", 2000, "mean"),
    ("M/M/1 rho=0.9", 10000, "p95"),
    ("M/M/1 rho=0.9", 10000, "mean"),
    ("stall episodes", 2000, "p95"),
    ("stall episodes", 2000, "mean"),
    ("regime switching", 2000, "p50"),
    ("regime switching", 2000, "p95"),
}
PROCESSES = {p.name: (k, p) for k, p in enumerate(reference_processes())}


def _problems(row, band):
    low, high = band
    out = []
    if not low <= row.coverage <= high:
        out.append(f"coverage {row.coverage:.3f}")
    if row.share_decided > 0.2 and not low <= row.coverage_decided <= high:
        out.append(f"coverage among decided {row.coverage_decided:.3f}")
    # A cell decided in few runs (20 or more, at most a fifth) is not excused: its decided intervals must not
    # cover more than three binomial sds below the band (a cell covering 0.67 in 54 decided runs of 300 is wrong
    # whenever it speaks, even if its overall coverage, undecided runs counted as covering, lands in the band).
    decided = row.share_decided * row.reps
    if 20 <= decided and row.share_decided <= 0.2:
        floor = low - 3.0 * math.sqrt(0.95 * 0.05 / decided)
        if row.coverage_decided < floor:
            out.append(f"coverage among {decided:.0f} decided {row.coverage_decided:.3f} (< {floor:.3f})")
    factor = WIDTH_FACTOR.get(row.process, DEFAULT_WIDTH_FACTOR)
    if row.share_decided > 0 and not 1.0 <= row.width_vs_iid <= factor:
        out.append(f"width {row.width_vs_iid:.2f} x iid (allowed 1-{factor:g})")
    return out


@pytest.mark.parametrize("name", list(PROCESSES))
@pytest.mark.parametrize("n", list(REPS))
def test_interval_coverage_within_band(name, n):
    k, process = PROCESSES[name]
    rows = interval_coverage(process, n, REPS[n], seed=20 + 1000 * k + n)
    band = BAND if n == 2000 else (0.90, 1.0)
    refused = {(name, n, r.statistic): r.share_decided for r in rows if (name, n, r.statistic) in UNDECIDABLE}
    assert all(share <= 0.05 for share in refused.values()), f"undecidable cells decided: {refused}"
    rows = [r for r in rows if (name, n, r.statistic) not in UNDECIDABLE]
    failing = {(name, n, r.statistic): _problems(r, band) for r in rows}
    failing = {key: why for key, why in failing.items() if why}
    unexpected = {key: why for key, why in failing.items() if key not in KNOWN_GAPS}
    assert not unexpected, f"cells outside the band: {unexpected}"
    fixed = {(name, n, r.statistic) for r in rows} & KNOWN_GAPS - set(failing)
    assert not fixed, f"known gaps that now pass; remove them from KNOWN_GAPS: {sorted(fixed)}"
    if n == 10000:
        kept = [r for r in rows if (name, n, r.statistic) not in KNOWN_GAPS]
        if kept:
            pooled = sum(r.coverage for r in kept) / len(kept)
            assert BAND[0] <= pooled <= BAND[1], f"pooled coverage {pooled:.3f} of {[r.statistic for r in kept]}"
    # iid and mildly correlated series are decided at these lengths: an interval is given, not withheld.
    if name in ("iid Pareto tail 3", "AR(1) phi=0.9", "M/M/1 rho=0.5"):
        assert all(r.share_decided >= 0.9 for r in rows if r.statistic != "p99" or n == 10000)
        assert rows
    assert all(math.isfinite(r.coverage) for r in rows)
