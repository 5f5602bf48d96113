"""The bottlenecks study's parameters (parameters/bottlenecks.yaml)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ...deploy import TargetParams
from ...params import rule, validate

__all__ = ["BottlenecksParams", "INFO_FILE"]

Method = Literal["classical", "quantum", "hybrid"]
Backend = Literal["exact", "aer"]
Documents = Literal["cached", "cold"]

INFO_FILE = "info.json"  # the run's own notes; its tables are parquet files named by the part that measured them
# The allowed values shared by several fields: every batch size (documents per request), qubits, shots.
BATCH = {"ge": 1, "le": 100}
QUBITS = {"choices": (2, 3, 4)}
SHOTS = {"ge": 1, "le": 1_000_000}


@dataclass(frozen=True, slots=True, kw_only=True)
class GridParams:
    """One grid of breakdown scenarios: every combination of the lists (see qrbench.profile.scenario_grid)."""

    batch_sizes: tuple[int, ...] = rule((50,), **BATCH)
    methods: tuple[Method, ...] = ("hybrid",)
    backends: tuple[Backend, ...] = ("exact",)
    qubits: tuple[int, ...] = rule((4,), **QUBITS)
    shots: tuple[int, ...] = rule((1024,), **SHOTS)
    torch_threads: tuple[int | None, ...] = (None,)  # null: torch's default (one per core)
    documents: tuple[Documents, ...] = ("cached",)
    aer_threads: tuple[int, ...] = (1,)  # 0: Aer's default threads, the path before the bottlenecks fix
    fallback: bool = False  # the quantum backend fails and the classical fallback answers


def _default_grids() -> tuple[GridParams, ...]:
    return (
        GridParams(
            batch_sizes=(10, 25, 50, 100), methods=("classical", "quantum", "hybrid"), backends=("exact", "aer")
        ),
        GridParams(methods=("quantum",), backends=("aer",), qubits=(2, 3, 4), shots=(256, 1024, 8192)),
        GridParams(batch_sizes=(10, 25, 50, 100), documents=("cold",)),
        GridParams(torch_threads=(1, 2), documents=("cached", "cold")),
        GridParams(methods=("quantum",), backends=("aer",), aer_threads=(0, 1)),
        GridParams(methods=("hybrid",), backends=("aer",), fallback=True),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class BreakdownParams:
    repeats: int = rule(20, ge=1)  # per scenario with cached documents
    # per scenario with cold documents (a cold forward pass of 100 documents takes seconds)
    cold_repeats: int = rule(3, ge=1)
    inputs: int = rule(8, ge=1)  # distinct queries (with their candidates), cycled over the repeats
    grids: tuple[GridParams, ...] = rule(factory=_default_grids, nonempty=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class ColdStartParams:
    qubits: tuple[int, ...] = rule((2, 3, 4), **QUBITS)
    repeats: int = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class ShotParams:
    qubits: tuple[int, ...] = rule((2, 3, 4), **QUBITS)
    shots: tuple[int, ...] = rule((256, 1024, 8192), **SHOTS)
    inputs: int = 6
    batch_size: int = rule(50, **BATCH)


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpParams:
    batch_sizes: tuple[int, ...] = rule((10, 25, 50, 100), **BATCH)
    methods: tuple[Method, ...] = ("classical", "hybrid")
    iterations: int = rule(20, ge=1)  # requests per batch size and method, documents cached (sent once before)
    codec_repeats: int = 20


@dataclass(frozen=True, slots=True, kw_only=True)
class OutsideParams:
    """Cost by request kind and size, measured from outside (any target; the whole cost study of a target
    that is not qrbench's reference engine). Requests go round-robin over kinds and sizes, so a cut by the
    budget leaves every size sampled."""

    kinds: tuple[Literal["similarity", "rerank", "batch_similarity"], ...] = (
        "similarity",
        "rerank",
        "batch_similarity",
    )
    # candidates per rerank / batch-similarity request
    sizes: tuple[int, ...] = rule((1, 10, 25, 50), nonempty=True, **BATCH)
    method: Method = "hybrid"
    repeats: int = rule(5, ge=1)  # requests per kind and size, each with a new query
    budget_s: float = rule(300.0, gt=0)  # the stage stops here and keeps what it measured


@dataclass(frozen=True, slots=True, kw_only=True)
class LineParams:
    batch_size: int = rule(50, **BATCH)
    repeats: int = rule(5, ge=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class MemoryParams:
    document_counts: tuple[int, ...] = rule((25, 50, 75, 100, 1000), ge=1, le=1000)
    method: Method = "hybrid"
    cold: bool = True  # every document through the model (cleared caches), as for new documents
    line_documents: int = rule(50, **BATCH)  # documents of the line-by-line memory profile (one cold rerank)
    tracemalloc_requests: int = 30  # reranks of new request bodies whose retained allocations are traced
    tracemalloc_top: int = 15
    gc_requests: int = 100  # reranks during which garbage collections are timed
    batch_size: int = rule(50, **BATCH)  # documents per rerank of the tracemalloc and gc workloads


@dataclass(frozen=True, slots=True, kw_only=True)
class CallParams:
    batch_size: int = rule(50, **BATCH)
    method: Method = "hybrid"
    backend: Backend = "aer"
    min_share: float = 0.01  # tree nodes below this share of the call are left out


@dataclass(frozen=True, slots=True, kw_only=True)
class UnderLoadParams:
    enabled: bool = True
    single_user_s: float = rule(30.0, gt=0)  # one user, back to back: the reference profile
    users: int = rule(16, ge=1)  # closed-model users of the load phase
    load_s: float = rule(60.0, gt=0)
    rate_hz: int = 100  # py-spy samples per second per thread
    profile: str = "rag_interactive"  # user profile of data/user_behavior_patterns.json giving the request mix
    pool_size: int = 150  # requests, cycled
    warmup: bool = True  # send the pool once before sampling, so both phases find its documents cached
    warmup_budget_s: float = 120.0  # the warm-up stops here (a slow target would take the pool's whole length)
    # (every request of the phases carries a new query, so the similarity cache never answers it)


@dataclass(frozen=True, slots=True, kw_only=True)
class OpportunityParams:
    # Requests per second at which savings are also stated (CPU-seconds saved per second = cores freed).
    # normal: 50 users and peak: 200 users of the load study, with rag_interactive's mean think time
    # (2.75 s); the PRD's throughput target is 100 requests per second.
    rates_rps: dict[str, float] = rule(
        factory=lambda: {"normal (50 users)": 18.0, "peak (200 users)": 73.0, "PRD target": 100.0}, gt=0
    )
    reference_batch: int = rule(50, **BATCH)  # documents per request the savings are stated for
    min_saving_ms: float = 0.05  # opportunities saving less per request are left out of the ranking


def _default_target() -> TargetParams:
    return TargetParams(backend="aer")


@dataclass(frozen=True, slots=True, kw_only=True)
class BottlenecksParams:
    seed: int = 0
    confidence: float = rule(0.95, ge=0.5, lt=1)
    thresholds_file: str = "parameters/thresholds.yaml"
    # components explain the total when |unattributed| / total is below this
    max_unattributed_share: float = rule(0.15, gt=0, lt=1)
    request_timeout_s: float = 120.0
    # intra-op threads of the in-process embedder (null: the service's default)
    torch_threads: int | None = rule(None, ge=1)
    target: TargetParams = field(default_factory=_default_target)
    breakdown: BreakdownParams = field(default_factory=BreakdownParams)
    cold_start: ColdStartParams = field(default_factory=ColdStartParams)
    shots: ShotParams = field(default_factory=ShotParams)
    http: HttpParams = field(default_factory=HttpParams)
    lines: LineParams = field(default_factory=LineParams)
    memory: MemoryParams = field(default_factory=MemoryParams)
    calls: CallParams = field(default_factory=CallParams)
    under_load: UnderLoadParams = field(default_factory=UnderLoadParams)
    outside: OutsideParams = field(default_factory=OutsideParams)
    opportunities: OpportunityParams = field(default_factory=OpportunityParams)

    def __post_init__(self) -> None:
        validate(self)
