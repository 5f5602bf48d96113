"""The baseline study: single-user latency per method and batch size, memory per document count,
cache effectiveness, and how far the quantum and classical rankings agree.

`BaselineParams.from_file` validates a parameter file; `run_baseline` measures into a run folder;
`analyse_baseline` turns the folder into tables, verdicts and reliability checks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ..errors import ParameterError
from ..load import RequestSpec
from ..load.data import DataManager
from ..monitor import ProcessSampler, calibration_timings
from ..params import build, load_yaml
from .stages import StageRunner
from .target import Target, TargetParams, open_target

__all__ = ["BaselineParams", "run_baseline"]

Method = Literal["classical", "quantum", "hybrid"]
ALL_METHODS: tuple[Method, ...] = ("classical", "quantum", "hybrid")


@dataclass(frozen=True, slots=True, kw_only=True)
class SimilarityParams:
    """Single pairs through POST /v1/similarity, one at a time."""

    iterations: int = 1000  # requests per method
    methods: tuple[Method, ...] = ALL_METHODS


@dataclass(frozen=True, slots=True, kw_only=True)
class RerankParams:
    """POST /v1/rerank per batch size and method."""

    batch_sizes: tuple[int, ...] = (10, 25, 50, 100)
    iterations: int = 100  # requests per batch size and method
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
class BaselineParams:
    seed: int = 0
    warmup_requests: int = 20  # sent first and left out of every statistic
    request_timeout_s: float = 60.0
    confidence: float = 0.95
    thresholds_file: str = "parameters/thresholds.yaml"  # relative to the repository root
    target: TargetParams = field(default_factory=TargetParams)
    similarity: SimilarityParams = field(default_factory=SimilarityParams)
    rerank: RerankParams = field(default_factory=RerankParams)
    memory: MemoryParams = field(default_factory=MemoryParams)
    cache: CacheParams = field(default_factory=CacheParams)
    comparison: ComparisonParams = field(default_factory=ComparisonParams)

    def __post_init__(self) -> None:
        checks = [
            ("similarity.iterations", self.similarity.iterations >= 1, "at least 1"),
            ("rerank.iterations", self.rerank.iterations >= 1, "at least 1"),
            ("rerank.batch_sizes", all(1 <= n <= 1000 for n in self.rerank.batch_sizes), "each 1 to 1000"),
            ("rerank.concurrent_requests", self.rerank.concurrent_requests >= 1, "at least 1"),
            ("memory.document_counts", all(1 <= n <= 1000 for n in self.memory.document_counts), "each 1 to 1000"),
            ("memory.sustained_s", self.memory.sustained_s > 0, "a positive number of seconds"),
            ("cache.iterations", self.cache.iterations >= 1, "at least 1"),
            ("cache.batch_size", 1 <= self.cache.batch_size <= 1000, "1 to 1000"),
            ("comparison.batch_size", 2 <= self.comparison.batch_size <= 100, "2 to 100"),
            ("comparison.queries", self.comparison.queries >= 0, "0 or more"),
            ("warmup_requests", self.warmup_requests >= 0, "0 or more"),
            ("request_timeout_s", self.request_timeout_s > 0, "a positive number of seconds"),
            ("confidence", 0.5 <= self.confidence < 1, "between 0.5 and 1"),
            ("target.qubits", self.target.qubits in (2, 3, 4), "2, 3 or 4"),
        ]
        for key, ok, valid in checks:
            if not ok:
                raise ParameterError(f"{key} is invalid; it must be {valid}.")

    @classmethod
    def from_file(cls, path: str | Path) -> BaselineParams:
        return build(cls, load_yaml(path), where=str(path))


# ------------------------------------------------------------------------------------------- requests


def _unique(spec: RequestSpec, tag: str, *, documents: bool = False) -> RequestSpec:
    """The same request with its query (and documents) made new texts, so no cache can know them.

    Production queries are nearly all unique while documents recur; appending a tag keeps the text's
    meaning and length and defeats every cache keyed by text.
    """
    payload = json.loads(spec.body)
    for key in ("query", "text1"):
        if key in payload:
            payload[key] = f"{payload[key]} [{tag}]"
    if documents:
        if "candidates" in payload:
            payload["candidates"] = [f"{c} [{tag}.{i}]" for i, c in enumerate(payload["candidates"])]
        if "text2" in payload:
            payload["text2"] = f"{payload['text2']} [{tag}.d]"
    return RequestSpec.from_payload(kind=spec.kind, endpoint=spec.endpoint, payload=payload)


def _reranks(data: DataManager, rng, n: int, count: int, method: str, kind: str, tag: str, **kw) -> list[RequestSpec]:
    return [_unique(data.rerank(n, method, rng=rng, kind=kind), f"{tag}{i}", **kw) for i in range(count)]


def run_baseline(params: BaselineParams, run_dir: str | Path, *, url: str | None = None, progress: bool = True) -> Path:
    """Measure every stage of the baseline into run_dir; returns run_dir.

    Records stream into run_dir/stages/<stage>/ as they are measured, so a study that fails half-way
    keeps what it measured. Server memory is sampled when the target runs on this machine.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    data = DataManager.from_dir(seed=params.seed)
    rng = np.random.default_rng(params.seed)
    noise = calibration_timings()
    (run_dir / "machine.json").write_text(json.dumps({"calibration_s": noise.tolist()}))
    with open_target(params.target, url=url, log_dir=run_dir) as target:
        (run_dir / "target.json").write_text(json.dumps({"url": target.url, "embedded": target.embedded,
                                                          "pid": target.pid, "params": _target_dict(params)}))
        sampler = ProcessSampler(target.pid, interval_s=params.memory.sample_interval_s) if target.pid else None
        if sampler:
            sampler.start()
        try:
            _run_stages(params, data, rng, StageRunner(target, run_dir, params.request_timeout_s, progress))
            if params.comparison.queries:
                _rank_agreement(params, data, rng, target, run_dir, progress)
        finally:
            if sampler:
                sampler.stop()
                sampler.frame().to_parquet(run_dir / "server.parquet")
    return run_dir


def _target_dict(params: BaselineParams) -> dict:
    from ..params import to_dict

    return to_dict(params.target)


def _run_stages(p: BaselineParams, data: DataManager, rng, runner: StageRunner) -> None:
    if p.warmup_requests:
        warm = [data.rerank(10, m, rng=rng, kind="warmup") for m in ALL_METHODS]
        warm = [_unique(warm[i % 3], f"w{i}") for i in range(p.warmup_requests)]
        runner.run("warmup", warm)
    for method in p.similarity.methods:
        specs = [_unique(data.similarity(method, rng=rng), f"s{method[0]}{i}") for i in range(p.similarity.iterations)]
        runner.run(f"similarity/{method}", specs)
    for n in p.rerank.batch_sizes:
        for method in p.rerank.methods:
            specs = _reranks(data, rng, n, p.rerank.iterations, method, f"rerank_{n}", f"r{method[0]}{n}.")
            runner.run(f"rerank/{method}/{n}", specs, users=p.rerank.concurrent_requests)
    c = p.cache
    cold = _reranks(data, rng, c.batch_size, c.iterations, c.method, "cache_cold", "c", documents=True)
    runner.run("cache/cold", cold)
    # The same documents again with new queries: embeddings cached, similarities not.
    runner.run("cache/warm_documents", [_unique(s, "again") for s in cold])
    # The identical requests again: every pair is in the similarity cache.
    runner.run("cache/repeat", cold)
    for n in p.memory.document_counts:
        pool = _reranks(data, rng, n, 50, p.memory.method, f"memory_{n}", f"m{n}.")
        runner.run(f"memory/{n}", pool, duration_s=p.memory.sustained_s)


def _rank_agreement(p: BaselineParams, data: DataManager, rng, target: Target, run_dir: Path, progress: bool) -> None:
    """Score the same candidates by every method (top_k = all) and keep each candidate's scores."""
    import httpx

    n = p.comparison.batch_size
    rows = []
    with httpx.Client(base_url=target.url, headers=target.headers, timeout=p.request_timeout_s) as client:
        for qi in tqdm(range(p.comparison.queries), desc="rank agreement", disable=not progress):
            spec = data.rerank(n, "classical", rng=rng, kind="comparison")
            payload = {**json.loads(spec.body), "top_k": min(n, 100)}
            for method in ALL_METHODS:
                r = client.post("/v1/rerank", json={**payload, "method": method})
                if r.status_code != 200:
                    continue  # a failed comparison request is left out; the analysis counts what it has
                body = r.json()
                for item in body["results"]:
                    rows.append({"query": qi, "method": method, "method_used": body["method_used"],
                                 "text": item["text"], "score": item["similarity_score"], "rank": item["rank"]})
    pd.DataFrame(rows).to_parquet(run_dir / "comparison.parquet")
