"""Coverage of qrbench's time-ordered 95 % intervals on the reference latency processes.

Prints, for every process (M/M/1 sojourn times at rho 0.5 / 0.8 / 0.9, stall episodes, regime switching,
iid Pareto tail 3, AR(1) phi 0.9) and n = 2,000 and 10,000: coverage of p50 / p95 / p99 / mean overall
(undecided intervals count as covering), among decided runs, the share decided, and the mean width of
decided intervals relative to the independent-sample interval of the same series. CPU only; the numbers
do not depend on machine load, only the running time does (about 1 s per 10 series of 10,000 on one core).

    python benchmarks/stats_coverage.py --reps 400          # ~10 min
    python benchmarks/stats_coverage.py --reps 20 --n 2000  # a quick look
"""

from __future__ import annotations

import argparse
import math

from qrbench.stats.coverage import interval_coverage
from qrbench.stats.processes import reference_processes


def _fmt(value: float) -> str:
    return "   -" if math.isnan(value) else f"{value:4.2f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=400, help="series per process and length (default 400)")
    parser.add_argument("--n", type=int, nargs="+", default=[2000, 10000], help="series lengths")
    parser.add_argument("--seed", type=int, default=20, help="seed of the first process (default 20)")
    args = parser.parse_args(argv)
    print(f"95 % intervals, {args.reps} seeded series per row")
    print(f"{'process':<22} {'n':>6} {'stat':>5} {'cover':>5} {'|dec':>5} {'dec':>5} {'w/iid':>6}")
    for k, process in enumerate(reference_processes()):
        for n in args.n:
            for row in interval_coverage(process, n, args.reps, seed=args.seed + 1000 * k + n):
                print(
                    f"{row.process:<22} {row.n:>6} {row.statistic:>5} {_fmt(row.coverage):>5} "
                    f"{_fmt(row.coverage_decided):>5} {_fmt(row.share_decided):>5} {_fmt(row.width_vs_iid):>6}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
