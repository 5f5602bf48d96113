"""`run_baseline` measures the baseline into a run folder (run.json, stages.json and stages/<stage>/ in the layout
of studies/stages.py, comparison.parquet, quality.parquet, server.parquet, target.log)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from ...deploy import Target, open_target, target_facts
from ...load import DataManager, RequestSpec
from ...monitor import ProcessSampler, calibration_timings
from ...params import to_dict
from ...profile.quality import hard_negative_cases
from ..contention import contention_monitor
from ..folder import RunFolder
from ..requests import tagged
from ..stages import StageRunner, StudyBudget, stage_windows
from .params import ALL_METHODS, BaselineParams

__all__ = ["run_baseline"]


def _reranks(data: DataManager, rng, n: int, count: int, method: str, kind: str, tag: str, **kw) -> list[RequestSpec]:
    return [tagged(data.rerank(n, method, rng=rng, kind=kind), f"{tag}{i}", **kw) for i in range(count)]


def run_baseline(params: BaselineParams, run_dir: str | Path, *, url: str | None = None, progress: bool = True) -> Path:
    """Measure every stage of the baseline into run_dir (records stream in, so a study that fails half-way keeps
    what it measured; server memory is sampled when the target runs on this machine); returns run_dir."""
    data = DataManager.from_dir(seed=params.seed)
    rng = np.random.default_rng(params.seed)
    folder = RunFolder.create(
        run_dir, study="baseline", params=to_dict(params), calibration_s=calibration_timings().tolist()
    )
    run_dir = folder.path
    with open_target(params.target, url=url, log_dir=run_dir) as target:
        folder.update(target=target_facts(target, params.target))
        sampler = ProcessSampler(target.pid, interval_s=params.memory.sample_interval_s) if target.pid else None
        if sampler:
            sampler.start()
        try:
            budget = _budget(params)
            with contention_monitor(folder, target.pid, windows=lambda: stage_windows(run_dir)):
                _run_stages(params, data, rng, StageRunner(target, run_dir, params.request_timeout_s, progress), budget)
            if params.comparison.queries:
                _rank_agreement(params, data, rng, target, run_dir, progress, budget.next())
            if params.quality.queries:
                _quality(params, data, target, run_dir, progress, budget.next())
        finally:
            if sampler:
                sampler.stop()
                folder.write_frame("server", sampler.frame())
    folder.finish()
    return run_dir


def _budget(p: BaselineParams) -> StudyBudget:
    """The study's time budget over its stages: warm-up, latency stages, cache, memory, rank agreement, quality."""
    latency = len(p.similarity.methods) + len(p.rerank.batch_sizes) * len(p.rerank.methods)
    stages = 1 + latency + 3 + len(p.memory.document_counts) + bool(p.comparison.queries) + bool(p.quality.queries)
    return StudyBudget(p.time_budget_s, p.stage_budget_s, stages)


def _run_stages(p: BaselineParams, data: DataManager, rng, runner: StageRunner, budget: StudyBudget) -> None:
    if p.warmup_requests:
        warm = [data.rerank(10, m, rng=rng, kind="warmup") for m in ALL_METHODS]
        warm = [tagged(warm[i % 3], f"w{i}") for i in range(p.warmup_requests)]
        runner.run("warmup", warm, budget_s=budget.next())
    # Every latency stage's requests are drawn once, then sent in `repetitions` rounds in alternating order,
    # so that machine drift during the run spreads over every stage instead of landing on one.
    stages: list[tuple[str, list[RequestSpec], int]] = []
    for method in p.similarity.methods:
        specs = [tagged(data.similarity(method, rng=rng), f"s{method[0]}{i}") for i in range(p.similarity.iterations)]
        stages.append((f"similarity/{method}", specs, 1))
    for n in p.rerank.batch_sizes:
        for method in p.rerank.methods:
            specs = _reranks(data, rng, n, p.rerank.iterations, method, f"rerank_{n}", f"r{method[0]}{n}.")
            stages.append((f"rerank/{method}/{n}", specs, p.rerank.concurrent_requests))
    # A latency stage's budget is set when its first repetition starts; each repetition may use what the earlier
    # ones left, less a reserve for each one still to come (the first, cold one is the slowest).
    left: dict[str, float | None] = {}
    for rep in range(p.repetitions):
        for name, specs, users in stages:
            if name not in left:
                left[name] = budget.next()
            share = _repetition_budget(left[name], p.repetitions - rep - 1)
            entry = runner.run(name, specs[rep :: p.repetitions], users=users, repetition=rep, budget_s=share)
            if left[name] is not None:
                left[name] -= entry["result"]["duration_s"]
    c = p.cache
    cold = _reranks(data, rng, c.batch_size, c.iterations, c.method, "cache_cold", "c", documents=True)
    runner.run("cache/cold", cold, budget_s=budget.next())
    # The same documents again with new queries: embeddings cached, similarities not.
    runner.run("cache/warm_documents", [tagged(s, "again") for s in cold], budget_s=budget.next())
    # The identical requests again: every pair is in the similarity cache.
    runner.run("cache/repeat", cold, budget_s=budget.next())
    for n in p.memory.document_counts:
        pool = _reranks(data, rng, n, 50, p.memory.method, f"memory_{n}", f"m{n}.")
        runner.run(f"memory/{n}", pool, duration_s=p.memory.sustained_s, budget_s=budget.next())


def _repetition_budget(left_s: float | None, later: int, reserve_s: float = 10.0) -> float | None:
    """A repetition's budget: what its stage has left, less `reserve_s` for each of the `later` repetitions."""
    if left_s is None:
        return None
    return max(StudyBudget.MIN_S, left_s - reserve_s * later)


def _note_cut(run_dir: Path, stage: str, done: int, planned: int) -> None:
    """Record in run.json that a stage stopped at its budget (`budget_cuts`: stage -> done and planned)."""
    folder = RunFolder(run_dir)
    cuts = folder.facts.get("budget_cuts") or {}
    folder.update(budget_cuts={**cuts, stage: {"done": done, "planned": planned}})


def _within_budget(p: BaselineParams, target: Target, run_dir: Path, stage: str, items: list, progress: bool, budget_s):
    """(item, client) for each item until `budget_s` runs out (the cut is then noted in run.json)."""
    import httpx

    deadline = time.monotonic() + budget_s if budget_s else None
    with httpx.Client(base_url=target.url, headers=target.headers, timeout=p.request_timeout_s) as client:
        for i, item in enumerate(tqdm(items, desc=stage, disable=not progress)):
            if deadline is not None and time.monotonic() >= deadline:
                _note_cut(run_dir, stage, i, len(items))
                break
            yield item, client


def _rank_agreement(
    p: BaselineParams, data: DataManager, rng, target: Target, run_dir: Path, progress: bool, budget_s: float | None
) -> None:
    """Score the same candidates by every method (top_k = all) and keep each candidate's scores."""
    n = p.comparison.batch_size
    rows = []
    queries = list(range(p.comparison.queries))
    for qi, client in _within_budget(p, target, run_dir, "rank agreement", queries, progress, budget_s):
        spec = data.rerank(n, "classical", rng=rng, kind="comparison")
        payload = {**json.loads(spec.body), "top_k": min(n, 100)}
        for method in ALL_METHODS:
            r = client.post("/v1/rerank", json={**payload, "method": method})
            if r.status_code != 200:
                continue  # a failed comparison request is left out; the analysis counts what it has
            body = r.json()
            for item in body["results"]:
                rows.append(
                    {
                        "query": qi,
                        "method": method,
                        "method_used": body["method_used"],
                        "text": item["text"],
                        "score": item["similarity_score"],
                        "rank": item["rank"],
                    }
                )
    RunFolder(run_dir).write_frame("comparison", pd.DataFrame(rows))


def _quality(
    p: BaselineParams, data: DataManager, target: Target, run_dir: Path, progress: bool, budget_s: float | None
) -> None:
    """Score labelled cases (relevant documents + hard negatives) by every method into quality.parquet: per query,
    method and candidate its score (NaN when the request failed), relevance and the request's latency (ms)."""
    cases = hard_negative_cases(
        data, n_queries=min(p.quality.queries, len(data.queries)), n_candidates=p.quality.candidates, seed=p.seed
    )
    rows = []
    for case, client in _within_budget(p, target, run_dir, "quality", cases, progress, budget_s):
        for method in p.quality.methods:
            body = dict(query=case.query, candidates=list(case.candidates), method=method, top_k=len(case.candidates))
            t0 = time.perf_counter()
            r = client.post("/v1/rerank", json=body)
            ms = (time.perf_counter() - t0) * 1000
            answer = r.json() if r.status_code == 200 else {"results": [], "method_used": ""}
            score = {item["text"]: item["similarity_score"] for item in answer["results"]}
            for i, (text, relevant) in enumerate(zip(case.candidates, case.relevant, strict=True)):
                rows.append(
                    {
                        "query": case.query_id,
                        "method": method,
                        "method_used": answer["method_used"],
                        "candidate": i,
                        "relevant": relevant,
                        "score": score.get(text, np.nan),
                        "status": r.status_code,
                        "latency_ms": ms,
                    }
                )
    RunFolder(run_dir).write_frame("quality", pd.DataFrame(rows))
