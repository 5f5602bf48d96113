"""The scalability study's measurements: how a QuantumRerank service scales, where it stops.

Vertical: latency and throughput against torch threads, the document count per request, qubits and shots on the
aer backend, and memory against the document count. Horizontal: ``qrbench serve --workers N``, and N single-worker
instances behind nginx (round robin and least connections). Every configuration gets a step load (open model, one
short constant rate per step, stopped once the SLO breaks); analysis.py finds the capacity and fits the USL.

Requests: a base pool from the data manager, each sent with a new query (`fresh_queries`: production queries are
nearly all unique) over documents that recur. Before a configuration is measured every one of its processes has
the pool's documents in its embedding cache (caches are per process): the steps measure the steady state.

A multi-worker service shares one port: each worker has its own /metrics registry and a scrape reaches one at
random, so per-instance shares come from the nginx configurations, where every instance has its own port.

The run folder:

    run.json           the run's facts (studies/folder.py): parameters, machine, versions, engine settings, times
    configs.json       every configuration: name, axis, n, balance, folder, status (ok/failed) and error, timings
    vertical/          stages.json and stages/<stage>/ (studies/stages.py layout), vertical.json (the target
                       settings of each stage group), server-<group>.parquet (server process samples)
    configs/<name>/    target.json, warmup.json, steps.json (per step: rate, folder, driver result, each
                       instance's /metrics before and after), steps/<i>/ (driver runs), server.parquet,
                       metrics.parquet, probe.parquet (GET /health/live latency), nginx/ (instances only)
    autoscale/         autoscale.json (rule, phases, decisions, scaling events, error) and load/ (records)
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd

from ...deploy import (
    NginxBalancer,
    Target,
    engine_settings,
    open_target,
    settings_dict,
    started_targets,
    target_facts,
    wait_all_ready,
)
from ...deploy.autoscale import CpuUtilization, HpaController, HpaRule, InstancePool, run_autoscaler
from ...errors import QrbenchError
from ...load import (
    LENGTHS,
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
from ...monitor import MetricsSampler, ProcessSampler, calibration_timings, scrape
from ...params import to_dict
from ...target import EngineSettings
from ..contention import contention_monitor
from ..folder import RunFolder, write_json
from ..requests import tagged
from ..stages import StageRunner
from .params import AUTOSCALE_DIR, CONFIGS_DIR, VERTICAL_DIR, ScalabilityParams

__all__ = ["run_scalability", "warm_caches"]


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
    return [tagged(s, f"{tag}.{j}") for j, s in enumerate(picked)] if fresh else picked


def _rerank_specs(
    rng: np.random.Generator, queries: Sequence[Any], kind: str, tag: str, docs: list[str], method: str, count: int
) -> list[RequestSpec]:
    """count reranks of `docs`, each with a query drawn from `queries` and tagged new."""
    return [
        RequestSpec.from_payload(
            kind=kind,
            endpoint="/v1/rerank",
            payload={
                "query": f"{queries[int(rng.integers(len(queries)))].text[:4000]} [{tag}.{j}]",
                "candidates": docs,
                "top_k": min(10, len(docs)),
                "method": method,
            },
        )
        for j in range(count)
    ]


def warm_caches(
    url: str,
    texts: Sequence[str],
    *,
    passes: int = 1,
    batch: int = 200,
    timeout_s: float = 600.0,
    headers: dict[str, str] | None = None,
    attempts: int = 3,
) -> dict[str, Any]:
    """Embed `texts` into the service's caches: classical reranks of up to `batch` candidates, each on a new
    connection, `passes` times (each pass lands on some worker). A 5xx is retried up to `attempts` times."""
    t0 = time.perf_counter()
    sent = failed = 0
    chunks = [list(texts[i : i + batch]) for i in range(0, len(texts), batch)]
    for _ in range(passes):
        for chunk in chunks:
            body = {"query": "cache warm-up", "candidates": chunk, "top_k": 1, "method": "classical"}
            for attempt in range(1, attempts + 1):
                r = httpx.post(url + "/v1/rerank", json=body, timeout=timeout_s, headers=headers)
                sent += 1
                if r.status_code == 200:
                    break
                failed += 1
                if r.status_code < 500 or attempt == attempts:
                    raise QrbenchError(
                        f"The cache warm-up of {url} failed with HTTP {r.status_code} "
                        f"(attempt {attempt} of {attempts}): {r.text[:200]}"
                    )
    return {
        "seconds": time.perf_counter() - t0,
        "requests": sent,
        "failed": failed,
        "texts": len(texts),
        "passes": passes,
    }


@contextlib.contextmanager
def _loop_probe(url: str, interval_s: float, headers: dict[str, str] | None, path: str | None) -> Iterator[list]:
    """GET the health path every interval_s on one kept-alive connection, into the yielded rows: how long the
    event loop (and, behind nginx, the balancer) takes to answer a request that computes nothing. path None:
    no probe."""
    rows: list[dict[str, Any]] = []
    stop = threading.Event()

    def probe() -> None:
        with httpx.Client(timeout=10.0, headers=headers) as client:
            while path is not None and not stop.wait(interval_s):
                t_unix, t = time.time(), time.perf_counter()
                try:
                    ok = client.get(url + path).status_code == 200
                except httpx.HTTPError:
                    ok = False
                rows.append({"t_unix": t_unix, "latency_ms": (time.perf_counter() - t) * 1000, "ok": ok})

    thread = threading.Thread(target=probe, name="loop-probe", daemon=True)
    thread.start()
    try:
        yield rows
    finally:
        stop.set()
        thread.join(15)


@contextlib.contextmanager
def _monitored(folder: Path, pids: dict[str, int], url: str, study: _Study) -> Iterator[None]:
    """Server processes, /metrics and the event-loop probe sampled while the body runs; written on exit."""
    p, headers = study.params, study.headers or None
    samplers = {label: ProcessSampler(pid, interval_s=p.sample_interval_s) for label, pid in pids.items()}
    metrics = MetricsSampler(url, interval_s=p.sample_interval_s, headers=headers, names=p.target.metrics)
    with contextlib.ExitStack() as stack:
        for s in samplers.values():
            stack.enter_context(s)
        if study.scrape_metrics:  # a target without /metrics is not scraped (every scrape would be a 404)
            stack.enter_context(metrics)
        probe = stack.enter_context(_loop_probe(url, p.probe_interval_s, headers, study.health_path))
        try:
            yield
        finally:
            stack.close()
            frames = [s.frame().assign(process=label) for label, s in samplers.items()]
            frames = [f for f in frames if len(f)]
            if frames:
                RunFolder(folder).write_frame("server", pd.concat(frames, ignore_index=True))
            RunFolder(folder).write_frame("metrics", metrics.frame())
            RunFolder(folder).write_frame("probe", pd.DataFrame(probe, columns=["t_unix", "latency_ms", "ok"]))


class _Index:
    """configs.json: one entry per configuration, rewritten as each one starts and ends."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / "configs.json"
        self.entries: list[dict[str, Any]] = []

    def add(self, **entry: Any) -> dict[str, Any]:
        self.entries.append({"status": "running", "error": "", **entry})
        write_json(self.path, self.entries)
        return self.entries[-1]

    def update(self, entry: dict[str, Any], **changes: Any) -> None:
        entry.update(changes)
        write_json(self.path, self.entries)

    def fail(self, name: str, axis: str, n: int, balance: str, error: str) -> None:
        """Mark configuration `name` failed, adding it if it never started."""
        found = next((e for e in self.entries if e["name"] == name), None)
        if found is None:
            found = self.add(name=name, axis=axis, n=n, balance=balance, dir=f"{CONFIGS_DIR}/{name}")
        if found["status"] != "ok":
            self.update(found, status="failed", error=error)


@dataclass(slots=True)
class _Study:
    params: ScalabilityParams
    run_dir: Path
    progress: bool
    data: DataManager
    base: list[RequestSpec]
    index: _Index
    headers: dict[str, str]
    health_path: str | None = "/health/live"  # a given URL's: the one its probe found (deploy.TargetProbe)
    scrape_metrics: bool = True  # a given URL's: whether its probe found /metrics

    def configuration(
        self,
        name: str,
        *,
        axis: str,
        n: int,
        balance: str = "",
        entry_url: str,
        processes: dict[str, int],
        share_urls: dict[str, str],
        warm: list[tuple[str, int]],
        started_s: float,
        monitor_url: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Warm every process's caches (warm: (url, passes) each), then run the step load against entry_url under
        the monitors. share_urls: label -> URL whose /metrics is scraped before and after every step.
        monitor_url (default entry_url): behind nginx, one instance directly, since monitoring requests through a
        round-robin balancer take turns with the load's and skew its shares (a probe every 0.25 s and a 6 req/s
        load phase-locked into a 2-to-22 split)."""
        folder = self.run_dir / CONFIGS_DIR / name
        folder.mkdir(parents=True, exist_ok=True)
        extra = extra or {}
        entry = self.index.add(
            name=name, axis=axis, n=n, balance=balance, dir=f"{CONFIGS_DIR}/{name}", started_s=started_s, **extra
        )
        try:
            target = {"url": entry_url, "processes": processes, "instances": share_urls, "axis": axis, "n": n}
            target.update(balance=balance, settings=to_dict(self.params.target), **extra)
            write_json(folder / "target.json", target)
            warm_s = self.warm_up(name, entry_url, folder, warm)
            with _monitored(folder, processes, monitor_url or entry_url, self):
                self.step_load(name, entry_url, folder, share_urls)
            self.index.update(entry, status="ok", warmup_s=warm_s)
        except (QrbenchError, httpx.HTTPError, OSError) as exc:
            # One configuration that fails (a target that will not start, a step that errs) is data: the
            # study goes on with the others, and the report says what failed and why.
            self.index.update(entry, status="failed", error=_error(exc))

    def load(
        self,
        url: str,
        specs: list[RequestSpec],
        model: Any,
        out_dir: Path,
        *,
        stage: str = "warmup",
        progress: bool = False,
    ) -> Any:
        """run_load with the study's timeout and headers (the target was checked when it was opened)."""
        return run_load(
            url,
            cycle_source(specs),
            model,
            out_dir=out_dir,
            stage=stage,
            timeout_s=self.params.request_timeout_s,
            progress=progress,
            headers=self.headers,
            allow_remote=True,
        )

    def warm_up(self, name: str, entry_url: str, folder: Path, warm: list[tuple[str, int]]) -> float:
        """Fill every process's caches (warm: (url, passes) each, in parallel), then send the warm-up requests;
        writes warmup.json and returns the wall time it took (seconds)."""
        texts = _texts(self.base, queries=not self.params.requests.fresh_queries)
        t_warm = time.perf_counter()
        timeout_s = max(600.0, self.params.request_timeout_s)
        with ThreadPoolExecutor(max_workers=max(1, len(warm))) as pool:
            warmups = list(
                pool.map(
                    lambda w: warm_caches(w[0], texts, passes=w[1], headers=self.headers, timeout_s=timeout_s), warm
                )
            )
        if self.params.requests.warmup_requests:
            specs = _step_specs(
                self.base,
                self.params.requests.warmup_requests,
                offset=0,
                tag=f"{name}.w",
                fresh=self.params.requests.fresh_queries,
            )
            self.load(entry_url, specs, ClosedModel(users=2, iterations=max(1, len(specs) // 2)), folder / "warmup")
        warm_s = time.perf_counter() - t_warm  # wall time: the senders run in parallel
        write_json(folder / "warmup.json", {"seconds": warm_s, "senders": warmups})
        return warm_s

    def step_load(self, name: str, url: str, folder: Path, share_urls: dict[str, str]) -> list[dict[str, Any]]:
        s, fresh = self.params.steps, self.params.requests.fresh_queries
        steps: list[dict[str, Any]] = []
        broke = 0
        offset = 0
        for i, rate in enumerate(s.rates()):
            count = math.ceil(rate * s.step_s * 1.25) + 10
            specs = _step_specs(self.base, count, offset=offset, tag=f"{name}.{i}", fresh=fresh)
            offset += count
            before = {label: scrape(u, headers=self.headers) for label, u in share_urls.items()}
            step_dir = folder / "steps" / f"{i:02d}"
            model = OpenModel(
                rate_rps=rate,
                duration_s=s.step_s,
                arrivals=s.arrivals,
                max_in_flight=s.max_in_flight,
                seed=self.params.seed * 1000 + i,
            )
            result = self.load(url, specs, model, step_dir, stage=f"{name} {rate:g} rps", progress=self.progress)
            after = {label: scrape(u, headers=self.headers) for label, u in share_urls.items()}
            meets = self.params.slo.met_by(load_records(step_dir))
            steps.append(
                {
                    "step": i,
                    "rate_rps": rate,
                    "dir": str(step_dir.relative_to(folder)),
                    "t0_unix": load_run_info(step_dir)["t0_unix"],
                    "duration_s": s.step_s,
                    "meets_slo": meets,
                    "result": result.to_dict(),
                    "metrics_before": before,
                    "metrics_after": after,
                }
            )
            write_json(folder / "steps.json", steps)
            broke = 0 if meets else broke + 1
            if broke > s.steps_past_break:
                break
            time.sleep(s.pause_s)
        return steps

    def vertical_documents(self, target: Target) -> None:
        v, length = self.params.vertical, self.params.requests.length
        if not v.documents:
            return
        rng = np.random.default_rng(self.params.seed + 7)
        need = max(v.documents)
        # The step load's documents first (one warm-up serves both), then more of the same length level.
        docs = _texts(self.base, queries=False)[:need]
        if len(docs) < need:
            length = length if need <= _length_count(self.data, length) else "any"
            more = [d.text[:5000] for d in self.data.sample_documents(need, rng=rng, length=length)]
            docs += [d for d in more if d not in set(docs)][: need - len(docs)]
        queries = self.data.queries
        warm_caches(target.url, docs, headers=self.headers, timeout_s=max(600.0, self.params.request_timeout_s))
        runner = StageRunner(target, self.run_dir / VERTICAL_DIR, self.params.request_timeout_s, self.progress)
        sampler = ProcessSampler(target.pid, interval_s=v.sample_interval_s) if target.pid else None
        with sampler or contextlib.nullcontext():
            for n in v.documents:
                specs = _rerank_specs(rng, queries, f"documents_{n}", f"d{n}", docs[:n], v.method, v.document_requests)
                runner.run(f"documents/{n}", specs, budget_s=self.params.stage_budget_s)
        if sampler is not None:
            RunFolder(self.run_dir).write_frame(f"{VERTICAL_DIR}/server-documents", sampler.frame())

    def vertical_settings(self) -> None:
        """torch threads, qubits and shots: one target per distinct setting, a short closed run each."""
        v, t, r = self.params.vertical, self.params.target, self.params.requests
        groups: dict[tuple, list[str]] = {}
        for n in v.torch_threads:
            groups.setdefault(("torch_threads", n, t.backend, t.qubits, t.shots), []).append(f"threads/{n}")
        for q in v.qubits:
            groups.setdefault(("aer", None, "aer", q, t.shots), []).append(f"qubits/{q}")
        for shots in v.shots:
            groups.setdefault(("aer", None, "aer", t.qubits, shots), []).append(f"shots/{shots}")
        record = []
        rng = np.random.default_rng(self.params.seed + 11)
        for (kind, threads, backend, qubits, shots), stages in groups.items():
            changes: dict[str, Any] = {"backend": backend, "qubits": qubits, "shots": shots}
            if threads is not None:
                changes["torch_threads"] = threads
            n_docs = v.aer_documents if kind == "aer" else 10
            docs = [d.text[:5000] for d in self.data.sample_documents(n_docs, rng=rng, length=r.length)]
            users = v.threads_users if kind == "torch_threads" else 1
            count = v.threads_requests if kind == "torch_threads" else v.aer_requests
            method = v.method if kind == "torch_threads" else "quantum"
            entry = {"stages": stages, "settings": changes, "users": users, "requests": count, "error": ""}
            record.append(entry)
            try:
                with started_targets(
                    engine_settings(self.params.target, **changes),
                    1,
                    self.run_dir / VERTICAL_DIR / "logs",
                    ready_timeout_s=self.params.ready_timeout_s,
                ) as (target,):
                    warm_caches(target.url, docs, headers=self.headers)
                    runner = StageRunner(
                        Target(url=target.url, pid=target.pid, embedded=True, headers=self.headers),
                        self.run_dir / VERTICAL_DIR,
                        self.params.request_timeout_s,
                        self.progress,
                    )
                    for stage in stages:
                        kind = stage.replace("/", "_")
                        runner.run(
                            stage, _rerank_specs(rng, self.data.queries, kind, stage, docs, method, count), users=users
                        )
            except (QrbenchError, httpx.HTTPError, OSError) as exc:
                entry["error"] = _error(exc)
            write_json(self.run_dir / VERTICAL_DIR / "vertical.json", record)


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _length_count(data: DataManager, length: str) -> int:
    lo, hi = LENGTHS[length]
    return sum(1 for d in data.documents if lo <= d.n_words <= hi)


def run_scalability(
    params: ScalabilityParams, run_dir: str | Path, *, url: str | None = None, progress: bool = True
) -> Path:
    """Measure every part of the study into run_dir (layout in the module docstring); returns run_dir.

    url: a running service (then only it is measured: the document sweep and one step load; the study
    cannot start workers or instances of a service it did not start). Every target, nginx and sampler is
    stopped when its part ends, also when it failed; a configuration that fails is recorded in configs.json
    and the study goes on.
    """
    p = params
    r = p.requests
    url = url or p.target.url
    if url:
        url = check_target(url, allow_remote=p.target.allow_remote)
    data = DataManager.from_dir(seed=p.seed, zipf_exponent=r.zipf_exponent)
    base = list(data.mix_sampler(r.mix, r.methods, seed=p.seed, pool_size=r.pool_size, length=r.length))
    folder = RunFolder.create(
        run_dir, study="scalability", params=to_dict(p), calibration_s=calibration_timings().tolist()
    )
    run_dir = folder.path
    (run_dir / VERTICAL_DIR).mkdir(exist_ok=True)
    headers = {"X-API-Key": p.target.api_key} if p.target.api_key else {}
    study = _Study(
        params=p, run_dir=run_dir, progress=progress, data=data, base=base, index=_Index(run_dir), headers=headers
    )
    # Every target the study starts is a child of this process: the run's own CPU, not contention.
    with contention_monitor(folder) as busy:
        settings = engine_settings(p.target)
        if url:
            with open_target(p.target, url=url) as target:
                folder.update(target=target_facts(target, p.target))
                if target.pid:
                    busy.sampler.add_root(target.pid)
                if target.probe is not None:
                    study.health_path = target.probe.health_path
                    study.scrape_metrics = target.probe.metrics_status == 200
                busy.mark("given service")
                study.vertical_documents(target)
                processes = {"service": target.pid} if target.pid else {}
                study.configuration(
                    "given",
                    axis="given",
                    n=1,
                    entry_url=url,
                    processes=processes,
                    share_urls={"service": url},
                    warm=[(url, 1)],
                    started_s=0.0,
                )
            folder.finish()
            return run_dir
        # Every embedded target of the study runs these settings, changed only where a configuration says so.
        folder.update(
            target={"url": None, "embedded": True, "pid": None, "params": None, "settings": settings_dict(settings)}
        )

        # Vertical by document count and workers=1 share one target (one model load fewer).
        counts = sorted(set(p.workers.counts))
        if p.vertical.documents or 1 in counts:
            busy.mark("workers-1")
            _one_target(study, settings, 1, documents=bool(p.vertical.documents), step_load=1 in counts)
        busy.mark("vertical settings")
        study.vertical_settings()
        for n in [c for c in counts if c > 1]:
            busy.mark(f"workers-{n}")
            _one_target(study, settings, n, documents=False, step_load=True)
        if p.instances.counts:
            busy.mark("instances")
            _instances(study, settings)
        if p.autoscale.enabled:
            busy.mark("autoscale")
            _autoscale(study, settings)
        folder.finish()
        return run_dir


def _one_target(study: _Study, settings: EngineSettings, workers: int, *, documents: bool, step_load: bool) -> None:
    p = study.params
    name = f"workers-{workers}"
    folder = study.run_dir / CONFIGS_DIR / name
    t0 = time.perf_counter()
    try:
        with started_targets(settings, 1, folder, workers=workers, ready_timeout_s=p.ready_timeout_s) as (target,):
            wait_all_ready(target.url, workers, timeout_s=p.ready_timeout_s, headers=study.headers)
            started = time.perf_counter() - t0
            if documents:
                try:
                    study.vertical_documents(
                        Target(url=target.url, pid=target.pid, embedded=True, headers=study.headers)
                    )
                except (QrbenchError, httpx.HTTPError, OSError) as exc:
                    write_json(study.run_dir / VERTICAL_DIR / "documents-error.json", {"error": _error(exc)})
            if step_load:
                # Each worker holds its own caches and a warm-up pass lands on one worker at random: N parallel
                # senders of 3 passes each, so the workers warm at the same time and all of them very likely do.
                study.configuration(
                    name,
                    axis="workers",
                    n=workers,
                    entry_url=target.url,
                    processes={"service": target.pid},
                    share_urls={"service": target.url},
                    warm=[(target.url, 1 if workers == 1 else 3)] * workers,
                    started_s=started,
                )
    except (QrbenchError, httpx.HTTPError, OSError) as exc:  # the target did not start
        error = _error(exc)
        if step_load:
            study.index.fail(name, "workers", workers, "", error)
        if documents:
            write_json(study.run_dir / VERTICAL_DIR / "documents-error.json", {"error": error})


def _instances(study: _Study, settings: EngineSettings) -> None:
    p = study.params
    inst = p.instances
    largest = max(inst.counts)
    t0 = time.perf_counter()
    plan = [
        (n, balance)
        for n in sorted(set(inst.counts))
        for balance in inst.balance
        if n > 1 or balance == inst.balance[0]
    ]  # one instance: every policy is the same
    try:
        with started_targets(
            settings, largest, study.run_dir / CONFIGS_DIR / "instances", ready_timeout_s=p.ready_timeout_s
        ) as targets:
            started = time.perf_counter() - t0
            for n, balance in plan:
                name = f"instances-{n}-{balance}"
                members = targets[:n]
                try:
                    with NginxBalancer(
                        [t.url for t in members],
                        run_dir=study.run_dir / CONFIGS_DIR / name,
                        balance=balance,
                        keepalive=inst.keepalive,
                        access_log=inst.access_log,
                        worker_processes=inst.nginx_workers,
                        timeout_s=p.request_timeout_s + 5,
                        ready_timeout_s=30.0,
                    ) as nginx:
                        processes = {f"instance-{i}": t.pid for i, t in enumerate(members)}
                        processes["nginx"] = nginx.pid
                        study.configuration(
                            name,
                            axis="instances",
                            n=n,
                            balance=balance,
                            entry_url=nginx.url,
                            processes=processes,
                            share_urls={f"instance-{i}": t.url for i, t in enumerate(members)},
                            warm=[(t.url, 1) for t in members],
                            started_s=started,
                            monitor_url=members[0].url,
                            extra={"nginx_conf": str(nginx.config_path.relative_to(study.run_dir))},
                        )
                except (QrbenchError, OSError) as exc:  # nginx itself failed to start
                    study.index.fail(name, "instances", n, balance, _error(exc))
    except (QrbenchError, httpx.HTTPError, OSError) as exc:  # the instances did not start
        for n, balance in plan:
            study.index.fail(f"instances-{n}-{balance}", "instances", n, balance, _error(exc))


def _autoscale(study: _Study, settings: EngineSettings) -> None:
    """The autoscaling scenario (AutoscaleParams): an open-model load steps through the rates while the HPA's
    rule, simulated here, adds and removes single-worker instances behind nginx by their CPU. Writes
    autoscale/autoscale.json (rule, phases, decisions, scaling events, error) and autoscale/load/ (records)."""
    p, a = study.params, study.params.autoscale
    folder = study.run_dir / AUTOSCALE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    rule = HpaRule(
        target=a.target_cpu,
        tolerance=a.tolerance,
        min_replicas=a.min_replicas,
        max_replicas=a.max_replicas,
        scale_up_window_s=a.scale_up_window_s,
        scale_down_window_s=a.scale_down_window_s,
    )
    texts = _texts(study.base, queries=not p.requests.fresh_queries)
    started = iter(range(10_000))

    @contextlib.contextmanager
    def instance() -> Iterator[str]:
        # A new instance is ready (model loaded, the pool's documents cached) before nginx sends it anything,
        # as a pod passes its readiness probe; its start-up time is part of the time to scale up.
        with started_targets(
            settings, 1, folder / "instances" / f"{next(started):02d}", ready_timeout_s=p.ready_timeout_s
        ) as (target,):
            warm_caches(target.url, texts, headers=study.headers, timeout_s=max(600.0, p.request_timeout_s))
            yield target.url

    total_s = a.phase_s * len(a.rates_rps)
    count = math.ceil(sum(a.rates_rps) * a.phase_s * 1.25) + 10
    specs = _step_specs(study.base, count, offset=0, tag="autoscale", fresh=p.requests.fresh_queries)
    model = OpenModel(
        stages=[(a.phase_s, r, r) for r in a.rates_rps],
        arrivals=p.steps.arrivals,
        max_in_flight=p.steps.max_in_flight,
        seed=p.seed * 1000 + 999,
    )
    record: dict[str, Any] = {
        "rule": to_dict(a),
        "phases": [],
        "decisions": [],
        "events": [],
        "error": "",
        "initial": a.min_replicas,
    }
    try:
        with InstancePool(
            instance, run_dir=folder, initial=a.min_replicas, balance=a.balance, drain_s=a.drain_s
        ) as pool:
            stop = threading.Event()
            outcome: dict[str, Any] = {}

            def load() -> None:
                try:
                    outcome["run"] = study.load(pool.url, specs, model, folder / "load", stage="autoscale")
                except Exception as exc:  # noqa: BLE001 - reported in autoscale.json; the study goes on
                    outcome["error"] = _error(exc)
                finally:
                    stop.set()

            loader = threading.Thread(target=load, name="autoscale-load", daemon=True)
            loader.start()
            decisions = run_autoscaler(
                pool,
                HpaController(rule),
                CpuUtilization(cores_per_instance=a.cores_per_instance),
                interval_s=a.interval_s,
                duration_s=total_s,
                stop=stop,
            )
            loader.join(total_s + p.request_timeout_s + 60)
            t0 = load_run_info(folder / "load")["t0_unix"] if (folder / "load" / "run.json").is_file() else None
            record.update(
                decisions=decisions.to_dict(orient="records"),
                events=list(pool.events),
                error=outcome.get("error", ""),
                t0_unix=t0,
                phases=[
                    {"phase": i, "rate_rps": r, "start_s": i * a.phase_s, "end_s": (i + 1) * a.phase_s}
                    for i, r in enumerate(a.rates_rps)
                ],
            )
    except (QrbenchError, httpx.HTTPError, OSError) as exc:
        record["error"] = _error(exc)
    write_json(folder / "autoscale.json", record)
