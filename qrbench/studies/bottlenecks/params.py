"""The bottlenecks study's parameters (parameters/bottlenecks.yaml)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ...deploy import TargetParams
from ...errors import ParameterError

__all__ = ["BottlenecksParams", "INFO_FILE"]

Method = Literal["classical", "quantum", "hybrid"]
Backend = Literal["exact", "aer"]
Documents = Literal["cached", "cold"]

INFO_FILE = "info.json"  # the run's own notes; its tables are parquet files named by the part that measured them


@dataclass(frozen=True, slots=True, kw_only=True)
class GridParams:
    """One grid of breakdown scenarios: every combination of the lists (see qrbench.profile.scenario_grid)."""

    batch_sizes: tuple[int, ...] = (50,)
    methods: tuple[Method, ...] = ("hybrid",)
    backends: tuple[Backend, ...] = ("exact",)
    qubits: tuple[int, ...] = (4,)
    shots: tuple[int, ...] = (1024,)
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
    repeats: int = 20  # per scenario with cached documents
    cold_repeats: int = 3  # per scenario with cold documents (a cold forward pass of 100 documents takes seconds)
    inputs: int = 8  # distinct queries (with their candidates), cycled over the repeats
    grids: tuple[GridParams, ...] = field(default_factory=_default_grids)


@dataclass(frozen=True, slots=True, kw_only=True)
class ColdStartParams:
    qubits: tuple[int, ...] = (2, 3, 4)
    repeats: int = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class ShotParams:
    qubits: tuple[int, ...] = (2, 3, 4)
    shots: tuple[int, ...] = (256, 1024, 8192)
    inputs: int = 6
    batch_size: int = 50


@dataclass(frozen=True, slots=True, kw_only=True)
class HttpParams:
    batch_sizes: tuple[int, ...] = (10, 25, 50, 100)
    methods: tuple[Method, ...] = ("classical", "hybrid")
    iterations: int = 20  # requests per batch size and method, documents cached (sent once before)
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
    sizes: tuple[int, ...] = (1, 10, 25, 50)  # candidates per rerank / batch-similarity request
    method: Method = "hybrid"
    repeats: int = 5  # requests per kind and size, each with a new query
    budget_s: float = 300.0  # the stage stops here and keeps what it measured


@dataclass(frozen=True, slots=True, kw_only=True)
class LineParams:
    batch_size: int = 50
    repeats: int = 5


@dataclass(frozen=True, slots=True, kw_only=True)
class MemoryParams:
    document_counts: tuple[int, ...] = (25, 50, 75, 100, 1000)
    method: Method = "hybrid"
    cold: bool = True  # every document through the model (cleared caches), as for new documents
    line_documents: int = 50  # documents of the line-by-line memory profile (one cold rerank)
    tracemalloc_requests: int = 30  # reranks of new request bodies whose retained allocations are traced
    tracemalloc_top: int = 15
    gc_requests: int = 100  # reranks during which garbage collections are timed
    batch_size: int = 50  # documents per rerank of the tracemalloc and gc workloads


@dataclass(frozen=True, slots=True, kw_only=True)
class CallParams:
    batch_size: int = 50
    method: Method = "hybrid"
    backend: Backend = "aer"
    min_share: float = 0.01  # tree nodes below this share of the call are left out


@dataclass(frozen=True, slots=True, kw_only=True)
class UnderLoadParams:
    enabled: bool = True
    single_user_s: float = 30.0  # one user, back to back: the reference profile
    users: int = 16  # closed-model users of the load phase
    load_s: float = 60.0
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
    rates_rps: dict[str, float] = field(
        default_factory=lambda: {"normal (50 users)": 18.0, "peak (200 users)": 73.0, "PRD target": 100.0}
    )
    reference_batch: int = 50  # documents per request the savings are stated for
    min_saving_ms: float = 0.05  # opportunities saving less per request are left out of the ranking


def _default_target() -> TargetParams:
    return TargetParams(backend="aer")


@dataclass(frozen=True, slots=True, kw_only=True)
class BottlenecksParams:
    seed: int = 0
    confidence: float = 0.95
    thresholds_file: str = "parameters/thresholds.yaml"
    max_unattributed_share: float = 0.15  # components explain the total when |unattributed| / total is below this
    request_timeout_s: float = 120.0
    torch_threads: int | None = None  # intra-op threads of the in-process embedder (null: the service's default)
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
        grids, memory, under = self.breakdown.grids, self.memory, self.under_load
        sizes = [*(n for g in grids for n in g.batch_sizes), *self.http.batch_sizes, *self.outside.sizes]
        sizes += [self.lines.batch_size, self.shots.batch_size, self.calls.batch_size, memory.batch_size]
        sizes += [memory.line_documents, self.opportunities.reference_batch]
        qubits = [*self.cold_start.qubits, *self.shots.qubits, *(q for g in grids for q in g.qubits)]
        shots = [*self.shots.shots, *(s for g in grids for s in g.shots)]
        counts = {
            "breakdown.repeats": self.breakdown.repeats,
            "breakdown.cold_repeats": self.breakdown.cold_repeats,
            "breakdown.inputs": self.breakdown.inputs,
            "http.iterations": self.http.iterations,
            "outside.repeats": self.outside.repeats,
            "lines.repeats": self.lines.repeats,
            "under_load.users": under.users,
        }
        seconds = {
            "outside.budget_s": self.outside.budget_s,
            "under_load.single_user_s": under.single_user_s,
            "under_load.load_s": under.load_s,
        }
        checks = [
            *((key, n >= 1, "at least 1") for key, n in counts.items()),
            *((key, t > 0, "a positive number of seconds") for key, t in seconds.items()),
            ("breakdown.grids", len(grids) >= 1, "at least one grid"),
            ("outside.sizes", len(self.outside.sizes) >= 1, "at least one size"),
            ("batch sizes", all(1 <= n <= 100 for n in sizes), "each 1 to 100"),
            ("qubits", all(q in (2, 3, 4) for q in qubits), "2, 3 or 4"),
            ("shots", all(1 <= s <= 1_000_000 for s in shots), "1 to 1,000,000"),
            ("memory.document_counts", all(1 <= n <= 1000 for n in memory.document_counts), "each 1 to 1000"),
            ("confidence", 0.5 <= self.confidence < 1, "between 0.5 and 1"),
            ("torch_threads", self.torch_threads is None or self.torch_threads >= 1, "1 or more, or null"),
            ("max_unattributed_share", 0 < self.max_unattributed_share < 1, "between 0 and 1"),
            ("opportunities.rates_rps", all(r > 0 for r in self.opportunities.rates_rps.values()), "positive rates"),
        ]
        for key, ok, valid in checks:
            if not ok:
                raise ParameterError(f"{key} is invalid; it must be {valid}.")
