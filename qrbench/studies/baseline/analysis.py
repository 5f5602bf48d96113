"""Analysis of a baseline run folder: PRD verdicts, cache effectiveness, quantum vs classical, memory."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ... import stats
from ...monitor import counter_delta
from ..analysis import (
    KEY_FIGURE,
    compare_runs,
    latency_statistic,
    load_thresholds,
    stage_table,
    summary_head,
    trim_stage_warmup,
)
from ..compliance import compliance_frame
from ..contention import busy_first, excuse_busy, read_contention
from ..folder import RunFolder
from ..stages import load_stages
from .params import BaselineParams

__all__ = ["BaselineReport", "analyse_baseline", "summary", "KEY_FIGURE"]


@dataclass(frozen=True, slots=True, kw_only=True)
class BaselineReport:
    params: BaselineParams  # what the run measured (from its run.json)
    run_dir: Path  # the run folder analysed (its run.json says where CPU and memory came from)
    records: pd.DataFrame  # every request of every stage (warm-up stage included)
    stages: pd.DataFrame  # per-stage latency table, warm-up trimmed
    warmup: pd.DataFrame  # what the warm-up trimming removed, per stage
    compliance: pd.DataFrame  # PRD metrics with intervals and verdicts
    verdict: str
    cache: pd.DataFrame
    method_ratios: pd.DataFrame  # quantum or hybrid latency / classical latency, with intervals
    agreement: pd.DataFrame  # rank agreement between methods
    memory: pd.DataFrame
    server: pd.DataFrame  # server process samples (empty for a remote target)
    reliability: list[stats.Check]
    regression: pd.DataFrame | None  # compare_runs against baseline_run (Holm over stage x statistic)
    quality: pd.DataFrame  # nDCG@10 and MRR per method with intervals, beside the latency they cost
    verdict_reasons: tuple[str, ...]  # sentences, the main one first (the busy machine before any verdict)
    thresholds: dict[str, stats.Threshold]  # the baseline targets of params.thresholds_file
    contention: stats.Contention | None = None  # other programs' CPU, steal, calibration per stage (None: not sampled)


def _ci(e: stats.Estimate | None, value: str, low: str, high: str) -> dict[str, float]:
    """An estimate as three columns of a row (NaN without one)."""
    return {value: e.value, low: e.low, high: e.high} if e else dict.fromkeys((value, low, high), np.nan)


def _lat(records: pd.DataFrame, stage: str) -> np.ndarray:
    return records[(records["stage"] == stage) & records["ok"]]["latency_ms"].to_numpy()


def _cache_counts(entries: list[dict], cache: str) -> tuple[float, float]:
    """Hits and misses of the service's `cache` (embedding, similarity) on /metrics around the stage `entries`."""
    hits = sum(
        counter_delta(e["metrics_before"], e["metrics_after"], f"qrbench_{cache}_cache_hits_total") for e in entries
    )
    misses = sum(
        counter_delta(e["metrics_before"], e["metrics_after"], f"qrbench_{cache}_cache_misses_total") for e in entries
    )
    return hits, misses


def _documents_cached(index: list[dict], stage: str, requests: int) -> float:
    """Share of a rerank stage's documents the service already had embedded, over every repetition of the stage:
    each request's query is new (one miss), so documents found = hits / (hits + misses - requests). NaN when the
    service exports no such counters (a service other than the reference)."""
    hits, misses = _cache_counts([e for e in index if e["name"] == stage], "embedding")
    documents = hits + misses - requests
    return min(1.0, hits / documents) if documents > 0 and np.isfinite(documents) else float("nan")


def _hit_rate(entry: dict, cache: str) -> float:
    hits, misses = _cache_counts([entry], cache)
    return hits / (hits + misses) if hits + misses else float("nan")


def analyse_baseline(
    run_dir: str | Path, params: BaselineParams, *, baseline_run: str | Path | None = None
) -> BaselineReport:
    run_dir, folder = Path(run_dir), RunFolder(Path(run_dir))
    records, index = load_stages(run_dir)
    measured = records[records["stage"] != "warmup"]
    kept, warmup = trim_stage_warmup(measured)
    table = stage_table(kept, confidence=params.confidence, censor_ms=params.request_timeout_s * 1000)
    server = folder.read_frame("server", default=pd.DataFrame())
    memory = _memory_table(records, server, params.memory.document_counts)
    thresholds = load_thresholds(params.thresholds_file, "baseline")
    judgements, stage_of = _latency_judgements(kept, records, index, params, thresholds)
    judgements.update(_memory_judgement(memory, params, thresholds))
    # A latency that fails by less than what other programs on the machine could explain is not a verdict on the
    # service (memory is not slowed by a busy machine: it has no stage here, so it is never excused).
    contention = read_contention(run_dir)
    judgements, excused = excuse_busy(judgements, contention, stage_of)
    compliance = compliance_frame(judgements, excused=excused)
    verdict = str(stats.overall(judgements.values()))
    if excused and verdict != "fail":
        verdict = "insufficient"  # the busy machine, not the service, left these targets undecided
    checks = _checks(folder, table, kept, index, params.confidence) + _budget_checks(folder, index)
    regression = compare_runs(baseline_run, run_dir) if baseline_run else None
    return BaselineReport(
        params=params,
        run_dir=run_dir,
        records=records,
        stages=table,
        warmup=warmup,
        compliance=compliance,
        verdict=verdict,
        cache=_cache_table(kept, index, params.confidence),
        method_ratios=_method_ratios(kept, params),
        agreement=_agreement(folder.read_frame("comparison", default=pd.DataFrame()), params.confidence),
        memory=memory,
        server=server,
        reliability=checks,
        regression=regression,
        quality=_quality(folder.read_frame("quality", default=pd.DataFrame()), params.confidence, params.seed, table),
        verdict_reasons=busy_first(_reasons(verdict, compliance, regression, checks), contention, len(excused)),
        thresholds=thresholds,
        contention=contention,
    )


def _latency_judgements(
    kept: pd.DataFrame,
    records: pd.DataFrame,
    index: list[dict[str, Any]],
    params: BaselineParams,
    thresholds: dict[str, stats.Threshold],
) -> tuple[dict[str, stats.Judgement], dict[str, str | None]]:
    """Each latency target judged on its statistic in thresholds.yaml (failures counted at the timeout) over the
    stage of its request kind; and the stage each judgement comes from."""
    censor_ms = params.request_timeout_s * 1000
    users = params.rerank.concurrent_requests
    who = "single user" if users == 1 else f"{users} concurrent users"
    judgements, stage_of = {}, {}
    targets = [
        ("similarity_ms", f"similarity/{m}", f"similarity ({m})", "single user, one pair per request")
        for m in params.similarity.methods
    ]
    if 50 in params.rerank.batch_sizes:
        targets += [
            ("rerank_50_ms", f"rerank/{m}/50", f"rerank 50 documents ({m})", f"{who}, 50 documents")
            for m in params.rerank.methods
        ]
    for key, stage, label, workload in targets:
        threshold = thresholds[key]
        g = kept[kept["stage"] == stage]
        if stage.startswith("rerank/"):
            # A warm cache is what makes a rerank fast (a cold document costs ~40 ms of a core to embed): the
            # workload says how warm it was, so a pass here is not read as a pass for cold documents.
            cached = _documents_cached(index, stage, int((records["stage"] == stage).sum()))
            if np.isfinite(cached):
                workload += f", {cached:.0%} of the documents already embedded by the service (cache)"
        e = latency_statistic(
            g["latency_ms"].to_numpy(), g["ok"].to_numpy(), threshold, confidence=params.confidence, censor_ms=censor_ms
        )
        name = f"{label} {threshold.statistic or 'p95'}"
        judgements[name] = stats.judge(e, threshold, workload=workload)
        stage_of[name] = stage
    return judgements, stage_of


def _memory_table(records: pd.DataFrame, server: pd.DataFrame, document_counts) -> pd.DataFrame:
    """Per document count: the server's peak and median RSS (MB) during its memory stage, and the samples."""
    rows = []
    for n in document_counts:
        window = records[records["stage"] == f"memory/{n}"]["t_unix"]
        in_stage = (
            server[(server["t_unix"] >= window.min() - 1) & (server["t_unix"] <= window.max())]
            if len(server) and len(window)
            else pd.DataFrame()
        )
        rows.append(
            {
                "documents": n,
                "requests": len(window),
                "rss_max_mb": in_stage["rss_bytes"].max() / 1e6 if len(in_stage) else np.nan,
                "rss_median_mb": in_stage["rss_bytes"].median() / 1e6 if len(in_stage) else np.nan,
                "samples": len(in_stage),
            }
        )
    return pd.DataFrame(rows, columns=["documents", "requests", "rss_max_mb", "rss_median_mb", "samples"])


def _memory_judgement(
    memory: pd.DataFrame, params: BaselineParams, thresholds: dict[str, stats.Threshold]
) -> dict[str, stats.Judgement]:
    """The PRD memory target with 100 documents, when the run had that stage."""
    if 100 not in params.memory.document_counts:
        return {}
    conf = params.confidence
    peak = memory.loc[memory["documents"] == 100, "rss_max_mb"].iloc[0] / 1000
    samples = int(memory.loc[memory["documents"] == 100, "samples"].iloc[0])
    # The peak is an observed maximum, not a sample statistic: no interval, undecided if never sampled.
    if samples:
        e = stats.Estimate(value=peak, low=peak, high=peak, confidence=conf, n=samples, method="observed maximum RSS")
    else:
        method, inf = "not sampled (remote target)", float("inf")
        e = stats.Estimate(value=float("nan"), low=-inf, high=inf, confidence=conf, n=0, method=method, decided=False)
    workload = f"single user, 100 documents sustained for {params.memory.sustained_s:g} s"
    return {"memory with 100 documents (GB)": stats.judge(e, thresholds["memory_100_docs_gb"], workload=workload)}


def _cache_table(kept: pd.DataFrame, index: list[dict[str, Any]], conf: float) -> pd.DataFrame:
    """The cache stages: median latency, hit rates, and how much faster than cold (ratio of medians)."""
    by_name = {s["name"]: s for s in index}
    rows = []
    cold = _lat(kept, "cache/cold")
    for stage in ("cache/cold", "cache/warm_documents", "cache/repeat"):
        if stage not in by_name:
            continue
        lat = _lat(kept, stage)
        p50 = stats.percentile_ci(lat, 50, conf)
        speedup = stats.ratio_ci(cold, lat, confidence=conf) if stage != "cache/cold" and len(lat) else None
        rows.append(
            {
                "stage": stage,
                "requests": len(lat),
                **_ci(p50, "p50_ms", "p50_low", "p50_high"),
                "embedding_hit_rate": _hit_rate(by_name[stage], "embedding"),
                "similarity_hit_rate": _hit_rate(by_name[stage], "similarity"),
                **_ci(speedup, "cold_over_this", "cold_over_this_low", "cold_over_this_high"),
            }
        )
    return pd.DataFrame(rows)


def _method_ratios(kept: pd.DataFrame, params: BaselineParams) -> pd.DataFrame:
    """Median latency of quantum and hybrid over classical, per request kind, with intervals."""
    rows = []
    groups = [("similarity", "similarity/{}")]
    groups += [(f"rerank {n}", f"rerank/{{}}/{n}") for n in params.rerank.batch_sizes]
    for label, pattern in groups:
        base = _lat(kept, pattern.format("classical"))
        for method in ("quantum", "hybrid"):
            other = _lat(kept, pattern.format(method))
            if len(base) >= 2 and len(other) >= 2:
                r = stats.ratio_ci(other, base, confidence=params.confidence)
                rows.append(
                    {
                        "request": label,
                        "method": method,
                        **_ci(r, "median_ratio", "low", "high"),
                        "n_method": len(other),
                        "n_classical": len(base),
                    }
                )
    return pd.DataFrame(rows)


def _budget_checks(folder: RunFolder, index: list[dict[str, Any]]) -> list[stats.Check]:
    """A warning naming the stages that stopped at their time budget, if any."""
    cut_names = {s["name"] for s in index if s.get("cut")}
    cut = {name: sum(s.get("budget_s") or 0 for s in index if s["name"] == name) for name in cut_names}
    cuts = folder.facts.get("budget_cuts") or {}
    if not (cut or cuts):
        return []
    said = [f"{name} (cut at {s:.0f} s)" for name, s in sorted(cut.items())] + [
        f"{name} ({c['done']} of {c['planned']})" for name, c in cuts.items()
    ]
    message = (
        "Stages stopped at their time budget (stage_budget_s, time_budget_s) and are judged on the sample they got, "
        "undecided where it is too small: " + ", ".join(said) + "."
    )
    return [stats.Check(name="stage budgets", ok=False, severity="warning", message=message)]


def _checks(
    folder: RunFolder, table: pd.DataFrame, kept: pd.DataFrame, index: list[dict[str, Any]], conf: float
) -> list[stats.Check]:
    noise = folder.calibration_s
    results = [s["result"] for s in index]
    return stats.reliability_checks(
        n_samples={s: int(n) for s, n in zip(table["stage"], table["ok"], strict=True)},
        estimates={f"{s} p95": stats.percentile_ci(_lat(kept, s), 95, conf) for s in table["stage"]},
        generator_cpu=max(r["generator_cpu_percent"] or 0.0 for r in results) / 100 if results else None,
        send_lag_p99_ms=None,  # closed model, one request at a time: nothing is sent late by design
        machine_noise_cv=stats.noise_cv(noise) if noise else None,
    )


def _reasons(
    verdict: str, compliance: pd.DataFrame, regression: pd.DataFrame | None, checks: list[stats.Check]
) -> tuple[str, ...]:
    """Why the verdict is what it is, main reason first: failing targets, then undecided ones, then warnings."""
    reasons = []
    words = {"fail": "fail", "insufficient": "cannot be decided", "warn": "are too close to call"}
    for wanted, word in words.items():
        rows = compliance[compliance["verdict"] == wanted]
        if len(rows):
            first = rows.iloc[0]
            reasons.append(
                f"{len(rows)} of {len(compliance)} PRD targets {word}; first: {first['metric']} is "
                f"{stats.quantity_text(first['value'], first['unit'])} against a target {first['direction']} "
                f"{first['target']:g} {first['unit']} ({first['workload']})."
            )
    reasons += [r for r, v in zip(compliance["reason"], compliance["verdict"], strict=True) if v != "pass"]
    if not reasons and len(compliance):
        reasons.append(f"All {len(compliance)} PRD targets are met with 95 % confidence (single user).")
    if regression is not None and len(regression):
        worse = regression[regression["regressed"]]
        blind = regression[regression["verdict"] == "cannot tell"]
        k = int(min(regression["k_baseline"].min(), regression["k_current"].min()))
        reasons.append(
            f"{len(worse)} of {len(regression)} stage x statistic comparisons regressed against the "
            f"previous baseline ({regression['correction'].iloc[0]}, k = {k} repetitions per side)."
            if len(worse)
            else f"Cannot tell whether it regressed against the previous baseline: {len(blind)} of {len(regression)} "
            "comparisons could not have seen a change of 10 % (their detectable change is larger; "
            f"{regression['correction'].iloc[0]}, k = {k} repetitions per side)."
            if len(blind)
            else f"No regression against the previous baseline ({regression['correction'].iloc[0]}, "
            f"k = {k} repetitions per side)."
        )
    failed = [c for c in checks if not c.ok]
    if failed:
        reasons.append(f"{len(failed)} reliability check(s) failed, e.g. {failed[0].message}")
    return tuple(reasons) or (f"The verdict is {verdict}.",)


def _quality(df: pd.DataFrame, confidence: float, seed: int, stages: pd.DataFrame) -> pd.DataFrame:
    """nDCG@10 and MRR per method (bootstrap intervals over queries) from quality.parquet, beside its cost: the
    median latency of the rerank stage nearest in size (fresh texts: the quality requests' own latencies share
    one case's embeddings in the cache), and its ratio to classical's."""
    if df.empty:
        return pd.DataFrame()
    reranks = stages[stages["stage"].str.startswith("rerank/")] if len(stages) else stages
    rows = []
    for method, g in df.groupby("method", sort=False):
        answered = g[(g["status"] == 200) & g["score"].notna()]
        queries = [q for _, q in answered.groupby("query", sort=True)]
        if not queries:
            continue
        q = stats.ranking_quality(
            [x["score"].to_numpy() for x in queries],
            [x["relevant"].to_numpy() for x in queries],
            k=10,
            confidence=confidence,
            seed=seed,
        )
        candidates = int(g.groupby("query").size().median())
        row = {
            "method": method,
            **_ci(q.ndcg, "ndcg", "ndcg_low", "ndcg_high"),
            **_ci(q.mrr, "mrr", "mrr_low", "mrr_high"),
            "queries": q.n_queries,
            "candidates": candidates,
            "failed_queries": int(g["query"].nunique() - len(queries)),
            "fallback_queries": int(answered[answered["method_used"] != method]["query"].nunique()),
        }
        mine = reranks[reranks["method"] == method] if len(reranks) else reranks
        if len(mine):
            nearest = mine.iloc[int(np.argmin(np.abs(mine["n_candidates"].to_numpy() - candidates)))]
            row.update(
                cost_stage=nearest["stage"],
                p50_ms=nearest["p50_ms"],
                p50_low=nearest["p50_low"],
                p50_high=nearest["p50_high"],
            )
        rows.append(row)
    out = pd.DataFrame(rows)
    if "p50_ms" in out and "classical" in set(out["method"]):
        base = float(out.loc[out["method"] == "classical", "p50_ms"].iloc[0])
        out["cost_vs_classical"] = out["p50_ms"] / base
    return out


def _agreement(df: pd.DataFrame, confidence: float) -> pd.DataFrame:
    """Per method pair: median Spearman rank correlation over queries (bootstrap CI) and top-1 agreement."""
    from scipy.stats import spearmanr

    if df.empty:
        return pd.DataFrame()
    wide = df.pivot_table(index=["query", "text"], columns="method", values="score")
    rows = []
    for a, b in (("classical", "quantum"), ("classical", "hybrid"), ("quantum", "hybrid")):
        if a not in wide or b not in wide:
            continue
        rhos, same_top = [], []
        for _, g in wide[[a, b]].dropna().groupby(level="query"):
            if len(g) >= 3:
                rhos.append(spearmanr(g[a], g[b]).statistic)
                same_top.append(g[a].idxmax() == g[b].idxmax())
        if len(rhos) >= 2:
            e = stats.bootstrap_ci(np.array(rhos), np.median, confidence=confidence)
            rows.append(
                {
                    "methods": f"{a} vs {b}",
                    "queries": len(rhos),
                    **_ci(e, "spearman_median", "low", "high"),
                    "top1_agreement": float(np.mean(same_top)),
                }
            )
    return pd.DataFrame(rows)


def summary(report: BaselineReport) -> dict:
    """The key numbers of the run for summary.json, the executive report and CI (the Phase 2 contract)."""
    params = report.params
    return {
        **summary_head("baseline", report),
        "quality": report.quality.to_dict(orient="records") if len(report.quality) else None,
        "regression": None if report.regression is None else report.regression.to_dict(orient="records"),
        "repetitions": params.repetitions,
        "stages": report.stages.to_dict(orient="records"),
        "cache": report.cache.to_dict(orient="records"),
        "method_ratios": report.method_ratios.to_dict(orient="records"),
        "agreement": report.agreement.to_dict(orient="records"),
        "memory": report.memory.to_dict(orient="records"),
        "requests": int(len(report.records)),
    }
