"""The scalability study's parameters (parameters/scalability.yaml) and its run folder's sub-folders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ...deploy import TargetParams
from ...errors import ParameterError
from ...load import KINDS, METHODS

CONFIGS_DIR = "configs"
VERTICAL_DIR = "vertical"
AUTOSCALE_DIR = "autoscale"
Method = Literal["classical", "quantum", "hybrid"]
Balance = Literal["round_robin", "least_conn"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SloParams:
    """The service-level objective a step must meet: p95 latency (ms, from the intended send time) and the
    share of successful requests."""

    p95_ms: float = 500.0
    success: float = 0.99

    def met_by(self, records: Any) -> bool:
        """Whether a step's records (columns ok, latency_ms) meet the SLO on point estimates (dropped sends count
        as failed requests). The run stops its step load on it; the analysis judges with it."""
        latency = records.loc[records["ok"], "latency_ms"].to_numpy()
        return bool(
            len(latency) and np.percentile(latency, 95) < self.p95_ms and len(latency) / len(records) >= self.success
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class StepParams:
    """The step load of each configuration: open-model steps of step_s seconds each at rates_rps (or, when
    rates_rps is empty, start_rps times factor**i for i < max_steps), stopped once steps_past_break + 1 steps in
    a row break the SLO. steps_past_break > 0 shows throughput past the capacity, and lets a noisy machine's
    transient break (followed by a step that meets the SLO) be told from the real one."""

    rates_rps: tuple[float, ...] = ()
    start_rps: float = 2.0
    factor: float = 1.5
    max_steps: int = 10
    step_s: float = 20.0  # seconds per step
    pause_s: float = 2.0  # seconds between steps, for work in flight to drain
    arrivals: Literal["poisson", "uniform"] = "poisson"
    max_in_flight: int = 256  # sends past this many in flight are recorded as dropped
    steps_past_break: int = 0
    windows: int = 4  # sub-windows of each configuration's peak step: repeated throughput points for the USL fit

    def rates(self) -> tuple[float, ...]:
        if self.rates_rps:
            return tuple(float(r) for r in self.rates_rps)
        return tuple(self.start_rps * self.factor**i for i in range(self.max_steps))


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestParams:
    """What the step loads send: a base pool of pool_size requests (kinds and methods by weight, documents of
    the given length level), each sent with a new query when fresh_queries."""

    mix: dict[str, float] = field(default_factory=lambda: {"similarity": 0.5, "rerank_small": 0.5})
    methods: dict[str, float] = field(default_factory=lambda: {"classical": 1 / 3, "quantum": 1 / 3, "hybrid": 1 / 3})
    length: Literal["any", "short", "long"] = "any"
    pool_size: int = 100
    fresh_queries: bool = True
    zipf_exponent: float = 1.0
    warmup_requests: int = 20  # real requests sent after the cache warm-up, left out of the analysis


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkersParams:
    """`qrbench serve --workers N` for each N of counts (empty: skip)."""

    counts: tuple[int, ...] = (1, 2, 4)


@dataclass(frozen=True, slots=True, kw_only=True)
class InstancesParams:
    """N single-worker instances behind nginx for each N of counts and each policy of balance (empty: skip).
    The largest N is started once; a configuration of n instances balances over the first n of them."""

    counts: tuple[int, ...] = (1, 2, 4)
    balance: tuple[Balance, ...] = ("round_robin", "least_conn")
    keepalive: int = 64  # idle connections nginx keeps open to the instances
    nginx_workers: int = 1  # nginx worker processes
    access_log: bool = True  # nginx's access log in the run folder (which instance answered each request)


@dataclass(frozen=True, slots=True, kw_only=True)
class VerticalParams:
    """One process, one resource at a time (empty lists skip a part): document counts per rerank (cached
    documents, a new query each), torch threads (threads_users closed users, reranks of 10 documents), and qubits
    and shots of the aer backend (aer_requests quantum reranks of aer_documents documents, one at a time)."""

    documents: tuple[int, ...] = (10, 25, 50, 100, 250, 500, 1000)
    document_requests: int = 20
    method: Method = "hybrid"
    torch_threads: tuple[int, ...] = (1, 2)
    threads_users: int = 4
    threads_requests: int = 100
    qubits: tuple[int, ...] = (2, 3, 4)
    shots: tuple[int, ...] = (256, 1024, 4096)
    aer_documents: int = 10
    aer_requests: int = 20
    sample_interval_s: float = 0.25  # server memory sampling during the document sweep


@dataclass(frozen=True, slots=True, kw_only=True)
class AutoscaleParams:
    """Single-worker instances behind nginx, added and removed by the Kubernetes HPA's rule (simulated on this
    machine, not a cluster) on their CPU, while an open-model load steps through rates_rps, phase_s seconds each.
    target_cpu: share of cores_per_instance; interval_s: the control (HPA sync) period; drain_s: seconds a removed
    instance keeps answering what nginx already sent it."""

    enabled: bool = False
    rates_rps: tuple[float, ...] = (4.0, 20.0, 4.0)
    phase_s: float = 60.0
    target_cpu: float = 0.5
    cores_per_instance: float = 1.0
    tolerance: float = 0.1
    min_replicas: int = 1
    max_replicas: int = 3
    scale_up_window_s: float = 0.0
    scale_down_window_s: float = 30.0
    interval_s: float = 5.0
    drain_s: float = 2.0
    balance: Balance = "least_conn"


@dataclass(frozen=True, slots=True, kw_only=True)
class ScalabilityParams:
    seed: int = 0
    confidence: float = 0.95
    request_timeout_s: float = 30.0
    sample_interval_s: float = 1.0  # server CPU/memory and /metrics during the step loads
    probe_interval_s: float = 0.25  # event-loop probe period
    ready_timeout_s: float = 300.0  # seconds a configuration's processes may take to load the model
    # Seconds each closed stage (a document count of the vertical sweep) may take; it stops there and keeps
    # what it measured. null: no bound (the step loads are bounded by steps.step_s and the request timeout).
    stage_budget_s: float | None = None
    slo: SloParams = field(default_factory=SloParams)
    requests: RequestParams = field(default_factory=RequestParams)
    steps: StepParams = field(default_factory=StepParams)
    workers: WorkersParams = field(default_factory=WorkersParams)
    instances: InstancesParams = field(default_factory=InstancesParams)
    vertical: VerticalParams = field(default_factory=VerticalParams)
    autoscale: AutoscaleParams = field(default_factory=AutoscaleParams)
    target: TargetParams = field(default_factory=TargetParams)
    # The PRD's targets: the capacity (load.throughput_rps, within load.p95_ms) is judged on the step loads.
    thresholds_file: str = "parameters/thresholds.yaml"

    def __post_init__(self) -> None:
        s, v, r, a = self.steps, self.vertical, self.requests, self.autoscale
        checks = [
            ("confidence", 0.5 <= self.confidence < 1, "between 0.5 and 1"),
            ("request_timeout_s", self.request_timeout_s > 0, "a positive number of seconds"),
            ("stage_budget_s", self.stage_budget_s is None or self.stage_budget_s > 0, "a positive number or null"),
            ("sample_interval_s", self.sample_interval_s > 0, "a positive number of seconds"),
            ("probe_interval_s", self.probe_interval_s > 0, "a positive number of seconds"),
            ("ready_timeout_s", self.ready_timeout_s > 0, "a positive number of seconds"),
            ("slo.p95_ms", self.slo.p95_ms > 0, "a positive number of milliseconds"),
            ("slo.success", 0 < self.slo.success <= 1, "a fraction in (0, 1]"),
            ("steps.rates_rps", all(x > 0 for x in s.rates_rps), "positive requests per second"),
            ("steps.start_rps", s.start_rps > 0, "a positive number of requests per second"),
            ("steps.factor", s.factor > 1, "more than 1"),
            ("steps.max_steps", 1 <= s.max_steps <= 100, "1 to 100"),
            ("steps.step_s", s.step_s > 0, "a positive number of seconds"),
            ("steps.pause_s", s.pause_s >= 0, "0 or more seconds"),
            ("steps.max_in_flight", s.max_in_flight >= 1, "at least 1"),
            ("steps.steps_past_break", s.steps_past_break >= 0, "0 or more"),
            ("steps.windows", 1 <= s.windows <= 50, "1 to 50"),
            ("requests.pool_size", 1 <= r.pool_size <= 10_000, "1 to 10000"),
            ("requests.zipf_exponent", r.zipf_exponent >= 0, "0 or more"),
            ("requests.warmup_requests", r.warmup_requests >= 0, "0 or more"),
            ("workers.counts", all(1 <= n <= 16 for n in self.workers.counts), "each 1 to 16"),
            ("instances.counts", all(1 <= n <= 16 for n in self.instances.counts), "each 1 to 16"),
            (
                "instances.balance",
                bool(self.instances.balance) or not self.instances.counts,
                "at least one policy when instances.counts is given",
            ),
            ("instances.keepalive", self.instances.keepalive >= 1, "at least 1"),
            ("instances.nginx_workers", 1 <= self.instances.nginx_workers <= 16, "1 to 16"),
            ("vertical.documents", all(1 <= n <= 1000 for n in v.documents), "each 1 to 1000"),
            ("vertical.document_requests", v.document_requests >= 1, "at least 1"),
            ("vertical.torch_threads", all(1 <= n <= 64 for n in v.torch_threads), "each 1 to 64"),
            ("vertical.threads_users", v.threads_users >= 1, "at least 1"),
            ("vertical.threads_requests", v.threads_requests >= 1, "at least 1"),
            ("vertical.qubits", all(q in (2, 3, 4) for q in v.qubits), "each 2, 3 or 4"),
            ("vertical.shots", all(1 <= n <= 1_000_000 for n in v.shots), "each 1 to 1000000"),
            ("vertical.aer_documents", 1 <= v.aer_documents <= 1000, "1 to 1000"),
            ("vertical.aer_requests", v.aer_requests >= 1, "at least 1"),
            ("vertical.sample_interval_s", v.sample_interval_s > 0, "a positive number of seconds"),
            (
                "autoscale.rates_rps",
                bool(a.rates_rps) and all(x > 0 for x in a.rates_rps),
                "at least one positive rate in requests per second",
            ),
            ("autoscale.phase_s", a.phase_s > 0, "a positive number of seconds"),
            ("autoscale.target_cpu", a.target_cpu > 0, "a positive share of cores_per_instance"),
            ("autoscale.cores_per_instance", a.cores_per_instance > 0, "a positive number of cores"),
            ("autoscale.tolerance", 0 <= a.tolerance < 1, "between 0 and 1"),
            ("autoscale.min_replicas", 1 <= a.min_replicas <= a.max_replicas, "1 to autoscale.max_replicas"),
            ("autoscale.max_replicas", a.max_replicas <= 16, "at most 16"),
            ("autoscale.scale_up_window_s", a.scale_up_window_s >= 0, "0 or more seconds"),
            ("autoscale.scale_down_window_s", a.scale_down_window_s >= 0, "0 or more seconds"),
            ("autoscale.interval_s", 0 < a.interval_s <= a.phase_s, "positive and at most autoscale.phase_s"),
            ("autoscale.drain_s", a.drain_s >= 0, "0 or more seconds"),
            ("target.qubits", self.target.qubits in (2, 3, 4), "2, 3 or 4"),
            (
                "target.max_concurrency",
                self.target.max_concurrency is None or self.target.max_concurrency >= 1,
                "at least 1, or null for the service's default",
            ),
        ]
        for key, ok, valid in checks:
            if not ok:
                raise ParameterError(f"{key} is invalid ({_dotted(self, key)!r}); it must be {valid}.")
        for key, weights, valid in (("requests.mix", r.mix, tuple(KINDS)), ("requests.methods", r.methods, METHODS)):
            unknown = sorted(set(weights) - set(valid))
            if unknown or not weights:
                raise ParameterError(
                    f"{key} has unknown or no names {unknown}; it takes weights for {', '.join(valid)}."
                )
            if abs(sum(weights.values()) - 1.0) > 1e-6 or any(w < 0 for w in weights.values()):
                raise ParameterError(
                    f"{key} must hold non-negative weights summing to 1; they sum to {sum(weights.values()):.6g}."
                )


def _dotted(obj: Any, key: str) -> Any:
    for part in key.split("."):
        obj = getattr(obj, part, None)
    return obj
