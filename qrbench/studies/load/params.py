"""The load study's parameters: a scenario (parameters/load_*.yaml) and the plan it asks of the driver."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ...deploy import TargetParams
from ...errors import ParameterError
from ...load import (
    KINDS,
    METHODS,
    ClosedModel,
    DayProfile,
    OpenModel,
    Sessions,
    Shape,
    ThinkTime,
    bursts,
    ramp_steady,
    realistic_day,
    spike,
)
from ...params import TARGET_RULES, build, require, rule, validate

__all__ = ["LoadParams", "MonitorParams", "ShapeParams", "SpikeParams", "LoadPlan", "plan_load", "adhoc_params"]

LOAD_DIR = "load"
WARMUP_DIR = "warmup"

# TASK-29 normal_operation's request mix; the default of every scenario that gives none.
DEFAULT_MIX = {"similarity": 0.3, "rerank_small": 0.4, "rerank_medium": 0.2, "rerank_large": 0.1}
DEFAULT_METHODS = {"classical": 1 / 3, "quantum": 1 / 3, "hybrid": 1 / 3}


@dataclass(frozen=True, slots=True, kw_only=True)
class SpikeParams:
    """The level times `multiplier` for length_s seconds from start_s (seconds, scaled by time_scale)."""

    multiplier: float = rule(3.0, gt=0)
    start_s: float = rule(0.0, ge=0)
    length_s: float = rule(60.0, gt=0)


@dataclass(frozen=True, slots=True, kw_only=True)
class BurstParams:
    """Random bursts: `count` of them, or a Poisson number at rate_per_h per hour of the (unscaled) timeline.

    Each multiplies the level by `intensity` for length_s seconds (scaled by time_scale). seed: of the
    placement; null uses the scenario's seed.
    """

    count: int | None = rule(None, ge=0)
    rate_per_h: float | None = rule(None, ge=0)
    intensity: float = rule(5.0, gt=0)
    length_s: float = rule(60.0, gt=0)
    seed: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DayParams:
    """The day profile of data/user_behavior_patterns.json, played in length_s seconds (scaled by time_scale).

    rate_scale multiplies every rate of the profile (e.g. 0.2 for a small machine).
    """

    length_s: float = rule(1440.0, gt=0)
    rate_scale: float = rule(1.0, ge=0)


@dataclass(frozen=True, slots=True, kw_only=True)
class ShapeParams:
    """kind: none (ramp, then steady), spike, bursts (on the ramp and steady), or day (open model only;
    bursts optional). Give the section of the kind chosen, and no other."""

    kind: Literal["none", "spike", "bursts", "day"] = "none"
    spike: SpikeParams | None = None
    bursts: BurstParams | None = None
    day: DayParams | None = None

    def __post_init__(self) -> None:
        wanted = {"none": set(), "spike": {"spike"}, "bursts": {"bursts"}, "day": {"day"}}[self.kind]
        optional = {"bursts"} if self.kind == "day" else set()
        for section in ("spike", "bursts", "day"):
            given = getattr(self, section) is not None
            if section in wanted and not given:
                raise ParameterError(f"shape.{section} is required when shape.kind is {self.kind!r}.")
            if given and section not in wanted | optional:
                raise ParameterError(
                    f"shape.{section} is given but shape.kind is {self.kind!r}, which does not use it."
                )


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitorParams:
    """prometheus: run a real Prometheus during the load, scraping the target every scrape_interval_s seconds
    with the alert rules of thresholds_file. rate_window_s: the rules' rate window; for_s: how long a condition
    holds before its alert fires (both `for:`s). Production rules use minutes; a short run needs seconds."""

    prometheus: bool = False
    rate_window_s: float = rule(60.0, gt=0)
    for_s: float = rule(60.0, ge=0)
    scrape_interval_s: float = rule(1.0, ge=0.1)


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadParams:
    """A load scenario. Durations in seconds at time_scale 1; rates in requests per second."""

    name: str = ""
    seed: int = 0
    time_scale: float = rule(1.0, gt=0)
    model: Literal["closed", "open"] = "closed"
    users: int | None = None
    ramp_up_s: float = rule(0.0, ge=0)
    duration_s: float | None = None
    think_time: ThinkTime = field(default_factory=ThinkTime)
    sessions: Sessions | None = None
    rate_rps: float | None = None
    arrivals: Literal["poisson", "uniform"] = "poisson"
    max_in_flight: int = rule(1000, ge=1)
    shape: ShapeParams = field(default_factory=ShapeParams)
    mix: dict[str, float] = rule(factory=lambda: dict(DEFAULT_MIX), weights=tuple(KINDS))
    methods: dict[str, float] = rule(factory=lambda: dict(DEFAULT_METHODS), weights=METHODS)
    processes: int = rule(1, ge=1, le=64)
    request_timeout_s: float = rule(30.0, gt=0)
    max_requests: int = rule(1_000_000, ge=1)
    failure_threshold: float = rule(0.05, ge=0, le=1, note="a fraction")
    warmup_s: float = rule(0.0, ge=0)
    sample_interval_s: float = rule(1.0, gt=0)
    pool_size: int = rule(2000, ge=1, le=100_000)
    new_queries: bool = True
    confidence: float = rule(0.95, ge=0.5, lt=1)
    thresholds_file: str = "parameters/thresholds.yaml"
    target: TargetParams = field(default_factory=TargetParams)
    engine: Literal["native", "locust", "artillery"] = "native"
    monitor: MonitorParams = field(default_factory=MonitorParams)

    def __post_init__(self) -> None:
        validate(self, TARGET_RULES)
        day = self.shape.kind == "day"
        closed = self.model == "closed"
        rules = [
            (
                "users",
                not closed or (self.users is not None and self.users >= 1),
                "a whole number of at least 1 (the closed model needs it)",
            ),
            ("users", closed or self.users is None, "left out: the open model has no users (give rate_rps)"),
            (
                "rate_rps",
                closed or day or _positive(self.rate_rps),
                "a positive number of requests per second (the open model needs it)",
            ),
            (
                "rate_rps",
                not (closed or day) or self.rate_rps is None,
                "left out: the closed model and the day shape set the rate themselves",
            ),
            ("duration_s", day or _positive(self.duration_s), "a positive number of seconds"),
            (
                "duration_s",
                not day or self.duration_s is None or _positive(self.duration_s),
                "a positive number of seconds, or left out to play the whole day",
            ),
            ("ramp_up_s", day or self.ramp_up_s <= (self.duration_s or 0), "no longer than duration_s"),
            ("shape.kind", not day or not closed, "'day' only with model: open (the day is a rate profile)"),
            ("ramp_up_s", not day or self.ramp_up_s == 0, "left out: the day shape has its own hours"),
            ("sessions", closed or self.sessions is None, "left out: sessions belong to the closed model"),
            (
                "monitor.rate_window_s",
                self.monitor.rate_window_s >= 4 * self.monitor.scrape_interval_s,
                "at least four scrape intervals (a rate needs points)",
            ),
        ]
        require(self, rules)
        b = self.shape.bursts
        if b is not None and (b.count is None) == (b.rate_per_h is None):
            raise ParameterError("shape.bursts needs exactly one of count and rate_per_h.")
        if not day:
            plan_load(self)  # a spike or bursts that do not fit fail now, naming the shape


def _positive(value: float | None) -> bool:
    return value is not None and math.isfinite(value) and value > 0


# ------------------------------------------------------------------------------------------- plan


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadPlan:
    """What a scenario asks of the driver: the workload model and the shape it follows (phases included)."""

    model: ClosedModel | OpenModel
    shape: Shape

    @property
    def duration_s(self) -> float:
        return float(self.model.duration_s)  # type: ignore[arg-type]

    def schedule(self) -> dict[str, Any]:
        """The planned offered load, JSON-friendly (schedule.json)."""
        stages = self.shape.closed_stages() if self.shape.unit == "users" else self.shape.open_stages()
        return {
            "unit": self.shape.unit,
            "model": type(self.model).__name__,
            "duration_s": self.duration_s,
            "points": [list(p) for p in self.shape.points],
            "stages": [list(s) for s in stages],
        }


def plan_load(params: LoadParams, day: DayProfile | None = None) -> LoadPlan:
    """The model and shape of a scenario, with every duration multiplied by time_scale.

    day: the day profile (DataManager.day), needed only when shape.kind is "day". Raises
    ParameterError naming the shape when a spike or bursts do not fit the run.
    """
    p, ts = params, params.time_scale
    unit = "users" if p.model == "closed" else "rps"
    key = "shape.day" if p.shape.kind == "day" else "duration_s"  # what a failure below is about
    try:
        if p.shape.kind == "day":
            if day is None:
                raise ParameterError("needs the day profile of data/user_behavior_patterns.json, which is missing")
            d = p.shape.day or DayParams()
            shape = realistic_day(day, d.length_s * ts / 86_400.0, rate_scale=d.rate_scale)
            if p.duration_s is not None:
                shape = _cut(shape, p.duration_s * ts)
        else:
            ramp = p.ramp_up_s * ts
            duration = p.duration_s * ts  # type: ignore[operator]
            level = float(p.users if p.model == "closed" else p.rate_rps)  # type: ignore[arg-type]
            shape = ramp_steady(level, ramp_up_s=ramp, steady_s=duration - ramp, unit=unit)
        if p.shape.spike is not None:
            key, s = "shape.spike", p.shape.spike
            shape = spike(shape, s.multiplier, s.start_s * ts, s.length_s * ts)
        if p.shape.bursts is not None:
            key, b = "shape.bursts", p.shape.bursts
            shape = bursts(
                shape,
                seed=p.seed if b.seed is None else b.seed,
                length_s=b.length_s * ts,
                count=b.count,
                rate_per_h=None if b.rate_per_h is None else b.rate_per_h / ts,
                intensity=b.intensity,
            )
    except ParameterError as exc:
        raise ParameterError(f"{key}: {exc}") from exc
    if p.model == "closed":
        model: ClosedModel | OpenModel = ClosedModel(
            stages=shape.closed_stages(),
            think_time_s=p.think_time,
            sessions=p.sessions,
            max_requests=p.max_requests,
            seed=p.seed,
        )
    else:
        model = OpenModel(
            stages=shape.open_stages(),
            arrivals=p.arrivals,
            max_in_flight=p.max_in_flight,
            max_requests=p.max_requests,
            seed=p.seed,
        )
    return LoadPlan(model=model, shape=shape)


def _cut(shape: Shape, end_s: float) -> Shape:
    if end_s >= shape.duration_s:
        return shape
    points = [(t, v) for t, v in shape.points if t < end_s] + [(end_s, shape.left(end_s))]
    phases = [(p.name, p.kind, p.start_s, min(p.end_s, end_s)) for p in shape.phases if p.start_s < end_s]
    return Shape.build(points, shape.unit, phases)


def adhoc_params(
    *,
    mode: str,
    duration_s: float,
    rate_rps: float | None = None,
    users: int | None = None,
    ramp_up_s: float = 0.0,
    think_time_s: float = 0.0,
    mix: Mapping[str, float] | None = None,
    methods: Mapping[str, float] | None = None,
    seed: int = 0,
    allow_remote: bool = False,
    **extra: Any,
) -> LoadParams:
    """A scenario from command-line settings (`qrbench load --mode ...`), validated like a file."""
    mapping: dict[str, Any] = {
        "name": f"adhoc-{mode}",
        "model": mode,
        "duration_s": duration_s,
        "ramp_up_s": ramp_up_s,
        "seed": seed,
        "target": {"allow_remote": allow_remote},
        **extra,
    }
    if mode == "closed":
        mapping["users"] = users
        mapping["think_time"] = {"distribution": "constant", "mean_s": think_time_s}
    else:
        mapping["rate_rps"] = rate_rps
    if mix is not None:
        mapping["mix"] = dict(mix)
    if methods is not None:
        mapping["methods"] = dict(methods)
    return build(LoadParams, mapping, where="qrbench load")
