"""A drifting machine, simulated: A/B block runs whose truth is known, to check the paired-block comparison.

The machine multiplies every request's latency by a factor that moves on its own: a slow drift (a sinusoid
in log scale with a random phase) and on/off episodes of contention (another program takes the cores:
latency x `contention_factor` while it runs; episode and gap lengths exponential). Both arms see the same
machine; arm B is `slowdown` times slower than A. Requests are sent one after another (one closed-model
user), each kind's requests interleaved within a block, as `qrbench ab` sends them.

Used by the tests (false-positive rate, power) and benchmarks/ab_power.py (the power curve).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from qrbench.stats.paired import PairedComparison, block_pairs, judge_family, pair_schedule, paired_comparison

__all__ = ["DriftingMachine", "SimulatedAB", "simulate_ab", "judge_simulated"]


@dataclass(frozen=True, kw_only=True)
class DriftingMachine:
    """drift_amplitude: peak of the slow drift as a log factor (0.10: +-10 %); drift_period_s: its period.
    contention_factor: latency multiplier while another program runs; contention_on_s / contention_off_s:
    mean lengths (s) of the episodes and of the gaps between them (0 on: no contention).
    request_sigma: spread of a request's latency (lognormal sigma); requests: kind -> typical latency (ms)."""

    drift_amplitude: float = 0.10
    drift_period_s: float = 240.0
    contention_factor: float = 1.5
    contention_on_s: float = 20.0
    contention_off_s: float = 40.0
    request_sigma: float = 0.25
    requests: Mapping[str, float] = field(default_factory=lambda: {"similarity": 15.0, "rerank_50": 120.0})

    def __post_init__(self) -> None:
        checks = [
            ("drift_amplitude", 0 <= self.drift_amplitude < 2, "from 0 to below 2"),
            ("drift_period_s", self.drift_period_s > 0, "positive"),
            ("contention_factor", self.contention_factor >= 1, "at least 1"),
            ("contention_on_s", self.contention_on_s >= 0, "0 or more"),
            ("contention_off_s", self.contention_off_s > 0, "positive"),
            ("request_sigma", 0 <= self.request_sigma < 3, "from 0 to below 3"),
            ("requests", bool(self.requests) and all(v > 0 for v in self.requests.values()), "kinds with positive ms"),
        ]
        for name, ok, valid in checks:
            if not ok:
                raise ValueError(f"DriftingMachine.{name} must be {valid}.")


@dataclass(frozen=True, kw_only=True)
class SimulatedAB:
    """Per row (kind, statistic): the A and the B block value of each pair (ms); the arms in block order and
    each block's start time (s)."""

    rows: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]
    arms: tuple[str, ...]
    block_start_s: np.ndarray


def _contention(machine: DriftingMachine, horizon_s: float, rng: np.random.Generator) -> np.ndarray:
    """Switch times of the contention episodes: [t0_on, t0_off, t1_on, t1_off, ...] covering horizon_s."""
    if machine.contention_on_s == 0 or machine.contention_factor == 1:
        return np.empty(0)
    times, t = [], -rng.exponential(machine.contention_off_s + machine.contention_on_s)
    while t < horizon_s:
        t += rng.exponential(machine.contention_off_s)
        on = t
        t += rng.exponential(machine.contention_on_s)
        times.extend((on, t))
    return np.asarray(times)


def simulate_ab(
    machine: DriftingMachine,
    *,
    n_pairs: int,
    requests_per_kind: int,
    slowdown: float = 1.0,
    statistics: tuple[str, ...] = ("median", "p95"),
    seed: int = 0,
) -> SimulatedAB:
    """One simulated `qrbench ab` run: 2 x n_pairs blocks, each pair in random order, `requests_per_kind`
    requests of each kind per block, arm B `slowdown` times slower than arm A."""
    rng = np.random.default_rng(seed)
    arms = pair_schedule(n_pairs, seed=int(rng.integers(2**31)))
    kinds = list(machine.requests)
    # Kinds interleaved within a block (k0, k1, k0, k1, ...), as the real blocks send them.
    kind_of = np.tile(np.arange(len(kinds)), requests_per_kind)
    base = np.array([machine.requests[k] for k in kinds])[kind_of]
    per_block_s = 1.4 * base.sum() / 1000.0 * max(slowdown, 1.0) * machine.contention_factor
    switches = _contention(machine, 2 * n_pairs * per_block_s + 60.0, rng)
    phase = rng.uniform(0, 2 * math.pi)

    def factor(t: np.ndarray) -> np.ndarray:
        drift = np.exp(machine.drift_amplitude * np.sin(2 * math.pi * t / machine.drift_period_s + phase))
        on = (np.searchsorted(switches, t, side="right") % 2) == 1
        return drift * np.where(on, machine.contention_factor, 1.0)

    is_b = np.array([arm == "B" for arm in arms])
    nominal = base * rng.lognormal(0.0, machine.request_sigma, (len(arms), base.size))
    nominal[is_b] *= slowdown
    latency = np.empty_like(nominal)
    starts = np.empty(len(arms))
    t = 0.0
    for block in range(len(arms)):
        # Each request sees the machine at its own send time (sends back to back within the block).
        row = nominal[block]
        sent = t + np.concatenate([[0.0], np.cumsum(row[:-1])]) * factor(np.array([t]))[0] / 1000.0
        latency[block] = row * factor(sent)
        starts[block] = t
        t = float(sent[-1] + latency[block, -1] / 1000.0)
    values = {}
    for i, kind in enumerate(kinds):
        lat = latency[:, kind_of == i]
        for stat in statistics:
            values[(kind, stat)] = (
                np.median(lat, axis=1) if stat == "median" else np.percentile(lat, float(stat[1:]), axis=1)
            )
    pairs = block_pairs(arms)
    ia, ib = np.array([p[0] for p in pairs]), np.array([p[1] for p in pairs])
    rows = {key: (v[ia], v[ib]) for key, v in values.items()}
    return SimulatedAB(rows=rows, arms=arms, block_start_s=starts)


def judge_simulated(
    run: SimulatedAB, *, threshold: float = 0.10, alpha: float = 0.05, power: float = 0.80
) -> tuple[PairedComparison, ...]:
    """Every row of a simulated run judged together, as `qrbench ab` judges a real one."""
    rows = [
        paired_comparison(a, b, label=kind, statistic=stat, threshold=threshold, alpha=alpha, power=power)
        for (kind, stat), (a, b) in run.rows.items()
    ]
    return judge_family(rows)
