"""The bottlenecks study: where the time and the memory of a rerank go, and what fixing each part would gain.

In this process, through the engine's public pieces (qrbench.profile): the component breakdown swept over
batch size, method, backend, qubits, shots and torch threads; one-off costs; the shot noise the aer
backend trades for its time; line profiles of the quantum path and the classical fallback; memory per
document count, line by line, by allocation site, and garbage-collection pauses; cProfile call trees of a
cold and a warm rerank. Against the running service: what a request costs outside the engine (HTTP,
framework, parsing, validation, JSON), and py-spy stack samples with one user and under load.

The in-process parts run only when the target is qrbench's reference engine (embedded, or a URL whose probe
says so); for any other service the study measures from outside: cost by request kind and size (costs.parquet,
for every target), and under load its latency, its process's CPU and memory when local, py-spy when it is Python.

`run_bottlenecks` measures into a run folder: run.json (studies/folder.py: parameters, machine, target,
calibration, start and end), info.json (only the study's own notes: what ran or was skipped and why, its
timings, tracemalloc and gc counts) and the files of params.FILES.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ...deploy import check_contract, open_target, probe_target, target_facts
from ...errors import ParameterError
from ...load import ClosedModel, DataManager, RequestSpec, run_load
from ...monitor import ProcessSampler, calibration_timings
from ...params import to_dict
from ...target import EngineSettings
from ..contention import contention_monitor
from ..folder import RunFolder
from ..requests import NewQueries
from .params import FILES, BottlenecksParams

__all__ = ["run_bottlenecks"]


# ------------------------------------------------------------------------------------------- inputs


def _inputs(data: DataManager, rng: np.random.Generator, count: int, n: int, method: str = "hybrid"):
    from ...profile import RerankInput

    out = []
    for _ in range(count):
        payload = json.loads(data.rerank(n, method, rng=rng, kind="bottlenecks").body)
        out.append(RerankInput(payload["query"], tuple(payload["candidates"])))
    return out


def _scenarios(params: BottlenecksParams):
    from ...profile import scenario_grid

    out: dict = {}
    for g in params.breakdown.grids:
        for sc in scenario_grid(
            batch_sizes=g.batch_sizes,
            methods=g.methods,
            backends=g.backends,
            qubits=g.qubits,
            shots=g.shots,
            torch_threads=g.torch_threads,
            documents=g.documents,
            settings=[(("aer_threads", a),) if a != 1 else () for a in g.aer_threads],
            fallback=g.fallback,
        ):
            out[sc] = None
    return list(out)


def _bodies(data: DataManager, rng: np.random.Generator, n: int, method: str, count: int, tag: str) -> list[bytes]:
    """`count` rerank bodies with new queries and the same documents (cached after the first)."""
    payload = json.loads(data.rerank(n, method, rng=rng, kind="bottlenecks").body)
    return [json.dumps({**payload, "query": f"{payload['query']} [{tag}{i}]"}).encode() for i in range(count)]


# -------------------------------------------------------------------------------------------- stages


def run_bottlenecks(
    params: BottlenecksParams, run_dir: str | Path, *, url: str | None = None, progress: bool = True
) -> Path:
    """Measure every part of the study into run_dir; returns run_dir. Each part's file is written as soon as
    it is measured, so a study that fails half-way keeps what it measured.

    The in-process profiles are of qrbench's reference engine: they run only when the target is that engine
    (embedded, or a URL whose probe says so). Any other target is measured from outside and from its own
    process: cost by request kind and size, its CPU and memory when local, py-spy when it is local Python."""
    from ... import profile

    data = DataManager.from_dir(seed=params.seed)
    rng = np.random.default_rng(params.seed)
    probe = None
    if url:
        headers = {"X-API-Key": params.target.api_key} if params.target.api_key else {}
        probe = check_contract(probe_target(url, headers=headers))
    reference = probe is None or probe.reference
    folder = RunFolder.create(
        run_dir, study="bottlenecks", params=to_dict(params), calibration_s=calibration_timings().tolist()
    )
    run_dir = folder.path
    info: dict = {"py_spy": profile.py_spy_available(), "reference_engine": reference}

    def note(key: str, value) -> None:
        info[key] = value
        folder.write_json(FILES["info"], info)

    with contention_monitor(folder) as busy:
        if reference:
            busy.mark("in-process profiles")
            _in_process(params, data, rng, run_dir, progress, note)
        else:
            note("in_process", {"skipped": IN_PROCESS_GAP})

        with open_target(params.target, url=url, log_dir=run_dir) as target:
            folder.update(target=target_facts(target, params.target))
            if target.pid:
                busy.sampler.add_root(target.pid)
            busy.mark("HTTP requests")
            if reference:
                _http(params, data, rng, target, run_dir)
            _costs(params, data, rng, target, run_dir, note)
            if params.under_load.enabled:
                busy.mark("under load")
                _under_load(params, data, target, run_dir, progress, note, probe=target.probe)
        note("calibration_after_s", calibration_timings().tolist())
    folder.finish()
    return run_dir


# Why a target other than the reference engine gets no in-process profile, and what to do instead.
IN_PROCESS_GAP = (
    "the target is not qrbench's reference engine, so its engine cannot be profiled inside this process "
    "(component breakdown, line, memory and call profiles, Aer and shots); its costs are measured from "
    "outside instead, and from its own process when it runs here"
)


def _in_process(params: BottlenecksParams, data, rng, run_dir: Path, progress: bool, note) -> None:
    """The reference engine's profiles, in this process."""
    import torch

    from ... import profile

    def save(name: str, frame: pd.DataFrame) -> None:
        RunFolder(run_dir).write_frame(name, frame)

    note("torch_default_threads", torch.get_num_threads())
    # The service's default torch threads unless told otherwise, so default-configuration scenarios are the service's.
    threads = params.torch_threads if params.torch_threads is not None else EngineSettings().torch_threads
    embedder, loading = profile.load_embedder(torch_threads=threads)
    cold = profile.measure_cold_start(qubits=params.cold_start.qubits, repeats=params.cold_start.repeats)
    save("cold_start", pd.concat([loading, cold], ignore_index=True))

    b = params.breakdown
    scenarios = _scenarios(params)
    biggest = max(sc.batch_size for sc in scenarios)
    inputs = _inputs(data, rng, b.inputs, biggest)
    save(
        "components",
        profile.measure_components(
            scenarios, inputs, embedder=embedder, repeats=b.repeats, cold_repeats=b.cold_repeats, progress=progress
        ),
    )
    note("breakdown_done_unix", time.time())

    s = params.shots
    save(
        "shots",
        profile.shot_noise(
            _inputs(data, rng, s.inputs, s.batch_size),
            embedder=embedder,
            qubits=s.qubits,
            shots=s.shots,
            batch_size=s.batch_size,
            aer_threads=params.target.aer_threads,
        ),
    )

    _lines(params, data, rng, embedder, run_dir)
    _memory(params, data, rng, embedder, run_dir, note)
    _calls(params, data, rng, embedder, run_dir)
    note("in_process_done_unix", time.time())


def _costs(params: BottlenecksParams, data: DataManager, rng, target, run_dir: Path, note) -> None:
    """Latency by request kind and size, round-robin so that a cut by the budget leaves every size sampled."""
    from ... import profile

    o = params.outside
    plan = []
    for _ in range(o.repeats):
        for kind in o.kinds:
            for n in (1,) if kind == "similarity" else o.sizes:
                if kind == "similarity":
                    spec = data.similarity(o.method, rng=rng)
                elif kind == "rerank":
                    spec = data.rerank(n, o.method, rng=rng)
                else:
                    spec = data.batch_similarity(min(n, 100), o.method, rng=rng)
                # A new query each time (tagged), so no answer comes from a cache of the service's.
                payload = json.loads(spec.body)
                key = "text1" if kind == "similarity" else "query"
                payload[key] = f"{payload[key]} [c{len(plan)}]"
                plan.append(RequestSpec.from_payload(kind=kind, endpoint=spec.endpoint, payload=payload))
    frame, cut = profile.measure_request_costs(
        target.url, plan, headers=target.headers, timeout_s=params.request_timeout_s, budget_s=o.budget_s
    )
    RunFolder(run_dir).write_frame("costs", frame)
    note("costs", {"planned": len(plan), "sent": len(frame), "cut_by_budget": cut, "budget_s": o.budget_s})


def _engine(params: BottlenecksParams, embedder, *, backend: str | None = None):
    from ...target import EngineSettings, RerankEngine

    t = params.target
    settings = EngineSettings(backend=backend or t.backend, qubits=t.qubits, shots=t.shots, aer_threads=t.aer_threads)
    engine = RerankEngine(settings, embedder=embedder)
    engine.warm_up()
    return engine


def _lines(params: BottlenecksParams, data, rng, embedder, run_dir: Path) -> None:
    from ... import profile
    from ...target.fidelity import AerSwapTest

    p = params.lines
    x = _inputs(data, rng, 1, p.batch_size)[0]
    docs = list(x.candidates)
    embedder.embed(docs)
    exact = _engine(params, embedder, backend="exact")
    aer = AerSwapTest(qubits=params.target.qubits, shots=params.target.shots, threads=params.target.aer_threads)
    aer.warm_up()
    counter = iter(range(10**9))

    def quantum_path() -> None:
        # New query each time (as in production); documents cached. The aer backend runs in the engine's
        # quantum thread, which line_profiler does not trace, so it is called here directly.
        i = next(counter)
        exact.score(f"{x.query} [l{i}]", docs, "hybrid")
        vectors, _ = embedder.embed([x.query, *docs])
        states = exact.projection.encode(vectors, params.target.qubits)
        aer.fidelity(states[0], states[1:], seed=i)

    def fallback_path() -> None:
        exact.quantum_fault = RuntimeError("injected by the bottlenecks study")
        try:
            exact.score(f"{x.query} [f{next(counter)}]", docs, "hybrid")
        finally:
            exact.quantum_fault = None

    frames = []
    for name, functions, workload in (
        ("quantum path", profile.QUANTUM_PATH, quantum_path),
        ("classical fallback", profile.CLASSICAL_FALLBACK, fallback_path),
    ):
        t = profile.line_profile(functions, workload, repeats=p.repeats)
        t.insert(0, "path", name)
        frames.append(t)
    exact.close()
    RunFolder(run_dir).write_frame("lines", pd.concat(frames, ignore_index=True))


def _memory(params: BottlenecksParams, data, rng, embedder, run_dir: Path, note) -> None:
    from ... import profile
    from ...target.embedding import Embedder
    from ...target.engine import RerankEngine

    m = params.memory
    engine = _engine(params, embedder, backend="exact")
    big = _inputs(data, rng, 1, max(m.document_counts))[0]
    frame = profile.memory_by_documents(
        engine, big.query, big.candidates, m.document_counts, method=m.method, cold=m.cold
    )
    RunFolder(run_dir).write_frame("memory", frame)
    x = _inputs(data, rng, 1, m.line_documents)[0]
    engine.embedder.cache.clear()
    lines = profile.line_memory(
        (RerankEngine.score, Embedder.embed, Embedder.encode_uncached),
        lambda: engine.score(f"{x.query} [lm]", list(x.candidates), m.method),
    )
    RunFolder(run_dir).write_frame("memory_lines", lines)

    # Request bodies parsed per request, as the service does: what the caches keep pins those strings.
    bodies = _bodies(data, rng, m.batch_size, m.method, m.tracemalloc_requests, "tm")
    engine.score(json.loads(bodies[0])["query"] + " [warm]", json.loads(bodies[0])["candidates"], m.method)

    def traced() -> None:
        for body in bodies:
            payload = json.loads(body)
            engine.score(payload["query"], payload["candidates"], m.method)

    sites, totals = profile.allocation_sites(traced, top=m.tracemalloc_top)
    RunFolder(run_dir).write_frame("allocations", sites)
    note(
        "tracemalloc",
        {
            **totals,
            "requests": m.tracemalloc_requests,
            "similarity_cache_entries": len(engine.similarity_cache),
            "embedding_cache_entries": len(engine.embedder.cache),
        },
    )
    gc_bodies = _bodies(data, rng, m.batch_size, m.method, m.gc_requests, "gc")
    t0 = time.perf_counter()

    def many() -> None:
        for body in gc_bodies:
            payload = json.loads(body)
            engine.score(payload["query"], payload["candidates"], m.method)

    pauses = profile.gc_pauses(many)
    note("gc", {"requests": m.gc_requests, "seconds": time.perf_counter() - t0})
    RunFolder(run_dir).write_frame("gc", pauses)
    engine.close()


def _calls(params: BottlenecksParams, data, rng, embedder, run_dir: Path) -> None:
    from ... import profile
    from ...target import EngineSettings, RerankEngine

    c, t = params.calls, params.target
    x = _inputs(data, rng, 1, c.batch_size)[0]
    docs = list(x.candidates)
    settings = EngineSettings(backend=c.backend, qubits=t.qubits, shots=t.shots, aer_threads=t.aer_threads)
    # Cold: a new engine (its circuit not yet built) and documents never seen; warm: the same again, new query.
    embedder.cache.clear()
    engine = RerankEngine(settings, embedder=embedder)
    trees, functions = [], []
    for name, call in (
        ("cold", lambda: engine.score(f"{x.query} [cold]", docs, c.method)),
        ("warm", lambda: engine.score(f"{x.query} [warm]", docs, c.method)),
    ):
        prof = profile.call_profile(call, min_share=c.min_share)
        trees.append(prof.tree.assign(call=name, wall_ms=prof.wall_ms))
        functions.append(prof.functions.assign(call=name))
    engine.close()
    RunFolder(run_dir).write_frame("calls", pd.concat(trees, ignore_index=True))
    RunFolder(run_dir).write_frame("call_functions", pd.concat(functions, ignore_index=True))


def _http(params: BottlenecksParams, data, rng, target, run_dir: Path) -> None:
    from ... import profile

    h = params.http
    frames, pairs = [], []
    for n in h.batch_sizes:
        for method in h.methods:
            bodies = _bodies(data, rng, n, method, h.iterations + 1, f"h{n}{method[0]}")
            # The first request embeds the documents; the rest find them cached, as recurring RAG chunks.
            frame = profile.measure_http(
                target.url, bodies, headers=target.headers, timeout_s=params.request_timeout_s
            ).iloc[1:]
            ok = frame[frame["status"] == 200]
            pairs += [
                (bodies[int(i)], bytes(r)) for i, r in zip(ok["request"].head(3), ok["response"].head(3), strict=True)
            ]
            frames.append(frame.drop(columns=["response"]))
    RunFolder(run_dir).write_frame("http", pd.concat(frames, ignore_index=True))
    RunFolder(run_dir).write_frame("codec", profile.measure_codec(pairs, repeats=h.codec_repeats, seed=params.seed))


def _under_load(
    params: BottlenecksParams, data: DataManager, target, run_dir: Path, progress: bool, note, *, probe=None
) -> None:
    """The same mix by one user and by many: latency always; the server's CPU and memory when its process is
    local; py-spy stacks when that process is Python and py-spy is installed (else the reason is noted)."""
    from ... import profile

    u = params.under_load
    why_no_stacks = None
    if target.pid is None:
        why_no_stacks = (
            "the target's process is not on this machine (or not visible to this user): py-spy cannot attach, "
            "and its CPU and memory cannot be sampled — run the service on this machine to measure them"
        )
    elif probe is not None and probe.python is False:
        why_no_stacks = (
            f"the target's process ({probe.process_name}) is not Python: py-spy cannot sample it — use a "
            "profiler for its language (e.g. perf) alongside this study"
        )
    elif not profile.py_spy_available():
        why_no_stacks = "py-spy is not installed next to this Python or on PATH — pip install py-spy"
    if u.profile not in data.profiles:
        raise ParameterError(f"under_load.profile is {u.profile!r}; the profiles are {', '.join(data.profiles)}.")
    user = data.profiles[u.profile]
    pool = data.mix_sampler(user.kind_weights, user.method_weights, seed=params.seed, pool_size=u.pool_size)
    stacks, server, results = [], [], {}
    if u.warmup:
        warm = run_load(
            target.url,
            pool,
            ClosedModel(
                users=u.users,
                iterations=max(1, -(-u.pool_size // u.users)),
                duration_s=u.warmup_budget_s,
            ),
            out_dir=run_dir / "under_load_warmup",
            stage="warm-up",
            timeout_s=params.request_timeout_s,
            progress=progress,
            headers=target.headers,
            allow_remote=True,
        )
        results["warm-up"] = warm.to_dict()
    for phase, users, seconds in (("single user", 1, u.single_user_s), ("under load", u.users, u.load_s)):
        samplers = (
            []
            if why_no_stacks
            else [
                profile.PySpySampler(target.pid, rate_hz=u.rate_hz, idle=True, out_dir=run_dir / "pyspy"),
                profile.PySpySampler(target.pid, rate_hz=u.rate_hz, idle=False, gil=True, out_dir=run_dir / "pyspy"),
            ]
        )
        monitor = ProcessSampler(target.pid, interval_s=0.5).start() if target.pid else None
        for s in samplers:
            s.start()
        try:
            result = run_load(
                target.url,
                NewQueries(pool, phase[0]),
                ClosedModel(users=users, duration_s=seconds, max_requests=100_000),
                out_dir=run_dir / "under_load" / phase.replace(" ", "_"),
                stage=phase,
                timeout_s=params.request_timeout_s,
                progress=progress,
                headers=target.headers,
                allow_remote=True,
            )
        finally:
            frames = [s.stop() for s in samplers]
            if monitor is not None:
                monitor.stop()
        for sampler_name, frame in zip(("all threads", "GIL holder"), frames, strict=False):
            # Classified now: a wait on a lock is told by the source line, which later edits could move.
            stacks.append(profile.classify_stacks(frame).assign(phase=phase, sampler=sampler_name))
        if monitor is not None:
            server.append(monitor.frame().assign(phase=phase))
        results[phase] = result.to_dict()
    if stacks:
        RunFolder(run_dir).write_frame("stacks", pd.concat(stacks, ignore_index=True))
    if server:
        RunFolder(run_dir).write_frame("server", pd.concat(server, ignore_index=True))
    entry = {"runs": results, "rate_hz": u.rate_hz}
    if why_no_stacks:
        entry["skipped"] = why_no_stacks
    note("under_load", entry)
