"""The bottlenecks study's measurements: in this process, through the engine's public pieces (qrbench.profile),
the component breakdown, one-off costs, shot noise, line, memory and call profiles of qrbench's reference engine
(only when the target is that engine); against the running service, for any target, the cost by request kind
and size, the time outside the engine, and the same mix by one user and under load (py-spy when local Python).

The run folder gets run.json (studies/folder.py), info.json (the study's own notes: what ran or was skipped and
why, timings, tracemalloc and gc counts) and one parquet table per measured part.
"""

from __future__ import annotations

import json
import time
from dataclasses import fields
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from ...deploy import check_contract, open_target, probe_target, target_facts
from ...errors import ParameterError
from ...load import ClosedModel, DataManager, RequestSpec, run_load
from ...monitor import ProcessSampler, calibration_timings
from ...params import to_dict
from ...target import EngineSettings, RerankEngine
from ..contention import contention_monitor
from ..folder import RunFolder
from ..requests import NewQueries
from .params import INFO_FILE, BottlenecksParams

__all__ = ["run_bottlenecks"]


# ------------------------------------------------------------------------------------------- inputs


def _inputs(data: DataManager, rng: np.random.Generator, count: int, n: int):
    """`count` hybrid rerank inputs of `n` documents each."""
    from ...profile import RerankInput

    payloads = [json.loads(data.rerank(n, "hybrid", rng=rng, kind="bottlenecks").body) for _ in range(count)]
    return [RerankInput(p["query"], tuple(p["candidates"])) for p in payloads]


def _scenarios(params: BottlenecksParams):
    """The scenarios of every grid, each once, in order."""
    from ...profile import scenario_grid

    out: dict = {}
    for g in params.breakdown.grids:
        axes = {f.name: getattr(g, f.name) for f in fields(g) if f.name != "aer_threads"}
        settings = [(("aer_threads", a),) if a != 1 else () for a in g.aer_threads]
        out |= dict.fromkeys(scenario_grid(**axes, settings=settings))
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
    it is measured, so a study that fails half-way keeps what it measured."""
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
    info: dict = {"py_spy": profile.py_spy_available(), "reference_engine": reference}

    def note(key: str, value) -> None:
        info[key] = value
        folder.write_json(INFO_FILE, info)

    with contention_monitor(folder) as busy:
        if reference:
            busy.mark("in-process profiles")
            _in_process(params, data, rng, folder, progress, note)
        else:
            note("in_process", {"skipped": IN_PROCESS_GAP})

        with open_target(params.target, url=url, log_dir=folder.path) as target:
            folder.update(target=target_facts(target, params.target))
            if target.pid:
                busy.sampler.add_root(target.pid)
            busy.mark("HTTP requests")
            if reference:
                _http(params, data, rng, target, folder)
            _costs(params, data, rng, target, folder, note)
            if params.under_load.enabled:
                busy.mark("under load")
                _under_load(params, data, target, folder, progress, note)
        note("calibration_after_s", calibration_timings().tolist())
    folder.finish()
    return folder.path


# Why a target other than the reference engine gets no in-process profile, and what to do instead.
IN_PROCESS_GAP = (
    "the target is not qrbench's reference engine, so its engine cannot be profiled inside this process "
    "(component breakdown, line, memory and call profiles, Aer and shots); its costs are measured from "
    "outside instead, and from its own process when it runs here"
)


def _in_process(params: BottlenecksParams, data, rng, folder: RunFolder, progress: bool, note) -> None:
    """The reference engine's profiles, in this process."""
    import torch

    from ... import profile

    note("torch_default_threads", torch.get_num_threads())
    # The service's default torch threads unless told otherwise, so default-configuration scenarios are the service's.
    threads = params.torch_threads if params.torch_threads is not None else EngineSettings().torch_threads
    embedder, loading = profile.load_embedder(torch_threads=threads)
    cold = profile.measure_cold_start(qubits=params.cold_start.qubits, repeats=params.cold_start.repeats)
    folder.write_frame("cold_start", pd.concat([loading, cold], ignore_index=True))

    b = params.breakdown
    scenarios = _scenarios(params)
    biggest = max(sc.batch_size for sc in scenarios)
    inputs = _inputs(data, rng, b.inputs, biggest)
    folder.write_frame(
        "components",
        profile.measure_components(
            scenarios, inputs, embedder=embedder, repeats=b.repeats, cold_repeats=b.cold_repeats, progress=progress
        ),
    )
    note("breakdown_done_unix", time.time())

    s = params.shots
    folder.write_frame(
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

    _lines(params, data, rng, embedder, folder)
    _memory(params, data, rng, embedder, folder, note)
    _calls(params, data, rng, embedder, folder)
    note("in_process_done_unix", time.time())


def _costs(params: BottlenecksParams, data: DataManager, rng, target, folder: RunFolder, note) -> None:
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
                    spec = data.batch_similarity(n, o.method, rng=rng)
                # A new query each time (tagged), so no answer comes from a cache of the service's.
                payload = json.loads(spec.body)
                key = "text1" if kind == "similarity" else "query"
                payload[key] = f"{payload[key]} [c{len(plan)}]"
                plan.append(RequestSpec.from_payload(kind=kind, endpoint=spec.endpoint, payload=payload))
    frame, cut = profile.measure_request_costs(
        target.url, plan, headers=target.headers, timeout_s=params.request_timeout_s, budget_s=o.budget_s
    )
    folder.write_frame("costs", frame)
    note("costs", {"planned": len(plan), "sent": len(frame), "cut_by_budget": cut, "budget_s": o.budget_s})


def _engine(params: BottlenecksParams, embedder, backend: str, *, warm: bool = True) -> RerankEngine:
    t = params.target
    settings = EngineSettings(backend=backend, qubits=t.qubits, shots=t.shots, aer_threads=t.aer_threads)
    engine = RerankEngine(settings, embedder=embedder)
    if warm:
        engine.warm_up()
    return engine


def _lines(params: BottlenecksParams, data, rng, embedder, folder: RunFolder) -> None:
    from ... import profile
    from ...target.fidelity import AerSwapTest

    p = params.lines
    x = _inputs(data, rng, 1, p.batch_size)[0]
    docs = list(x.candidates)
    embedder.embed(docs)
    exact = _engine(params, embedder, "exact")
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
    folder.write_frame("lines", pd.concat(frames, ignore_index=True))


def _score_all(engine: RerankEngine, bodies: list[bytes], method: str) -> None:
    """Score each request body as the service does: parsed per request, so the caches pin its strings."""
    for body in bodies:
        payload = json.loads(body)
        engine.score(payload["query"], payload["candidates"], method)


def _memory(params: BottlenecksParams, data, rng, embedder, folder: RunFolder, note) -> None:
    from ... import profile
    from ...target.embedding import Embedder

    m = params.memory
    engine = _engine(params, embedder, "exact")
    big = _inputs(data, rng, 1, max(m.document_counts))[0]
    frame = profile.memory_by_documents(
        engine, big.query, big.candidates, m.document_counts, method=m.method, cold=m.cold
    )
    folder.write_frame("memory", frame)
    x = _inputs(data, rng, 1, m.line_documents)[0]
    engine.embedder.cache.clear()
    lines = profile.line_memory(
        (RerankEngine.score, Embedder.embed, Embedder.encode_uncached),
        lambda: engine.score(f"{x.query} [lm]", list(x.candidates), m.method),
    )
    folder.write_frame("memory_lines", lines)

    bodies = _bodies(data, rng, m.batch_size, m.method, m.tracemalloc_requests, "tm")
    engine.score(json.loads(bodies[0])["query"] + " [warm]", json.loads(bodies[0])["candidates"], m.method)
    sites, totals = profile.allocation_sites(lambda: _score_all(engine, bodies, m.method), top=m.tracemalloc_top)
    folder.write_frame("allocations", sites)
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
    pauses = profile.gc_pauses(lambda: _score_all(engine, gc_bodies, m.method))
    note("gc", {"requests": m.gc_requests, "seconds": time.perf_counter() - t0})
    folder.write_frame("gc", pauses)
    engine.close()


def _calls(params: BottlenecksParams, data, rng, embedder, folder: RunFolder) -> None:
    from ... import profile

    c = params.calls
    x = _inputs(data, rng, 1, c.batch_size)[0]
    docs = list(x.candidates)
    # Cold: a new engine (its circuit not yet built) and documents never seen; warm: the same again, new query.
    embedder.cache.clear()
    engine = _engine(params, embedder, c.backend, warm=False)
    trees, functions = [], []
    for name, call in (
        ("cold", lambda: engine.score(f"{x.query} [cold]", docs, c.method)),
        ("warm", lambda: engine.score(f"{x.query} [warm]", docs, c.method)),
    ):
        prof = profile.call_profile(call, min_share=c.min_share)
        trees.append(prof.tree.assign(call=name, wall_ms=prof.wall_ms))
        functions.append(prof.functions.assign(call=name))
    engine.close()
    folder.write_frame("calls", pd.concat(trees, ignore_index=True))
    folder.write_frame("call_functions", pd.concat(functions, ignore_index=True))


def _http(params: BottlenecksParams, data, rng, target, folder: RunFolder) -> None:
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
    folder.write_frame("http", pd.concat(frames, ignore_index=True))
    folder.write_frame("codec", profile.measure_codec(pairs, repeats=h.codec_repeats, seed=params.seed))


def _under_load(params: BottlenecksParams, data: DataManager, target, folder: RunFolder, progress: bool, note) -> None:
    """The same mix by one user and by many: latency always; the server's CPU and memory when its process is
    local; py-spy stacks when that process is Python and py-spy is installed (else the reason is noted)."""
    from ... import profile

    u, run_dir, probe = params.under_load, folder.path, target.probe
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
    load = partial(
        run_load,
        target.url,
        timeout_s=params.request_timeout_s,
        progress=progress,
        headers=target.headers,
        allow_remote=True,
    )
    if u.warmup:
        model = ClosedModel(users=u.users, iterations=max(1, -(-u.pool_size // u.users)), duration_s=u.warmup_budget_s)
        results["warm-up"] = load(pool, model, out_dir=run_dir / "under_load_warmup", stage="warm-up").to_dict()
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
            result = load(
                NewQueries(pool, phase[0]),
                ClosedModel(users=users, duration_s=seconds, max_requests=100_000),
                out_dir=run_dir / "under_load" / phase.replace(" ", "_"),
                stage=phase,
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
        folder.write_frame("stacks", pd.concat(stacks, ignore_index=True))
    if server:
        folder.write_frame("server", pd.concat(server, ignore_index=True))
    entry = {"runs": results, "rate_hz": u.rate_hz}
    if why_no_stacks:
        entry["skipped"] = why_no_stacks
    note("under_load", entry)
