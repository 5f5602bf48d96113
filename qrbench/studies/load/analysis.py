"""Analysis of a load-study run folder: per-phase percentiles, the seed's full metric table with verdicts,
Little's law, degradation under stress, outages, and the reliability checks.

The one analysis of a load run: `analyse_load` (the notebook's report) and `quick_summary` (`qrbench load`'s
one screen) take the judged requests, the latency percentiles and the outages from the same functions here,
so both say the same about the same folder. Everything comes from the run folder (layout in run.py): the
machine's cores and noise from run.json, never from the analysing machine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ... import stats
from ...load import label_phases, load_records, load_run_info
from ...params import to_dict
from ..analysis import judgements_frame, load_thresholds
from ..folder import RunFolder
from .params import LOAD_DIR, LoadParams

__all__ = ["LoadReport", "analyse_load", "summary", "quick_summary", "judged_requests", "latency_percentiles",
           "find_outages", "OUTAGE_COLUMNS"]

# Phases whose traffic is still building up are not judged against the steady-state targets.
_UNJUDGED_PHASES = {"ramp", "ramp_up", "ramp_down", "warmup", "cooldown"}
# Errors that mean the target did not answer at all; a 503 is an answer (load shedding), and a send the
# generator dropped never reached the target.
_UNANSWERED = ("connect", "reset", "timeout")
OUTAGE_COLUMNS = ["start_s", "end_s", "failed_requests", "last_ok_s", "next_ok_s", "recovered", "errors"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadReport:
    params: LoadParams  # the scenario the run measured (from its run.json)
    records: pd.DataFrame  # every request, with phase and t_unix
    t0_unix: float  # wall-clock time of the driver's t = 0
    spans: list[dict]  # the scenario's phases: name, kind, start_s, end_s, offered
    judged: pd.DataFrame  # the requests the verdict is about (after warm-up, outside ramps)
    warmup: stats.WarmupTrim
    phases: pd.DataFrame  # per phase: offered, achieved, percentiles with intervals, errors
    compliance: pd.DataFrame
    verdict: str
    littles_law: pd.DataFrame
    errors: pd.DataFrame  # counts by error kind
    degradation: pd.DataFrame  # per phase: error rate against the failure threshold, 503 vs timeouts
    outages: pd.DataFrame
    server: pd.DataFrame
    metrics: pd.DataFrame
    result: dict
    reliability: list[stats.Check]


def _records(run_dir: Path) -> tuple[pd.DataFrame, dict[str, Any], list[dict[str, Any]]]:
    """The run's records with t_unix and phase, the driver's run info, and the phases."""
    records = load_records(run_dir / LOAD_DIR)
    info = load_run_info(run_dir / LOAD_DIR)
    records["t_unix"] = info["t0_unix"] + records["t_end"].fillna(records["t_intended"])
    phases = RunFolder(run_dir).read_json("phases.json", [])
    records["phase"] = label_phases(records["t_intended"].to_numpy(), phases) if phases else "run"
    return records, info, phases


def judged_requests(records: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, stats.WarmupTrim]:
    """The requests after the warm-up MSER-5 finds (kept) and, of those, the ones outside ramps (judged)."""
    ordered = records.sort_values("t_intended").reset_index(drop=True)
    latency = ordered["latency_ms"].fillna(ordered["latency_ms"].max()).to_numpy()
    warm = stats.trim_warmup(ordered["t_intended"].to_numpy(), latency)
    kept = ordered[np.asarray(warm.kept)]
    judged = kept[~kept["phase"].isin(_UNJUDGED_PHASES)]
    return kept, (kept if judged.empty else judged), warm


def latency_percentiles(judged: pd.DataFrame, confidence: float) -> dict[str, stats.Estimate]:
    """p50, p95, p99 (ms, from the intended send time) of the judged requests that succeeded, with intervals."""
    lat = judged.loc[judged["ok"], "latency_ms"].to_numpy()
    return {f"p{q}_ms": stats.percentile_ci(lat, q, confidence) for q in (50, 95, 99)}


def find_outages(records: pd.DataFrame) -> pd.DataFrame:
    """Stretches, by intended send time, in which the target answered nothing (refused, reset, timed out):
    runs of at least 3 such requests over at least a second. errors: the error kinds inside, counted."""
    sent = records[records["error"] != "dropped"]
    answered = ~sent["error"].isin(_UNANSWERED).to_numpy()
    rows = []
    for o in stats.outage_windows(sent["t_intended"].to_numpy(), answered, min_failures=3, min_duration_s=1.0):
        inside = sent[(sent["t_intended"] >= o.start_s) & (sent["t_intended"] <= o.end_s) & ~answered]
        rows.append({"start_s": o.start_s, "end_s": o.end_s, "failed_requests": o.failures, "last_ok_s": o.last_ok_s,
                     "next_ok_s": o.next_ok_s, "recovered": o.recovered,
                     "errors": {str(k): int(v) for k, v in inside["error"].value_counts().items()}})
    return pd.DataFrame(rows, columns=OUTAGE_COLUMNS)


def _read_parquet(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.is_file() else pd.DataFrame()


def _estimate_observed(value: float, n: int, what: str, confidence: float) -> stats.Estimate:
    if not n or not np.isfinite(value):
        return stats.Estimate(value=float("nan"), low=float("-inf"), high=float("inf"), confidence=confidence,
                              n=0, method=f"{what}: not measured", decided=False)
    return stats.Estimate(value=value, low=value, high=value, confidence=confidence, n=n, method=what)


def analyse_load(run_dir: str | Path, params: LoadParams) -> LoadReport:
    """The load report of a run folder, judged against params.thresholds_file's load section."""
    run_dir = Path(run_dir)
    confidence = params.confidence
    folder = RunFolder(run_dir)
    records, info, phases = _records(run_dir)
    scenario = to_dict(params)
    result = folder.read_json("result.json", {})
    server = _read_parquet(run_dir / "server.parquet")
    metrics = _read_parquet(run_dir / "metrics.parquet")

    kept, judged, warm = judged_requests(records)
    t0, t1 = judged["t_intended"].min(), judged["t_intended"].max()
    window_s = max(float(t1 - t0), 1e-9) if len(judged) else 0.0
    ok = judged[judged["ok"]]

    thresholds = load_thresholds(params.thresholds_file, "load")
    est: dict[str, stats.Estimate] = latency_percentiles(judged, confidence)
    est["throughput_rps"] = stats.throughput(ok["t_end"].to_numpy(), duration_s=window_s or None,
                                             confidence=confidence) if window_s else _estimate_observed(
        float("nan"), 0, "throughput", confidence)
    est["success_ratio"] = stats.success_ratio(len(ok), len(judged), confidence=confidence) if len(judged) else \
        _estimate_observed(float("nan"), 0, "success ratio", confidence)

    in_window = server
    if len(server):
        u0, u1 = info["t0_unix"] + t0, info["t0_unix"] + t1
        in_window = server[(server["t_unix"] >= u0) & (server["t_unix"] <= u1)]
    if len(in_window) >= 2:
        share = in_window["cpu_percent"].to_numpy() / (100.0 * folder.cores)
        est["cpu_utilization"] = stats.bootstrap_ci(share, np.mean, confidence=confidence)
    else:
        est["cpu_utilization"] = _estimate_observed(float("nan"), 0, "server CPU", confidence)
    est["memory_gb"] = _estimate_observed(float(in_window["rss_bytes"].max() / 1e9) if len(in_window) else np.nan,
                                          len(in_window), "observed maximum RSS", confidence)

    quantum = ok[ok["method"].isin(["quantum", "hybrid"])]
    n_fb = int(quantum["fallback"].sum()) if len(quantum) else 0
    est["classical_fallback_rate"] = stats.success_ratio(n_fb, len(quantum), confidence=confidence) if len(quantum) \
        else _estimate_observed(float("nan"), 0, "fallback rate", confidence)
    est["quantum_time_ms"], est["cache_hit_rate"] = _server_metric_estimates(metrics, info, t0, t1, confidence)

    judgements = {name: stats.judge(e, thresholds[name]) for name, e in est.items() if name in thresholds}
    failure_threshold = scenario.get("failure_threshold")
    if failure_threshold is not None and len(judged):
        error_rate = stats.success_ratio(len(judged) - len(ok), len(judged), confidence=confidence)
        judgements["error_rate (stress limit)"] = stats.judge(
            error_rate, stats.Threshold(metric="error_rate", target=failure_threshold, threshold=failure_threshold,
                                        direction="below", unit="fraction"))
    compliance = judgements_frame(judgements)
    verdict = str(stats.overall(judgements.values()))

    phase_table = _phase_table(kept, phases, confidence)
    errors = records[~records["ok"]].groupby("error").size().rename("requests").reset_index()
    degradation = _degradation(records, phase_table, failure_threshold)
    outages = find_outages(records)
    littles = _littles_law(judged, window_s, metrics, info, t0, t1, scenario)
    noise = folder.calibration_s
    checks = stats.reliability_checks(
        n_samples={"judged requests": len(ok)},
        estimates={k: v for k, v in est.items() if k.startswith("p")},
        generator_cpu=(result.get("generator_cpu_percent") or 0) / 100 if result else None,
        send_lag_p99_ms=result.get("send_lag_p99_ms") if result else None,
        machine_noise_cv=stats.noise_cv(noise) if noise else None,
    )
    if result.get("saturated"):
        checks.append(stats.Check(name="generator_saturated", ok=False, severity="warning",
                                  message="The load generator flagged itself saturated ("
                                  + "; ".join(result.get("saturation_reasons", [])) + "): the offered load was not "
                                  "delivered as asked, so these numbers describe the generator as much as the server."))
    return LoadReport(params=params, records=records, t0_unix=info["t0_unix"], spans=phases,
                      judged=judged, warmup=warm, phases=phase_table, compliance=compliance,
                      verdict=verdict, littles_law=littles, errors=errors, degradation=degradation, outages=outages,
                      server=server, metrics=metrics, result=result, reliability=checks)


def _server_metric_estimates(metrics: pd.DataFrame, info: dict, t0: float, t1: float, confidence: float
                             ) -> tuple[stats.Estimate, stats.Estimate]:
    """Mean quantum time per request (ms) and the embedding-cache hit rate over the judged window,
    from the /metrics timeline (counter differences between the first and last sample in the window)."""
    needed = {"t_unix", "quantum_seconds_sum", "quantum_seconds_count", "embedding_cache_hits",
              "embedding_cache_misses"}
    if metrics.empty or not needed <= set(metrics.columns):
        missing = _estimate_observed(float("nan"), 0, "no /metrics timeline", confidence)
        return missing, missing
    w = metrics[(metrics["t_unix"] >= info["t0_unix"] + t0) & (metrics["t_unix"] <= info["t0_unix"] + t1 + 1)]
    if len(w) < 2:
        missing = _estimate_observed(float("nan"), 0, "too few /metrics samples", confidence)
        return missing, missing
    first, last = w.iloc[0], w.iloc[-1]
    count = last["quantum_seconds_count"] - first["quantum_seconds_count"]
    total = last["quantum_seconds_sum"] - first["quantum_seconds_sum"]
    quantum = _estimate_observed(1000 * total / count if count else np.nan, int(count),
                                 "mean from the service's histogram", confidence)
    hits = int(last["embedding_cache_hits"] - first["embedding_cache_hits"])
    misses = int(last["embedding_cache_misses"] - first["embedding_cache_misses"])
    # Each lookup as a Bernoulli trial: lookups within a request are correlated, so this interval is optimistic.
    cache = stats.success_ratio(hits, hits + misses, confidence=confidence) if hits + misses else \
        _estimate_observed(float("nan"), 0, "no cache lookups", confidence)
    return quantum, cache


def _phase_table(records: pd.DataFrame, phases: list[dict], confidence: float) -> pd.DataFrame:
    rows = []
    spans = {p["name"]: p for p in phases}
    for name, g in records.groupby("phase", sort=False):
        ok = g[g["ok"]]
        span = spans.get(name)
        observed = float(g["t_intended"].max() - g["t_intended"].min())
        length = (span["end_s"] - span["start_s"]) if span else max(observed, 1e-9)
        row = {"phase": name, "kind": span.get("kind", "") if span else "", "seconds": length,
               "offered": span.get("offered") if span else None, "requests": len(g), "ok": len(ok),
               "sent_rps": len(g[g["error"] != "dropped"]) / length,
               "achieved_rps": len(ok) / length, "error_rate": 1 - len(ok) / len(g) if len(g) else np.nan}
        for q in (50, 95, 99):
            e = stats.percentile_ci(ok["latency_ms"].to_numpy(), q, confidence)
            row.update({f"p{q}_ms": e.value, f"p{q}_low": e.low, f"p{q}_high": e.high})
        rows.append(row)
    return pd.DataFrame(rows)


def _degradation(records: pd.DataFrame, phases: pd.DataFrame, failure_threshold: float | None) -> pd.DataFrame:
    """Per phase: how requests failed. Shedding (503 at once) is healthy overload; timeouts are not."""
    rows = []
    for name, g in records.groupby("phase", sort=False):
        n = len(g)
        rows.append({"phase": name, "requests": n, "error_rate": float((~g["ok"]).mean()) if n else np.nan,
                     "shed_503": int((g["error"] == "http_503").sum()),
                     "timeouts": int((g["error"] == "timeout").sum()),
                     "server_errors_5xx": int((g["error"] == "http_5xx").sum()),
                     "connection_errors": int(g["error"].isin(["connect", "reset"]).sum()),
                     "dropped_by_generator": int((g["error"] == "dropped").sum()),
                     "over_failure_threshold": bool(failure_threshold is not None and n
                                                    and (~g["ok"]).mean() > failure_threshold)})
    return pd.DataFrame(rows)


def _littles_law(judged: pd.DataFrame, window_s: float, metrics: pd.DataFrame, info: dict, t0: float, t1: float,
                 scenario: dict) -> pd.DataFrame:
    """L = lambda * W three ways: from client records, from the server's in-flight gauge, and (closed model)
    from the number of virtual users, which must equal lambda * (W + think time)."""
    if judged.empty or not window_s:
        return pd.DataFrame()
    sent = judged[judged["error"] != "dropped"]
    lam = len(sent) / window_s
    w_s = sent["service_ms"].mean() / 1000
    rows = [{"quantity": "L = throughput x mean time in system (client records)", "value": lam * w_s}]
    if not metrics.empty and "in_flight" in metrics:
        w = metrics[(metrics["t_unix"] >= info["t0_unix"] + t0) & (metrics["t_unix"] <= info["t0_unix"] + t1)]
        if len(w):
            # Lower than L by the time requests spend outside the computation (network, parsing, queueing).
            rows.append({"quantity": "mean requests being computed (server gauge)",
                         "value": float(w["in_flight"].mean())})
    if scenario.get("model") == "closed" and scenario.get("users"):
        rows.append({"quantity": "virtual users (closed model, peak)", "value": float(scenario["users"])})
    return pd.DataFrame(rows)


def summary(report: LoadReport) -> dict:
    """The key numbers of the report for summary.json and CI."""
    return {
        "study": "load",
        "verdict": report.verdict,
        "parameters": to_dict(report.params),
        "compliance": report.compliance.to_dict(orient="records"),
        "phases": report.phases.to_dict(orient="records"),
        "errors": report.errors.to_dict(orient="records"),
        "degradation": report.degradation.to_dict(orient="records"),
        "outages": report.outages.to_dict(orient="records"),
        "littles_law": report.littles_law.to_dict(orient="records"),
        "generator": report.result,
        "warmup": {"trimmed": report.warmup.n_trimmed, "seconds": report.warmup.seconds_trimmed,
                   "reason": report.warmup.reason},
        "reliability": [{"name": c.name, "ok": c.ok, "severity": c.severity, "message": c.message}
                        for c in report.reliability],
        "requests": int(len(report.records)),
    }


def _estimate(e: stats.Estimate) -> dict[str, Any]:
    return {"value": e.value, "low": e.low, "high": e.high, "n": e.n, "decided": e.decided}


def quick_summary(run_dir: str | Path, params: LoadParams) -> dict[str, Any]:
    """The key numbers of a finished run (summary.json of `qrbench load`); latencies in milliseconds.

    outages: stretches in which the target answered nothing (connect, reset, timeout; a 503 is an
    answer), by intended send time. The verdict covers only the scenario's failure threshold ("fail"
    when the error ratio exceeds it, else "unjudged"): the load study notebook judges the PRD thresholds.
    """
    run_dir = Path(run_dir)
    records, _, phases = _records(run_dir)
    result = RunFolder(run_dir).read_json("result.json", {})
    ok = records["ok"].to_numpy()
    n = len(records)
    error_ratio = float((~ok).sum() / n) if n else math.nan
    over = n > 0 and error_ratio > params.failure_threshold
    _, judged, _ = judged_requests(records) if n else (records, records, None)
    phase_rows = []
    for p in phases:
        g = records[records["phase"] == p["name"]]
        good = g.loc[g["ok"], "latency_ms"].to_numpy()
        span = p["end_s"] - p["start_s"]
        phase_rows.append({
            "name": p["name"], "kind": p["kind"], "start_s": p["start_s"], "end_s": p["end_s"],
            "offered": p["offered"], "unit": p["unit"], "requests": len(g), "ok": int(g["ok"].sum()),
            "sent_rps": len(g[g["error"] != "dropped"]) / span if span > 0 else math.nan,
            "p50_ms": float(np.percentile(good, 50)) if good.size else math.nan,
            "p95_ms": float(np.percentile(good, 95)) if good.size else math.nan,
        })
    return {
        "study": "load",
        "scenario": params.name,
        "verdict": "fail" if over else "unjudged",
        "verdict_basis": "failure_threshold only; `qrbench study load` judges the PRD thresholds",
        "parameters": to_dict(params),
        "records": str(Path(LOAD_DIR) / "records.parquet"),
        "requests": n,
        "ok": int(ok.sum()),
        "errors": {str(k): int(v) for k, v in records.loc[~records["ok"], "error"].value_counts().items()},
        "error_ratio": error_ratio,
        "failure_threshold": params.failure_threshold,
        "duration_s": result["duration_s"],
        "achieved_rps": result["achieved_rps"],
        "latency_basis": "ok requests after the warm-up, outside ramps (as the load study judges them)",
        "latency_ms": {k.removesuffix("_ms"): _estimate(e)
                       for k, e in latency_percentiles(judged, params.confidence).items()},
        "generator": {
            k: result[k]
            for k in (
                "processes",
                "generator_cpu_percent",
                "send_lag_p50_ms",
                "send_lag_p99_ms",
                "n_late",
                "n_dropped",
                "saturated",
                "saturation_reasons",
            )
        },
        "phases": phase_rows,
        "outages": find_outages(records).to_dict(orient="records"),
    }


