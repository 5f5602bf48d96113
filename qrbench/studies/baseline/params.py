"""The baseline study's parameters: one frozen, validated dataclass per section of parameters/baseline.yaml."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ...deploy import TargetParams
from ...params import TARGET_RULES, require, rule, validate

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

    batch_sizes: tuple[int, ...] = rule((10, 25, 50, 100), ge=1, le=1000)
    iterations: int = 240  # requests per batch size and method, split over the repetitions
    methods: tuple[Method, ...] = ALL_METHODS
    concurrent_requests: int = rule(1, ge=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class MemoryParams:
    """Reranks of N documents sent back to back for `sustained_s` seconds per count, RSS sampled."""

    document_counts: tuple[int, ...] = rule((25, 50, 75, 100), ge=1, le=1000)
    sustained_s: float = rule(600.0, gt=0)  # seconds per document count
    method: Method = "hybrid"
    sample_interval_s: float = 1.0


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheParams:
    """The same requests cold (every text new), with known documents (new query), and repeated."""

    iterations: int = rule(30, ge=1)
    batch_size: int = rule(50, ge=1, le=1000)
    method: Method = "hybrid"


@dataclass(frozen=True, slots=True, kw_only=True)
class ComparisonParams:
    """Rank agreement: the same reranks scored by every method."""

    queries: int = rule(50, ge=0)
    batch_size: int = rule(50, ge=2, le=100)


@dataclass(frozen=True, slots=True, kw_only=True)
class QualityParams:
    """Ranking quality per method over HTTP: labelled queries, their relevant documents and hard negatives
    (qrbench.profile.quality.hard_negative_cases), scored by every method; nDCG@10 and MRR over queries."""

    queries: int = rule(80, ge=0, note="0: not measured")
    # per query: its relevant documents plus same-topic, then same-domain negatives
    candidates: int = rule(30, ge=6, le=100)
    methods: tuple[Method, ...] = ALL_METHODS


@dataclass(frozen=True, slots=True, kw_only=True)
class BaselineParams:
    seed: int = 0
    warmup_requests: int = rule(20, ge=0)  # sent first and left out of every statistic
    # The latency stages (similarity, rerank) run as this many rounds in alternating order (A, B, C, A, B,
    # C, ...), each with its share of the iterations, so a regression is judged against the variation
    # between repetitions rather than one run against one run.
    repetitions: int = rule(3, ge=1, le=100, note="3 or more to judge a regression")
    request_timeout_s: float = rule(60.0, gt=0)
    # Seconds each stage may take over all its repetitions (rank agreement and quality included); a stage
    # that reaches it stops, keeps what it measured and is judged on that sample. null: no bound.
    stage_budget_s: float | None = rule(None, gt=0)
    # Seconds the whole study may take: shared out among its stages as they start (a stage that finishes early
    # leaves its time to the later ones; each keeps at least 10 s for every stage after it). null: no bound.
    time_budget_s: float | None = rule(None, gt=0)
    confidence: float = rule(0.95, ge=0.5, lt=1)
    thresholds_file: str = "parameters/thresholds.yaml"  # as given, else the shipped parameters/
    target: TargetParams = field(default_factory=TargetParams)
    similarity: SimilarityParams = field(default_factory=SimilarityParams)
    rerank: RerankParams = field(default_factory=RerankParams)
    memory: MemoryParams = field(default_factory=MemoryParams)
    cache: CacheParams = field(default_factory=CacheParams)
    comparison: ComparisonParams = field(default_factory=ComparisonParams)
    quality: QualityParams = field(default_factory=QualityParams)

    def __post_init__(self) -> None:
        validate(self, TARGET_RULES)
        reps = f"at least repetitions ({self.repetitions})"
        rules = [
            ("similarity.iterations", self.similarity.iterations >= self.repetitions, reps),
            ("rerank.iterations", self.rerank.iterations >= self.repetitions, reps),
        ]
        require(self, rules)
