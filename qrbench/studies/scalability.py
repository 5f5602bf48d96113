"""The scalability study: how a QuantumRerank service scales, where it stops, and what a fitted model says past
this machine.

Vertical: latency and throughput against torch threads, the document count per request (with the cost's
growth fitted), qubits and shots on the aer backend, and memory against the document count. Horizontal:
``qrbench serve --workers N``, and N single-worker instances on loopback ports behind nginx (round robin and
least connections), each instance's share of the requests and its cache hit rates read from its own
/metrics. Every configuration gets a step load (open model, one short constant rate per step, stopped once
the SLO breaks) that finds the highest arrival rate still meeting the SLO; the analysis
(`scalability_analysis`) fits the Universal Scalability Law to throughput against N.

Requests: a base pool from the data manager (mix, methods, document length), each request sent with a new
query (`fresh_queries`: production queries are nearly all unique, so every request embeds its query) over
documents that recur. Before a configuration is measured, every one of its processes has the pool's
documents in its embedding cache (caches are per process), so the steps measure the steady state of a
service whose popular documents are cached, not how fast it fills its caches.

`ScalabilityParams.from_file` validates a parameter file; `run_scalability` measures into a run folder:

    machine.json       calibration timings (noise), cpu count, memory
    scenario.json      the parameters
    configs.json       every configuration: name, axis, n, balance, folder, status (ok/failed) and error, timings
    vertical/          stages.json and stages/<stage>/ (qrbench.studies.stages layout), vertical.json (the target
                       settings of each stage group), server-<group>.parquet (server process samples)
    configs/<name>/    target.json, warmup.json, steps.json (per step: rate, folder, driver result, each
                       instance's /metrics before and after), steps/<i>/ (driver runs), server.parquet (the
                       processes: label, t_unix, cpu_percent, rss_bytes, ...), metrics.parquet, probe.parquet
                       (event-loop probe: GET /health/live latency), nginx/ (instances only), target-<i>.log

A multi-worker service (``--workers N``) shares one port: each worker has its own /metrics registry and a
scrape reaches one of them at random, so its /metrics describe one worker, not the service. Per-instance
shares come from the nginx configurations, where every instance has its own port.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
import numpy as np
import pandas as pd
import psutil

from ..errors import ParameterError, QrbenchError
from ..load import (
    KINDS,
    METHODS,
    ClosedModel,
    DataManager,
    OpenModel,
    RequestSpec,
    check_target,
    cycle_source,
    load_records,
    load_run_info,
    run_load,
)
from ..load.data import LENGTHS
from ..load.nginx import NginxBalancer
from ..monitor import MetricsSampler, ProcessSampler, calibration_timings, pid_listening_on, scrape
from ..params import build, load_yaml, to_dict
from ..target import EmbeddedTarget, EngineSettings
from .stages import StageRunner
from .target import Target, TargetParams

__all__ = ["ScalabilityParams", "SloParams", "StepParams", "RequestParams", "WorkersParams", "InstancesParams",
           "VerticalParams", "run_scalability", "fresh_query", "CONFIGS_DIR", "VERTICAL_DIR"]

CONFIGS_DIR = "configs"
VERTICAL_DIR = "vertical"
Method = Literal["classical", "quantum", "hybrid"]
Balance = Literal["round_robin", "least_conn"]


@dataclass(frozen=True, slots=True, kw_only=True)
class SloParams:
    """The service-level objective a step must meet: p95 latency (ms, from the intended send time) and the
    share of successful requests."""

    p95_ms: float = 500.0
    success: float = 0.99


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
        """The planned rates in requests per second."""
        if self.rates_rps:
            return tuple(float(r) for r in self.rates_rps)
        return tuple(self.start_rps * self.factor**i for i in range(self.max_steps))


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestParams:
    """What the step loads send: a base pool of pool_size requests (kinds and methods by weight, documents of
    the given length level), each sent with a new query when fresh_queries."""

    mix: dict[str, float] = field(default_factory=lambda: {"similarity": 0.5, "rerank_small": 0.5})
    methods: dict[str, float] = field(default_factory=lambda: {"classical": 1 / 3, "quantum": 1 / 3,
                                                               "hybrid": 1 / 3})
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
    """One process, one resource at a time (empty lists skip a part).

    documents: candidates per rerank; document_requests reranks each, one at a time, over the same cached
    documents (each with a new query). torch_threads: the embedding model's threads; threads_users closed-
    model users send threads_requests reranks of 10 cached documents with new queries. qubits (at the
    target's shots) and shots (at the target's qubits): the aer backend, aer_requests quantum reranks of
    aer_documents documents, one at a time.
    """

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
class ScalabilityParams:
    seed: int = 0
    confidence: float = 0.95
    request_timeout_s: float = 30.0
    sample_interval_s: float = 1.0  # server CPU/memory and /metrics during the step loads
    probe_interval_s: float = 0.25  # event-loop probe period
    ready_timeout_s: float = 300.0  # seconds a configuration's processes may take to load the model
    slo: SloParams = field(default_factory=SloParams)
    requests: RequestParams = field(default_factory=RequestParams)
    steps: StepParams = field(default_factory=StepParams)
    workers: WorkersParams = field(default_factory=WorkersParams)
    instances: InstancesParams = field(default_factory=InstancesParams)
    vertical: VerticalParams = field(default_factory=VerticalParams)
    target: TargetParams = field(default_factory=TargetParams)

    def __post_init__(self) -> None:
        s, v, r = self.steps, self.vertical, self.requests
        checks = [
            ("confidence", 0.5 <= self.confidence < 1, "between 0.5 and 1"),
            ("request_timeout_s", self.request_timeout_s > 0, "a positive number of seconds"),
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
            ("instances.balance", bool(self.instances.balance) or not self.instances.counts,
             "at least one policy when instances.counts is given"),
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
            ("target.qubits", self.target.qubits in (2, 3, 4), "2, 3 or 4"),
            ("target.max_concurrency", self.target.max_concurrency >= 1, "at least 1"),
        ]  # fmt: skip
        for key, ok, valid in checks:
            if not ok:
                raise ParameterError(f"{key} is invalid ({_dotted(self, key)!r}); it must be {valid}.")
        for key, weights, valid in (("requests.mix", r.mix, tuple(KINDS)), ("requests.methods", r.methods, METHODS)):
            unknown = sorted(set(weights) - set(valid))
            if unknown or not weights:
                raise ParameterError(f"{key} has unknown or no names {unknown}; it takes weights for "
                                     f"{', '.join(valid)}.")
            if abs(sum(weights.values()) - 1.0) > 1e-6 or any(w < 0 for w in weights.values()):
                raise ParameterError(f"{key} must hold non-negative weights summing to 1; they sum to "
                                     f"{sum(weights.values()):.6g}.")

    @classmethod
    def from_file(cls, path: str | Path) -> ScalabilityParams:
        """Read and validate a parameter file; errors name the file and the key."""
        return build(cls, load_yaml(path), where=str(path))


def _dotted(obj: Any, key: str) -> Any:
    for part in key.split("."):
        obj = getattr(obj, part, None)
    return obj


# ------------------------------------------------------------------------------------------- requests


def fresh_query(spec: RequestSpec, tag: str) -> RequestSpec:
    """The same request with its query made a new text (a tag appended): no cache knows it, its documents
    stay the same."""
    payload = json.loads(spec.body)
    for key in ("query", "text1"):
        if key in payload:
            payload[key] = f"{payload[key]} [{tag}]"
    return RequestSpec.from_payload(kind=spec.kind, endpoint=spec.endpoint, payload=payload)


def _texts(specs: Sequence[RequestSpec], *, queries: bool) -> list[str]:
    """Distinct documents (and queries) of the specs, in first-seen order: what a cache warm-up embeds."""
    seen: dict[str, None] = {}
    for spec in specs:
        payload = json.loads(spec.body)
        for text in payload.get("candidates", []) + ([payload["text2"]] if "text2" in payload else []):
            seen.setdefault(text, None)
        if queries:
            seen.setdefault(payload.get("query") or payload.get("text1"), None)
    return list(seen)


def _step_specs(base: Sequence[RequestSpec], count: int, *, offset: int, tag: str, fresh: bool) -> list[RequestSpec]:
    picked = [base[(offset + j) % len(base)] for j in range(count)]
    return [fresh_query(s, f"{tag}.{j}") for j, s in enumerate(picked)] if fresh else picked


# ------------------------------------------------------------------------------------------- helpers


def _write_json(path: Path, value: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(value, indent=1, default=str) + "\n")
    os.replace(tmp, path)


def _settings(target: TargetParams, **changes: Any) -> EngineSettings:
    base = EngineSettings(backend=target.backend, qubits=target.qubits, shots=target.shots,
                          torch_threads=target.torch_threads, aer_threads=target.aer_threads,
                          max_concurrency=target.max_concurrency, api_key=target.api_key)
    return base.with_changes(**changes) if changes else base


def wait_all_ready(url: str, processes: int, *, timeout_s: float, headers: dict[str, str] | None = None) -> None:
    """Wait until /health/ready answers 200 on 4 x `processes` new connections in a row.

    A multi-worker service shares one port and each worker loads its model on its own; one 200 says only
    that one worker is ready. New connections land on workers at random, so a run of successes across many
    makes it unlikely that a worker is still loading.
    """
    deadline = time.monotonic() + timeout_s
    streak = 0
    while time.monotonic() < deadline:
        try:
            ok = httpx.get(url + "/health/ready", timeout=5.0, headers=headers).status_code == 200
        except httpx.HTTPError:
            ok = False
        streak = streak + 1 if ok else 0
        if streak >= 4 * processes:
            return
        time.sleep(0.05 if ok else 0.5)
    raise QrbenchError(f"Not every worker of {url} was ready within {timeout_s:g} s.")


def warm_caches(url: str, texts: Sequence[str], *, passes: int = 1, batch: int = 200, timeout_s: float = 600.0,
                headers: dict[str, str] | None = None) -> dict[str, Any]:
    """Embed `texts` into the service's caches: classical reranks of up to `batch` candidates, each on a new
    connection, `passes` times (a multi-worker service needs several: each pass lands on some worker).
    Returns seconds taken and requests sent."""
    t0 = time.perf_counter()
    sent = 0
    chunks = [list(texts[i:i + batch]) for i in range(0, len(texts), batch)]
    for _ in range(passes):
        for chunk in chunks:
            body = {"query": "cache warm-up", "candidates": chunk, "top_k": 1, "method": "classical"}
            r = httpx.post(url + "/v1/rerank", json=body, timeout=timeout_s, headers=headers)
            if r.status_code != 200:
                raise QrbenchError(f"The cache warm-up of {url} failed with HTTP {r.status_code}: {r.text[:200]}")
            sent += 1
    return {"seconds": time.perf_counter() - t0, "requests": sent, "texts": len(texts), "passes": passes}


class _LoopProbe:
    """GET /health/live every interval_s on one kept-alive connection: its latency is how long the service's
    event loop (and, behind nginx, the balancer) takes to answer a request that computes nothing."""

    def __init__(self, url: str, interval_s: float, headers: dict[str, str] | None) -> None:
        self.url, self.interval_s, self.headers = url, interval_s, headers
        self.rows: list[dict[str, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="loop-probe", daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=10.0, headers=self.headers) as client:
            while not self._stop.wait(self.interval_s):
                t_unix, t = time.time(), time.perf_counter()
                try:
                    ok = client.get(self.url + "/health/live").status_code == 200
                except httpx.HTTPError:
                    ok = False
                self.rows.append({"t_unix": t_unix, "latency_ms": (time.perf_counter() - t) * 1000, "ok": ok})

    def __enter__(self) -> _LoopProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(15)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=["t_unix", "latency_ms", "ok"])


@contextlib.contextmanager
def _monitored(folder: Path, pids: dict[str, int], url: str, params: ScalabilityParams,
               headers: dict[str, str]) -> Iterator[None]:
    """Server processes, /metrics and the event-loop probe sampled while the body runs; written on exit."""
    samplers = {label: ProcessSampler(pid, interval_s=params.sample_interval_s) for label, pid in pids.items()}
    metrics = MetricsSampler(url, interval_s=params.sample_interval_s, headers=headers or None)
    probe = _LoopProbe(url, params.probe_interval_s, headers or None)
    with contextlib.ExitStack() as stack:
        for s in samplers.values():
            stack.enter_context(s)
        stack.enter_context(metrics)
        stack.enter_context(probe)
        try:
            yield
        finally:
            stack.close()
            frames = [s.frame().assign(process=label) for label, s in samplers.items()]
            frames = [f for f in frames if len(f)]
            if frames:
                pd.concat(frames, ignore_index=True).to_parquet(folder / "server.parquet")
            metrics.frame().to_parquet(folder / "metrics.parquet")
            probe.frame().to_parquet(folder / "probe.parquet")


@contextlib.contextmanager
def _targets(settings: EngineSettings, n: int, folder: Path, *, workers: int = 1,
             ready_timeout_s: float) -> Iterator[list[EmbeddedTarget]]:
    """n embedded services started in parallel (each its own port), all stopped on exit or on a failed start."""
    folder.mkdir(parents=True, exist_ok=True)
    targets = [EmbeddedTarget(settings, workers=workers, ready_timeout_s=ready_timeout_s,
                              log_path=folder / f"target-{i}.log") for i in range(n)]
    try:
        with ThreadPoolExecutor(max_workers=n) as pool:
            for future in [pool.submit(t.start) for t in targets]:
                future.result()
        yield targets
    finally:
        for t in targets:
            t.stop()


class _Index:
    """configs.json: one entry per configuration, rewritten as each one starts and ends."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / "configs.json"
        self.entries: list[dict[str, Any]] = []

    def add(self, **entry: Any) -> dict[str, Any]:
        self.entries.append({"status": "running", "error": "", **entry})
        _write_json(self.path, self.entries)
        return self.entries[-1]

    def update(self, entry: dict[str, Any], **changes: Any) -> None:
        entry.update(changes)
        _write_json(self.path, self.entries)

    def fail(self, *, name: str, error: str, **entry: Any) -> None:
        """Mark configuration `name` failed, adding it if it never started."""
        found = next((e for e in self.entries if e["name"] == name), None)
        if found is None:
            found = self.add(name=name, **entry)
        if found["status"] != "ok":
            self.update(found, status="failed", error=error)


# ------------------------------------------------------------------------------------------- the run


@dataclass(slots=True)
class _Study:
    params: ScalabilityParams
    run_dir: Path
    progress: bool
    data: DataManager
    base: list[RequestSpec]
    index: _Index
    headers: dict[str, str]

    @property
    def p(self) -> ScalabilityParams:
        return self.params

    # ---- one configuration: warm-up, then the step load

    def configuration(self, name: str, *, axis: str, n: int, balance: str = "", entry_url: str,
                      processes: dict[str, int], share_urls: dict[str, str], warm: list[tuple[str, int]],
                      started_s: float, monitor_url: str | None = None, extra: dict[str, Any] | None = None) -> None:
        """Warm every process's caches, then run the step load against entry_url under the monitors.

        warm: (url, passes) per cache-holding endpoint. share_urls: label -> URL whose /metrics is scraped
        before and after every step (each instance; for a multi-worker service, the shared port).
        monitor_url: where the /metrics sampler and the event-loop probe go (default entry_url). Behind nginx
        it is one instance, directly: monitoring requests through a round-robin balancer take turns with the
        load's and skew its shares (measured here: a probe every 0.25 s and a 6 req/s load phase-locked into a
        2-to-22 split).
        """
        folder = self.run_dir / CONFIGS_DIR / name
        folder.mkdir(parents=True, exist_ok=True)
        entry = self.index.add(name=name, axis=axis, n=n, balance=balance, dir=str(folder.relative_to(self.run_dir)),
                               started_s=started_s, **(extra or {}))
        try:
            _write_json(folder / "target.json", {"url": entry_url, "processes": processes, "instances": share_urls,
                                                  "axis": axis, "n": n, "balance": balance,
                                                  "settings": to_dict(self.p.target), **(extra or {})})
            texts = _texts(self.base, queries=not self.p.requests.fresh_queries)
            t_warm = time.perf_counter()
            with ThreadPoolExecutor(max_workers=max(1, len(warm))) as pool:
                warmups = [f.result() for f in [pool.submit(warm_caches, u, texts, passes=k, headers=self.headers,
                                                             timeout_s=max(600.0, self.p.request_timeout_s))
                                                 for u, k in warm]]
            if self.p.requests.warmup_requests:
                specs = _step_specs(self.base, self.p.requests.warmup_requests, offset=0, tag=f"{name}.w",
                                    fresh=self.p.requests.fresh_queries)
                run_load(entry_url, cycle_source(specs), ClosedModel(users=2, iterations=max(1, len(specs) // 2)),
                         out_dir=folder / "warmup", stage="warmup", timeout_s=self.p.request_timeout_s,
                         progress=False, headers=self.headers, allow_remote=True)
            warm_s = time.perf_counter() - t_warm  # wall time: the senders run in parallel
            _write_json(folder / "warmup.json", {"seconds": warm_s, "senders": warmups})
            with _monitored(folder, processes, monitor_url or entry_url, self.p, self.headers):
                self.step_load(name, entry_url, folder, share_urls)
            self.index.update(entry, status="ok", warmup_s=warm_s)
        except (QrbenchError, httpx.HTTPError, OSError) as exc:
            # One configuration that fails (a target that will not start, a step that errs) is data: the
            # study goes on with the others, and the report says what failed and why.
            self.index.update(entry, status="failed", error=f"{type(exc).__name__}: {exc}")

    def step_load(self, name: str, url: str, folder: Path, share_urls: dict[str, str]) -> list[dict[str, Any]]:
        from .scalability_analysis import step_summary

        s = self.p.steps
        steps: list[dict[str, Any]] = []
        broke = 0
        offset = 0
        for i, rate in enumerate(s.rates()):
            count = math.ceil(rate * s.step_s * 1.25) + 10
            specs = _step_specs(self.base, count, offset=offset, tag=f"{name}.{i}",
                                fresh=self.p.requests.fresh_queries)
            offset += count
            before = {label: scrape(u, headers=self.headers) for label, u in share_urls.items()}
            step_dir = folder / "steps" / f"{i:02d}"
            model = OpenModel(rate_rps=rate, duration_s=s.step_s, arrivals=s.arrivals, max_in_flight=s.max_in_flight,
                              seed=self.p.seed * 1000 + i)
            result = run_load(url, cycle_source(specs), model, out_dir=step_dir, stage=f"{name} {rate:g} rps",
                              timeout_s=self.p.request_timeout_s, progress=self.progress, headers=self.headers,
                              allow_remote=True)  # the target was checked when it was opened
            after = {label: scrape(u, headers=self.headers) for label, u in share_urls.items()}
            summary = step_summary(load_records(step_dir), duration_s=s.step_s, slo=self.p.slo,
                                   confidence=self.p.confidence)
            steps.append({"step": i, "rate_rps": rate, "dir": str(step_dir.relative_to(folder)),
                          "t0_unix": load_run_info(step_dir)["t0_unix"], "duration_s": s.step_s,
                          "meets_slo": summary["meets"], "result": result.to_dict(),
                          "metrics_before": before, "metrics_after": after})
            _write_json(folder / "steps.json", steps)
            broke = 0 if summary["meets"] else broke + 1
            if broke > s.steps_past_break:
                break
            time.sleep(s.pause_s)
        return steps

    # ---- vertical

    def vertical_documents(self, target: Target, sampler_interval_s: float) -> None:
        v = self.p.vertical
        if not v.documents:
            return
        rng = np.random.default_rng(self.p.seed + 7)
        need = max(v.documents)
        # The step load's documents first (one warm-up serves both), then more of the same length level.
        docs = _texts(self.base, queries=False)[:need]
        if len(docs) < need:
            length = self.p.requests.length if need <= _length_count(self.data, self.p.requests.length) else "any"
            more = [d.text[:5000] for d in self.data.sample_documents(need, rng=rng, length=length)]
            docs += [d for d in more if d not in set(docs)][: need - len(docs)]
        queries = self.data.queries
        warm_caches(target.url, docs, headers=self.headers, timeout_s=max(600.0, self.p.request_timeout_s))
        runner = StageRunner(target, self.run_dir / VERTICAL_DIR, self.p.request_timeout_s, self.progress)
        sampler = ProcessSampler(target.pid, interval_s=sampler_interval_s) if target.pid else None
        with sampler or contextlib.nullcontext():
            for n in v.documents:
                specs = []
                for j in range(v.document_requests):
                    q = queries[int(rng.integers(len(queries)))].text[:4000]
                    payload = {"query": f"{q} [d{n}.{j}]", "candidates": docs[:n], "top_k": min(10, n),
                               "method": v.method}
                    specs.append(RequestSpec.from_payload(kind=f"documents_{n}", endpoint="/v1/rerank",
                                                          payload=payload))
                runner.run(f"documents/{n}", specs)
        if sampler is not None:
            sampler.frame().to_parquet(self.run_dir / VERTICAL_DIR / "server-documents.parquet")

    def vertical_settings(self) -> None:
        """torch threads, qubits and shots: one target per distinct setting, a short closed run each."""
        v, t = self.p.vertical, self.p.target
        groups: dict[tuple, list[str]] = {}
        for n in v.torch_threads:
            groups.setdefault(("torch_threads", n, t.backend, t.qubits, t.shots), []).append(f"threads/{n}")
        for q in v.qubits:
            groups.setdefault(("aer", None, "aer", q, t.shots), []).append(f"qubits/{q}")
        for shots in v.shots:
            groups.setdefault(("aer", None, "aer", t.qubits, shots), []).append(f"shots/{shots}")
        record = []
        rng = np.random.default_rng(self.p.seed + 11)
        for (kind, threads, backend, qubits, shots), stages in groups.items():
            changes: dict[str, Any] = {"backend": backend, "qubits": qubits, "shots": shots}
            if threads is not None:
                changes["torch_threads"] = threads
            n_docs = v.aer_documents if kind == "aer" else 10
            docs = [d.text[:5000] for d in self.data.sample_documents(n_docs, rng=rng,
                                                                      length=self.p.requests.length)]
            users = v.threads_users if kind == "torch_threads" else 1
            count = v.threads_requests if kind == "torch_threads" else v.aer_requests
            method = v.method if kind == "torch_threads" else "quantum"
            entry = {"stages": stages, "settings": changes, "users": users, "requests": count, "error": ""}
            record.append(entry)
            try:
                with _targets(_settings(self.p.target, **changes), 1, self.run_dir / VERTICAL_DIR / "logs",
                              ready_timeout_s=self.p.ready_timeout_s) as (target,):
                    warm_caches(target.url, docs, headers=self.headers)
                    runner = StageRunner(Target(url=target.url, pid=target.pid, embedded=True, headers=self.headers),
                                         self.run_dir / VERTICAL_DIR, self.p.request_timeout_s, self.progress)
                    for stage in stages:
                        specs = [RequestSpec.from_payload(kind=stage.replace("/", "_"), endpoint="/v1/rerank", payload={
                            "query": f"{self.data.queries[int(rng.integers(len(self.data.queries)))].text[:4000]} "
                                     f"[{stage}.{j}]",
                            "candidates": docs, "top_k": min(10, n_docs), "method": method})
                            for j in range(count)]  # fmt: skip
                        runner.run(stage, specs, users=users)
            except (QrbenchError, httpx.HTTPError, OSError) as exc:
                entry["error"] = f"{type(exc).__name__}: {exc}"
            _write_json(self.run_dir / VERTICAL_DIR / "vertical.json", record)


def _length_count(data: DataManager, length: str) -> int:
    lo, hi = LENGTHS[length]
    return sum(1 for d in data.documents if lo <= d.n_words <= hi)


def run_scalability(params: ScalabilityParams, run_dir: str | Path, *, url: str | None = None,
                    progress: bool = True) -> Path:
    """Measure every part of the study into run_dir (layout in the module docstring); returns run_dir.

    url: a running service (then only it is measured: the document sweep and one step load; the study
    cannot start workers or instances of a service it did not start). Every target, nginx and sampler is
    stopped when its part ends, also when it failed; a configuration that fails is recorded in configs.json
    and the study goes on.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    p = params
    r = p.requests
    url = url or p.target.url
    if url:
        url = check_target(url, allow_remote=p.target.allow_remote)
    data = DataManager.from_dir(seed=p.seed, zipf_exponent=r.zipf_exponent)
    base = list(data.mix_sampler(r.mix, r.methods, seed=p.seed, pool_size=r.pool_size, length=r.length))
    noise = calibration_timings()
    _write_json(run_dir / "machine.json", {"calibration_s": noise.tolist(), "cpus": os.cpu_count(),
                                           "usable_cpus": len(os.sched_getaffinity(0)),
                                           "memory_bytes": psutil.virtual_memory().total})
    _write_json(run_dir / "scenario.json", to_dict(p))
    (run_dir / VERTICAL_DIR).mkdir(exist_ok=True)
    headers = {"X-API-Key": p.target.api_key} if p.target.api_key else {}
    study = _Study(params=p, run_dir=run_dir, progress=progress, data=data, base=base, index=_Index(run_dir),
                   headers=headers)
    settings = _settings(p.target)
    if url:
        parts = urlsplit(url)
        local = (parts.hostname or "").startswith("127.") or parts.hostname in ("localhost", "::1")
        pid = pid_listening_on(parts.port or 80) if local else None
        target = Target(url=url, pid=pid, embedded=False, headers=headers)
        study.vertical_documents(target, p.vertical.sample_interval_s)
        study.configuration("given", axis="given", n=1, entry_url=url, processes={"service": pid} if pid else {},
                            share_urls={"service": url}, warm=[(url, 1)], started_s=0.0)
        return run_dir

    # Vertical by document count and workers=1 share one target (one model load fewer).
    counts = sorted(set(p.workers.counts))
    if p.vertical.documents or 1 in counts:
        _one_target(study, settings, 1, documents=bool(p.vertical.documents), step_load=1 in counts)
    study.vertical_settings()
    for n in [c for c in counts if c > 1]:
        _one_target(study, settings, n, documents=False, step_load=True)
    if p.instances.counts:
        _instances(study, settings)
    return run_dir


def _one_target(study: _Study, settings: EngineSettings, workers: int, *, documents: bool, step_load: bool) -> None:
    p = study.p
    name = f"workers-{workers}"
    folder = study.run_dir / CONFIGS_DIR / name
    t0 = time.perf_counter()
    try:
        with _targets(settings, 1, folder, workers=workers, ready_timeout_s=p.ready_timeout_s) as (target,):
            wait_all_ready(target.url, workers, timeout_s=p.ready_timeout_s, headers=study.headers)
            started = time.perf_counter() - t0
            if documents:
                try:
                    study.vertical_documents(Target(url=target.url, pid=target.pid, embedded=True,
                                                    headers=study.headers), p.vertical.sample_interval_s)
                except (QrbenchError, httpx.HTTPError, OSError) as exc:
                    _write_json(study.run_dir / VERTICAL_DIR / "documents-error.json",
                                {"error": f"{type(exc).__name__}: {exc}"})
            if step_load:
                # Each worker holds its own caches and a warm-up pass lands on one worker at random: N parallel
                # senders of 3 passes each, so the workers warm at the same time and all of them very likely do.
                study.configuration(name, axis="workers", n=workers, entry_url=target.url,
                                    processes={"service": target.pid}, share_urls={"service": target.url},
                                    warm=[(target.url, 1 if workers == 1 else 3)] * workers, started_s=started)
    except (QrbenchError, httpx.HTTPError, OSError) as exc:  # the target did not start
        error = f"{type(exc).__name__}: {exc}"
        if step_load:
            study.index.fail(name=name, axis="workers", n=workers, balance="",
                             dir=str(folder.relative_to(study.run_dir)), error=error)
        if documents:
            _write_json(study.run_dir / VERTICAL_DIR / "documents-error.json", {"error": error})


def _instances(study: _Study, settings: EngineSettings) -> None:
    p = study.p
    inst = p.instances
    largest = max(inst.counts)
    t0 = time.perf_counter()
    plan = [(n, balance) for n in sorted(set(inst.counts)) for balance in inst.balance
            if n > 1 or balance == inst.balance[0]]  # one instance: every policy is the same
    try:
        with _targets(settings, largest, study.run_dir / CONFIGS_DIR / "instances", ready_timeout_s=p.ready_timeout_s
                      ) as targets:
            started = time.perf_counter() - t0
            for n, balance in plan:
                name = f"instances-{n}-{balance}"
                members = targets[:n]
                try:
                    with NginxBalancer([t.url for t in members], run_dir=study.run_dir / CONFIGS_DIR / name,
                                       balance=balance, keepalive=inst.keepalive, access_log=inst.access_log,
                                       worker_processes=inst.nginx_workers, timeout_s=p.request_timeout_s + 5,
                                       ready_timeout_s=30.0) as nginx:
                        processes = {f"instance-{i}": t.pid for i, t in enumerate(members)}
                        processes["nginx"] = nginx.pid
                        study.configuration(
                            name, axis="instances", n=n, balance=balance, entry_url=nginx.url, processes=processes,
                            share_urls={f"instance-{i}": t.url for i, t in enumerate(members)},
                            warm=[(t.url, 1) for t in members], started_s=started, monitor_url=members[0].url,
                            extra={"nginx_conf": str(nginx.config_path.relative_to(study.run_dir))},
                        )  # fmt: skip
                except (QrbenchError, OSError) as exc:  # nginx itself failed to start
                    study.index.fail(name=name, axis="instances", n=n, balance=balance, dir=f"{CONFIGS_DIR}/{name}",
                                     error=f"{type(exc).__name__}: {exc}")
    except (QrbenchError, httpx.HTTPError, OSError) as exc:  # the instances did not start
        for n, balance in plan:
            study.index.fail(name=f"instances-{n}-{balance}", axis="instances", n=n, balance=balance,
                             dir=f"{CONFIGS_DIR}/instances-{n}-{balance}", error=f"{type(exc).__name__}: {exc}")
