"""Coverage of qrbench's time-ordered 95 % intervals on the reference latency processes.

Prints, for every process (M/M/1 sojourn times at rho 0.5 / 0.8 / 0.9, stall episodes, regime switching,
iid Pareto tail 3, AR(1) phi 0.9) and n = 2,000 and 10,000: coverage of p50 / p95 / p99 / mean overall
(undecided intervals count as covering), among decided runs, the share decided, and the mean width of
decided intervals relative to the independent-sample interval of the same series. CPU only; the numbers
do not depend on machine load, only the running time does (about 1 s per 10 series of 10,000 on one core).

Then the leak table (wrong verdicts, slope coverage, verdict shares, mean width and the detection ceiling of
an interval with the known slope variance, on 1-s RSS with AR noise, with and without a GC sawtooth and
persistent 1-MB steps; a 30 MB/h leak in a 30- and a 60-minute soak) and the windowed-throughput
table (coverage when the arrival rate alternates in phases down to a fifth of a 120-s stage).

    python benchmarks/stats_coverage.py --reps 400          # ~15 min
    python benchmarks/stats_coverage.py --reps 20 --n 2000  # a quick look
    python benchmarks/stats_coverage.py --only leak --reps 200

Measured 2026-12-08 (--reps 200; CPU-only, so only the time depends on the machine's load; 30 s): iid Pareto
and AR(1) cover 0.94-0.99 at 1.1-1.3x (iid) and 2.3-6.2x (AR) the iid width. Percentile ends measured at their
own level and the mean's regenerative degrees of freedom with an upper end scaled with its excess over the
lowest decile (qrbench.stats.series) took the stalls' p95 from 0.75 to 0.85 (2,000) and 0.88 to 0.94 (10,000),
the M/M/1 rho 0.9 p50 at 2,000 from 0.89 to 0.93, regimes' p95 at 2,000 from 0.88 to 0.92, and the means of
M/M/1 rho 0.8 / 0.9 and stalls at 2,000 from 0.87 / 0.76 / 0.82 to 0.94 / 0.92 / 0.94 (0.94 / 0.87 / 0.92 among
decided), at 21-55 times the iid width. Still short: regime switching at 2,000 (0.89-0.93), the stalls' p95 at
2,000 (0.74 among decided), M/M/1 tails at rho >= 0.8, and the queue means' widths.
Leak: verdicts wrong in <= 0.5 % of soaks on every
process; the slope interval covers 0.94-0.98 without steps and 0.83-0.93 with persistent steps (the former
batch means: 0.84-0.95 and 0.58-0.78, on these same seeds); it is about 2.3 times as wide as an interval that
knew the slope's variance (24 against 10 MB/h over 40 minutes), the price of a random-walk part the data
cannot rule out. A 30 MB/h leak is found in 30 minutes in 0.29-0.40 of soaks against a ceiling of 0.75-0.78
without steps and 0.38-0.43 with them for the known-variance interval: 0.90 is out of reach in 30 minutes on
these processes (about 36 minutes without steps, 65-70 with them); in 60 minutes 0.60-0.72 (ceilings
0.86-1.00). Windowed throughput covers 0.93-0.97 with phases down to a fifth (and a sixth) of the stage.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
from scipy import stats as _sps

from qrbench.stats import LEAK_LIMIT_MB_PER_H, leak_check, throughput
from qrbench.stats.coverage import interval_coverage
from qrbench.stats.processes import reference_processes, rss_soak

MB = 1e6


def _fmt(value: float) -> str:
    return "   -" if math.isnan(value) else f"{value:4.2f}"


LEAK_PROCESSES = {
    "AR": {"sawtooth": False, "steps": False},
    "AR+GC": {"sawtooth": True, "steps": False},
    "AR+steps": {"sawtooth": False, "steps": True},
    "AR+GC+steps": {"sawtooth": True, "steps": True},
}


def leak_table(reps: int, seed: int) -> None:
    """Wrong verdicts, slope coverage, verdict shares and the detection ceiling on realistic RSS series."""
    print(f"\nleak check, limit {LEAK_LIMIT_MB_PER_H:g} MB/h, {reps} seeded soaks per row (window after the fill)")
    print("ceiling: share of 'fail' an interval with the *known* slope variance would reach (two-sided 95 %)")
    print(
        f"{'process':<12} {'MB/h':>5} {'min':>4} {'wrong':>6} {'cover':>6} {'fail':>6} {'pass':>6} {'undec':>6} "
        f"{'insuf':>6} {'width':>6} {'ceiling':>7}"
    )
    rows = ((0.0, 40), (10.0, 40), (30.0, 30), (30.0, 60), (120.0, 40))
    for k, (name, kind) in enumerate(LEAK_PROCESSES.items()):
        rng = np.random.default_rng(seed + k)
        for slope, minutes in rows:
            counts = {"fail": 0, "pass": 0, "undecided": 0, "insufficient": 0}
            wrong = cover = 0
            widths, slopes = [], []
            for _ in range(reps):
                t, rss = rss_soak(rng, slope, minutes, **kind)
                check = leak_check(t, rss, full_at_s=0.0)
                counts[check.verdict] += 1
                cover += check.slope.low <= slope <= check.slope.high
                wrong += check.verdict == ("fail" if slope < LEAK_LIMIT_MB_PER_H else "pass")
                slopes.append(check.slope.value)
                if check.slope.decided:
                    widths.append(check.slope.width)
            sd = float(np.nanstd(slopes))  # the slope's own spread over the seeded soaks
            ceiling = float(_sps.norm.sf((LEAK_LIMIT_MB_PER_H - slope) / sd + 1.96)) if sd > 0 else math.nan
            print(
                f"{name:<12} {slope:>5g} {minutes:>4g} {wrong / reps:>6.3f} {cover / reps:>6.2f} "
                f"{counts['fail'] / reps:>6.2f} {counts['pass'] / reps:>6.2f} {counts['undecided'] / reps:>6.2f} "
                f"{counts['insufficient'] / reps:>6.2f} {np.mean(widths) if widths else math.nan:>6.1f} "
                f"{ceiling:>7.2f}",
                flush=True,
            )


def throughput_table(reps: int, seed: int) -> None:
    """Coverage of the windowed throughput interval when the arrival rate changes in phases."""
    print(f"\nwindowed throughput (1-s windows, 120-s stage), {reps} seeded stages per row")
    print(f"{'phase s':>7} {'rates /s':>10} {'cover':>6} {'decided':>7}")
    rng = np.random.default_rng(seed)
    for phase_s, rates in ((120.0, (100.0,)), (40.0, (80.0, 120.0)), (24.0, (60.0, 140.0)), (20.0, (80.0, 120.0))):
        n_phases = int(120.0 // phase_s)
        phase_rates = [rates[i % len(rates)] for i in range(n_phases)]
        truth = float(np.mean(phase_rates))
        cover = decided = 0
        for _ in range(reps):
            t = np.concatenate(
                [
                    np.sort(rng.uniform(i * phase_s, (i + 1) * phase_s, rng.poisson(r * phase_s)))
                    for i, r in enumerate(phase_rates)
                ]
            )
            est = throughput(t, window_s=1.0, start_s=0.0, end_s=120.0)
            cover += est.low <= truth <= est.high
            decided += est.decided
        print(f"{phase_s:>7g} {'/'.join(f'{r:g}' for r in rates):>10} {cover / reps:>6.2f} {decided / reps:>7.2f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=400, help="series per process and length (default 400)")
    parser.add_argument("--n", type=int, nargs="+", default=[2000, 10000], help="series lengths")
    parser.add_argument("--seed", type=int, default=20, help="seed of the first process (default 20)")
    parser.add_argument("--only", choices=["intervals", "leak", "throughput"], help="print one table only")
    args = parser.parse_args(argv)
    if args.only in (None, "leak"):
        leak_table(args.reps, args.seed)
    if args.only in (None, "throughput"):
        throughput_table(args.reps, args.seed)
    if args.only not in (None, "intervals"):
        return
    print(f"\n95 % intervals, {args.reps} seeded series per row; per statistic: coverage / coverage among decided")
    print("runs / share decided / mean width of decided intervals relative to the iid interval")
    stats_order = ("p50", "p95", "p99", "mean")
    print(f"{'process':<18} {'n':>6} | " + " | ".join(f"{s:^22}" for s in stats_order))
    for k, process in enumerate(reference_processes()):
        for n in args.n:
            rows = {r.statistic: r for r in interval_coverage(process, n, args.reps, seed=args.seed + 1000 * k + n)}
            cells = [
                f"{_fmt(r.coverage)} {_fmt(r.coverage_decided)} {_fmt(r.share_decided)} {r.width_vs_iid:5.1f}"
                if not math.isnan(r.width_vs_iid)
                else f"{_fmt(r.coverage)} {_fmt(r.coverage_decided)} {_fmt(r.share_decided)}     -"
                for r in (rows[s] for s in stats_order)
            ]
            print(f"{process.name:<18} {n:>6} | " + " | ".join(cells), flush=True)


if __name__ == "__main__":
    main()
