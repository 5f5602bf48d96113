"""The reranking engine: embeddings, encoding, fidelity, methods, caches and the classical fallback.

This is the public in-process API the profilers use; the HTTP service is a thin layer over it.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
import zlib
from dataclasses import dataclass, field

import numpy as np
import threadpoolctl

from .cache import LRUCache, keyed_digests
from .embedding import Embedder, EncodeBatcher, EncodeCancelled, limit_malloc_arenas
from .encoding import Projection, load_projection
from .fidelity import AerSwapTest, exact_fidelity, row_dots
from .settings import METHODS, EngineSettings

__all__ = ["RerankEngine", "Scores", "EngineCounters", "Cancelled"]


@dataclass(slots=True)
class EngineCounters:
    """Monotonic counters the service exports; read them, never reset them."""

    classical_fallbacks: dict[str, int] = field(default_factory=dict)  # reason -> count
    computed: int = 0  # score() calls that ran to the end (a cancelled one does not count)
    cancelled: int = 0  # score() calls abandoned because their caller withdrew them

    def count_fallback(self, reason: str) -> None:
        self.classical_fallbacks[reason] = self.classical_fallbacks.get(reason, 0) + 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Scores:
    """Scores of one query against its candidates, in candidate order, each in [0, 1].

    method_used is the method asked for, or "classical" when the classical fallback answered.
    Times are milliseconds.
    """

    scores: np.ndarray
    classical: np.ndarray
    quantum: np.ndarray | None
    method_used: str
    fallback_reason: str | None
    embedding_cache_hits: int
    similarity_cache_hits: int
    embedding_ms: float
    quantum_ms: float

    @property
    def classical_fallback(self) -> bool:
        return self.fallback_reason is not None


class Cancelled(Exception):
    """The caller withdrew the computation (its client went away) before it finished."""


class QuantumBackendFailed(RuntimeError):
    """The quantum backend raised; the engine answers classically."""


class RerankEngine:
    """Scores candidates against a query by the classical, quantum or hybrid method.

    Thread-safe: the service calls it from several worker threads at once.
    """

    def __init__(
        self,
        settings: EngineSettings,
        *,
        embedder: Embedder | None = None,
        projection: Projection | None = None,
    ) -> None:
        self.settings = settings
        # Before any worker thread exists: few malloc arenas (memory after bursts), and one BLAS thread
        # per computation (OpenBLAS spinning on busy cores made exact scoring of 100 documents 12x slower).
        limit_malloc_arenas()
        threadpoolctl.threadpool_limits(1, user_api="blas")
        self.embedder = embedder or Embedder(
            cache_size=settings.embedding_cache_size,
            torch_threads=settings.torch_threads,
            encoder=settings.encoder,
            max_seq_length=settings.max_seq_length,
        )
        self.projection = projection or load_projection()
        # Owned by this engine even when the embedder is shared (tests share one model between engines).
        self._batcher = (
            EncodeBatcher(
                self.embedder,
                window_ms=settings.embed_batch_window_ms,
                max_batch=settings.embed_max_batch,
                workers=settings.embed_workers,
            )
            if settings.embed_batch_window_ms > 0
            else None
        )
        # (score, classical, quantum or nan): a hit answers with the same components as the miss did.
        self.similarity_cache: LRUCache[tuple[float, float, float]] = LRUCache(settings.similarity_cache_size)
        self.counters = EngineCounters()
        self._aer = (
            AerSwapTest(qubits=settings.qubits, shots=settings.shots, threads=settings.aer_threads)
            if settings.backend == "aer"
            else None
        )
        # One thread runs the quantum backend so a request past its budget can be abandoned.
        self._quantum_pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="quantum")
        self._counter_lock = threading.Lock()
        # Tests and fault-injection studies replace this to make the quantum backend fail.
        self.quantum_fault: Exception | None = None

    @property
    def batcher(self) -> EncodeBatcher | None:
        """The embedding micro-batcher (None when embed_batch_window_ms is 0)."""
        return self._batcher

    def warm_up(self) -> None:
        """Pay one-off costs (first forward pass, circuit transpilation) before serving."""
        self.embedder.encode_uncached(["warm up the embedding model"])
        if self._aer is not None:
            self._aer.warm_up()

    def close(self) -> None:
        self._quantum_pool.shutdown(wait=False, cancel_futures=True)
        if self._batcher is not None:
            self._batcher.close()

    # -- scoring -----------------------------------------------------------------------------

    def score(self, query: str, candidates: list[str], method: str, *, cancel: threading.Event | None = None) -> Scores:
        """Score every candidate against the query; never raises for a failing quantum backend.

        cancel: when set (the client went away), the computation stops at its next stage and raises
        Cancelled; texts still queued for the embedding micro-batcher are withdrawn.
        """
        if method not in METHODS:
            raise ValueError(f"method is {method!r}; valid methods are {', '.join(METHODS)}.")
        s = self.settings
        keys = keyed_digests((method, s.backend, s.qubits, s.shots, s.hybrid_weight, query), candidates)
        cached = [self.similarity_cache.get_digest(k) for k in keys]
        todo = [i for i, v in enumerate(cached) if v is None]
        n = len(candidates)
        hit = np.array([(np.nan,) * 3 if v is None else v for v in cached], dtype=np.float64).reshape(n, 3)
        scores, classical = hit[:, 0].copy(), hit[:, 1].copy()
        quantum = hit[:, 2].copy() if method != "classical" else None
        fallback_reason = None
        embedding_ms = quantum_ms = 0.0
        emb_hits = 0
        if todo:
            self._check(cancel)
            t0 = time.perf_counter()
            texts = [query] + [candidates[i] for i in todo]
            encode = None
            if self._batcher is not None:
                batcher = self._batcher

                def encode(missing: list[str]) -> np.ndarray:
                    return batcher.encode(missing, cancel=cancel)

            try:
                vectors, emb_hits = self.embedder.embed(texts, encode=encode)
            except EncodeCancelled:
                self._check(cancel)
                raise
            embedding_ms = (time.perf_counter() - t0) * 1000
            self._check(cancel)
            q_vec, c_vecs = vectors[0], vectors[1:]
            classical[todo] = (row_dots(c_vecs, q_vec) + 1.0) / 2.0
            computed = classical[todo]
            if method != "classical":
                t1 = time.perf_counter()
                try:
                    fid = self._quantum(q_vec, c_vecs, seed_text=query + "\x00".join(candidates))
                except QuantumBackendFailed as exc:
                    fallback_reason = str(exc)
                quantum_ms = (time.perf_counter() - t1) * 1000
                if fallback_reason is None:
                    quantum[todo] = fid
                    w = s.hybrid_weight if method == "hybrid" else 1.0
                    computed = w * fid + (1.0 - w) * classical[todo]
                else:
                    with self._counter_lock:
                        self.counters.count_fallback(fallback_reason)
            scores[todo] = np.clip(computed, 0.0, 1.0)
            # A fallback answer is not the method's answer: don't let it poison the cache.
            if fallback_reason is None:
                for i in todo:
                    q = np.nan if quantum is None else float(quantum[i])
                    self.similarity_cache.put_digest(keys[i], (float(scores[i]), float(classical[i]), q))
        with self._counter_lock:
            self.counters.computed += 1
        return Scores(
            scores=scores,
            classical=classical,
            quantum=quantum,
            method_used="classical" if fallback_reason else method,
            fallback_reason=fallback_reason,
            embedding_cache_hits=emb_hits,
            similarity_cache_hits=n - len(todo),
            embedding_ms=embedding_ms,
            quantum_ms=quantum_ms,
        )

    def _check(self, cancel: threading.Event | None) -> None:
        if cancel is not None and cancel.is_set():
            with self._counter_lock:
                self.counters.cancelled += 1
            raise Cancelled("the caller withdrew the computation")

    def _quantum(self, q_vec: np.ndarray, c_vecs: np.ndarray, *, seed_text: str) -> np.ndarray:
        """Fidelities of the encoded states, within the time budget, or QuantumBackendFailed."""
        try:
            if self.quantum_fault is not None:
                raise self.quantum_fault
            states = self.projection.encode(np.vstack([q_vec, c_vecs]), self.settings.qubits)
            if self._aer is None:
                result = exact_fidelity(states[0], states[1:])
            else:
                # Same input, same shots outcome, in any process: seed from the request's texts.
                seed = zlib.crc32(seed_text.encode())
                future = self._quantum_pool.submit(self._aer.fidelity, states[0], states[1:], seed=seed)
                try:
                    result = future.result(timeout=self.settings.quantum_budget_ms / 1000)
                except concurrent.futures.TimeoutError:
                    future.cancel()
                    raise QuantumBackendFailed("timeout") from None
        except QuantumBackendFailed:
            raise
        except Exception as exc:  # noqa: BLE001 - any backend failure is answered classically
            raise QuantumBackendFailed(f"error: {type(exc).__name__}") from exc
        return result
