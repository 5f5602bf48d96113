"""Load shapes: how the offered load (a rate, or a number of virtual users) changes over a run.

Pure functions, no clock and no I/O. Each returns a `Shape`: the level over time (piecewise linear;
two points at one time are a step) and its named, non-overlapping phases, so an analysis can label
every record by its intended send time. A shape turns into the stages of either workload model:
`Shape.open_stages()` for OpenModel (rates in requests per second), `Shape.closed_stages()` for
ClosedModel (virtual users). Times are seconds since the run's start (the driver's t0, the clock of
the records' t_intended).

    base = ramp_steady(50, ramp_up_s=300, steady_s=1500)            # users
    peak = spike(base, 3.0, start_s=600, length_s=120)              # x3 for two minutes
    busy = bursts(peak, seed=1, count=2, intensity=5.0, length_s=30)
    day = realistic_day(data.day, time_scale=1 / 60)                # 24 h in 24 min, rates in rps
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from itertools import pairwise
from typing import Any, Literal

import numpy as np

from qrbench.errors import ParameterError
from qrbench.load.data import DayProfile

__all__ = ["Phase", "Shape", "PHASE_KINDS", "ramp_steady", "spike", "bursts", "realistic_day", "label_phases"]

# What a phase is, for grouping across runs (its name says which one).
PHASE_KINDS = (
    "ramp_up",
    "steady",
    "ramp_down",
    "spike",
    "burst",
    "off_hours",
    "shoulder",
    "business",
    "peak",
    "maintenance",
)

Unit = Literal["rps", "users"]
_EPS = 1e-6  # seconds: shorter phases are rounding slivers


@dataclass(frozen=True, slots=True, kw_only=True)
class Phase:
    """A named stretch of a run: [start_s, end_s) in seconds since t0.

    offered: the mean offered level over the phase, in `unit`: "rps" (requests per second, open
    model) or "users" (virtual users, closed model). kind: one of PHASE_KINDS.
    """

    name: str
    kind: str
    start_s: float
    end_s: float
    offered: float
    unit: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _number(name: str, value: object, *, positive: bool = False) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (positive and value == 0):
        bound = "more than 0" if positive else "0 or more"
        raise ParameterError(f"{name} must be a finite number, {bound}, not {value!r}.")
    return float(value)


@dataclass(frozen=True, slots=True)
class Shape:
    """The offered level over time and the run's phases.

    points: (t_s, level) in time order, the level linear between them; two points at the same time
    are a step (the first is the level just before, the second from then on). unit: "rps" or "users".
    """

    points: tuple[tuple[float, float], ...]
    unit: Unit
    phases: tuple[Phase, ...]

    # ---- evaluation

    @property
    def duration_s(self) -> float:
        return self.points[-1][0]

    def _times(self) -> list[float]:
        return [t for t, _ in self.points]

    def left(self, t_s: float) -> float:
        """The level just before t_s (equal to level(t_s) except at a step)."""
        times = self._times()
        j = bisect.bisect_left(times, t_s)
        if j == 0:
            return self.points[0][1]
        if j == len(times):
            return self.points[-1][1]
        if times[j] == t_s:
            return self.points[j][1]
        (t1, v1), (t2, v2) = self.points[j - 1], self.points[j]
        return v1 + (v2 - v1) * (t_s - t1) / (t2 - t1)

    def level(self, t_s: float) -> float:
        """The level from t_s on (right-continuous at steps), in `unit`."""
        times = self._times()
        i = bisect.bisect_right(times, t_s)
        if i == 0:
            return self.points[0][1]
        if i == len(times) or times[i - 1] == t_s:
            return self.points[i - 1][1]
        (t1, v1), (t2, v2) = self.points[i - 1], self.points[i]
        return v1 + (v2 - v1) * (t_s - t1) / (t2 - t1)

    def integral(self, start_s: float, end_s: float) -> float:
        """The level integrated over [start_s, end_s]: expected requests (rps) or user-seconds (users)."""
        start_s, end_s = max(0.0, start_s), min(self.duration_s, end_s)
        if end_s <= start_s:
            return 0.0
        times = [start_s, *(t for t in sorted(set(self._times())) if start_s < t < end_s), end_s]
        return sum((self.level(a) + self.left(b)) / 2 * (b - a) for a, b in pairwise(times))

    def mean(self, start_s: float, end_s: float) -> float:
        """Mean level over [start_s, end_s] (the level itself for an empty interval)."""
        if end_s - start_s <= _EPS:
            return self.level(start_s)
        return self.integral(start_s, end_s) / (end_s - start_s)

    def minimum(self, start_s: float, end_s: float) -> float:
        """Lowest level in [start_s, end_s] (piecewise linear: at an end or a point)."""
        inner = [v for t, v in self.points if start_s <= t <= end_s]
        return min([self.level(start_s), self.left(end_s), *inner])

    # ---- conversions

    def open_stages(self) -> tuple[tuple[float, float, float], ...]:
        """(duration_s, start_rps, end_rps) segments for OpenModel(stages=...)."""
        self._expect("rps", "open_stages")
        times = sorted(set(self._times()))
        return tuple((b - a, self.level(a), self.left(b)) for a, b in pairwise(times))

    def closed_stages(self) -> tuple[tuple[float, float], ...]:
        """(duration_s, target_users) stages for ClosedModel(stages=...), starting from 0 users (k6 style)."""
        self._expect("users", "closed_stages")
        times = sorted(set(self._times()))
        out: list[tuple[float, float]] = []
        if self.level(0.0) != 0:
            out.append((0.0, self.level(0.0)))
        for a, b in pairwise(times):
            out.append((b - a, self.left(b)))
            if b != times[-1] and self.level(b) != self.left(b):
                out.append((0.0, self.level(b)))
        return tuple(out)

    def phase_dicts(self) -> list[dict[str, Any]]:
        """The phases as plain dicts (phases.json)."""
        return [p.to_dict() for p in self.phases]

    def _expect(self, unit: str, what: str) -> None:
        if self.unit != unit:
            raise ParameterError(f"Shape.{what}() needs a shape in {unit!r}; this one is in {self.unit!r}.")

    # ---- building

    @classmethod
    def build(
        cls, points: Sequence[tuple[float, float]], unit: Unit, phases: Iterable[tuple[str, str, float, float]]
    ) -> Shape:
        """A shape from points and (name, kind, start_s, end_s) phases; each phase's offered level is computed."""
        if unit not in ("rps", "users"):
            raise ParameterError(f"A shape's unit is 'rps' or 'users', not {unit!r}.")
        pts = tuple((float(t), float(v)) for t, v in points)
        if len(pts) < 2 or pts[0][0] != 0 or pts[-1][0] <= 0 or any(b[0] < a[0] for a, b in pairwise(pts)):
            raise ParameterError("A shape needs points in time order from t=0 and lasting more than 0 s.")
        draft = cls(pts, unit, ())
        out = [
            Phase(name=n, kind=k, start_s=float(a), end_s=float(b), offered=draft.mean(a, b), unit=unit)
            for n, k, a, b in sorted(phases, key=lambda p: p[2])
            if b - a > _EPS
        ]
        return cls(pts, unit, tuple(out))

    def scaled(self, factor: float, start_s: float, end_s: float, *, name: str, kind: str) -> Shape:
        """This shape with the level multiplied by `factor` in [start_s, end_s), marked as a phase.

        The phases it overlaps are cut around it; the part after it is named "<name> after <overlay>".
        """
        a, b = start_s, min(end_s, self.duration_s)
        times = sorted({*self._times(), a, b})
        points: list[tuple[float, float]] = []
        for i, t in enumerate(times):
            left, right = self.left(t), self.level(t)
            if a < t <= b:
                left *= factor
            if a <= t < b:
                right *= factor
            if i > 0:
                points.append((t, left))
            if i == 0 or right != left:
                points.append((t, right))
        phases: list[tuple[str, str, float, float]] = [(name, kind, a, b)]
        for p in self.phases:
            if p.end_s <= a or p.start_s >= b:
                phases.append((p.name, p.kind, p.start_s, p.end_s))
                continue
            if p.start_s < a:
                phases.append((p.name, p.kind, p.start_s, a))
            if p.end_s > b:
                phases.append((f"{p.name} after {name}", p.kind, b, p.end_s))
        return Shape.build(points, self.unit, phases)


# ------------------------------------------------------------------------------------------- shapes


def ramp_steady(
    level: float, *, ramp_up_s: float, steady_s: float, ramp_down_s: float = 0.0, unit: Unit = "users"
) -> Shape:
    """Linear ramp from 0 to `level` over ramp_up_s, `level` for steady_s, then an optional ramp to 0.

    level: virtual users (unit "users") or requests per second ("rps"). Durations in seconds; a 0-s
    ramp-up starts at full level.
    """
    level = _number("level", level, positive=True)
    ramp_up_s = _number("ramp_up_s", ramp_up_s)
    steady_s = _number("steady_s", steady_s)
    ramp_down_s = _number("ramp_down_s", ramp_down_s)
    if ramp_up_s + steady_s + ramp_down_s <= 0:
        raise ParameterError("ramp_steady needs ramp_up_s + steady_s + ramp_down_s to be more than 0 s.")
    points = [(0.0, 0.0)] if ramp_up_s else []
    phases = []
    if ramp_up_s:
        phases.append(("ramp_up", "ramp_up", 0.0, ramp_up_s))
    points += [(ramp_up_s, level), (ramp_up_s + steady_s, level)]
    phases.append(("steady", "steady", ramp_up_s, ramp_up_s + steady_s))
    if ramp_down_s:
        points.append((ramp_up_s + steady_s + ramp_down_s, 0.0))
        phases.append(("ramp_down", "ramp_down", ramp_up_s + steady_s, ramp_up_s + steady_s + ramp_down_s))
    return Shape.build(points, unit, phases)


def spike(base: Shape, multiplier: float, start_s: float, length_s: float, *, name: str = "spike") -> Shape:
    """`base` with its level multiplied by `multiplier` for length_s seconds from start_s (a step up and down)."""
    multiplier = _number("spike multiplier", multiplier, positive=True)
    start_s = _number("spike start_s", start_s)
    length_s = _number("spike length_s", length_s, positive=True)
    if start_s + length_s > base.duration_s + _EPS:
        raise ParameterError(
            f"The spike ({start_s:g} s + {length_s:g} s) does not fit in the {base.duration_s:g}-s run; "
            "start it earlier or make it shorter."
        )
    return base.scaled(multiplier, start_s, start_s + length_s, name=name, kind="spike")


def bursts(
    base: Shape,
    *,
    seed: int,
    length_s: float,
    count: int | None = None,
    rate_per_h: float | None = None,
    intensity: float = 5.0,
    start_s: float = 0.0,
    end_s: float | None = None,
) -> Shape:
    """`base` with random bursts: the level times `intensity` for length_s seconds each.

    count bursts, or a Poisson number with rate_per_h bursts per hour of the shape's timeline. They
    start uniformly at random (seeded) within [start_s, end_s - length_s], never overlap each other or a
    spike or burst already in `base`, and avoid stretches with no load (a burst there would be
    invisible). Phases "burst 1", "burst 2", ... in time order.
    """
    if (count is None) == (rate_per_h is None):
        raise ParameterError("bursts needs exactly one of count and rate_per_h.")
    length_s = _number("burst length_s", length_s, positive=True)
    intensity = _number("burst intensity", intensity, positive=True)
    lo = _number("burst start_s", start_s)
    hi = base.duration_s if end_s is None else min(_number("burst end_s", end_s), base.duration_s)
    rng = np.random.default_rng(seed)
    if count is None:
        rate = _number("burst rate_per_h", rate_per_h)
        count = int(rng.poisson(rate * max(hi - lo, 0.0) / 3600.0))
    if not isinstance(count, int) or isinstance(count, bool) or count < 0:
        raise ParameterError(f"burst count must be a whole number of at least 0, not {count!r}.")
    if count == 0:
        return base
    if hi - lo < length_s:
        raise ParameterError(f"A {length_s:g}-s burst does not fit between {lo:g} s and {hi:g} s.")
    taken = [(p.start_s, p.end_s) for p in base.phases if p.kind in ("spike", "burst")]
    starts: list[float] = []
    for _ in range(1000 * count):
        if len(starts) == count:
            break
        a = float(rng.uniform(lo, hi - length_s))
        b = a + length_s
        if any(a < e and s < b for s, e in taken) or base.minimum(a, b) <= 0:
            continue
        taken.append((a, b))
        starts.append(a)
    if len(starts) < count:
        raise ParameterError(
            f"Could not place {count} bursts of {length_s:g} s between {lo:g} s and {hi:g} s without overlap "
            "or a stretch with no load; ask for fewer or shorter bursts."
        )
    shape = base
    for i, a in enumerate(sorted(starts), start=1):
        shape = shape.scaled(intensity, a, a + length_s, name=f"burst {i}", kind="burst")
    return shape


def realistic_day(day: DayProfile, time_scale: float, *, rate_scale: float = 1.0) -> Shape:
    """A day of traffic from 00:00, compressed: one hour lasts 3600 * time_scale seconds (1/60: a day in 24 min).

    Rates (requests per second, open model) are the profile's requests per minute / 60 times
    rate_scale; compression keeps the rates, so a compressed day sends fewer requests in total. Phases
    group consecutive hours of one kind and rate: maintenance (the profile's window), peak (its peak
    hours), business (its business hours), off_hours (the usual rate outside them), shoulder (other
    rates outside them), named like "peak 10:00-11:00".
    """
    if not isinstance(day, DayProfile):
        raise ParameterError(f"realistic_day needs a DayProfile (DataManager.day), not {type(day).__name__}.")
    hour_s = 3600.0 * _number("time_scale", time_scale, positive=True)
    rate_scale = _number("rate_scale", rate_scale)
    per_min = day.hourly_rate_per_min
    window = day.maintenance_window
    b0, b1 = day.business_hours
    outside = [r for h, r in enumerate(per_min) if not b0 <= h < b1 and not (window and window[0] <= h < window[1])]
    usual = max(set(outside), key=outside.count) if outside else None

    def kind(h: int) -> str:
        if window and window[0] <= h < window[1]:
            return "maintenance"
        if h in day.peak_hours:
            return "peak"
        if b0 <= h < b1:
            return "business"
        return "off_hours" if per_min[h] == usual else "shoulder"

    groups: list[list[Any]] = []  # [kind, rate, first hour, end hour]
    for h in range(24):
        k, r = kind(h), per_min[h]
        if groups and groups[-1][0] == k and groups[-1][1] == r:
            groups[-1][3] = h + 1
        else:
            groups.append([k, r, h, h + 1])
    points: list[tuple[float, float]] = []
    phases = []
    for k, r, h0, h1 in groups:
        rps = r * rate_scale / 60.0
        points += [(h0 * hour_s, rps), (h1 * hour_s, rps)]
        label = k.replace("_", "-")
        phases.append((f"{label} {h0:02d}:00-{h1:02d}:00", k, h0 * hour_s, h1 * hour_s))
    return Shape.build(points, "rps", phases)


def label_phases(t_s: Sequence[float] | np.ndarray, phases: Iterable[Phase | Mapping[str, Any]]) -> np.ndarray:
    """The name of the phase each time falls in (seconds since t0, e.g. records' t_intended); "" outside all.

    phases: Phase objects or their dicts (phases.json); they must not overlap.
    """
    rows = sorted((p.to_dict() if isinstance(p, Phase) else dict(p) for p in phases), key=lambda p: float(p["start_s"]))
    t = np.asarray(t_s, dtype=float)
    out = np.full(t.shape, "", dtype=object)
    for p in rows:
        out[(t >= float(p["start_s"])) & (t < float(p["end_s"]))] = p["name"]
    return out
