"""A simulation of the Kubernetes HorizontalPodAutoscaler's rule on one machine: instances behind nginx.

This is the HPA's *rule*, not a cluster: no scheduler, no pod start-up beyond the instance's own, no metrics
pipeline delay beyond the control interval. What it lets the scalability study measure is how that rule
behaves against the real service under a changing load: time to scale, latency during the transition, and
over- or under-provisioning.

The rule (Kubernetes' replica calculator and its stabilisation, autoscaling/v2 `behavior`):

- proposal = ceil(current × metric / target), unless |metric / target - 1| <= tolerance (then: current),
  clamped to [min_replicas, max_replicas];
- stabilisation: the recommendation is the current count raised to the *lowest* proposal of the last
  `scale_up_window_s` seconds and lowered to the *highest* proposal of the last `scale_down_window_s` seconds,
  so one quiet interval does not remove instances that the next burst needs.

`HpaController` is that rule as a pure state machine (times are given, nothing is measured). `InstancePool`
runs N instances behind one `NginxBalancer` and changes N by rewriting nginx's upstreams and reloading it
(SIGHUP: nginx's graceful reload, no connection is dropped). `run_autoscaler` closes the loop for a bounded
time: every `interval_s` it reads the metric, asks the controller, and scales the pool.
"""

from __future__ import annotations

import contextlib
import math
import os
import pwd
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import psutil

from qrbench.deploy.nginx import NginxBalancer, nginx_config
from qrbench.errors import ParameterError
from qrbench.monitor.process import pid_listening_on

__all__ = [
    "HpaRule",
    "HpaDecision",
    "HpaController",
    "proposed_replicas",
    "InstancePool",
    "run_autoscaler",
    "CpuUtilization",
]


@dataclass(frozen=True, kw_only=True)
class HpaRule:
    """The HPA's settings. target: the metric's target per instance (e.g. 0.7 for 70 % CPU of the request).
    tolerance: relative band around the target with no change (Kubernetes' default 0.1). Windows in seconds
    (Kubernetes' defaults: 0 up, 300 down)."""

    target: float
    tolerance: float = 0.1
    min_replicas: int = 1
    max_replicas: int = 10
    scale_up_window_s: float = 0.0
    scale_down_window_s: float = 300.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.target) and self.target > 0):
            raise ParameterError(f"target is {self.target!r}; it must be a positive number.")
        if not 0 <= self.tolerance < 1:
            raise ParameterError(f"tolerance is {self.tolerance!r}; it must be between 0 and 1.")
        if not 1 <= self.min_replicas <= self.max_replicas:
            raise ParameterError(
                f"min_replicas ({self.min_replicas}) and max_replicas ({self.max_replicas}) must "
                "satisfy 1 <= min_replicas <= max_replicas."
            )
        if self.scale_up_window_s < 0 or self.scale_down_window_s < 0:
            raise ParameterError("scale_up_window_s and scale_down_window_s must be 0 or more seconds.")


def proposed_replicas(current: int, metric: float, rule: HpaRule) -> int:
    """The replica calculator: ceil(current × metric / target), or current within the tolerance; clamped.
    metric: the mean per instance, in the target's unit. A NaN metric (nothing measured) proposes current."""
    if current < 1:
        raise ParameterError(f"current is {current!r}; the pool always has at least one instance.")
    ratio = metric / rule.target
    if math.isnan(ratio) or abs(ratio - 1.0) <= rule.tolerance:
        desired = current
    else:
        # The small epsilon keeps float noise (0.7 / 0.7 * 3 = 3.0000000000000004) from adding an instance.
        desired = math.ceil(current * ratio - 1e-9)
    return min(rule.max_replicas, max(rule.min_replicas, desired))


@dataclass(frozen=True)
class HpaDecision:
    """One control step: at t_s (seconds), with `current` instances and the measured metric, the rule
    proposed `proposed` and the stabilised recommendation is `desired`."""

    t_s: float
    current: int
    metric: float
    proposed: int
    desired: int


@dataclass
class HpaController:
    """The HPA's rule with its stabilisation windows; `step` is deterministic in its arguments."""

    rule: HpaRule
    _history: list[tuple[float, int]] = field(default_factory=list, repr=False)

    def step(self, t_s: float, current: int, metric: float) -> HpaDecision:
        """The decision at t_s seconds (non-decreasing across calls) for `current` instances and `metric`."""
        if self._history and t_s < self._history[-1][0]:
            raise ParameterError(f"t_s went back from {self._history[-1][0]} to {t_s}; steps must be in time order.")
        proposed = proposed_replicas(current, metric, self.rule)
        self._history.append((t_s, proposed))
        horizon = max(self.rule.scale_up_window_s, self.rule.scale_down_window_s)
        self._history = [(t, p) for t, p in self._history if t >= t_s - horizon]
        up = min((p for t, p in self._history if t >= t_s - self.rule.scale_up_window_s), default=proposed)
        down = max((p for t, p in self._history if t >= t_s - self.rule.scale_down_window_s), default=proposed)
        desired = min(max(current, up), down)
        return HpaDecision(t_s=t_s, current=current, metric=metric, proposed=proposed, desired=desired)


class InstancePool:
    """Instances behind one nginx on loopback, whose number changes while traffic flows; a context manager.

    start_instance: a factory of context managers that start one instance and yield its base URL (e.g.
    `EmbeddedTarget` wrapped, or `start_stub_server`); it is entered when an instance is added and exited when
    it is removed. `url` (nginx) stays the same for the pool's life. nginx files go to run_dir/nginx/.
    drain_s: seconds a removed instance keeps running after nginx stopped sending to it (its last answers).
    """

    def __init__(
        self,
        start_instance: Callable[[], contextlib.AbstractContextManager[str]],
        *,
        run_dir: str | os.PathLike[str],
        initial: int = 1,
        balance: str = "least_conn",
        drain_s: float = 2.0,
    ) -> None:
        if initial < 1:
            raise ParameterError(f"initial is {initial!r}; the pool starts with at least one instance.")
        self._start_instance = start_instance
        self.run_dir = Path(run_dir)
        self.initial = initial
        self.balance = balance
        self.drain_s = drain_s
        self._instances: list[tuple[str, contextlib.ExitStack]] = []
        self._balancer: NginxBalancer | None = None
        self.events: list[dict[str, Any]] = []  # one row per change: t_unix, instances, seconds it took

    @property
    def urls(self) -> list[str]:
        return [u for u, _ in self._instances]

    @property
    def url(self) -> str:
        if self._balancer is None:
            raise ParameterError("The instance pool has not been started.")
        return self._balancer.url

    def _add_one(self) -> None:
        stack = contextlib.ExitStack()
        try:
            url = stack.enter_context(self._start_instance())
        except BaseException:
            stack.close()
            raise
        self._instances.append((url, stack))

    def start(self) -> InstancePool:
        try:
            for _ in range(self.initial):
                self._add_one()
            self._balancer = NginxBalancer(self.urls, run_dir=self.run_dir, balance=self.balance).start()
        except BaseException:
            self.stop()
            raise
        return self

    def _reload(self) -> None:
        """Point nginx at the current instances: rewrite its configuration and send SIGHUP (graceful reload)."""
        b = self._balancer
        assert b is not None
        user = pwd.getpwuid(os.geteuid()).pw_name if os.geteuid() == 0 else None
        b.config_path.write_text(
            nginx_config(self.urls, listen_port=b.port, prefix=b.prefix, balance=self.balance, user=user)
        )
        os.kill(b.pid, signal.SIGHUP)

    def scale_to(self, n: int) -> None:
        """Add instances (started and ready before nginx sends them anything) or remove the newest ones
        (nginx stops sending first; each keeps running `drain_s` seconds), until there are n."""
        if n < 1:
            raise ParameterError(f"n is {n!r}; the pool keeps at least one instance.")
        started, before = time.monotonic(), len(self._instances)
        if n == before:
            return
        if n > before:
            for _ in range(n - before):
                self._add_one()
            self._reload()
        else:
            removed = self._instances[n:]
            self._instances = self._instances[:n]
            self._reload()
            time.sleep(self.drain_s)
            for _, stack in removed:
                stack.close()
        self.events.append({"t_unix": time.time(), "from": before, "to": n, "seconds": time.monotonic() - started})

    def stop(self) -> None:
        if self._balancer is not None:
            self._balancer.stop()
            self._balancer = None
        while self._instances:
            _, stack = self._instances.pop()
            stack.close()

    def __enter__(self) -> InstancePool:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_autoscaler(
    pool: InstancePool,
    controller: HpaController,
    metric: Callable[[Sequence[str]], float],
    *,
    interval_s: float,
    duration_s: float,
    stop: threading.Event | None = None,
) -> pd.DataFrame:
    """Control `pool` for `duration_s` seconds (or until `stop` is set): every `interval_s` seconds read
    `metric(pool.urls)` (the mean per instance, in the rule's unit), step the controller, scale the pool.

    Returns one row per step: t_s (since the loop started), t_unix (wall clock of the decision), current, metric,
    proposed, desired, scale_s (seconds the change took; 0 without one). A tick missed while an instance was
    starting is skipped, not caught up: a burst of decisions over a few milliseconds would measure no CPU.
    """
    if not (interval_s > 0 and duration_s > 0):
        raise ParameterError("interval_s and duration_s must both be positive numbers of seconds.")
    stop = stop or threading.Event()
    rows = []
    t0 = time.monotonic()
    for _ in _ticks(t0, interval_s, duration_s, stop):
        value = metric(pool.urls)
        d = controller.step(time.monotonic() - t0, len(pool.urls), value)
        began, t_unix = time.monotonic(), time.time()
        pool.scale_to(d.desired)
        rows.append(
            {
                "t_s": d.t_s,
                "t_unix": t_unix,
                "current": d.current,
                "metric": d.metric,
                "proposed": d.proposed,
                "desired": d.desired,
                "scale_s": time.monotonic() - began if d.desired != d.current else 0.0,
            }
        )
    return pd.DataFrame(rows, columns=["t_s", "t_unix", "current", "metric", "proposed", "desired", "scale_s"])


def _ticks(t0: float, interval_s: float, duration_s: float, stop: threading.Event) -> Iterator[int]:
    """Yield at t0 + k·interval_s while within duration_s and not stopped (bounded in time and count)."""
    for k in range(1, int(duration_s / interval_s) + 1):
        if time.monotonic() > t0 + (k + 1) * interval_s:
            continue  # overdue (the previous step scaled for longer than an interval)
        if stop.wait(max(0.0, t0 + k * interval_s - time.monotonic())):
            return
        yield k


class CpuUtilization:
    """A metric for `run_autoscaler`: the instances' mean CPU between two calls, as a share of
    `cores_per_instance` (the HPA's utilisation of the CPU request; 0.7 = 70 %).

    Each instance is the process tree listening on its URL's port. An instance seen for the first time has no
    interval yet and is left out of that call's mean; with none measured the metric is NaN (no change).
    """

    def __init__(self, *, cores_per_instance: float = 1.0) -> None:
        if not cores_per_instance > 0:
            raise ParameterError(f"cores_per_instance is {cores_per_instance!r}; it must be positive.")
        self.cores_per_instance = cores_per_instance
        self._last: dict[str, tuple[float, float]] = {}  # url -> (monotonic s, cpu s)

    def __call__(self, urls: Sequence[str]) -> float:
        now = time.monotonic()
        shares, seen = [], {}
        for url in urls:
            cpu = _tree_cpu_s(url)
            if cpu is None:
                continue
            seen[url] = (now, cpu)
            if url in self._last and now > self._last[url][0]:
                t, c = self._last[url]
                shares.append((cpu - c) / (now - t) / self.cores_per_instance)
        self._last = seen
        return sum(shares) / len(shares) if shares else math.nan


def _tree_cpu_s(url: str) -> float | None:
    """CPU seconds (user + system) of the process tree listening on `url`'s port; None when not found."""
    pid = pid_listening_on(int(url.rsplit(":", 1)[1].split("/", 1)[0]))
    if pid is None:
        return None
    try:
        root = psutil.Process(pid)
        return sum(p.cpu_times().user + p.cpu_times().system for p in [root, *root.children(recursive=True)])
    except psutil.Error:
        return None
