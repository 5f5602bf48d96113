"""The load study: production-like traffic against the service, as one continuous driver run.

Scenarios (parameters/load_*.yaml) are closed (virtual users) or open (arrival rate), shaped by a
ramp, a spike, random bursts or a compressed business day (qrbench.load.shapes), with a request mix
by kind and by method. `LoadParams.from_file` validates a scenario before anything is sent;
`run_load_study` measures it into a run folder; `quick_summary` / `format_summary` give the key
numbers for `qrbench load` (the study notebook does the full analysis).

A run folder::

    machine.json     calibration timings of this machine (noise), cpu count
    scenario.json    the parameters (qrbench.params.to_dict)
    target.json      url, embedded?, pid, target parameters
    schedule.json    the planned offered load: unit, model, points [[t_s, level]], stages
    phases.json      [{name, kind, start_s, end_s, offered, unit}]: seconds since the driver's t0
    warmup/          the cache warm-up run (stage "warmup"), if warmup_s > 0: left out of the analysis
    load/            the driver's run folder: run.json (t0_unix), records.parquet (t_* since t0)
    result.json      the driver's RunResult.to_dict()
    server.parquet   the target's process tree every sample_interval_s (local targets only)
    metrics.parquet  the target's /metrics every sample_interval_s (when qrbench.monitor has MetricsSampler)
    target.log       the embedded service's log

Both parquet timelines get a column t_run: seconds since the driver's t0 (t_unix - run.json t0_unix),
the clock of the records' t_intended and of phases.json.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from .. import stats
from ..errors import ParameterError, RunError
from ..load import (
    KINDS,
    METHODS,
    ClosedModel,
    DataManager,
    DayProfile,
    OpenModel,
    RunResult,
    Sessions,
    Shape,
    ThinkTime,
    bursts,
    label_phases,
    load_records,
    load_run_info,
    ramp_steady,
    realistic_day,
    run_load,
    run_load_processes,
    spike,
)
from ..load.safety import check_scenario_target
from ..monitor import ProcessSampler, calibration_timings
from ..params import build, load_yaml, to_dict
from .target import TargetParams, open_target

__all__ = [
    "LoadParams",
    "ShapeParams",
    "SpikeParams",
    "BurstParams",
    "DayParams",
    "LoadPlan",
    "plan_load",
    "run_load_study",
    "quick_summary",
    "format_summary",
    "parse_duration",
    "parse_weights",
    "adhoc_params",
    "LOAD_DIR",
    "WARMUP_DIR",
]

LOAD_DIR = "load"
WARMUP_DIR = "warmup"

# TASK-29 normal_operation's request mix; the default of every scenario that gives none.
DEFAULT_MIX = {"similarity": 0.3, "rerank_small": 0.4, "rerank_medium": 0.2, "rerank_large": 0.1}
DEFAULT_METHODS = {"classical": 1 / 3, "quantum": 1 / 3, "hybrid": 1 / 3}


@dataclass(frozen=True, slots=True, kw_only=True)
class SpikeParams:
    """The level times `multiplier` for length_s seconds from start_s (seconds, scaled by time_scale)."""

    multiplier: float = 3.0
    start_s: float = 0.0
    length_s: float = 60.0


@dataclass(frozen=True, slots=True, kw_only=True)
class BurstParams:
    """Random bursts: `count` of them, or a Poisson number at rate_per_h per hour of the (unscaled) timeline.

    Each multiplies the level by `intensity` for length_s seconds (scaled by time_scale). seed: of the
    placement; null uses the scenario's seed.
    """

    count: int | None = None
    rate_per_h: float | None = None
    intensity: float = 5.0
    length_s: float = 60.0
    seed: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DayParams:
    """The day profile of data/user_behavior_patterns.json, played in length_s seconds (scaled by time_scale).

    rate_scale multiplies every rate of the profile (e.g. 0.2 for a small machine).
    """

    length_s: float = 1440.0
    rate_scale: float = 1.0


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
class LoadParams:
    """A load scenario. Durations in seconds at time_scale 1; rates in requests per second."""

    name: str = ""
    seed: int = 0
    time_scale: float = 1.0
    model: Literal["closed", "open"] = "closed"
    users: int | None = None
    ramp_up_s: float = 0.0
    duration_s: float | None = None
    think_time: ThinkTime = field(default_factory=ThinkTime)
    sessions: Sessions | None = None
    rate_rps: float | None = None
    arrivals: Literal["poisson", "uniform"] = "poisson"
    max_in_flight: int = 1000
    shape: ShapeParams = field(default_factory=ShapeParams)
    mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    methods: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_METHODS))
    processes: int = 1
    request_timeout_s: float = 30.0
    max_requests: int = 1_000_000
    failure_threshold: float = 0.05
    warmup_s: float = 0.0
    sample_interval_s: float = 1.0
    pool_size: int = 2000
    confidence: float = 0.95
    thresholds_file: str = "parameters/thresholds.yaml"
    target: TargetParams = field(default_factory=TargetParams)

    def __post_init__(self) -> None:
        day = self.shape.kind == "day"
        closed = self.model == "closed"
        checks = [
            ("time_scale", _positive(self.time_scale), "a positive number"),
            ("users", not closed or (self.users is not None and self.users >= 1),
             "a whole number of at least 1 (the closed model needs it)"),
            ("users", closed or self.users is None, "left out: the open model has no users (give rate_rps)"),
            ("rate_rps", closed or day or (self.rate_rps is not None and _positive(self.rate_rps)),
             "a positive number of requests per second (the open model needs it)"),
            ("rate_rps", not (closed or day) or self.rate_rps is None,
             "left out: the closed model and the day shape set the rate themselves"),
            ("duration_s", day or (self.duration_s is not None and _positive(self.duration_s)),
             "a positive number of seconds"),
            ("duration_s", not day or self.duration_s is None or _positive(self.duration_s),
             "a positive number of seconds, or left out to play the whole day"),
            ("ramp_up_s", _non_negative(self.ramp_up_s) and (day or self.ramp_up_s <= (self.duration_s or 0)),
             "0 or more seconds, and no longer than duration_s"),
            ("shape.kind", not day or not closed, "'day' only with model: open (the day is a rate profile)"),
            ("ramp_up_s", not day or self.ramp_up_s == 0, "left out: the day shape has its own hours"),
            ("sessions", closed or self.sessions is None, "left out: sessions belong to the closed model"),
            ("max_in_flight", self.max_in_flight >= 1, "at least 1"),
            ("processes", 1 <= self.processes <= 64, "1 to 64"),
            ("request_timeout_s", _positive(self.request_timeout_s), "a positive number of seconds"),
            ("max_requests", self.max_requests >= 1, "at least 1"),
            ("failure_threshold", 0 <= self.failure_threshold <= 1, "a fraction from 0 to 1"),
            ("warmup_s", _non_negative(self.warmup_s), "0 or more seconds"),
            ("sample_interval_s", _positive(self.sample_interval_s), "a positive number of seconds"),
            ("pool_size", 1 <= self.pool_size <= 100_000, "1 to 100000"),
            ("confidence", 0.5 <= self.confidence < 1, "between 0.5 and 1"),
            ("target.qubits", self.target.qubits in (2, 3, 4), "2, 3 or 4"),
            ("target.max_concurrency", self.target.max_concurrency >= 1, "at least 1"),
        ]  # fmt: skip
        for key, ok, valid in checks:
            if not ok:
                raise ParameterError(f"{key} is invalid ({_getattr_path(self, key)!r}); it must be {valid}.")
        _check_weights("mix", self.mix, tuple(KINDS))
        _check_weights("methods", self.methods, METHODS)
        self._check_shape_numbers()
        if not day:
            plan_load(self)  # a spike or bursts that do not fit fail now, naming the shape

    def _check_shape_numbers(self) -> None:
        s = self.shape
        checks = []
        if s.spike is not None:
            checks += [
                ("shape.spike.multiplier", _positive(s.spike.multiplier)),
                ("shape.spike.start_s", _non_negative(s.spike.start_s)),
                ("shape.spike.length_s", _positive(s.spike.length_s)),
            ]
        if s.bursts is not None:
            b = s.bursts
            checks += [
                ("shape.bursts.count", b.count is None or b.count >= 0),
                ("shape.bursts.rate_per_h", b.rate_per_h is None or _non_negative(b.rate_per_h)),
                ("shape.bursts.intensity", _positive(b.intensity)),
                ("shape.bursts.length_s", _positive(b.length_s)),
            ]
            if (b.count is None) == (b.rate_per_h is None):
                raise ParameterError("shape.bursts needs exactly one of count and rate_per_h.")
        if s.day is not None:
            checks += [
                ("shape.day.length_s", _positive(s.day.length_s)),
                ("shape.day.rate_scale", _non_negative(s.day.rate_scale)),
            ]
        for key, ok in checks:
            if not ok:
                raise ParameterError(
                    f"{key} is invalid ({_getattr_path(self, key)!r}); it must not be negative "
                    "(and durations, multipliers and intensities must be more than 0)."
                )

    @classmethod
    def from_file(cls, path: str | Path) -> LoadParams:
        """Read and validate a scenario file; errors name the file and the key."""
        return build(cls, load_yaml(path), where=str(path))


def _getattr_path(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
    return obj


def _positive(value: float | None) -> bool:
    return value is not None and math.isfinite(value) and value > 0


def _non_negative(value: float | None) -> bool:
    return value is not None and math.isfinite(value) and value >= 0


def _check_weights(key: str, weights: Mapping[str, float], valid: tuple[str, ...]) -> None:
    if not weights:
        raise ParameterError(f"{key} is empty; give weights for some of {', '.join(valid)} that sum to 1.")
    for name, w in weights.items():
        if name not in valid:
            raise ParameterError(f"{key}.{name} is unknown; {key} takes {', '.join(valid)}.")
        if not (math.isfinite(w) and w >= 0):
            raise ParameterError(f"{key}.{name} is {w!r}; a weight must be a finite number of at least 0.")
    total = sum(weights.values())
    if abs(total - 1.0) > 1e-6:
        raise ParameterError(f"{key} must sum to 1 (within 1e-6); its weights sum to {total:.9g}.")


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


# ------------------------------------------------------------------------------------------- run


def _write_json(path: Path, value: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(value, indent=2, default=str) + "\n")
    os.replace(tmp, path)


def _metrics_sampler(url: str, interval_s: float, headers: dict[str, str]) -> Any:
    """A /metrics timeline sampler if qrbench.monitor has one (it is optional), else None."""
    try:
        from ..monitor import MetricsSampler  # type: ignore[attr-defined]
    except ImportError:
        return None
    return MetricsSampler(url, interval_s=interval_s, headers=headers or None)


def _timeline(frame: pd.DataFrame, t0_unix: float | None) -> pd.DataFrame:
    frame = frame.copy()
    if t0_unix is not None and "t_unix" in frame.columns:
        frame["t_run"] = frame["t_unix"] - t0_unix
    return frame


def _warm_up(params: LoadParams, data: DataManager, target: Any, run_dir: Path, progress: bool) -> None:
    # Another seed: the popular documents warm the embedding cache, the exact requests stay new.
    pool = data.mix_sampler(params.mix, params.methods, seed=params.seed + 1, pool_size=min(100, params.pool_size))
    run_load(
        target.url,
        pool,
        ClosedModel(users=2, duration_s=params.warmup_s),
        out_dir=run_dir / WARMUP_DIR,
        stage="warmup",
        timeout_s=params.request_timeout_s,
        progress=progress,
        headers=target.headers,
        allow_remote=True,
    )  # the target was checked when it was opened


def run_load_study(
    params: LoadParams,
    run_dir: str | Path,
    *,
    url: str | None = None,
    progress: bool = True,
    on_start: Callable[[Path], Any] | None = None,
) -> Path:
    """Run a scenario into run_dir (layout in the module docstring) and return run_dir.

    url: a running service (else params.target.url, else the embedded service is started and stopped
    here). on_start(run_dir) is called just before the driver starts: phases.json is written and
    run_dir/load exists (empty; the driver's run.json and parts/ appear in it within a moment), so a
    live view can start watching. The scenario and its shape are validated, and the request pool
    built, before the target is opened; the run is one continuous driver run bounded by its duration.
    """
    run_dir = Path(run_dir)
    load_dir = run_dir / LOAD_DIR
    if load_dir.exists() and any(load_dir.iterdir()):
        raise ParameterError(f"{load_dir} already holds a run; give each run a new run_dir.")
    check_scenario_target(url or params.target.url, allow_remote=params.target.allow_remote)  # before the folder
    run_dir.mkdir(parents=True, exist_ok=True)
    data = DataManager.from_dir(seed=params.seed)
    plan = plan_load(params, data.day)
    pool = data.mix_sampler(params.mix, params.methods, seed=params.seed, pool_size=params.pool_size)
    noise = calibration_timings()
    _write_json(run_dir / "machine.json", {"calibration_s": noise.tolist(), "cpus": os.cpu_count()})
    _write_json(run_dir / "scenario.json", to_dict(params))
    _write_json(run_dir / "schedule.json", plan.schedule())
    _write_json(run_dir / "phases.json", plan.shape.phase_dicts())
    with open_target(params.target, url=url, log_dir=run_dir) as target:
        _write_json(
            run_dir / "target.json",
            {"url": target.url, "embedded": target.embedded, "pid": target.pid, "params": to_dict(params.target)},
        )
        if params.warmup_s > 0:
            _warm_up(params, data, target, run_dir, progress)
        process = ProcessSampler(target.pid, interval_s=params.sample_interval_s) if target.pid else None
        metrics = _metrics_sampler(target.url, params.sample_interval_s, target.headers)
        load_dir.mkdir(exist_ok=True)
        result: RunResult | None = None
        with contextlib.ExitStack() as stack:
            # Exits run last-in first-out: the samplers stop, then their timelines are written.
            stack.callback(_write_timelines, run_dir, process, metrics)
            if process is not None:
                stack.enter_context(process)
            if metrics is not None:
                stack.enter_context(metrics)
            if on_start is not None:
                on_start(run_dir)
            common = dict(
                out_dir=load_dir,
                stage="",
                timeout_s=params.request_timeout_s,
                progress=progress,
                headers=target.headers,
                allow_remote=True,
            )  # the target was checked when it was opened
            if params.processes > 1:
                result = run_load_processes(target.url, pool, plan.model, processes=params.processes, **common)
            else:
                result = run_load(target.url, pool, plan.model, **common)
        _write_json(run_dir / "result.json", result.to_dict())
    return run_dir


def _write_timelines(run_dir: Path, process: ProcessSampler | None, metrics: Any) -> None:
    """After the samplers stopped: their frames to parquet, with t_run on the records' clock."""
    try:
        t0_unix = load_run_info(run_dir / LOAD_DIR).get("t0_unix")
    except RunError:
        t0_unix = None
    if process is not None:
        _timeline(process.frame(), t0_unix).to_parquet(run_dir / "server.parquet")
    if metrics is not None:
        _timeline(metrics.frame(), t0_unix).to_parquet(run_dir / "metrics.parquet")


# ------------------------------------------------------------------------------------------- summary


def _estimate(e: stats.Estimate) -> dict[str, Any]:
    return {"value": e.value, "low": e.low, "high": e.high, "n": e.n, "decided": e.decided}


_UNANSWERED = ("connect", "reset", "timeout")


def quick_summary(run_dir: str | Path, params: LoadParams) -> dict[str, Any]:
    """The key numbers of a finished run (summary.json of `qrbench load`); latencies in milliseconds.

    outages: stretches in which the target answered nothing (connect, reset, timeout; a 503 is an
    answer), by intended send time. The verdict covers only the scenario's failure threshold ("fail"
    when the error ratio exceeds it, else "unjudged"): the load study notebook judges the PRD thresholds.
    """
    run_dir = Path(run_dir)
    records = load_records(run_dir / LOAD_DIR)
    result = json.loads((run_dir / "result.json").read_text())
    phases = json.loads((run_dir / "phases.json").read_text())
    ok = records["ok"].to_numpy()
    latency = records.loc[records["ok"], "latency_ms"].to_numpy()
    n = len(records)
    error_ratio = float((~ok).sum() / n) if n else math.nan
    over = n > 0 and error_ratio > params.failure_threshold
    records = records.assign(phase=label_phases(records["t_intended"].to_numpy(), phases))
    phase_rows = []
    for p in phases:
        g = records[records["phase"] == p["name"]]
        good = g.loc[g["ok"], "latency_ms"].to_numpy()
        span = p["end_s"] - p["start_s"]
        phase_rows.append({
            "name": p["name"], "kind": p["kind"], "start_s": p["start_s"], "end_s": p["end_s"],
            "offered": p["offered"], "unit": p["unit"], "requests": len(g), "ok": int(g["ok"].sum()),
            "sent_rps": len(g[g["error"] != "dropped"]) / span if span > 0 else math.nan,
            "p50_ms": float(np.percentile(good, 50)) if good.size else math.nan,
            "p95_ms": float(np.percentile(good, 95)) if good.size else math.nan,
        })  # fmt: skip
    # An outage is the target not answering at all (refused, reset, timed out), not load shedding: a 503 is
    # an answer. Runs of at least 3 such requests over at least a second count.
    # Dropped sends never reached the target, so they say nothing about it.
    sent = records[records["error"] != "dropped"]
    answered = ~sent["error"].isin(_UNANSWERED).to_numpy()
    outages = []
    for o in stats.outage_windows(sent["t_intended"].to_numpy(), answered, min_failures=3, min_duration_s=1.0):
        inside = sent[(sent["t_intended"] >= o.start_s) & (sent["t_intended"] <= o.end_s) & ~answered]
        outages.append(
            {
                "start_s": o.start_s,
                "end_s": o.end_s,
                "failures": o.failures,
                "last_ok_s": o.last_ok_s,
                "next_ok_s": o.next_ok_s,
                "errors": inside["error"].value_counts().to_dict(),
            }
        )
    return {
        "study": "load",
        "scenario": params.name,
        "verdict": "fail" if over else "unjudged",
        "verdict_basis": "failure_threshold only; `qrbench study load` judges the PRD thresholds",
        "parameters": to_dict(params),
        "records": str(Path(LOAD_DIR) / "records.parquet"),
        "requests": n,
        "ok": int(ok.sum()),
        "errors": {str(k): int(v) for k, v in records.loc[~records["ok"], "error"].value_counts().items()},
        "error_ratio": error_ratio,
        "failure_threshold": params.failure_threshold,
        "duration_s": result["duration_s"],
        "achieved_rps": result["achieved_rps"],
        "latency_ms": {f"p{q}": _estimate(stats.percentile_ci(latency, q, params.confidence)) for q in (50, 95, 99)},
        "generator": {
            k: result[k]
            for k in (
                "processes",
                "generator_cpu_percent",
                "send_lag_p50_ms",
                "send_lag_p99_ms",
                "n_late",
                "n_dropped",
                "saturated",
                "saturation_reasons",
            )
        },
        "phases": phase_rows,
        "outages": outages,
    }


def _ms(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.1f}"


def format_summary(summary: Mapping[str, Any]) -> str:
    """One screen of text: counts, errors, throughput, latency percentiles with intervals, the generator."""
    n, ok = summary["requests"], summary["ok"]
    errors = ", ".join(f"{k} {v}" for k, v in summary["errors"].items()) or "none"
    ratio = summary["error_ratio"]
    lines = [
        f"scenario {summary['scenario'] or '(unnamed)'}: {n} requests in {summary['duration_s']:.1f} s, "
        f"{ok} ok, achieved {summary['achieved_rps']:.1f} req/s",
        f"errors: {errors}"
        + (
            ""
            if not n
            else f"  (error ratio {ratio:.1%}, failure threshold "
            f"{summary['failure_threshold']:.0%}"
            f"{': EXCEEDED' if summary['verdict'] == 'fail' else ''})"
        ),
    ]
    pcts = []
    for q, e in summary["latency_ms"].items():
        interval = f"[{_ms(e['low'])}, {_ms(e['high'])}]" if e["decided"] else "(too few samples for an interval)"
        pcts.append(f"{q} {_ms(e['value'])} ms {interval}")
    lines.append("latency of ok requests (from intended send): " + "; ".join(pcts))
    g = summary["generator"]
    lines.append(
        f"generator: {g['processes']} process(es), busiest at {g['generator_cpu_percent']:.0f} % of a core, "
        f"send lag p50 {_ms(g['send_lag_p50_ms'])} ms / p99 {_ms(g['send_lag_p99_ms'])} ms, "
        f"{g['n_late']} late, {g['n_dropped']} dropped"
    )
    if g["saturated"]:
        lines.append(
            "GENERATOR SATURATED, these numbers describe the generator as much as the server: "
            + "; ".join(g["saturation_reasons"])
        )
    else:
        lines.append("generator saturated: no")
    for o in summary["outages"]:
        end = (
            "never recovered"
            if o["next_ok_s"] is None or not math.isfinite(o["next_ok_s"])
            else f"first ok again at {o['next_ok_s']:.2f} s"
        )
        kinds = ", ".join(f"{k} {v}" for k, v in o["errors"].items())
        lines.append(
            f"outage: no request was answered from {o['start_s']:.2f} s to {o['end_s']:.2f} s "
            f"({o['failures']} failures: {kinds}); {end}"
        )
    if summary["phases"]:
        lines.append(
            f"{'phase':<34} {'offered':>12} {'sent/s':>7} {'requests':>8} {'ok':>7} {'p50 ms':>7} {'p95 ms':>7}"
        )
        for p in summary["phases"][:16]:
            lines.append(
                f"{p['name'][:34]:<34} {p['offered']:>6.1f} {p['unit']:<5} {p['sent_rps']:>7.1f} "
                f"{p['requests']:>8} {p['ok']:>7} {_ms(p['p50_ms']):>7} {_ms(p['p95_ms']):>7}"
            )
        if len(summary["phases"]) > 16:
            lines.append(f"... {len(summary['phases']) - 16} more phases in summary.json")
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------- command line

_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds from "30s", "5m", "1h", "1.5h" or a plain number of seconds."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(s|m|min|h)?\s*", str(text))
    if not match:
        raise ParameterError(f"The duration {text!r} is not understood; use e.g. 30s, 5m, 1h or a number of seconds.")
    return float(match.group(1)) * _UNITS[match.group(2) or ""]


def parse_weights(text: str, *, option: str = "--mix") -> dict[str, float]:
    """{"rerank_small": 1.0, ...} from "rerank_small=1,similarity=0"."""
    out: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise ParameterError(f"{option} item {item!r} is not NAME=WEIGHT, e.g. rerank_small=0.5.")
    return out


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
        "name": f"adhoc-{mode}", "model": mode, "duration_s": duration_s, "ramp_up_s": ramp_up_s, "seed": seed,
        "target": {"allow_remote": allow_remote}, **extra,
    }  # fmt: skip
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
