"""Was the machine busy with other programs while a run measured? Judged per stage and over the run.

Input: the contention sampler's rows (monitor/contention.py), each the average over the interval that ends at
its time stamp: CPU used by processes other than the target and the load generator, and the hypervisor's steal
time, both in cores, and now and then the time of a short fixed calibration loop. Stages are time windows.

The documented limit (README, "How a busy machine is reported"), `ContentionLimits`: a stage is contended when,
averaged over the stage,

- other programs used at least 25 % of the machine's cores (`other_share`), or
- the hypervisor stole at least 10 % of the cores' time (`steal_share`), or
- the calibration loop ran at least 2x slower than its fastest time in the run (`calibration_ratio`) while the
  run itself left at least half of the cores idle (so the slowdown came from outside: another virtual machine,
  throttling), not from the service it measures.

A run is contended when any stage is. What contention could do to a latency is bounded by `slowdown`: the
largest of 1 + (other + steal share of the cores) -- a job that could use every core, sharing them fairly with
other programs' runnable threads, runs that much slower -- and the calibration loop's own slowdown. A target
that fails by less than that factor cannot be told from a busy machine (`explained_by_contention`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["ContentionLimits", "StageContention", "Contention", "judge_contention", "explained_by_contention"]


@dataclass(frozen=True, kw_only=True)
class ContentionLimits:
    """Per-stage limits beyond which a stage counts as contended (shares of all cores, 0-1; a time ratio).
    min_seconds: a stage covered for less than this is not judged by the calibration loop (the one loop timed
    while a target starts or stops is not a busy machine)."""

    other_share: float = 0.25
    steal_share: float = 0.10
    calibration_ratio: float = 2.0
    min_seconds: float = 1.0

    def __post_init__(self) -> None:
        for name in ("other_share", "steal_share"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and 0 < value <= 1):
                raise ValueError(f"ContentionLimits.{name} must be a share of the cores in (0, 1]; got {value!r}.")
        if not (isinstance(self.calibration_ratio, int | float) and self.calibration_ratio > 1):
            raise ValueError(
                f"ContentionLimits.calibration_ratio must be a slowdown factor above 1; got {self.calibration_ratio!r}."
            )


@dataclass(frozen=True, kw_only=True)
class StageContention:
    """One stage (its windows merged): seconds covered by samples, mean shares of all cores used by other
    programs, stolen by the hypervisor and used by the run itself, the calibration loop's median time there
    over its fastest time in the run (NaN: not calibrated during the stage), the slowdown contention could
    explain (>= 1), whether it was contended, and why (a sentence, "" when not)."""

    name: str
    seconds: float
    other_share: float
    steal_share: float
    own_share: float
    calibration_ratio: float
    slowdown: float
    contended: bool
    why: str = ""


@dataclass(frozen=True, kw_only=True)
class Contention:
    """The judgement of a run: per stage, and over the run. `sentence` names the busy machine ("" when the
    run was not contended); `other_share` and `steal_share` are the means over the contended stages (over
    the whole run when none was)."""

    stages: tuple[StageContention, ...]
    cores: int
    limits: ContentionLimits
    contended: bool
    other_share: float
    steal_share: float
    calibration_ratio: float
    sentence: str

    @property
    def n_contended(self) -> int:
        return sum(s.contended for s in self.stages)

    def stage(self, name: str) -> StageContention | None:
        return next((s for s in self.stages if s.name == name), None)

    @property
    def slowdown(self) -> float:
        """The largest slowdown contention could explain in any contended stage (1.0 when none was)."""
        return max((s.slowdown for s in self.stages if s.contended), default=1.0)


def _weights(t: np.ndarray, start: float, end: float, first_interval: float) -> np.ndarray:
    """Seconds of [start, end] each sample's interval (t[i-1], t[i]] covers (the first: first_interval long)."""
    lo = np.concatenate([[t[0] - first_interval], t[:-1]]) if len(t) else t
    return np.clip(np.minimum(t, end) - np.maximum(lo, start), 0.0, None)


def _mean(x: np.ndarray, w: np.ndarray) -> float:
    ok = np.isfinite(x) & (w > 0)
    return float(np.sum(x[ok] * w[ok]) / np.sum(w[ok])) if ok.any() else math.nan


def _pct(share: float) -> str:
    return f"{100 * share:.0f} %"


def _sorted_samples(
    t_unix: Sequence[float],
    other_cores: Sequence[float],
    own_cores: Sequence[float],
    steal_cores: Sequence[float],
    calibration_s: Sequence[float],
    cores: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The checked arrays in time order: t, other, own, steal, calibration."""
    if not (isinstance(cores, int | np.integer) and cores >= 1):
        raise ValueError(f"cores must be a positive whole number of logical cores; got {cores!r}.")
    t = np.asarray(t_unix, dtype=float)
    arrays = {
        name: np.asarray(a, dtype=float)
        for name, a in (("other_cores", other_cores), ("own_cores", own_cores), ("steal_cores", steal_cores))
    }
    calib = np.asarray(calibration_s, dtype=float)
    for name, a in (*arrays.items(), ("calibration_s", calib)):
        if len(a) != len(t):
            raise ValueError(f"{name} has {len(a)} values but t_unix has {len(t)}; give one value per sample.")
    order = np.argsort(t, kind="stable")
    t, calib = t[order], calib[order]
    other, own, steal = (arrays[k][order] for k in ("other_cores", "own_cores", "steal_cores"))
    return t, other, own, steal, calib


def _judge_stage(
    name: str,
    w: np.ndarray,
    other: np.ndarray,
    own: np.ndarray,
    steal: np.ndarray,
    calib: np.ndarray,
    best: float,
    cores: int,
    limits: ContentionLimits,
) -> StageContention:
    """One stage, from each sample's seconds inside it (`w`) and the run's fastest calibration (`best`)."""
    o, s, m = _mean(other, w) / cores, _mean(steal, w) / cores, _mean(own, w) / cores
    in_stage = calib[(w > 0) & np.isfinite(calib)]
    ratio = float(np.median(in_stage)) / best if len(in_stage) and best > 0 else math.nan
    if float(w.sum()) < limits.min_seconds:
        ratio = math.nan  # one calibration timed while a target starts or stops says nothing of the stage
    reasons = []
    if o >= limits.other_share:
        reasons.append(f"other programs used {_pct(o)} of the cores")
    if s >= limits.steal_share:
        reasons.append(f"the hypervisor stole {_pct(s)} of the cores' time")
    if math.isfinite(ratio) and ratio >= limits.calibration_ratio and (math.isnan(m) or m <= 0.5):
        reasons.append(f"a fixed calibration loop ran {ratio:.2g}x slower than its best in the run")
    busy = (0.0 if math.isnan(o) else o) + (0.0 if math.isnan(s) else s)
    slowdown = max(1.0 + busy, ratio if math.isfinite(ratio) else 1.0)
    return StageContention(
        name=name,
        seconds=float(w.sum()),
        other_share=o,
        steal_share=s,
        own_share=m,
        calibration_ratio=ratio,
        slowdown=slowdown,
        contended=bool(reasons),
        why="; ".join(reasons),
    )


def _run_judgement(stages: list[StageContention], cores: int, limits: ContentionLimits) -> Contention:
    """The run's judgement from its stages: shares over the contended stages (all when none was), the sentence."""
    busy_stages = [s for s in stages if s.contended]
    pool = busy_stages or stages
    weights = np.array([s.seconds for s in pool]) if pool else np.array([])

    def mean_of(attr: str) -> float:
        return _mean(np.array([getattr(s, attr) for s in pool]), weights) if pool else math.nan

    other_share, steal_share = mean_of("other_share"), mean_of("steal_share")
    ratios = [s.calibration_ratio for s in pool if math.isfinite(s.calibration_ratio)]
    calibration_ratio = max(ratios) if ratios else math.nan
    sentence = ""
    if busy_stages:
        of = f"{len(busy_stages)} of {len(stages)} stages" if len(stages) > 1 else "the run"
        extra = []
        if steal_share >= limits.steal_share:
            extra.append(f"the hypervisor stole {_pct(steal_share)} of their time")
        if math.isfinite(calibration_ratio) and calibration_ratio > 1.1:
            extra.append(f"a fixed calibration loop ran up to {calibration_ratio:.2g}x slower than its best")
        tail = f" ({'; '.join(extra)})" if extra else ""
        worst = max(s.slowdown for s in busy_stages)
        sentence = (
            f"The machine was busy: other programs used {_pct(other_share)} of the cores during {of}{tail}, "
            f"which could make them up to {worst:.2g}x slower; those numbers describe the machine as much as the "
            "service."
        )
    return Contention(
        stages=tuple(stages),
        cores=int(cores),
        limits=limits,
        contended=bool(busy_stages),
        other_share=other_share,
        steal_share=steal_share,
        calibration_ratio=calibration_ratio,
        sentence=sentence,
    )


def judge_contention(
    t_unix: Sequence[float],
    other_cores: Sequence[float],
    own_cores: Sequence[float],
    steal_cores: Sequence[float],
    calibration_s: Sequence[float],
    *,
    cores: int,
    windows: Sequence[tuple[str, float, float]] = (),
    limits: ContentionLimits | None = None,
) -> Contention:
    """Judge contention per stage. Arrays: one value per sample (cores; calibration in seconds, NaN in samples
    without a calibration); `windows`: (stage name, start, end) in Unix seconds, a name may repeat (its
    repetitions are merged); none: the whole sampled span is one stage "run". Stages no sample covers are
    left out. Raises ValueError when the arrays differ in length or cores < 1."""
    limits = limits or ContentionLimits()
    t, other, own, steal, calib = _sorted_samples(t_unix, other_cores, own_cores, steal_cores, calibration_s, cores)
    step = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
    if not windows and len(t):
        windows = [("run", float(t[0]) - step, float(t[-1]))]
    finite = calib[np.isfinite(calib) & (calib > 0)]
    best = float(np.min(finite)) if len(finite) else math.nan

    names = list(dict.fromkeys(name for name, _, _ in windows))
    stages = []
    for name in names:
        w = np.zeros(len(t))
        for n, start, end in windows:
            if n == name:
                w = w + _weights(t, float(start), float(end), step)
        if not (w > 0).any():
            continue
        stages.append(_judge_stage(name, w, other, own, steal, calib, best, cores, limits))
    return _run_judgement(stages, cores, limits)


def explained_by_contention(low: float, high: float, threshold: float, direction: str, slowdown: float) -> bool:
    """Whether a failure by the interval [low, high] against `threshold` could come from a machine that slowed
    the run by `slowdown` (>= 1): for a "below" metric (latency), low / slowdown would meet the threshold; for
    an "above" metric (throughput), high * slowdown would."""
    if direction not in ("below", "above"):
        raise ValueError(f"direction is {direction!r}; it must be 'below' or 'above'.")
    if not (math.isfinite(slowdown) and slowdown >= 1):
        raise ValueError(f"slowdown must be a finite factor of at least 1; got {slowdown!r}.")
    if direction == "below":
        return math.isfinite(low) and low / slowdown <= threshold
    return math.isfinite(high) and high * slowdown >= threshold
