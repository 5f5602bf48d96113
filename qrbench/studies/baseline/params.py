"""The baseline study's parameters: one frozen, validated dataclass per section of parameters/baseline.yaml."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ...deploy import TargetParams
from ...errors import ParameterError

Method = Literal["classical", "quantum", "hybrid"]
ALL_METHODS: tuple[Method, ...] = ("classical", "quantum", "hybrid")


@dataclass(frozen=True, slots=True, kw_only=True)
class SimilarityParams:
    """Single pairs through POST /v1/similarity, one at a time."""

    iterations: int = 1000  # requests per method, split over the repetitions
    methods: tuple[Method, ...] = ALL_METHODS


@dataclass(frozen=True, slots=True, kw_only=True)
class RerankParams:
    """POST /v1/rerank per batch size and method."""

    batch_sizes: tuple[int, ...] = (10, 25, 50, 100)
    iterations: int = 240  # requests per batch size and method, split over the repetitions
    methods: tuple[Method, ...] = ALL_METHODS
    concurrent_requests: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class MemoryParams:
    """Reranks of N documents sent back to back for `sustained_s` seconds per count, RSS sampled."""

    document_counts: tuple[int, ...] = (25, 50, 75, 100)
    sustained_s: float = 600.0  # seconds per document count
    method: Method = "hybrid"
    sample_interval_s: float = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheParams:
    """The same requests cold (every text new), with known documents (new query), and repeated."""

    iterations: int = 30
    batch_size: int = 50
    method: Method = "hybrid"


@dataclass(frozen=True, slots=True, kw_only=True)
class ComparisonParams:
    """Rank agreement: the same reranks scored by every method."""

    queries: int = 50
    batch_size: int = 50


@dataclass(frozen=True, slots=True, kw_only=True)
class QualityParams:
    """Ranking quality per method over HTTP: labelled queries, their relevant documents and hard negatives
    (qrbench.profile.quality.hard_negative_cases), scored by every method; nDCG@10 and MRR over queries."""

    queries: int = 80  # 0: not measured
    candidates: int = 30  # per query: its relevant documents plus same-topic, then same-domain negatives
    methods: tuple[Method, ...] = ALL_METHODS


@dataclass(frozen=True, slots=True, kw_only=True)
class BaselineParams:
    seed: int = 0
    warmup_requests: int = 20  # sent first and left out of every statistic
    # The latency stages (similarity, rerank) run as this many rounds in alternating order (A, B, C, A, B,
    # C, ...), each with its share of the iterations, so a regression is judged against the variation
    # between repetitions rather than one run against one run.
    repetitions: int = 3
    request_timeout_s: float = 60.0
    # Seconds each stage may take over all its repetitions (rank agreement and quality included); a stage
    # that reaches it stops, keeps what it measured and is judged on that sample. null: no bound.
    stage_budget_s: float | None = None
    # Seconds the whole study may take: shared out among its stages as they start (a stage that finishes early
    # leaves its time to the later ones; each keeps at least 10 s for every stage after it). null: no bound.
    time_budget_s: float | None = None
    confidence: float = 0.95
    thresholds_file: str = "parameters/thresholds.yaml"  # as given, else the shipped parameters/
    target: TargetParams = field(default_factory=TargetParams)
    similarity: SimilarityParams = field(default_factory=SimilarityParams)
    rerank: RerankParams = field(default_factory=RerankParams)
    memory: MemoryParams = field(default_factory=MemoryParams)
    cache: CacheParams = field(default_factory=CacheParams)
    comparison: ComparisonParams = field(default_factory=ComparisonParams)
    quality: QualityParams = field(default_factory=QualityParams)

    def __post_init__(self) -> None:
        reps = f"at least repetitions ({self.repetitions})"
        checks = [
            ("repetitions", 1 <= self.repetitions <= 100, "1 to 100 (3 or more to judge a regression)"),
            ("stage_budget_s", self.stage_budget_s is None or self.stage_budget_s > 0, "a positive number or null"),
            ("time_budget_s", self.time_budget_s is None or self.time_budget_s > 0, "a positive number or null"),
            ("similarity.iterations", self.similarity.iterations >= self.repetitions, reps),
            ("rerank.iterations", self.rerank.iterations >= self.repetitions, reps),
            ("rerank.batch_sizes", all(1 <= n <= 1000 for n in self.rerank.batch_sizes), "each 1 to 1000"),
            ("rerank.concurrent_requests", self.rerank.concurrent_requests >= 1, "at least 1"),
            ("memory.document_counts", all(1 <= n <= 1000 for n in self.memory.document_counts), "each 1 to 1000"),
            ("memory.sustained_s", self.memory.sustained_s > 0, "a positive number of seconds"),
            ("cache.iterations", self.cache.iterations >= 1, "at least 1"),
            ("cache.batch_size", 1 <= self.cache.batch_size <= 1000, "1 to 1000"),
            ("comparison.batch_size", 2 <= self.comparison.batch_size <= 100, "2 to 100"),
            ("comparison.queries", self.comparison.queries >= 0, "0 or more"),
            ("quality.queries", self.quality.queries >= 0, "0 (not measured) or more"),
            ("quality.candidates", 6 <= self.quality.candidates <= 100, "6 to 100"),
            ("warmup_requests", self.warmup_requests >= 0, "0 or more"),
            ("request_timeout_s", self.request_timeout_s > 0, "a positive number of seconds"),
            ("confidence", 0.5 <= self.confidence < 1, "between 0.5 and 1"),
            ("target.qubits", self.target.qubits in (2, 3, 4), "2, 3 or 4"),
        ]
        for key, ok, valid in checks:
            if not ok:
                raise ParameterError(f"{key} is invalid; it must be {valid}.")
