"""Workload models: who sends when. Closed (virtual users) and open (arrival rate), both bounded.

Closed model: each virtual user sends, waits for the answer, optionally thinks, and sends again; the
server's slowness slows the senders down, so a stall hides itself (coordinated omission). The users
ramp in linearly or follow a schedule of targets (k6 "ramping-vus"); requests may come in sessions.
Open model: requests arrive on a schedule that does not care how the server is doing; latency is
counted from the intended send time, so a stall shows up in the tail.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Literal

from qrbench.errors import ParameterError

__all__ = ["ThinkTime", "Sessions", "ClosedModel", "OpenModel", "arrival_times", "DEFAULT_MAX_REQUESTS"]

# Every loop stops by itself: at most this many requests unless the caller asks for a different bound.
DEFAULT_MAX_REQUESTS = 1_000_000

_DISTRIBUTIONS = ("constant", "uniform", "exponential", "lognormal")
_THINK_KEYS = ("distribution", "mean_s", "low_s", "high_s", "median_s", "sigma")


def _check_positive_int(name: str, value: object, *, minimum: int = 1) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ParameterError(f"{name} must be an integer of at least {minimum}, not {value!r}.")


def _check_seconds(name: str, value: object, *, allow_zero: bool = True) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (value == 0 and not allow_zero):
        bound = "0 or more" if allow_zero else "more than 0"
        raise ParameterError(f"{name} must be a finite number of seconds, {bound}, not {value!r}.")


@dataclass(frozen=True, slots=True, kw_only=True)
class ThinkTime:
    """A virtual user's pause between receiving an answer and sending the next request (seconds).

    distribution: "constant" (mean_s), "uniform" (low_s..high_s), "exponential" (mean_s), or
    "lognormal" (median_s, and sigma, the standard deviation of the log; what real think times follow).
    """

    distribution: Literal["constant", "uniform", "exponential", "lognormal"] = "constant"
    mean_s: float = 0.0
    low_s: float = 0.0
    high_s: float = 0.0
    median_s: float = 0.0
    sigma: float = 0.0

    def __post_init__(self) -> None:
        if self.distribution not in _DISTRIBUTIONS:
            raise ParameterError(
                f"Think-time distribution {self.distribution!r} is unknown; use one of {', '.join(_DISTRIBUTIONS)}."
            )
        for name in ("mean_s", "low_s", "high_s", "median_s"):
            _check_seconds(f"ThinkTime.{name}", getattr(self, name))
        sigma = self.sigma
        if not (isinstance(sigma, int | float) and not isinstance(sigma, bool) and math.isfinite(sigma) and sigma >= 0):
            raise ParameterError(f"ThinkTime.sigma must be a finite number of at least 0, not {sigma!r}.")
        if self.distribution == "uniform" and self.high_s < self.low_s:
            raise ParameterError(
                f"Uniform think time needs low_s <= high_s, got low_s={self.low_s} and high_s={self.high_s}."
            )

    @classmethod
    def from_spec(cls, spec: float | ThinkTime | Mapping[str, Any]) -> ThinkTime:
        """Build from a number of seconds (constant), a ThinkTime, or a mapping of its fields (YAML)."""
        if isinstance(spec, ThinkTime):
            return spec
        if isinstance(spec, Mapping):
            unknown = set(spec) - set(_THINK_KEYS)
            if unknown:
                raise ParameterError(f"Think-time keys {sorted(unknown)} are unknown; use {', '.join(_THINK_KEYS)}.")
            return cls(**spec)
        _check_seconds("think_time_s", spec)
        return cls(distribution="constant", mean_s=float(spec))

    @property
    def mean(self) -> float:
        """The mean pause in seconds."""
        if self.distribution == "uniform":
            return (self.low_s + self.high_s) / 2
        if self.distribution == "lognormal":
            return self.median_s * math.exp(self.sigma**2 / 2)
        return self.mean_s

    def sampler(self, rng: random.Random) -> Callable[[], float] | None:
        """A zero-argument function drawing think times in seconds, or None when it is always zero."""
        if self.distribution == "constant":
            value = self.mean_s
            return None if value == 0 else (lambda: value)
        if self.distribution == "uniform":
            low, high = self.low_s, self.high_s
            return None if high == 0 else (lambda: rng.uniform(low, high))
        if self.distribution == "lognormal":
            if self.median_s == 0:
                return None
            mu, sigma = math.log(self.median_s), self.sigma
            return lambda: rng.lognormvariate(mu, sigma)
        mean = self.mean_s
        return None if mean == 0 else (lambda: rng.expovariate(1.0 / mean))


@dataclass(frozen=True, slots=True, kw_only=True)
class Sessions:
    """Virtual users work in sessions: a run of requests (with think time between them), then a longer pause.

    mean_requests: requests per session, exactly ("constant") or on average ("geometric", what
    data/user_behavior_patterns.json's profiles use). pause_s: the pause between sessions (seconds, a
    ThinkTime, or a mapping of ThinkTime fields); it replaces the think time after a session's last request.
    """

    mean_requests: float
    distribution: Literal["constant", "geometric"] = "geometric"
    pause_s: float | ThinkTime | Mapping[str, Any] = 30.0

    def __post_init__(self) -> None:
        value = self.mean_requests
        if not (isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 1):
            raise ParameterError(f"Sessions.mean_requests must be a number of at least 1, not {value!r}.")
        if self.distribution not in ("constant", "geometric"):
            raise ParameterError(f"Sessions.distribution is {self.distribution!r}; use 'constant' or 'geometric'.")
        object.__setattr__(self, "pause_s", ThinkTime.from_spec(self.pause_s))

    def length_sampler(self, rng: random.Random) -> Callable[[], int]:
        """A zero-argument function drawing session lengths in requests (at least 1)."""
        if self.distribution == "constant":
            n = max(1, round(self.mean_requests))
            return lambda: n
        # Geometric on {1, 2, ...} with the given mean: success probability 1 / mean.
        p = 1.0 / self.mean_requests
        if p >= 1.0:
            return lambda: 1
        log_q = math.log(1.0 - p)
        return lambda: 1 + int(math.log(1.0 - rng.random()) / log_q)


@dataclass(frozen=True, slots=True, kw_only=True)
class ClosedModel:
    """Virtual users sending back to back (plus think time), ramped in linearly or following a schedule.

    users: concurrent virtual users (also the connection-pool size). With stages it defaults to the
    schedule's peak (and must be at least that when given).
    think_time_s: seconds, a ThinkTime, or a mapping of ThinkTime fields.
    ramp_up_s: user i starts at i * ramp_up_s / users seconds (the simple schedule).
    stages: a users schedule instead (k6 "ramping-vus"): (duration_s, target_users) stages, the target
    moving linearly from the previous stage's target (0 at the start) to this one; a 0-s stage is an
    instant step. Virtual user i is active while the target exceeds i: a user above the target finishes
    its request and waits, and resumes when the target rises past it again.
    sessions: optional Sessions (or a mapping of its fields): requests come in sessions with a longer
    pause between them.
    duration_s: stop issuing after this many seconds (in-flight requests finish, up to the timeout);
    with stages it defaults to their total and can only cut them short.
    iterations: requests per user (not in total); the run ends when every user has sent them.
    max_requests: hard bound on the total across all users and processes.
    At least one of duration_s, stages and iterations is required.
    """

    users: int | None = None
    think_time_s: float | ThinkTime | Mapping[str, Any] = 0.0
    ramp_up_s: float = 0.0
    stages: Sequence[tuple[float, float]] | None = None
    sessions: Sessions | Mapping[str, Any] | None = None
    duration_s: float | None = None
    iterations: int | None = None
    max_requests: int = DEFAULT_MAX_REQUESTS
    seed: int = 0
    _points: tuple[tuple[float, float], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "think_time_s", ThinkTime.from_spec(self.think_time_s))
        if isinstance(self.sessions, Mapping):
            unknown = set(self.sessions) - {"mean_requests", "distribution", "pause_s"}
            if unknown:
                raise ParameterError(
                    f"Sessions keys {sorted(unknown)} are unknown; use mean_requests, distribution, pause_s."
                )
            object.__setattr__(self, "sessions", Sessions(**self.sessions))
        elif self.sessions is not None and not isinstance(self.sessions, Sessions):
            raise ParameterError(f"ClosedModel.sessions must be Sessions or None, not {self.sessions!r}.")
        _check_seconds("ClosedModel.ramp_up_s", self.ramp_up_s)
        points: list[tuple[float, float]] = []
        if self.stages is not None:
            if self.ramp_up_s:
                raise ParameterError("ClosedModel takes ramp_up_s or stages, not both; put the ramp into the stages.")
            points = self._check_stages(self.stages)
            object.__setattr__(self, "stages", tuple((b[0] - a[0], b[1]) for a, b in pairwise(points)))
            peak = math.ceil(max(v for _, v in points))
            if self.users is None:
                object.__setattr__(self, "users", peak)
            _check_positive_int("ClosedModel.users", self.users)
            if self.users < peak:
                raise ParameterError(
                    f"ClosedModel.users is {self.users} but the stages ask for up to {peak} users; "
                    "leave users out or make it at least the peak."
                )
            total = points[-1][0]
            if self.duration_s is not None:
                _check_seconds("ClosedModel.duration_s", self.duration_s, allow_zero=False)
            object.__setattr__(self, "duration_s", min(total, self.duration_s or total))
        else:
            _check_positive_int("ClosedModel.users", self.users)
        object.__setattr__(self, "_points", tuple(points))
        if self.duration_s is None and self.iterations is None:
            raise ParameterError(
                "ClosedModel needs duration_s (seconds), stages or iterations (requests per user) so the run ends."
            )
        if self.duration_s is not None:
            _check_seconds("ClosedModel.duration_s", self.duration_s, allow_zero=False)
        if self.iterations is not None:
            _check_positive_int("ClosedModel.iterations", self.iterations)
        _check_positive_int("ClosedModel.max_requests", self.max_requests)

    @staticmethod
    def _check_stages(stages: Any) -> list[tuple[float, float]]:
        points = [(0.0, 0.0)]
        for i, stage in enumerate(stages):
            if not isinstance(stage, Sequence) or len(stage) != 2:
                raise ParameterError(f"ClosedModel.stages[{i}] is {stage!r}; each stage is (duration_s, target_users).")
            duration, target = stage
            _check_seconds(f"ClosedModel.stages[{i}] duration_s", duration)
            _check_seconds(f"ClosedModel.stages[{i}] target_users", target)
            points.append((points[-1][0] + float(duration), float(target)))
        if len(points) == 1 or points[-1][0] <= 0:
            raise ParameterError(
                "ClosedModel.stages must hold at least one (duration_s, target_users) stage and last more than 0 s."
            )
        if max(v for _, v in points) < 1:
            raise ParameterError("ClosedModel.stages never asks for a user; give a target_users of at least 1.")
        return points

    @property
    def concurrency(self) -> int:
        """Most requests in flight at once (connections needed)."""
        return self.users  # type: ignore[return-value]

    @property
    def expected_requests(self) -> int | None:
        """How many requests the run will send if it is bounded by count, else None."""
        if self.iterations is not None and self.duration_s is None:
            return min(self.users * self.iterations, self.max_requests)  # type: ignore[operator]
        return None

    @property
    def mean_pause_s(self) -> float:
        """A user's mean pause (s) between an answer and its next request: the think time, and once per session
        (every mean_requests requests) the session pause instead of it."""
        think = self.think_time_s.mean  # type: ignore[union-attr]
        if self.sessions is None:
            return think
        m = self.sessions.mean_requests  # type: ignore[union-attr]
        return ((m - 1) * think + self.sessions.pause_s.mean) / m  # type: ignore[union-attr]

    def approximate_requests(self, response_s: float = 0.05) -> int:
        """About how many requests the run sends: the exact count of a count-bounded run, else the user-seconds
        of the schedule over (mean pause + response_s), each user sending one request per cycle. For a progress
        bar's total, not for analysis: the real response time decides the real count."""
        if self.expected_requests is not None:
            return self.expected_requests
        duration = float(self.duration_s)  # type: ignore[arg-type]
        steps = 400
        grid = [duration * k / steps for k in range(steps + 1)]
        active = [min(float(self.users), math.floor(self.target_users(t) + 1e-9)) for t in grid]  # type: ignore[arg-type]
        user_s = sum((a + b) / 2 for a, b in pairwise(active)) * duration / steps
        estimate = max(1, round(user_s / max(self.mean_pause_s + response_s, 1e-3)))
        if self.iterations is not None:
            estimate = min(estimate, self.users * self.iterations)  # type: ignore[operator]
        return min(estimate, self.max_requests)

    def target_users(self, t_s: float) -> float:
        """The users schedule's target at t_s seconds since the start (the ramp when there are no stages)."""
        if not self._points:
            if self.ramp_up_s == 0:
                return float(self.users)  # type: ignore[arg-type]
            return min(float(self.users), self.users * max(t_s, 0.0) / self.ramp_up_s + 1.0)  # type: ignore[operator]
        points = self._points
        if t_s >= points[-1][0]:
            return points[-1][1]
        for (t1, v1), (t2, v2) in pairwise(points):
            if t1 <= t_s < t2:
                return v1 + (v2 - v1) * (t_s - t1) / (t2 - t1)
        return points[0][1]

    def user_windows(self, user: int) -> tuple[tuple[float, float], ...]:
        """When virtual user `user` is active: (start_s, end_s) intervals in seconds since the start.

        With ramp_up_s, one window from i * ramp_up_s / users on (end inf: the run's bounds end it);
        with stages, the intervals where the target exceeds `user`, cut at duration_s.
        """
        if not self._points:
            return ((user * self.ramp_up_s / self.users, math.inf),)  # type: ignore[operator]
        limit = self.duration_s if self.duration_s is not None else math.inf
        out: list[list[float]] = []
        for (t1, v1), (t2, v2) in pairwise(self._points):
            if t2 <= t1 or t1 >= limit:
                continue
            if v1 > user and v2 > user:
                a, b = t1, t2
            elif v1 <= user < v2:
                a, b = t1 + (user - v1) / (v2 - v1) * (t2 - t1), t2
            elif v2 <= user < v1:
                a, b = t1, t1 + (v1 - user) / (v1 - v2) * (t2 - t1)
            else:
                continue
            b = min(b, limit)
            if b <= a:
                continue
            if out and a <= out[-1][1] + 1e-9:
                out[-1][1] = b
            else:
                out.append([a, b])
        return tuple((a, b) for a, b in out)


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenModel:
    """Requests arriving at a scheduled rate, whatever the server does.

    rate_rps with duration_s: a constant rate (requests per second) for duration_s seconds; or
    stages: (duration_s, start_rps, end_rps) segments, the rate moving linearly within each; a
    duration_s given with stages cuts the schedule short.
    arrivals: "poisson" (exponential gaps) or "uniform" (even gaps).
    max_in_flight: a request that would exceed it is recorded as dropped, not queued.
    late_threshold_ms: a send this much behind its intended time counts as late.
    """

    rate_rps: float | None = None
    stages: Sequence[tuple[float, float, float]] | None = None
    arrivals: Literal["poisson", "uniform"] = "poisson"
    max_in_flight: int = 1000
    duration_s: float | None = None
    max_requests: int = DEFAULT_MAX_REQUESTS
    seed: int = 0
    late_threshold_ms: float = 10.0
    _segments: tuple[tuple[float, float, float], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.arrivals not in ("poisson", "uniform"):
            raise ParameterError(f"OpenModel.arrivals is {self.arrivals!r}; use 'poisson' or 'uniform'.")
        _check_positive_int("OpenModel.max_in_flight", self.max_in_flight)
        _check_positive_int("OpenModel.max_requests", self.max_requests)
        _check_seconds("OpenModel.late_threshold_ms", self.late_threshold_ms)
        if self.duration_s is not None:
            _check_seconds("OpenModel.duration_s", self.duration_s, allow_zero=False)
        if (self.rate_rps is None) == (self.stages is None):
            raise ParameterError("OpenModel needs exactly one of rate_rps (with duration_s) or stages.")
        if self.rate_rps is not None:
            _check_seconds("OpenModel.rate_rps", self.rate_rps, allow_zero=False)
            if self.duration_s is None:
                raise ParameterError("OpenModel with rate_rps needs duration_s (seconds) so the run ends.")
            segments = [(float(self.duration_s), float(self.rate_rps), float(self.rate_rps))]
        else:
            segments = self._check_stages(self.stages)
            object.__setattr__(self, "stages", tuple(segments))
            if self.duration_s is not None:
                segments = _truncate(segments, self.duration_s)
        object.__setattr__(self, "_segments", tuple(segments))
        object.__setattr__(self, "duration_s", sum(s[0] for s in segments))

    @staticmethod
    def _check_stages(stages: Any) -> list[tuple[float, float, float]]:
        out = []
        for i, stage in enumerate(stages):
            if not isinstance(stage, Sequence) or len(stage) != 3:
                raise ParameterError(
                    f"OpenModel.stages[{i}] is {stage!r}; each stage is (duration_s, start_rps, end_rps)."
                )
            duration, start, end = stage
            _check_seconds(f"OpenModel.stages[{i}] duration_s", duration, allow_zero=False)
            _check_seconds(f"OpenModel.stages[{i}] start_rps", start)
            _check_seconds(f"OpenModel.stages[{i}] end_rps", end)
            out.append((float(duration), float(start), float(end)))
        if not out:
            raise ParameterError("OpenModel.stages is empty; give at least one (duration_s, start_rps, end_rps).")
        return out

    @property
    def segments(self) -> tuple[tuple[float, float, float], ...]:
        """The schedule as (duration_s, start_rps, end_rps) segments, cut to duration_s."""
        return self._segments

    @property
    def concurrency(self) -> int:
        """Most requests in flight at once (connections needed)."""
        return self.max_in_flight

    @property
    def expected_requests(self) -> int:
        """Requests the schedule asks for (the integral of the rate), capped by max_requests."""
        mass = sum(d * (r0 + r1) / 2 for d, r0, r1 in self._segments)
        return min(round(mass), self.max_requests)

    def approximate_requests(self, response_s: float = 0.05) -> int:
        """Requests the schedule asks for (expected_requests; response_s is ignored: arrivals do not wait)."""
        return self.expected_requests


def _truncate(segments: list[tuple[float, float, float]], limit: float) -> list[tuple[float, float, float]]:
    out, elapsed = [], 0.0
    for d, r0, r1 in segments:
        if elapsed >= limit:
            break
        keep = min(d, limit - elapsed)
        out.append((keep, r0, r0 + (r1 - r0) * keep / d))
        elapsed += keep
    return out


def arrival_times(
    model: OpenModel, *, share: float = 1.0, phase: float = 0.0, seed: int | None = None
) -> Iterator[float]:
    """Intended send times in seconds since t0, in order, for the open model's schedule.

    share: fraction of the rate this stream carries (1/K for one of K driver processes).
    phase: 0..1, shifts uniform arrivals by that fraction of a gap so K streams interleave evenly.
    seed: poisson random seed (defaults to the model's).
    Uniform arrivals put arrival k where the integral of the rate reaches k + phase; poisson ones
    where it reaches a running sum of Exp(1) draws (time rescaling of a non-homogeneous Poisson process).
    """
    if not 0 < share <= 1:
        raise ParameterError(f"share must be in (0, 1], not {share!r}.")
    if not 0 <= phase < 1:
        raise ParameterError(f"phase must be in [0, 1), not {phase!r}.")
    rng = random.Random(model.seed if seed is None else seed)
    poisson = model.arrivals == "poisson"
    target = rng.expovariate(1.0) if poisson else phase
    mass_start = 0.0  # integral of the rate up to the current segment's start
    t_start = 0.0
    for duration, r0, r1 in model.segments:
        r0, r1 = r0 * share, r1 * share
        slope = (r1 - r0) / duration
        seg_mass = (r0 + r1) * duration / 2
        while target < mass_start + seg_mass:
            a = target - mass_start
            # Solve r0*t + slope*t^2/2 = a in the form that stays stable when slope is 0 or negative.
            root = math.sqrt(max(r0 * r0 + 2 * slope * a, 0.0))
            t = 2 * a / (r0 + root) if r0 + root > 0 else 0.0
            yield t_start + min(t, duration)
            target += rng.expovariate(1.0) if poisson else 1.0
        mass_start += seg_mass
        t_start += duration
