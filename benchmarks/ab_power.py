"""The power curve of `qrbench ab`: how often a true slowdown of B is found, on a simulated drifting machine.

For each true slowdown (0 to 30 %) it simulates `--runs` comparisons (qrbench.stats.simulate_ab: a slow
drift of +-10 % and on/off episodes of contention, x1.5 for ~20 s every ~60 s, hitting whichever target is
being measured; requests with a lognormal spread) at the block counts of parameters/ab.yaml, judges each
exactly as `qrbench ab` does (stats.judge_simulated: paired t on log block statistics, Holm over the rows)
and prints per slowdown: the share of runs flagged as a regression (any row, the family), per row, and the
median detectable change. At 0 % the family-wise share is the false-positive rate (goal <= 5 %); at 10 %
the per-row detection rate is the power (goal >= 80 %).

    python benchmarks/ab_power.py [--runs 200] [--pairs 32] [--requests-per-kind 40] [--contention 1.5]

No clock is read: the numbers depend on the seed only, not on the machine (about a minute at --runs 200).
2026-12-07, --runs 400 at 32 pairs x 40 requests (the defaults): identical targets flagged in 2.5 % of runs
(any row; 0.5-2.2 % per row); a 10 % slowdown found in 87.5-91.8 % per row (94 % any row), 2.5 % in 18 %
(any row), 5 % in 51 %, 7.5 % in 82 %, 15 % and more in 99-100 %; median detectable change 9.3-9.8 %.
tests/stats/test_stats_paired.py asserts <= 5 % and >= 80 % at these counts.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import yaml

from qrbench.stats import DriftingMachine, judge_simulated, overall_ab_verdict, simulate_ab

SLOWDOWNS = (0.0, 0.025, 0.05, 0.075, 0.10, 0.15, 0.20, 0.30)


def _defaults() -> dict:
    path = Path(__file__).resolve().parents[1] / "parameters" / "ab.yaml"
    return yaml.safe_load(path.read_text()) if path.is_file() else {}


def main() -> None:
    defaults = _defaults()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=200, help="simulated comparisons per slowdown (default 200)")
    p.add_argument("--pairs", type=int, default=int(defaults.get("pairs", 32)))
    p.add_argument("--requests-per-kind", type=int, default=int(defaults.get("requests_per_kind", 40)))
    p.add_argument("--contention", type=float, default=1.5, help="latency factor while contended (1: none)")
    p.add_argument("--threshold", type=float, default=0.10)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    machine = DriftingMachine(contention_factor=args.contention)
    print(
        f"{args.runs} simulated comparisons per point, {args.pairs} pairs x {args.requests_per_kind} requests per "
        f"kind, drift +-{machine.drift_amplitude:.0%}, contention x{args.contention:g} "
        f"(~{machine.contention_on_s:g} s on, ~{machine.contention_off_s:g} s off), threshold {args.threshold:.0%}"
    )
    header = None
    for slowdown in SLOWDOWNS:
        family, per_row, detectable = 0, {}, []
        for i in range(args.runs):
            run = simulate_ab(
                machine,
                n_pairs=args.pairs,
                requests_per_kind=args.requests_per_kind,
                slowdown=1.0 + slowdown,
                seed=args.seed + 100_000 * i + int(slowdown * 1000),
            )
            rows = judge_simulated(run, threshold=args.threshold)
            family += overall_ab_verdict(rows) == "regression"
            for r in rows:
                key = f"{r.label} {r.statistic}"
                per_row[key] = per_row.get(key, 0) + (r.verdict == "regression")
                detectable.append(r.detectable)
        if header is None:
            header = list(per_row)
            print(f"{'slowdown':>8} {'any row':>8} " + " ".join(f"{k:>18}" for k in header) + "  median detectable")
        cells = " ".join(f"{per_row[k] / args.runs:>18.1%}" for k in header)
        print(f"{slowdown:>8.1%} {family / args.runs:>8.1%} {cells}  {np.median(detectable):.1%}")
    print("Rows: share of runs flagged as a regression. At 0 %: false positives (goal <= 5 % any row).")


if __name__ == "__main__":
    main()
