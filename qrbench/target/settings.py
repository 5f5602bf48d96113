"""Settings of the reference QuantumRerank engine and service (one frozen object, passed down)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from typing import Any

from ..errors import ParameterError

__all__ = ["EngineSettings", "METHODS", "BACKENDS", "ENCODERS", "cores"]

METHODS = ("classical", "quantum", "hybrid")
BACKENDS = ("exact", "aer")
ENCODERS = ("torch", "onnx", "onnx-int8")


def cores() -> int:
    """CPUs this process may run on (its affinity mask, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _default_concurrency() -> int:
    # Requests computed at once. Their encodings share forward passes, so more in flight means larger
    # batches; 16 per core keeps a full round of them (one batched pass per core) under ~250 ms.
    return 16 * cores()


@dataclass(frozen=True, slots=True, kw_only=True)
class EngineSettings:
    """How the engine computes and how the service admits work.

    backend: fidelity backend, "exact" (closed form) or "aer" (SWAP test on Qiskit Aer).
    qubits: qubits per encoded text (2..4): states live in 2**qubits dimensions.
    shots: SWAP-test shots per candidate on the aer backend.
    hybrid_weight: weight of the quantum score in the hybrid method (0..1).
    quantum_budget_ms: a quantum computation slower than this is abandoned for the classical answer.
    embedding_cache_size / similarity_cache_size: LRU capacities in entries (0 disables).
    torch_threads: intra-op threads of each forward pass (default 1: passes run side by side, one per core,
        rather than one pass spread thinly over busy cores; None: torch's default).
    aer_threads: OpenMP threads of each Aer run (0: Aer's default, every core; the unoptimised path).
    max_concurrency: requests computed at once (default 16 per core); past it a request waits for a slot
        only as long as queue_budget_ms allows, else the service answers 503 at once.
    compute_threads: worker threads that run the computations (default: max_concurrency, so that every
        admitted request computes at once and shares forward passes; no hidden queue behind admission).
    embed_batch_window_ms: 0 (off), or micro-batch the cache misses of concurrent requests: the oldest waiting
        encoding waits up to this many milliseconds for others to share its forward pass (see EncodeBatcher).
    embed_max_batch: most texts encoded in one micro-batch.
    api_key: when set, requests must carry it (X-API-Key or Authorization: Bearer).

    Hardening (what the service tolerates from clients, and how it stops):
    metrics_need_key: with api_key set, /metrics needs the key too (default: open, for scrapers).
    docs_need_key: with api_key set, /docs, /redoc and /openapi.json need the key too (default: open).
    body_timeout_s: a request body not fully received within this many seconds gets 408 and the
        connection is closed (slow-drip clients); request line and headers get as long (`qrbench serve`).
    keep_alive_s: an idle keep-alive connection is closed after this many seconds.
    drain_timeout_s: on SIGTERM/SIGINT, in-flight requests get this many seconds to finish while new
        ones get 503; those still running then are cut off (and counted in the log).
    encoder: embedding runtime, "torch", "onnx" or "onnx-int8" (ONNX Runtime on the same weights, exported
        and cached at first use; see qrbench.target.onnx_encoder).
    max_seq_length: truncate texts to this many tokens (None: the model's 256).
    embed_workers: forward passes run at once by the micro-batcher (default: one per core).
    queue_budget_ms: longest a request may wait for a computation slot; one predicted to wait longer is
        refused at once (503 + Retry-After), one that waited this long is refused then (0: never wait).
    """

    backend: str = "exact"
    qubits: int = 4
    shots: int = 1024
    hybrid_weight: float = 0.5
    quantum_budget_ms: float = 2000.0
    embedding_cache_size: int = 20_000
    similarity_cache_size: int = 50_000
    torch_threads: int | None = 1
    aer_threads: int = 1
    max_concurrency: int = field(default_factory=_default_concurrency)
    compute_threads: int = field(default_factory=_default_concurrency)
    embed_batch_window_ms: float = 2.0
    embed_max_batch: int = 64
    api_key: str | None = None
    # -- hardening (issue 12) --
    metrics_need_key: bool = False
    docs_need_key: bool = False
    body_timeout_s: float = 30.0
    keep_alive_s: float = 5.0
    drain_timeout_s: float = 10.0
    # -- speed (issue 13): encoder, truncation, batching workers, admission by queueing delay ------------
    encoder: str = "torch"
    max_seq_length: int | None = None
    embed_workers: int = field(default_factory=cores)
    queue_budget_ms: float = 100.0

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ParameterError(f"backend is {self.backend!r}; valid backends are {', '.join(BACKENDS)}.")
        if self.qubits not in (2, 3, 4):
            raise ParameterError(f"qubits is {self.qubits!r}; valid values are 2, 3 and 4.")
        if not 1 <= self.shots <= 1_000_000:
            raise ParameterError(f"shots is {self.shots!r}; it must be between 1 and 1,000,000.")
        if not 0.0 <= self.hybrid_weight <= 1.0:
            raise ParameterError(f"hybrid_weight is {self.hybrid_weight!r}; it must be between 0 and 1.")
        if not self.quantum_budget_ms > 0:
            raise ParameterError(f"quantum_budget_ms is {self.quantum_budget_ms!r}; it must be positive.")
        for name in ("embedding_cache_size", "similarity_cache_size"):
            if getattr(self, name) < 0:
                raise ParameterError(f"{name} is {getattr(self, name)!r}; it must be 0 (off) or more.")
        if self.torch_threads is not None and self.torch_threads < 1:
            raise ParameterError(f"torch_threads is {self.torch_threads!r}; it must be 1 or more.")
        if self.aer_threads < 0:
            raise ParameterError(f"aer_threads is {self.aer_threads!r}; it must be 0 (Aer's default) or more.")
        if self.max_concurrency < 1 or self.compute_threads < 1:
            raise ParameterError("max_concurrency and compute_threads must both be 1 or more.")
        if not 0.0 <= self.embed_batch_window_ms <= 1000.0:
            raise ParameterError(
                f"embed_batch_window_ms is {self.embed_batch_window_ms!r}; it must be 0 (off) to 1000 milliseconds."
            )
        if self.embed_max_batch < 1:
            raise ParameterError(f"embed_max_batch is {self.embed_max_batch!r}; it must be 1 or more.")
        for name in ("body_timeout_s", "keep_alive_s", "drain_timeout_s"):
            if not 0 < getattr(self, name) <= 3600:
                raise ParameterError(
                    f"{name} is {getattr(self, name)!r}; it must be more than 0 and at most 3600 seconds."
                )
        if self.encoder not in ENCODERS:
            raise ParameterError(f"encoder is {self.encoder!r}; valid encoders are {', '.join(ENCODERS)}.")
        if self.max_seq_length is not None and not 8 <= self.max_seq_length <= 256:
            raise ParameterError(f"max_seq_length is {self.max_seq_length!r}; it must be 8 to 256 tokens, or None.")
        if self.embed_workers < 1:
            raise ParameterError(f"embed_workers is {self.embed_workers!r}; it must be 1 or more.")
        if not 0.0 <= self.queue_budget_ms <= 60_000.0:
            raise ParameterError(f"queue_budget_ms is {self.queue_budget_ms!r}; it must be 0 to 60,000 milliseconds.")

    @property
    def dim(self) -> int:
        """Dimension of the encoded states (2**qubits)."""
        return 2**self.qubits

    def with_changes(self, **changes: Any) -> EngineSettings:
        known = {f.name for f in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ParameterError(f"unknown engine setting(s) {unknown}; valid settings are {sorted(known)}.")
        return replace(self, **changes)
