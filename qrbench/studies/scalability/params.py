"""The scalability study's parameters (parameters/scalability.yaml) and its run folder's sub-folders."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ...deploy import TargetParams
from ...load import KINDS, METHODS
from ...params import TARGET_RULES, require, rule, validate

CONFIGS_DIR = "configs"
VERTICAL_DIR = "vertical"
AUTOSCALE_DIR = "autoscale"
Method = Literal["classical", "quantum", "hybrid"]
Balance = Literal["round_robin", "least_conn"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SloParams:
    """The service-level objective a step must meet: p95 latency (ms, from the intended send time) and the
    share of successful requests."""

    p95_ms: float = rule(500.0, gt=0)
    success: float = rule(0.99, gt=0, le=1, note="a fraction")

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

    rates_rps: tuple[float, ...] = rule((), gt=0)
    start_rps: float = rule(2.0, gt=0)
    factor: float = rule(1.5, gt=1)
    max_steps: int = rule(10, ge=1, le=100)
    step_s: float = rule(20.0, gt=0)  # seconds per step
    pause_s: float = rule(2.0, ge=0)  # seconds between steps, for work in flight to drain
    arrivals: Literal["poisson", "uniform"] = "poisson"
    max_in_flight: int = rule(256, ge=1)  # sends past this many in flight are recorded as dropped
    steps_past_break: int = rule(0, ge=0)
    # sub-windows of each configuration's peak step: repeated throughput points for the USL fit
    windows: int = rule(4, ge=1, le=50)

    def rates(self) -> tuple[float, ...]:
        if self.rates_rps:
            return tuple(float(r) for r in self.rates_rps)
        return tuple(self.start_rps * self.factor**i for i in range(self.max_steps))


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestParams:
    """What the step loads send: a base pool of pool_size requests (kinds and methods by weight, documents of
    the given length level), each sent with a new query when fresh_queries."""

    mix: dict[str, float] = rule(factory=lambda: {"similarity": 0.5, "rerank_small": 0.5}, weights=tuple(KINDS))
    methods: dict[str, float] = rule(factory=lambda: dict.fromkeys(METHODS, 1 / 3), weights=METHODS)
    length: Literal["any", "short", "long"] = "any"
    pool_size: int = rule(100, ge=1, le=10_000)
    fresh_queries: bool = True
    zipf_exponent: float = rule(1.0, ge=0)
    warmup_requests: int = rule(20, ge=0)  # real requests sent after the cache warm-up, left out of the analysis


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkersParams:
    """`qrbench serve --workers N` for each N of counts (empty: skip)."""

    counts: tuple[int, ...] = rule((1, 2, 4), ge=1, le=16)


@dataclass(frozen=True, slots=True, kw_only=True)
class InstancesParams:
    """N single-worker instances behind nginx for each N of counts and each policy of balance (empty: skip).
    The largest N is started once; a configuration of n instances balances over the first n of them."""

    counts: tuple[int, ...] = rule((1, 2, 4), ge=1, le=16)
    balance: tuple[Balance, ...] = ("round_robin", "least_conn")
    keepalive: int = rule(64, ge=1)  # idle connections nginx keeps open to the instances
    nginx_workers: int = rule(1, ge=1, le=16)  # nginx worker processes
    access_log: bool = True  # nginx's access log in the run folder (which instance answered each request)


@dataclass(frozen=True, slots=True, kw_only=True)
class VerticalParams:
    """One process, one resource at a time (empty lists skip a part): document counts per rerank (cached
    documents, a new query each), torch threads (threads_users closed users, reranks of 10 documents), and qubits
    and shots of the aer backend (aer_requests quantum reranks of aer_documents documents, one at a time)."""

    documents: tuple[int, ...] = rule((10, 25, 50, 100, 250, 500, 1000), ge=1, le=1000)
    document_requests: int = rule(20, ge=1)
    method: Method = "hybrid"
    torch_threads: tuple[int, ...] = rule((1, 2), ge=1, le=64)
    threads_users: int = rule(4, ge=1)
    threads_requests: int = rule(100, ge=1)
    qubits: tuple[int, ...] = rule((2, 3, 4), choices=(2, 3, 4))
    shots: tuple[int, ...] = rule((256, 1024, 4096), ge=1, le=1_000_000)
    aer_documents: int = rule(10, ge=1, le=1000)
    aer_requests: int = rule(20, ge=1)
    sample_interval_s: float = rule(0.25, gt=0)  # server memory sampling during the document sweep


@dataclass(frozen=True, slots=True, kw_only=True)
class AutoscaleParams:
    """Single-worker instances behind nginx, added and removed by the Kubernetes HPA's rule (simulated on this
    machine, not a cluster) on their CPU, while an open-model load steps through rates_rps, phase_s seconds each.
    target_cpu: share of cores_per_instance; interval_s: the control (HPA sync) period; drain_s: seconds a removed
    instance keeps answering what nginx already sent it."""

    enabled: bool = False
    rates_rps: tuple[float, ...] = rule((4.0, 20.0, 4.0), nonempty=True, gt=0)
    phase_s: float = rule(60.0, gt=0)
    target_cpu: float = rule(0.5, gt=0, note="a share of cores_per_instance")
    cores_per_instance: float = rule(1.0, gt=0, unit="cores")
    tolerance: float = rule(0.1, ge=0, lt=1)
    min_replicas: int = rule(1, ge=1)
    max_replicas: int = rule(3, le=16)
    scale_up_window_s: float = rule(0.0, ge=0)
    scale_down_window_s: float = rule(30.0, ge=0)
    interval_s: float = rule(5.0, gt=0)
    drain_s: float = rule(2.0, ge=0)
    balance: Balance = "least_conn"


@dataclass(frozen=True, slots=True, kw_only=True)
class ScalabilityParams:
    seed: int = 0
    confidence: float = rule(0.95, ge=0.5, lt=1)
    request_timeout_s: float = rule(30.0, gt=0)
    sample_interval_s: float = rule(1.0, gt=0)  # server CPU/memory and /metrics during the step loads
    probe_interval_s: float = rule(0.25, gt=0)  # event-loop probe period
    ready_timeout_s: float = rule(300.0, gt=0)  # seconds a configuration's processes may take to load the model
    # Seconds each closed stage (a document count of the vertical sweep) may take; it stops there and keeps
    # what it measured. null: no bound (the step loads are bounded by steps.step_s and the request timeout).
    stage_budget_s: float | None = rule(None, gt=0)
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
        validate(self, TARGET_RULES)
        instances, a = self.instances, self.autoscale
        rules = [
            (
                "instances.balance",
                bool(instances.balance) or not instances.counts,
                "at least one policy when instances.counts is given",
            ),
            ("autoscale.min_replicas", a.min_replicas <= a.max_replicas, "at most autoscale.max_replicas"),
            ("autoscale.interval_s", a.interval_s <= a.phase_s, "at most autoscale.phase_s"),
        ]
        require(self, rules)
