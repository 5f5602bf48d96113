"""Where the time of one rerank goes inside the engine: each public piece timed on its own, and the whole
`RerankEngine.score` call on the same inputs, so that "unattributed" (total minus the parts) is measured
rather than assumed. Parts and totals of a repeat are taken back to back, so machine noise hits both.

Components, in the order a rerank runs them (milliseconds per request):

- embed query: `Embedder.encode_uncached([query])` (a production query is always new);
- embed documents: `Embedder.embed(documents)` with every document cached, or
  `Embedder.encode_uncached(documents)` when they are cold;
- classical cosine: (c @ q + 1) / 2 on the full embeddings;
- encode states: `Projection.encode` of query and documents to 2**qubits amplitudes;
- fidelity: `exact_fidelity`, or `AerSwapTest.fidelity` on a warm instance (binding, simulation, counts);
- combine: the hybrid weighting and the clip to [0, 1];
- unattributed: engine.score minus the parts above (caches, thread hand-off, Python glue). It can be
  negative when the engine does in one step what the parts do in two (one forward pass for query and
  cold documents).

One-off costs (model load, first forward pass, circuit construction and transpilation) are in
`measure_cold_start`.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ParameterError
from ..target.embedding import Embedder
from ..target.encoding import Projection, load_projection
from ..target.engine import RerankEngine
from ..target.fidelity import AerSwapTest, exact_fidelity
from ..target.settings import BACKENDS, METHODS, EngineSettings

__all__ = [
    "RerankInput",
    "Scenario",
    "scenario_grid",
    "measure_components",
    "measure_cold_start",
    "COMPONENTS",
    "TOTAL",
    "UNATTRIBUTED",
    "DOCUMENTS",
    "load_embedder",
]

COMPONENTS = ("embed query", "embed documents", "classical cosine", "encode states", "fidelity", "combine")
TOTAL = "total"
UNATTRIBUTED = "unattributed"
DOCUMENTS = ("cached", "cold")


@dataclass(frozen=True, slots=True)
class RerankInput:
    """One query and its candidate documents (texts)."""

    query: str
    candidates: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.query or not self.candidates:
            raise ParameterError("A RerankInput needs a query and at least one candidate document.")


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    """One engine configuration and request shape to break down.

    torch_threads: intra-op threads set for the scenario (None: leave torch as it is).
    documents: "cached" (every document embedding in the cache, as for recurring RAG chunks) or "cold".
    settings: further EngineSettings changes as (name, value) pairs, e.g. (("aer_threads", 0),).
    fallback: the quantum backend fails (injected through the engine's `quantum_fault`), so the classical
        fallback answers: the parts are then the classical path's.
    """

    batch_size: int = 50
    method: str = "hybrid"
    backend: str = "exact"
    qubits: int = 4
    shots: int = 1024
    torch_threads: int | None = None
    documents: str = "cached"
    settings: tuple[tuple[str, Any], ...] = field(default=())
    fallback: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= 1000:
            raise ParameterError(f"batch_size is {self.batch_size!r}; it must be 1 to 1000.")
        if self.method not in METHODS:
            raise ParameterError(f"method is {self.method!r}; valid methods are {', '.join(METHODS)}.")
        if self.documents not in DOCUMENTS:
            raise ParameterError(f"documents is {self.documents!r}; it must be 'cached' or 'cold'.")
        if self.torch_threads is not None and self.torch_threads < 1:
            raise ParameterError(f"torch_threads is {self.torch_threads!r}; it must be 1 or more, or None.")
        if self.fallback and self.method == "classical":
            raise ParameterError("fallback applies to the quantum and hybrid methods only, not to classical.")
        self.engine_settings()  # backend, qubits, shots and the extra settings are checked by EngineSettings

    def engine_settings(self, base: EngineSettings | None = None) -> EngineSettings:
        base = base or EngineSettings()
        return base.with_changes(backend=self.backend, qubits=self.qubits, shots=self.shots, **dict(self.settings))

    @property
    def label(self) -> str:
        parts = [f"{self.method}", self.backend, f"n={self.batch_size}", f"q={self.qubits}"]
        if self.backend == "aer":
            parts.append(f"shots={self.shots}")
        if self.torch_threads is not None:
            parts.append(f"torch={self.torch_threads}")
        parts.append(self.documents)
        parts += [f"{k}={v}" for k, v in self.settings]
        if self.fallback:
            parts.append("fallback")
        return " ".join(parts)

    def columns(self) -> dict[str, Any]:
        """The scenario as the leading columns of a tidy row."""
        return {
            "scenario": self.label,
            "batch_size": self.batch_size,
            "method": self.method,
            "backend": self.backend,
            "qubits": self.qubits,
            "shots": self.shots if self.backend == "aer" else None,
            "torch_threads": self.torch_threads,
            "documents": self.documents,
            "settings": ",".join(f"{k}={v}" for k, v in self.settings),
            "fallback": self.fallback,
        }


def scenario_grid(
    *,
    batch_sizes: Sequence[int] = (50,),
    methods: Sequence[str] = ("hybrid",),
    backends: Sequence[str] = ("exact",),
    qubits: Sequence[int] = (4,),
    shots: Sequence[int] = (1024,),
    torch_threads: Sequence[int | None] = (None,),
    documents: Sequence[str] = ("cached",),
    settings: Sequence[tuple[tuple[str, Any], ...]] = ((),),
    fallback: bool = False,
) -> list[Scenario]:
    """Every combination, without duplicates. Shots only matter on the aer backend and the backend only for
    quantum and hybrid, so those combinations collapse to one scenario each."""
    for b in backends:
        if b not in BACKENDS:
            raise ParameterError(f"backend is {b!r}; valid backends are {', '.join(BACKENDS)}.")
    out: dict[Scenario, None] = {}
    for n, m, b, q, s, t, d, extra in itertools.product(
        batch_sizes, methods, backends, qubits, shots, torch_threads, documents, settings
    ):
        if m == "classical":
            b, q = backends[0], qubits[0]
        if b != "aer":
            s = shots[0]
        out[
            Scenario(
                batch_size=n,
                method=m,
                backend=b,
                qubits=q,
                shots=s,
                torch_threads=t,
                documents=d,
                settings=tuple(extra),
                fallback=fallback and m != "classical",
            )
        ] = None
    return list(out)


# -------------------------------------------------------------------------------------------- timing


def _timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """(result, wall ms, process CPU ms) of one call."""
    c0, t0 = time.process_time_ns(), time.perf_counter_ns()
    result = fn()
    t1, c1 = time.perf_counter_ns(), time.process_time_ns()
    return result, (t1 - t0) / 1e6, (c1 - c0) / 1e6


@contextlib.contextmanager
def _torch_threads(n: int | None) -> Iterator[None]:
    """Run the body with n intra-op torch threads (process-wide), restoring the previous number after."""
    if n is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


_NONCE = itertools.count()


def _tag(text: str, tag: str) -> str:
    # New text of the same meaning and nearly the same length: no cache keyed by text can know it, in this
    # call or any earlier one in the process (the embedder and its cache outlive a call).
    return f"{text} [{tag}.{next(_NONCE)}]"


class _Setup:
    """Engines (sharing one embedder) and warm Aer instances, one per distinct engine settings."""

    def __init__(self, embedder: Embedder, projection: Projection, base: EngineSettings) -> None:
        self.embedder = embedder
        self.projection = projection
        self.base = base
        self._engines: dict[EngineSettings, RerankEngine] = {}
        self._aer: dict[EngineSettings, AerSwapTest] = {}

    def engine(self, settings: EngineSettings) -> RerankEngine:
        if settings not in self._engines:
            engine = RerankEngine(settings, embedder=self.embedder, projection=self.projection)
            engine.warm_up()
            self._engines[settings] = engine
        return self._engines[settings]

    def aer(self, settings: EngineSettings) -> AerSwapTest:
        if settings not in self._aer:
            aer = AerSwapTest(qubits=settings.qubits, shots=settings.shots, threads=settings.aer_threads)
            aer.warm_up()
            self._aer[settings] = aer
        return self._aer[settings]

    def close(self) -> None:
        for engine in self._engines.values():
            engine.close()


def _parts(
    setup: _Setup, sc: Scenario, settings: EngineSettings, query: str, docs: list[str]
) -> list[tuple[str, float, float]]:
    """Time each component once on (query, docs); the same order and inputs as the engine."""
    emb = setup.embedder
    rows = []
    q_vecs, ms, cpu = _timed(lambda: emb.encode_uncached([query]))
    rows.append(("embed query", ms, cpu))
    if sc.documents == "cold":
        d_vecs, ms, cpu = _timed(lambda: emb.encode_uncached(docs))
    else:
        (d_vecs, _), ms, cpu = _timed(lambda: emb.embed(docs))
    rows.append(("embed documents", ms, cpu))
    q_vec = q_vecs[0]
    classical, ms, cpu = _timed(lambda: (d_vecs @ q_vec + 1.0) / 2.0)
    rows.append(("classical cosine", ms, cpu))
    if sc.method == "classical" or sc.fallback:
        _, ms, cpu = _timed(lambda: np.clip(classical, 0.0, 1.0))
        rows.append(("combine", ms, cpu))
        return rows
    states, ms, cpu = _timed(lambda: setup.projection.encode(np.vstack([q_vec, d_vecs]), settings.qubits))
    rows.append(("encode states", ms, cpu))
    if settings.backend == "aer":
        aer = setup.aer(settings)
        fid, ms, cpu = _timed(lambda: aer.fidelity(states[0], states[1:], seed=len(docs)))
    else:
        fid, ms, cpu = _timed(lambda: exact_fidelity(states[0], states[1:]))
    rows.append(("fidelity", ms, cpu))
    w = settings.hybrid_weight if sc.method == "hybrid" else 1.0
    _, ms, cpu = _timed(lambda: np.clip(w * fid + (1.0 - w) * classical, 0.0, 1.0))
    rows.append(("combine", ms, cpu))
    return rows


def _changes_process_state(sc: Scenario) -> bool:
    # An Aer run on its default OpenMP threads throttles the spin-waiting of the OpenMP runtime torch shares
    # with it, for the rest of the process (measured: a query embedding on busy cores goes from 50-1000 ms
    # to a steady 9 ms after one such run).
    return dict(sc.settings).get("aer_threads", 1) == 0


def _rounds(scenarios: Sequence[Scenario], repeats: int, cold_repeats: int) -> list[tuple[int, int]]:
    """(scenario index, repeat) in measuring order: round-robin, one repeat of every scenario per round, so
    that a machine whose load drifts over the minutes hits every scenario alike and comparisons between
    scenarios stay fair. Scenarios that change process-wide state, and the scenarios they are compared with
    (the same without that setting), run last, round-robin among themselves."""
    late_twins = {
        replace(sc, settings=tuple(kv for kv in sc.settings if kv[0] != "aer_threads"))
        for sc in scenarios
        if _changes_process_state(sc)
    }
    late = [i for i, sc in enumerate(scenarios) if _changes_process_state(sc) or sc in late_twins]
    early = [i for i in range(len(scenarios)) if i not in set(late)]
    order = []
    for group in (early, late):
        n = {i: cold_repeats if scenarios[i].documents == "cold" else repeats for i in group}
        for r in range(max(n.values(), default=0)):
            order += [(i, r) for i in group if r < n[i]]
    return order


def measure_components(
    scenarios: Sequence[Scenario],
    inputs: Sequence[RerankInput],
    *,
    embedder: Embedder,
    repeats: int = 10,
    cold_repeats: int = 3,
    base_settings: EngineSettings | None = None,
    projection: Projection | None = None,
    progress: bool = False,
) -> pd.DataFrame:
    """Tidy frame of the breakdown: one row per scenario, repeat and component (parts, "unattributed",
    "total"), with `ms` (wall milliseconds) and `cpu_ms` (process CPU milliseconds, every thread).

    inputs are cycled over repeats, each cut to the scenario's batch size, so every input needs at least
    max(batch_size) candidates. Scenarios are measured round-robin (see `_rounds`). Cached scenarios find
    every document in the embedder's cache (filled here); cold ones score new texts (the documents with a
    tag appended), so they never touch the cache's warm entries. Cold scenarios run `cold_repeats` times
    (a cold forward pass over 100 documents takes seconds).
    """
    if repeats < 1 or cold_repeats < 1:
        raise ParameterError("repeats and cold_repeats must both be 1 or more.")
    if not inputs:
        raise ParameterError("measure_components needs at least one RerankInput.")
    need = max(sc.batch_size for sc in scenarios) if scenarios else 0
    short = [i for i, x in enumerate(inputs) if len(x.candidates) < need]
    if short:
        raise ParameterError(f"inputs {short[:5]} have fewer than the {need} candidates the largest batch needs.")
    setup = _Setup(embedder, projection or load_projection(), base_settings or EngineSettings())
    rows: list[dict[str, Any]] = []
    order = _rounds(scenarios, repeats, cold_repeats)
    from tqdm.auto import tqdm

    bar = tqdm(total=len(order), desc="component breakdown", disable=not progress)
    try:
        embedder.embed(sorted({c for x in inputs for c in x.candidates[:need]}))
        for si, r in order:
            sc = scenarios[si]
            settings = sc.engine_settings(setup.base)
            engine = setup.engine(settings)
            x = inputs[r % len(inputs)]
            docs = list(x.candidates[: sc.batch_size])
            with _torch_threads(sc.torch_threads):
                cold = sc.documents == "cold"
                parts = _parts(
                    setup,
                    sc,
                    settings,
                    _tag(x.query, f"p{si}.{r}"),
                    [_tag(d, f"p{si}.{r}") for d in docs] if cold else docs,
                )
                query = _tag(x.query, f"t{si}.{r}")
                total_docs = [_tag(d, f"t{si}.{r}") for d in docs] if cold else docs
                engine.quantum_fault = RuntimeError("injected by the profiler") if sc.fallback else None
                try:
                    _, total_ms, total_cpu = _timed(functools.partial(engine.score, query, total_docs, sc.method))
                finally:
                    engine.quantum_fault = None
            base = {**sc.columns(), "repeat": r}
            for name, ms, cpu in parts:
                rows.append({**base, "component": name, "ms": ms, "cpu_ms": cpu})
            rows.append(
                {
                    **base,
                    "component": UNATTRIBUTED,
                    "ms": total_ms - sum(p[1] for p in parts),
                    "cpu_ms": total_cpu - sum(p[2] for p in parts),
                }
            )
            rows.append({**base, "component": TOTAL, "ms": total_ms, "cpu_ms": total_cpu})
            bar.update()
    finally:
        bar.close()
        setup.close()
    return pd.DataFrame(rows)


# -------------------------------------------------------------------------------------- one-off costs


@contextlib.contextmanager
def _time_calls(module: Any, name: str, spent: list[float]) -> Iterator[None]:
    """Accumulate the wall milliseconds spent in module.<name> while the body runs (then restore it)."""
    original = getattr(module, name)

    def timed(*args, **kwargs):
        t0 = time.perf_counter_ns()
        try:
            return original(*args, **kwargs)
        finally:
            spent.append((time.perf_counter_ns() - t0) / 1e6)

    setattr(module, name, timed)
    try:
        yield
    finally:
        setattr(module, name, original)


def measure_cold_start(*, qubits: Sequence[int] = (2, 3, 4), repeats: int = 3) -> pd.DataFrame:
    """One-off costs of the aer backend in wall milliseconds: rows of (component, qubits, repeat, ms).

    "circuit construction" and "transpilation" split the first use of a fresh AerSwapTest (its template is
    built once per qubit count, at warm-up): transpilation is the time inside qiskit.transpile.
    """
    import qiskit

    rows = []
    for q in qubits:
        for r in range(repeats):
            spent: list[float] = []
            aer = AerSwapTest(qubits=q, shots=1024)
            with _time_calls(qiskit, "transpile", spent):
                _, total, _ = _timed(aer.warm_up)
            rows.append({"component": "circuit construction", "qubits": q, "repeat": r, "ms": total - sum(spent)})
            rows.append({"component": "transpilation", "qubits": q, "repeat": r, "ms": sum(spent)})
    return pd.DataFrame(rows)


def load_embedder(*, cache_size: int = 20_000, torch_threads: int | None = None) -> tuple[Embedder, pd.DataFrame]:
    """A new Embedder, and what it cost: rows "model load" and "first forward pass" (wall ms)."""
    from ..target.model import load_model

    model, load_ms, _ = _timed(lambda: load_model(torch_threads))
    embedder = Embedder(cache_size=cache_size, model=model)
    _, first_ms, _ = _timed(lambda: embedder.encode_uncached(["the first text through the model"]))
    return embedder, pd.DataFrame(
        [
            {"component": "model load", "qubits": None, "repeat": 0, "ms": load_ms},
            {"component": "first forward pass", "qubits": None, "repeat": 0, "ms": first_ms},
        ]
    )
