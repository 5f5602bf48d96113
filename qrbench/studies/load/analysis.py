"""Analysis of a load-study run folder, computed once by `analyse_load`; its sections (sections.py) only read it.

Latency counts a timed-out or dropped request at least at its timeout (right-censored), from the intended send
time, with intervals for time-ordered samples. Throughput is judged as kept-up-with-offered by every workload;
the capacity target only by a workload its thresholds.yaml `judged_by` allows (else its row names who judges
it). The warm-up is MSER-5's within the first steady phase; ramps are not judged. Everything comes from the run
folder (run.json's cores and noise, never the analysing machine's).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ... import stats
from ...load import label_phases, load_records, load_run_info
from ..analysis import KEY_FIGURE, load_thresholds, summary_head
from ..compliance import compliance_frame, metric_label
from ..contention import busy_first, excuse_busy, read_contention
from ..folder import RunFolder
from .alerts import AlertReport, alert_report
from .params import LOAD_DIR, LoadParams

__all__ = [
    "LoadReport",
    "analyse_load",
    "summary",
    "estimate_dict",
    "steady_summary",
    "KEY_FIGURE",
    "next_action",
    "capacity_obstacle",
    "drawn_thresholds",
]

# Phases whose traffic is still building up are not judged against the steady-state targets.
_UNJUDGED_PHASES = {"ramp", "ramp_up", "ramp_down", "warmup", "cooldown"}
# Errors that mean the target did not answer at all; a 503 is an answer (load shedding), and a send the
# generator dropped never reached the target.
_UNANSWERED = ("connect", "reset", "timeout")
# Request kinds (qrbench.load.KINDS) -> the kinds thresholds.yaml judges: rerank by size.
_KIND_LABELS = {
    "similarity": "similarity",
    "rerank_small": "rerank-10",
    "rerank_medium": "rerank-50",
    "rerank_large": "rerank-100",
    "batch_similarity": "batch-similarity",
}
_KIND_NAMES = {
    "all": "all requests",
    "similarity": "similarity (1 pair)",
    "rerank-10": "rerank, 10 documents",
    "rerank-50": "rerank, 25-50 documents",
    "rerank-100": "rerank, 100 documents",
    "batch-similarity": "batch similarity",
}
_RATE_WINDOW_S = 1.0  # seconds per window of the windowed rate estimates
_OUTAGE_COLUMNS = ["start_s", "end_s", "failed_requests", "last_ok_s", "next_ok_s", "recovered", "errors"]
_LITTLE_COLUMNS = (
    "phase model compared_with predicted predicted_low predicted_high observed difference flagged sentence".split()
)


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadReport:
    run_dir: Path  # the run folder analysed
    params: LoadParams  # the scenario the run measured (from its run.json)
    records: pd.DataFrame  # every request, with phase, request kind label (`kind_label`) and t_unix
    t0_unix: float  # wall-clock time of the driver's t = 0
    spans: list[dict]  # the scenario's phases: name, kind, start_s, end_s, offered
    judged: pd.DataFrame  # the requests the verdict is about (after warm-up, outside ramps)
    warmup: stats.WarmupTrim
    workload: str  # the workload that judged the rows, in words (e.g. "closed model, 50 users with think time")
    phases: pd.DataFrame  # per phase: offered, achieved, percentiles (failures counted) with intervals, errors
    latency: pd.DataFrame  # per request kind and overall: percentiles counting failures, and success-only
    compliance: pd.DataFrame  # rows of the summary contract (metric, ..., workload, direction, reason)
    verdict: str
    verdict_reasons: list[str]  # sentences, the main one first (the busy machine before any verdict)
    littles_law: pd.DataFrame
    leak: stats.LeakCheck
    errors: pd.DataFrame  # counts by error kind
    degradation: pd.DataFrame  # per phase: error rate against the failure threshold, 503 vs timeouts
    outages: pd.DataFrame
    server: pd.DataFrame
    metrics: pd.DataFrame
    result: dict
    reliability: list[stats.Check]
    cores: int  # logical cores of the machine the run was made on (run.json)
    thresholds: dict[str, stats.Threshold]  # the load section of params.thresholds_file
    percentiles: dict[str, stats.Estimate]  # p50_ms, p95_ms, p99_ms of all judged requests, failures counted
    alerts: AlertReport | None = None  # what Prometheus saw (alerts.py), None when it ran without it
    contention: stats.Contention | None = None  # other programs, steal and calibration during the run


def _records(run_dir: Path) -> tuple[pd.DataFrame, dict[str, Any], list[dict[str, Any]]]:
    """The run's records with t_unix, phase and kind_label, the driver's run info, and the phases."""
    records = load_records(run_dir / LOAD_DIR)
    info = load_run_info(run_dir / LOAD_DIR)
    records["t_unix"] = info["t0_unix"] + records["t_end"].fillna(records["t_intended"])
    phases = RunFolder(run_dir).read_json("phases.json", [])
    records["phase"] = label_phases(records["t_intended"].to_numpy(), phases) if phases else "run"
    records["kind_label"] = records["kind"].map(_KIND_LABELS).fillna(records["kind"])
    return records, info, phases


def _judged_requests(
    records: pd.DataFrame, phases: list[dict[str, Any]]
) -> tuple[pd.DataFrame, pd.DataFrame, stats.WarmupTrim]:
    """The requests after the warm-up (kept) and, of those, the ones outside ramps (judged). The warm-up is
    searched within the first steady phase only: a ramp or a spike is a deliberate change of load, not warm-up.
    A run without phases.json is one steady phase, "run"."""
    ordered = records.sort_values("t_intended").reset_index(drop=True)
    latency = ordered["latency_ms"].fillna(ordered["latency_ms"].max()).fillna(0.0).to_numpy()
    steady = {p["name"] for p in phases if p.get("kind") == "steady"} if phases else {"run"}
    warm = stats.trim_first_steady_phase(
        ordered["t_intended"].to_numpy(), latency, ordered["phase"].to_numpy(), steady=steady
    )
    kept = ordered[np.asarray(warm.kept)]
    judged = kept[~kept["phase"].isin(_UNJUDGED_PHASES)]
    return kept, (kept if judged.empty else judged), warm


def _latency_by_kind(requests: pd.DataFrame, confidence: float, timeout_ms: float) -> dict[str, stats.LatencyByKind]:
    """Per request kind (kind_label) and overall ("all"): p50/p95/p99 counting failures, and success-only ones.

    A timeout or a dropped send counts at least at the request timeout, any other failure (refused, 503, 5xx)
    at its recorded latency, since its successful answer would have taken no less."""
    if requests.empty:
        return {}
    r = requests.sort_values("t_intended")
    lost = r["error"].isin(["timeout", "dropped"]).to_numpy()
    recorded = r["latency_ms"].fillna(0.0).clip(lower=0.0).to_numpy()
    censored = np.where(lost, np.maximum(recorded, timeout_ms), recorded)
    return stats.censored_latency(
        r["latency_ms"].to_numpy(),
        r["ok"].to_numpy(),
        censored,
        r["kind_label"].to_numpy(),
        confidence=confidence,
        time_ordered=True,
    )


def _percentile_columns(lat: stats.LatencyByKind, why: bool) -> dict[str, Any]:
    """p50/p95/p99 counting failures: value, interval, whether only a lower bound (and why an interval is open)."""
    row: dict[str, Any] = {}
    for q, c in lat.with_failures.items():
        e = c.estimate
        row.update({f"{q}_ms": e.value, f"{q}_low": e.low, f"{q}_high": e.high, f"{q}_at_least": c.at_least})
        if why:
            row[f"{q}_why"] = "" if e.decided else _undecided_reason(e)
    return row


def _latency_table(by_kind: dict[str, stats.LatencyByKind]) -> pd.DataFrame:
    """One row per request kind ("all" first): counting failures (value, interval, at_least) and success only."""
    rows = []
    for kind, lat in by_kind.items():
        row = {"kind": _KIND_NAMES.get(kind, kind), "requests": lat.n, "failed": lat.n_failed}
        row |= {"failed_share": lat.failure_share, **_percentile_columns(lat, why=True)}
        row |= {f"{q}_success_only_ms": e.value for q, e in lat.success_only.items()}
        rows.append(row)
    return pd.DataFrame(rows)


def _find_outages(records: pd.DataFrame) -> pd.DataFrame:
    """Stretches, by intended send time, in which the target answered nothing (refused, reset, timed out):
    runs of at least 3 such requests over at least a second. errors: the error kinds inside, counted."""
    sent = records[records["error"] != "dropped"]
    answered = ~sent["error"].isin(_UNANSWERED).to_numpy()
    rows = []
    for o in stats.outage_windows(sent["t_intended"].to_numpy(), answered, min_failures=3, min_duration_s=1.0):
        inside = sent[(sent["t_intended"] >= o.start_s) & (sent["t_intended"] <= o.end_s) & ~answered]
        errors = {str(k): int(v) for k, v in inside["error"].value_counts().items()}
        rows.append([o.start_s, o.end_s, o.failures, o.last_ok_s, o.next_ok_s, o.recovered, errors])
    return pd.DataFrame(rows, columns=_OUTAGE_COLUMNS)


def _missing(what: str, confidence: float) -> stats.Estimate:
    return stats.Estimate(
        value=float("nan"),
        low=float("-inf"),
        high=float("inf"),
        confidence=confidence,
        n=0,
        method=f"{what}: not measured",
        decided=False,
    )


def _observed(value: float, n: int, what: str, confidence: float) -> stats.Estimate:
    """A value observed, not sampled: its interval is the value itself."""
    if not n or not np.isfinite(value):
        return _missing(what, confidence)
    return stats.Estimate(value=value, low=value, high=value, confidence=confidence, n=n, method=what)


def _ratio(k: int, n: int, what: str, confidence: float) -> stats.Estimate:
    return stats.success_ratio(k, n, confidence=confidence) if n else _missing(what, confidence)


def _think_time_s(params: LoadParams) -> float:
    """Mean pause (s) of a closed-model user between an answer and its next request: the think time, and
    once per session (every mean_requests requests) the session pause instead of it."""
    think = params.think_time.mean
    if params.sessions is None:
        return think
    m = params.sessions.mean_requests
    return ((m - 1) * think + params.sessions.pause_s.mean) / m


def _workload_name(params: LoadParams) -> str:
    """The workload in words, for the `workload` key of every verdict row."""
    shape = "" if params.shape.kind == "none" else f", {params.shape.kind} shape"
    if params.model == "closed":
        return f"closed model, {params.users} users with {_think_time_s(params):.2g} s mean think time{shape}"
    if params.shape.kind == "day":
        return "open model, compressed business day"
    return f"open model at {params.rate_rps:g} req/s{shape}"


def _offered_rps(params: LoadParams, phases: list[dict], judged_names: set, thresholds: dict) -> float | None:
    """Requests per second the workload offered over the judged phases (time-weighted): the arrival rate of an
    open model; for a closed one `stats.closed_offered_rate` of each phase's users, with R the p50 target."""
    response_s = thresholds["p50_ms"].target / 1000 if "p50_ms" in thresholds else 0.0
    rates, weights = [], []
    for p in [p for p in phases if p["name"] in judged_names] or phases:
        length = float(p["end_s"] - p["start_s"])
        level = p.get("offered")
        if length <= 0 or level is None or not np.isfinite(level) or level <= 0:
            continue
        if p.get("unit") == "users" or params.model == "closed":
            rates.append(stats.closed_offered_rate(int(round(level)), _think_time_s(params), response_s))
        else:
            rates.append(float(level))
        weights.append(length)
    if rates:
        return float(np.average(rates, weights=weights))
    if params.model == "open" and params.rate_rps:
        return float(params.rate_rps)
    if params.model == "closed" and params.users:
        return stats.closed_offered_rate(params.users, _think_time_s(params), response_s)
    return None


def capacity_obstacle(params: LoadParams, capacity: stats.Threshold, offered: float | None) -> str | None:
    """Why this workload cannot judge the capacity target (a phrase after "the <workload> "), or None when it
    can: it must be a kind thresholds.yaml's `judged_by` allows and offer at least the target rate (req/s).
    The one rule for the verdict and for the timelines that draw the capacity line (drawn_thresholds)."""
    # An open model with a shape (spike, bursts, day) is not a constant rate.
    kind = "open" if params.model == "open" and params.shape.kind == "none" else "closed"
    if offered is None:
        return "offers an unknown rate"
    if offered < capacity.target:
        return f"offers about {offered:.3g} req/s, so it cannot show the capacity whatever the server does"
    if not capacity.can_be_judged_by(kind):
        return (
            f"is a {kind} workload (its users wait for answers, so its rate follows the server's), and "
            f"thresholds.yaml lets only {', '.join(capacity.judged_by)} workloads judge the capacity"
        )
    return None


def drawn_thresholds(
    params: LoadParams, thresholds: dict[str, stats.Threshold], phases: list[dict] | None = None
) -> dict[str, stats.Threshold]:
    """The limits a timeline of this workload draws: all but the capacity target (throughput_rps) when the
    workload cannot judge it, so no 100 req/s line sits over users offering 2 req/s.
    phases: the run's phases.json (default: none yet, as before a live run: the scenario's own rate)."""
    capacity = thresholds.get("throughput_rps")
    offered = _offered_rps(params, phases or [], set(), thresholds)
    if capacity is None or capacity_obstacle(params, capacity, offered) is None:
        return dict(thresholds)
    return {k: v for k, v in thresholds.items() if k != "throughput_rps"}


def _judge_latency(
    judgements: dict[str, stats.Judgement],
    thresholds: dict[str, stats.Threshold],
    by_kind: dict[str, stats.LatencyByKind],
    workload: str,
    confidence: float,
) -> None:
    """Every latency target on the statistic and request kind thresholds.yaml gives it (failures counted)."""
    for name, t in thresholds.items():
        if t.unit != "ms" or not t.statistic.startswith("p") or name == "quantum_time_ms":
            continue
        kind = t.kind or "all"
        lat = by_kind.get(kind)
        if lat is None or t.statistic not in lat.with_failures:
            j = stats.judge(_missing(f"no {kind} requests", confidence), t, workload=workload)
            judgements[name] = replace(
                j,
                reason=f"{name}: no {_KIND_NAMES.get(kind, kind)} requests were judged in "
                f"this run, so the {t.statistic} of that kind was not measured.",
            )
            continue
        c = lat.with_failures[t.statistic]
        j = stats.judge(c.estimate, t, workload=workload)
        of = f" of {_KIND_NAMES.get(kind, kind)} requests" if t.kind else ""
        note = (
            f" Statistic: {t.statistic}{of}, counting {lat.n_failed} failure(s) ({lat.failure_share:.1%}) above "
            "every latency target" + ("; the value is a lower bound" if c.at_least else "") + "."
        )
        judgements[name] = replace(j, reason=j.reason + note)


def _judge_throughput(
    judgements: dict[str, stats.Judgement],
    not_judged: dict[str, stats.Judgement],
    thresholds: dict[str, stats.Threshold],
    params: LoadParams,
    offered: float | None,
    achieved: stats.Estimate,
    p95: stats.Estimate,
    workload: str,
) -> None:
    """Throughput as kept-up-with-offered for every workload, and the capacity target only by a workload able
    to show it (thresholds.yaml `judged_by`); otherwise its row says which workload judges it."""
    if "kept_up" in thresholds:
        if offered is None:
            j = stats.judge(_missing("offered rate", params.confidence), thresholds["kept_up"], workload=workload)
        else:
            j = stats.judge_kept_up(achieved, offered, thresholds["kept_up"], workload=workload)
            basis = (
                f"a closed model's users offer N / (Z + R) = {offered:.3g} req/s with R the p50 target"
                if params.model == "closed"
                else f"the arrival rate was {offered:.3g} req/s"
            )
            j = replace(j, reason=f"{j.reason} ({basis}; achieved {achieved.value:.3g} req/s.)")
        judgements["kept_up"] = j
    capacity = thresholds.get("throughput_rps")
    if capacity is None:
        return
    why = capacity_obstacle(params, capacity, offered)
    if why is not None:
        elsewhere = (
            "the scalability study's step load, or an open-model constant-rate scenario at the target "
            "rate (qrbench study load -p parameters/load_capacity.yaml)"
        )
        not_judged["throughput_rps"] = replace(
            stats.judge(achieved, capacity, workload=workload),
            verdict=stats.Verdict.INSUFFICIENT,
            workload=f"not judged here; judged by {elsewhere}",
            reason=(
                f"throughput_rps (capacity, >= {capacity.target:g} req/s within the latency SLO): not judged by "
                f"this run: the {workload} {why}. Judge it with {elsewhere}. Its throughput is judged as "
                "kept-up-with-offered instead."
            ),
        )
        return
    latency_t = thresholds.get("p95_ms") or stats.Threshold(
        metric="p95_ms", target=math.inf, threshold=math.inf, direction="below"
    )
    judgements["throughput_rps"] = stats.judge_capacity(
        achieved, p95, capacity, latency_t, workload=workload, offered_rps=offered
    )


def analyse_load(run_dir: str | Path, params: LoadParams) -> LoadReport:
    """The load report of a run folder, judged against params.thresholds_file's load section."""
    run_dir = Path(run_dir)
    confidence = params.confidence
    folder = RunFolder(run_dir)
    records, info, phases = _records(run_dir)
    result = folder.read_json("result.json", {})
    metrics = folder.read_frame("metrics", default=pd.DataFrame())
    server = _server_samples(folder.read_frame("server", default=pd.DataFrame()), metrics)
    workload = _workload_name(params)
    timeout_ms = params.request_timeout_s * 1000

    kept, judged, warm = _judged_requests(records, phases)

    thresholds = load_thresholds(params.thresholds_file, "load")
    by_kind = _latency_by_kind(judged, confidence, timeout_ms)
    est, achieved = _estimates(records, judged, server, metrics, info, folder.cores, confidence)
    judgements: dict[str, stats.Judgement] = {}
    not_judged: dict[str, stats.Judgement] = {}
    _judge_latency(judgements, thresholds, by_kind, workload, confidence)
    p95 = by_kind["all"].with_failures["p95"].estimate if by_kind else _missing("p95", confidence)
    offered = _offered_rps(params, phases, set(judged["phase"].unique()), thresholds)
    _judge_throughput(judgements, not_judged, thresholds, params, offered, achieved, p95, workload)
    judgements.update(
        {name: stats.judge(e, thresholds[name], workload=workload) for name, e in est.items() if name in thresholds}
    )
    if len(judged):
        error_rate = stats.Threshold(
            metric="error_rate",
            target=params.failure_threshold,
            threshold=params.failure_threshold,
            direction="below",
            unit="fraction",
        )
        failed = stats.success_ratio(int((~judged["ok"]).sum()), len(judged), confidence=confidence)
        judgements["error_rate (stress limit)"] = stats.judge(failed, error_rate, workload=workload)
    leak = _leak(server, metrics, confidence)
    (judgements if leak.verdict != "insufficient" else not_judged)["rss_growth_mb_per_h"] = _leak_judgement(
        leak, workload, records
    )
    _name_gaps(judgements, not_judged, _target_gaps(folder, server, metrics))

    phase_table = _phase_table(kept, phases, confidence, timeout_ms)
    littles = _littles_law(kept, records, phases, metrics, info, params, confidence)
    checks = _load_checks(judged, judgements, result, folder.calibration_s, warm, littles, params)
    # Latency and rate targets that fail by less than a busy machine could explain are not verdicts on the
    # service (the load's run is one stage: the run's contended slowdown applies); memory, errors and CPU share
    # are never excused.
    contention = read_contention(run_dir)
    timed = {name: None for name, j in judgements.items() if j.unit in ("ms", "rps")}
    judgements, excused = excuse_busy(judgements, contention, timed)
    verdict = str(stats.overall(judgements.values()))
    if excused and verdict != "fail":
        verdict = "insufficient"  # the busy machine, not the service, left these targets undecided
    if (warm.too_short or warm.level_shift is not None) and verdict == "pass":
        verdict = "warn"  # no steady state (White's diagnostic, or a level shift), so a pass is provisional
    return LoadReport(
        run_dir=run_dir,
        params=params,
        records=records,
        t0_unix=info["t0_unix"],
        spans=phases,
        judged=judged,
        warmup=warm,
        workload=workload,
        phases=phase_table,
        latency=_latency_table(by_kind),
        compliance=compliance_frame({**judgements, **not_judged}, excused=excused, workload_in_reason=False),
        verdict=verdict,
        verdict_reasons=list(busy_first(_verdict_reasons(verdict, judgements, warm), contention, len(excused))),
        littles_law=littles,
        leak=leak,
        errors=records[~records["ok"]].groupby("error").size().rename("requests").reset_index(),
        degradation=_degradation(records, params.failure_threshold),
        outages=_find_outages(records),
        server=server,
        metrics=metrics,
        result=result,
        reliability=checks,
        cores=folder.cores,
        thresholds=thresholds,
        percentiles=(
            {f"{q}_ms": c.estimate for q, c in by_kind["all"].with_failures.items()}
            if by_kind
            else {f"p{q}_ms": stats.percentile_ci([], q, confidence) for q in (50, 95, 99)}
        ),
        alerts=alert_report(run_dir),
        contention=contention,
    )


def _estimates(
    records: pd.DataFrame,
    judged: pd.DataFrame,
    server: pd.DataFrame,
    metrics: pd.DataFrame,
    info: dict[str, Any],
    cores: int,
    confidence: float,
) -> tuple[dict[str, stats.Estimate], stats.Estimate]:
    """The run's non-latency estimates by threshold name (success, server CPU and memory, fallback rate, quantum
    time, cache hit rate), and the completions per second while the load was held."""
    t0, t1 = judged["t_intended"].min(), judged["t_intended"].max()
    ok = judged[judged["ok"]]
    # Completions inside the judged window, whenever the request was sent: a slow server's answers to requests
    # sent in the window land after it, and it is the rate of answers while the load was held that counts.
    achieved = _windowed_rate(records.loc[records["ok"], "t_end"].to_numpy(), t0, t1, confidence)
    est = {"success_ratio": _ratio(len(ok), len(judged), "success ratio", confidence)}
    in_window = server
    if len(server):
        u0, u1 = info["t0_unix"] + t0, info["t0_unix"] + t1
        in_window = server[(server["t_unix"] >= u0) & (server["t_unix"] <= u1)]
    if len(in_window) >= 2 and "cpu_percent" in in_window and in_window["cpu_percent"].notna().sum() >= 2:
        cpu = in_window["cpu_percent"].dropna().to_numpy()
        est["cpu_utilization"] = stats.cpu_share(cpu, cores=cores, confidence=confidence)
    else:
        est["cpu_utilization"] = _missing("server CPU", confidence)
    peak_gb = float(in_window["rss_bytes"].max() / 1e9) if len(in_window) else np.nan
    est["memory_gb"] = _observed(peak_gb, len(in_window), "observed maximum RSS", confidence)
    quantum = ok[ok["method"].isin(["quantum", "hybrid"])]
    n_fallback = int(quantum["fallback"].sum()) if len(quantum) else 0
    est["classical_fallback_rate"] = _ratio(n_fallback, len(quantum), "fallback rate", confidence)
    # The server's work for the judged requests ends when the last of them is answered, not when it was sent.
    t_done = float(np.nanmax([t1, judged["t_end"].max()])) if len(judged) else t1
    est["quantum_time_ms"], est["cache_hit_rate"] = _server_metric_estimates(metrics, info, t0, t_done, confidence)
    return est, achieved


def _load_checks(
    judged: pd.DataFrame,
    judgements: dict[str, stats.Judgement],
    result: dict[str, Any],
    noise,
    warm: stats.WarmupTrim,
    littles: pd.DataFrame,
    params: LoadParams,
) -> list[stats.Check]:
    """Sample size, interval widths, the generator's CPU and send lag, machine noise, warm-up, and Little's law."""
    checks = stats.reliability_checks(
        n_samples={"judged requests": len(judged)},
        estimates={
            metric_label(name, j.statistic): j.estimate for name, j in judgements.items() if name.endswith("_ms")
        },
        generator_cpu=(result.get("generator_cpu_percent") or 0) / 100 if result else None,
        send_lag_p99_ms=result.get("send_lag_p99_ms") if result else None,
        machine_noise_cv=stats.noise_cv(noise) if noise else None,
        warmup=warm,
    )
    if result.get("saturated"):
        checks.append(
            stats.Check(
                name="generator_saturated",
                ok=False,
                severity="warning",
                message="The load generator flagged itself saturated ("
                + "; ".join(result.get("saturation_reasons", []))
                + "): the offered load was not "
                "delivered as asked, so these numbers describe the generator as much as the server.",
            )
        )
    # The reliability check rests on the concurrency the model sets: users (closed), the in-flight gauge (open);
    # the other comparison stays in the table (the gauge misses time spent outside the computation).
    governing = "virtual users" if params.model == "closed" else "server in-flight gauge"
    flagged = littles[littles["flagged"] & (littles["compared_with"] == governing)] if len(littles) else littles
    if len(flagged):
        checks.append(
            stats.Check(
                name="littles_law",
                ok=False,
                severity="warning",
                message="Little's law disagrees by more than 10 % in "
                + ", ".join(f"{r.phase} ({r.compared_with})" for r in flagged.itertuples())
                + ": requests were lost, the load was not steady, or the users were not reached.",
            )
        )
    return checks


def _windowed_rate(t_end: np.ndarray, t0: float, t1: float, confidence: float) -> stats.Estimate:
    """Completions per second over [t0, t1] from 1-s windows (a Student-t interval over n / tau effective
    windows); a window too short for two windows falls back to the Poisson count over it."""
    span = float(t1 - t0) if np.isfinite(t1 - t0) else 0.0
    inside = t_end[(t_end >= t0) & (t_end <= t1)] if span > 0 else t_end[:0]
    if span > 0 and inside.size == 0:
        # Nothing completed while the load was held: a measured rate of 0, bounded above (Poisson), not "no data".
        poisson = stats.throughput(inside, duration_s=span, confidence=confidence)
        return stats.Estimate(
            value=0.0,
            low=0.0,
            high=poisson.high,
            confidence=confidence,
            n=1,
            method=f"no answer completed in the {span:.3g} s window; Poisson upper bound",
        )
    if span >= 2 * _RATE_WINDOW_S:
        return stats.throughput(
            t_end, window_s=_RATE_WINDOW_S, start_s=float(t0), end_s=float(t1), confidence=confidence
        )
    if span > 0:
        return stats.throughput(t_end, duration_s=span, confidence=confidence)
    return _missing("throughput", confidence)


def _amount(value: float, unit: str) -> str:
    """A number for a sentence: 3 significant digits, thousands separated, fractions as percentages."""
    if not math.isfinite(value):
        return "not measured" if math.isnan(value) else "not bounded"
    if unit == "fraction":
        return f"{100 * value:.3g} %"
    text = f"{float(f'{value:.3g}'):,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    return f"{text} {unit}".strip()


def _plain(name: str, j: stats.Judgement) -> str:
    """One target in words: "the p95 latency is 15,800 ms or more against a target below 500 ms"."""
    e = j.estimate
    if e.n == 0 or math.isnan(e.value):
        return f"the {metric_label(name, j.statistic)} was not measured"
    more = " or more" if math.isinf(e.high) and j.direction == "below" else ""
    side = "below" if j.direction == "below" else "at least"
    return (
        f"the {metric_label(name, j.statistic)} is {_amount(e.value, j.unit)}{more} against a target {side} "
        f"{_amount(j.target, j.unit)}"
    )


def _verdict_reasons(verdict: str, judgements: dict[str, stats.Judgement], warm: stats.WarmupTrim) -> list[str]:
    """Sentences behind the verdict: the main one first (in plain words), then each failed, warned and
    undecided target's own reason."""
    order = {"fail": 0, "warn": 1, "insufficient": 2}
    worst = sorted(
        ((n, j) for n, j in judgements.items() if str(j.verdict) in order), key=lambda nj: order[str(nj[1].verdict)]
    )
    failed = [(n, j) for n, j in worst if str(j.verdict) == "fail"]
    total = len(judgements)
    if failed:
        main = f"{len(failed)} of {total} targets failed; " + _plain(*failed[0]) + "."
    elif worst:
        main = (
            f"No target failed, but {len(worst)} of {total} are close to their limit or not decided by this run; "
            + _plain(*worst[0])
            + "."
        )
    elif total:
        main = f"Every one of the {total} targets this workload can judge was met on its whole 95 % interval."
    else:
        main = "Nothing was judged: the run recorded no requests to judge."
    reasons = [main] + [j.reason.replace(f" [judged by {j.workload}]", "") for _, j in worst]
    first = 0 if verdict != "fail" else 1
    if warm.level_shift is not None:
        # A non-steady run: its percentiles mix two regimes, so the headline says so before the numbers.
        reasons.insert(first, warm.level_shift.sentence)
    if warm.too_short:
        too_short = (
            "The run was too short to reach a steady state (MSER-5's minimum fell in the second half of "
            "the first steady phase), so its verdict is provisional: lengthen the steady phase."
        )
        reasons.insert(first, too_short)
    return reasons


def _server_samples(server: pd.DataFrame, metrics: pd.DataFrame) -> pd.DataFrame:
    """The server's CPU and memory samples: from its process when it runs on this machine, else from the
    process_* gauges of its /metrics, cpu_percent as the CPU seconds counter's rate (100 = one core busy)."""
    if not server.empty or metrics.empty or "rss_bytes" not in metrics or metrics["rss_bytes"].isna().all():
        return server
    out = metrics[["t_unix", "rss_bytes"]].copy()
    if "cpu_seconds" in metrics and metrics["cpu_seconds"].notna().sum() >= 2:
        dt = metrics["t_unix"].diff().to_numpy()
        busy = metrics["cpu_seconds"].diff().to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            out["cpu_percent"] = np.where(dt > 0, 100 * busy / dt, np.nan)
    return out.dropna(subset=["rss_bytes"]).iloc[1:].reset_index(drop=True)  # the first has no CPU interval


def _leak(server: pd.DataFrame, metrics: pd.DataFrame, confidence: float) -> stats.LeakCheck:
    """RSS growth (MB/h) after the caches are full, from the server's RSS samples and the /metrics cache miss
    counters (and cache sizes, when the timeline holds them)."""
    if server.empty or "rss_bytes" not in server:
        return stats.leak_check([], [], full_at_s=None, confidence=confidence)
    full_at = None
    if not metrics.empty:
        complete = [c for c in metrics.columns if metrics[c].notna().all()]
        misses = [metrics[c].to_numpy() for c in ("embedding_cache_misses", "similarity_cache_misses") if c in complete]
        sizes = [metrics[c].to_numpy() for c in complete if c.endswith(("_cache_bytes", "_cache_entries"))]
        if misses or sizes:
            full_at = stats.caches_full_at(metrics["t_unix"].to_numpy(), misses=misses, sizes=sizes)
    return stats.leak_check(
        server["t_unix"].to_numpy(), server["rss_bytes"].to_numpy(), full_at_s=full_at, confidence=confidence
    )


def _leak_judgement(leak: stats.LeakCheck, workload: str, records: pd.DataFrame) -> stats.Judgement:
    threshold = stats.Threshold(
        metric="rss_growth_mb_per_h",
        target=leak.limit_mb_per_h,
        threshold=leak.limit_mb_per_h,
        direction="below",
        unit="MB/h",
        statistic="rate",
    )
    if leak.verdict == "insufficient":
        minutes = float(records["t_intended"].max() - records["t_intended"].min()) / 60 if len(records) else 0.0
        reason = (
            f"RSS growth after the caches are full: not judged: {leak.reason}. This run lasted "
            f"{minutes:.2g} min; a leak check needs a soak (qrbench study load -p "
            "parameters/soak.yaml, 30 min)."
        )
    else:
        reason = (
            f"RSS growth after the caches are full < {leak.limit_mb_per_h:g} MB/h: {leak.reason} "
            f"(slope {leak.slope.value:.3g} MB/h from {(leak.end_s - leak.start_s) / 60:.3g} min "
            f"of samples) [judged by {workload}]."
        )
    return replace(stats.judge(leak.slope, threshold, workload=workload), reason=reason)


def _target_gaps(folder: RunFolder, server: pd.DataFrame, metrics: pd.DataFrame) -> dict[str, str]:
    """metric -> "not measured: why — how to enable it", for what the target does not offer."""
    probe = folder.target_probe
    no_metrics = metrics.empty or (probe is not None and not probe.has_metrics)
    where = "the service exposes no Prometheus /metrics" if no_metrics else "the service's /metrics has no"
    mapping = "or map your metric in the parameter file (target: {metrics: {%s: YOUR_METRIC}})"

    def has(*columns: str) -> bool:
        return not metrics.empty and all(c in metrics and metrics[c].notna().any() for c in columns)

    gaps = {}
    if not has("quantum_seconds_sum", "quantum_seconds_count"):
        gaps["quantum_time_ms"] = (
            f"not measured: {where}{'' if no_metrics else ' quantum-computation histogram'} — export "
            f"qrbench_quantum_computation_seconds, {mapping % 'quantum_seconds'}"
        )
    if not has("embedding_cache_hits", "embedding_cache_misses"):
        gaps["cache_hit_rate"] = (
            f"not measured: {where}{'' if no_metrics else ' cache counters'} — export "
            f"qrbench_embedding_cache_hits_total and _misses_total, {mapping % 'cache_hits'} (and cache_misses)"
        )
    if server.empty and not has("rss_bytes"):
        local = "its process is not on this machine (or not visible to this user)"
        how = "run the service on this machine, or expose process_resident_memory_bytes and process_cpu_seconds_total"
        gaps["memory_gb"] = f"not measured: {local} and {where.replace('has no', 'has no memory gauge')} — {how}"
        gaps["cpu_utilization"] = f"not measured: {local} — {how}"
        gaps["rss_growth_mb_per_h"] = gaps["memory_gb"]
    elif not has("embedding_cache_entries"):
        gaps["rss_growth_mb_per_h"] = (
            f"not measured: {where}{'' if no_metrics else ' cache-size gauges'}, so the growth of its caches "
            "cannot be told from a leak — export qrbench_embedding_cache_entries or map "
            "`cache_entries`, and judge leaks with a soak (qrbench study load -p parameters/soak.yaml)"
        )
    return gaps


def _name_gaps(
    judgements: dict[str, stats.Judgement], not_judged: dict[str, stats.Judgement], gaps: dict[str, str]
) -> None:
    """Targets the run could not measure leave the verdict and say why, instead of 'too few samples'."""
    for name, why in gaps.items():
        j = judgements.pop(name, None) or not_judged.pop(name, None)
        undecided = j is not None and (j.verdict == stats.Verdict.INSUFFICIENT or j.estimate.n == 0)
        if j is not None and (undecided or not math.isfinite(j.estimate.value)):
            not_judged[name] = replace(j, verdict=stats.Verdict.INSUFFICIENT, reason=f"{name}: {why}")
        elif j is not None:
            judgements[name] = j


def _server_metric_estimates(
    metrics: pd.DataFrame, info: dict, t0: float, t1: float, confidence: float
) -> tuple[stats.Estimate, stats.Estimate]:
    """Mean quantum time per request (ms) and the embedding-cache hit rate over the judged window,
    from the /metrics timeline (counter differences between the first and last sample in the window)."""
    needed = {
        "t_unix",
        "quantum_seconds_sum",
        "quantum_seconds_count",
        "embedding_cache_hits",
        "embedding_cache_misses",
    }
    if metrics.empty or not needed <= set(metrics.columns):
        return _missing("no /metrics timeline", confidence), _missing("no /metrics timeline", confidence)
    w = metrics[(metrics["t_unix"] >= info["t0_unix"] + t0) & (metrics["t_unix"] <= info["t0_unix"] + t1 + 1)]
    if len(w) < 2:
        return _missing("too few /metrics samples", confidence), _missing("too few /metrics samples", confidence)
    counters = w[sorted(needed - {"t_unix"})]
    grown = counters.iloc[-1] - counters.iloc[0]
    count = grown["quantum_seconds_count"]
    mean_ms = 1000 * grown["quantum_seconds_sum"] / count if count else np.nan
    quantum = _observed(mean_ms, int(count), "mean from the service's histogram", confidence)
    hits, misses = int(grown["embedding_cache_hits"]), int(grown["embedding_cache_misses"])
    # Each lookup as a Bernoulli trial: lookups within a request are correlated, so this interval is optimistic.
    return quantum, _ratio(hits, hits + misses, "no cache lookups", confidence)


def _phase_table(records: pd.DataFrame, phases: list[dict], confidence: float, timeout_ms: float) -> pd.DataFrame:
    """Per phase: offered and achieved rates, error rate, and p50/p95/p99 (ms) counting failures at their
    timeout, with intervals for time-ordered samples."""
    rows = []
    spans = {p["name"]: p for p in phases}
    for name, g in records.groupby("phase", sort=False):
        ok = g[g["ok"]]
        span = spans.get(name, {})
        observed = float(g["t_intended"].max() - g["t_intended"].min())
        length = (span["end_s"] - span["start_s"]) if span else max(observed, 1e-9)
        lat = _latency_by_kind(g.assign(kind_label="all"), confidence, timeout_ms)["all"]
        rows.append(
            {
                "phase": name,
                "kind": span.get("kind", ""),
                "seconds": length,
                "offered": span.get("offered"),
                "offered_unit": span.get("unit", ""),
                "requests": len(g),
                "ok": len(ok),
                "sent_rps": len(g[g["error"] != "dropped"]) / length,
                "achieved_rps": len(ok) / length,
                "error_rate": 1 - len(ok) / len(g),
                **_percentile_columns(lat, why=False),
            }
        )
    return pd.DataFrame(rows)


def _degradation(records: pd.DataFrame, failure_threshold: float) -> pd.DataFrame:
    """Per phase: how requests failed. Shedding (503 at once) is healthy overload; timeouts are not."""
    rows = []
    for name, g in records.groupby("phase", sort=False):
        error = g["error"]
        rows.append(
            {
                "phase": name,
                "requests": len(g),
                "error_rate": float((~g["ok"]).mean()),
                "shed_503": int((error == "http_503").sum()),
                "timeouts": int((error == "timeout").sum()),
                "server_errors_5xx": int((error == "http_5xx").sum()),
                "connection_errors": int(error.isin(["connect", "reset"]).sum()),
                "dropped_by_generator": int((error == "dropped").sum()),
                "over_failure_threshold": bool((~g["ok"]).mean() > failure_threshold),
            }
        )
    return pd.DataFrame(rows)


def _littles_law(
    kept: pd.DataFrame,
    records: pd.DataFrame,
    phases: list[dict],
    metrics: pd.DataFrame,
    info: dict,
    params: LoadParams,
    confidence: float,
) -> pd.DataFrame:
    """Little's law per judged phase: X * (W + Z) against the users of a closed model (the phase's own user
    count, so the spike row uses the spike's), and X * W against the server's mean in-flight gauge. X: windowed
    completion rate (req/s); W: mean latency (s) of the requests sent in the phase; Z: mean think time."""
    completed = records[records["error"] != "dropped"].dropna(subset=["t_end"])["t_end"].to_numpy()
    rows = []
    spans = {p["name"]: p for p in phases}
    think = _think_time_s(params) if params.model == "closed" else None
    for name, g in kept.groupby("phase", sort=False):
        if name in _UNJUDGED_PHASES:
            continue
        done = g[g["error"] != "dropped"].dropna(subset=["t_end"])
        span = spans.get(name)
        start, end = (span["start_s"], span["end_s"]) if span else (g["t_intended"].min(), g["t_intended"].max())
        if len(done) < 2 or end - start <= 0:
            continue
        x = _windowed_rate(completed, float(start), float(end), confidence)
        w_s = float(done["latency_ms"].mean()) / 1000
        checks = []
        users = span.get("offered") if span and span.get("unit") == "users" else params.users
        if think is not None and users:
            checks.append(("virtual users", stats.littles_law(x, w_s, float(users), think_s=think, what=str(name))))
        if not metrics.empty and "in_flight" in metrics:
            m = metrics[(metrics["t_unix"] >= info["t0_unix"] + start) & (metrics["t_unix"] <= info["t0_unix"] + end)]
            gauge = float(m["in_flight"].mean()) if len(m) else math.nan
            if np.isfinite(gauge) and gauge > 0:
                # The gauge counts only requests being computed: lower than X * W by the time spent in the network,
                # parsing and the server's queue, so a difference here points there.
                checks.append(("server in-flight gauge", stats.littles_law(x, w_s, gauge, what=str(name))))
        for compared, law in checks:
            rows.append(
                {
                    "phase": name,
                    "model": law.model,
                    "compared_with": compared,
                    "predicted": law.predicted.value,
                    "predicted_low": law.predicted.low,
                    "predicted_high": law.predicted.high,
                    "observed": law.observed,
                    "difference": law.relative_difference,
                    "flagged": law.flagged,
                    "sentence": law.sentence,
                }
            )
    return pd.DataFrame(rows, columns=_LITTLE_COLUMNS)


def next_action(report: LoadReport) -> str:
    """The headline's next step ("" leaves format.headline's default): after a clean verdict on a workload that
    could not show the capacity target, judge that target with a workload that can."""
    rows = report.compliance.set_index("metric")
    unjudged = "throughput_rps" in rows.index and str(rows.loc["throughput_rps", "workload"]).startswith("not judged")
    reserved = any(not c.ok for c in report.reliability)
    if report.verdict in ("pass", "warn") and not reserved and unjudged:
        return (
            "judge the capacity target (at least 100 req/s within the latency target), which this workload "
            "cannot offer, with `qrbench study load -p parameters/load_capacity.yaml` or the scalability study."
        )
    return ""


def summary(report: LoadReport) -> dict:
    """The key numbers of the report for summary.json (the executive report's contract) and CI."""
    leak, warm = report.leak, report.warmup
    frames = ("latency", "phases", "errors", "degradation", "outages", "littles_law")
    return {
        **summary_head("load", report),
        "workload": report.workload,
        **{name: getattr(report, name).to_dict(orient="records") for name in frames},
        "leak": {
            "verdict": leak.verdict,
            "slope_mb_per_h": leak.slope.value,
            "low": leak.slope.low,
            "high": leak.slope.high,
            "limit_mb_per_h": leak.limit_mb_per_h,
            "reason": leak.reason,
        },
        "generator": report.result,
        "cores": report.cores,
        "warmup": {
            "trimmed": warm.n_trimmed,
            "seconds": warm.seconds_trimmed,
            "reason": warm.reason,
            "too_short": warm.too_short,
        },
        "steady": steady_summary(warm),
        "requests": int(len(report.records)),
    }


def estimate_dict(e: stats.Estimate) -> dict[str, Any]:
    out = {"value": e.value, "low": e.low, "high": e.high, "n": e.n, "decided": e.decided}
    if not e.decided:
        out["undecided_reason"] = _undecided_reason(e)
    return out


def _undecided_reason(e: stats.Estimate) -> str:
    """Why an interval stays open: correlation ("N requests, but strongly correlated: ...") or the count."""
    if "undecided: " in e.method:
        return e.method.split("undecided: ", 1)[1]
    return "too few samples for an interval"


def steady_summary(warm: stats.WarmupTrim) -> dict[str, Any]:
    """Whether the judged requests were one steady level, and if not when and how the level changed (ms)."""
    shift = warm.level_shift
    if shift is None:
        return {"steady": True}
    return {
        "steady": False,
        "sentence": shift.sentence,
        "at_s": shift.at_s,
        "before_median_ms": shift.before_median,
        "after_median_ms": shift.after_median,
        "before_ms": {k: estimate_dict(e) for k, e in shift.before.items() if k != "max"},
        "after_ms": {k: estimate_dict(e) for k, e in shift.after.items() if k != "max"},
    }
