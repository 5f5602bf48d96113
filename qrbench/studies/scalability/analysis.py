"""Analysis of a scalability run folder (written by `run_scalability`): capacity under the SLO per configuration,
the Universal Scalability Law against workers and instances, the balancer's shares and per-instance cache hit
rates, the first resource to saturate, and the vertical sweeps (threads, document count, qubits, shots, memory).

Capacity. A step *meets* the SLO when its p95 (successful requests, from the intended send time) is below
slo.p95_ms and its success ratio (dropped sends included) at least slo.success, on point estimates; *surely* when
the upper end of the p95's interval is below the limit too. The capacity is the highest meeting step before
steps_past_break + 1 breaking steps in a row (a break followed by a meeting step within that allowance is a
transient, named in the estimate). Its interval runs from the highest step met surely (0 if none) to the first
step of the final break, so it carries both the step width and the p95's uncertainty; open when the SLO never broke.

USL: each configuration's peak step cut into `steps.windows` windows; the windows of one level are one observation
to the fit (not replicates). Fitted only with at least 4 levels; N* is stated only when its interval is decided.
The PRD capacity target is judged on the step load of the configuration with the highest capacity.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from ... import stats
from ...errors import RunError
from ...load import load_records
from ...monitor import counter_delta
from ..analysis import KEY_FIGURE, estimate_row, load_thresholds, summary_head
from ..compliance import compliance_frame
from ..contention import busy_first, read_contention
from ..folder import RunFolder
from ..stages import load_stages
from .autoscaling import analyse_autoscale
from .params import AUTOSCALE_DIR, VERTICAL_DIR, ScalabilityParams, SloParams

__all__ = ["ScalabilityReport", "analyse_scalability", "summary", "KEY_FIGURE"]

# A resource counts as saturated in a step when its utilisation reaches these levels.
SATURATION_LIMITS = {
    "cpu": 0.90,  # server processes' CPU / usable cores
    "memory": 0.80,  # server RSS / machine memory
    "event_loop": 100.0,  # p95 of the /health/live probe, ms (it computes nothing: the time is queueing)
    "thread_pool": 1.0,  # mean requests in computation / compute threads (>= 1: requests wait for a thread)
}
# Throughput windows (s): a second holds several completions at every step rate, and the batch means over the
# windows' autocorrelation time make the interval follow correlations longer than a window.
RATE_WINDOW_S = 1.0
USL_LEVELS = 4  # distinct levels a USL fit needs (3 make the three-parameter fit exact)
STEP_WORKLOAD = "step load (open model)"
_RESOURCE_TEXT = {"cpu": "CPU", "memory": "memory", "event_loop": "the event loop", "thread_pool": "the thread pool"}
_SHARE_COLUMNS = "config step rate_rps instance requests share embedding_hit_rate similarity_hit_rate".split()


def step_summary(
    records: pd.DataFrame, *, duration_s: float, slo: SloParams, confidence: float = 0.95
) -> dict[str, Any]:
    """One step: counts, success ratio, latency percentiles (ms) and throughput (ok completions per second within
    duration_s, batch-means interval), each an Estimate, and whether it meets the SLO (surely: on intervals)."""
    n = len(records)
    ok = records[records["ok"]]
    pct = {q: stats.percentile_ci(ok["latency_ms"].to_numpy(), q, confidence) for q in (50, 95, 99)}
    inside = ok["t_end"].to_numpy()
    inside = inside[inside <= duration_s]
    window = min(RATE_WINDOW_S, duration_s / 2)
    meets = slo.met_by(records)
    return {
        "requests": n,
        "ok": len(ok),
        "success": stats.success_ratio(len(ok), n, confidence=confidence) if n else None,
        "p50": pct[50],
        "p95": pct[95],
        "p99": pct[99],
        "throughput": stats.throughput(inside, window_s=window, start_s=0.0, end_s=duration_s, confidence=confidence),
        "meets": meets,
        "meets_surely": bool(meets and pct[95].decided and pct[95].high < slo.p95_ms),
        "dropped": int((records["error"] == "dropped").sum()) if n else 0,
    }


def capacity_estimate(
    rates: np.ndarray, meets: np.ndarray, meets_surely: np.ndarray, *, tolerated: int = 0, confidence: float = 0.95
) -> stats.Estimate:
    """The highest arrival rate (req/s) meeting the SLO (module docstring). tolerated: breaking steps in a row
    that a later meeting step excuses (a transient on a noisy machine, named in the estimate's method)."""
    order = np.argsort(rates)
    rates, meets, surely = np.asarray(rates, float)[order], np.asarray(meets)[order], np.asarray(meets_surely)[order]
    if rates.size == 0:
        return stats.Estimate(
            value=math.nan,
            low=-math.inf,
            high=math.inf,
            confidence=confidence,
            n=0,
            method="no step measured",
            decided=False,
        )
    # k: the first step of the run of breaks that ends the search (none: the SLO never broke)
    k = next((i for i in range(rates.size) if not meets[i : i + tolerated + 1].any()), rates.size)
    passed = [i for i in range(k) if meets[i]]
    high = float(rates[k]) if k < rates.size else math.inf
    method = (
        "highest step meeting the SLO; interval: highest step meeting it on the p95's interval to the first "
        "step breaking it"
    )
    transients = [f"{rates[i]:.3g}" for i in range(k) if not meets[i]]
    if transients:
        method += f"; transient breaks at {', '.join(transients)} req/s (a higher step met the SLO again)"
    if k == rates.size:
        method += " (the SLO never broke: the capacity is at least the highest rate tried)"
    return stats.Estimate(
        value=float(rates[passed[-1]]) if passed else 0.0,
        low=max((float(rates[i]) for i in passed if surely[i]), default=0.0),
        high=high,
        confidence=confidence,
        n=int(rates.size),
        method=method,
        decided=math.isfinite(high),
    )


def usl_points(records: pd.DataFrame, *, duration_s: float, windows: int) -> np.ndarray:
    """Throughputs (req/s) of one step's ok completions in `windows` equal windows of [0, duration_s]."""
    edges = np.linspace(0.0, duration_s, windows + 1)
    counts, _ = np.histogram(records.loc[records["ok"], "t_end"].to_numpy(), bins=edges)
    return counts / np.diff(edges)


def fit_scaling(points: pd.DataFrame, *, confidence: float = 0.95) -> dict[str, Any]:
    """USL and Amdahl fits of throughput against n (columns n, throughput_rps; the fit averages the rows of one
    n); the note says what could not be fit."""
    levels = points["n"].nunique() if len(points) else 0
    out: dict[str, Any] = {"usl": None, "amdahl": None, "levels": int(levels)}
    notes = []
    for name, label, fit, needed in (
        ("usl", "USL", stats.fit_usl, USL_LEVELS),
        ("amdahl", "Amdahl", stats.fit_amdahl, 2),
    ):
        if levels < needed:
            notes.append(f"{label} needs {needed} distinct levels; this run measured {levels}")
            continue
        try:
            out[name] = fit(
                points["n"].to_numpy(float), points["throughput_rps"].to_numpy(float), confidence=confidence
            )
        except (ValueError, RuntimeError) as exc:
            notes.append(f"the {name} fit failed: {exc}")
    out["note"] = "; ".join(notes)
    return out


def _requests_total(samples: Mapping[str, float]) -> float:
    return sum(v for k, v in samples.items() if k.split("{", 1)[0] == "qrbench_requests_total" and "endpoint=/v1/" in k)


def instance_shares(steps: list[dict[str, Any]], config: str) -> pd.DataFrame:
    """Per step and instance: requests answered (from its /metrics before and after the step), share, and its
    embedding and similarity cache hit rates in the step."""
    rows = []
    for s in steps:
        before, counts = s.get("metrics_before", {}), {}
        for label, a in s.get("metrics_after", {}).items():
            if a:
                b = before.get(label, {})
                hits = {
                    c: [counter_delta(b, a, f"qrbench_{c}_cache_{x}_total") for x in ("hits", "misses")]
                    for c in ("embedding", "similarity")
                }
                counts[label] = (_requests_total(a) - _requests_total(b), hits)
        total = sum(c[0] for c in counts.values())
        for label, (requests, hits) in counts.items():
            rows.append(
                {
                    "config": config,
                    "step": s["step"],
                    "rate_rps": s["rate_rps"],
                    "instance": label,
                    "requests": requests,
                    "share": requests / total if total else np.nan,
                    **{f"{c}_hit_rate": (h / (h + m) if h + m else np.nan) for c, (h, m) in hits.items()},
                }
            )
    return pd.DataFrame(rows, columns=_SHARE_COLUMNS)


def imbalance(shares: pd.DataFrame) -> pd.DataFrame:
    """Per configuration and step: max share over the fair share minus 1 (0 = perfectly even) and a chi-square
    test of the counts against an even split (p < 0.05: the policy is measurably uneven)."""
    rows = []
    for (config, step), g in shares.groupby(["config", "step"], sort=False):
        n = len(g)
        counts = g["requests"].to_numpy(float)
        if n < 2 or counts.sum() <= 0:
            continue
        rows.append(
            {
                "config": config,
                "step": step,
                "rate_rps": g["rate_rps"].iloc[0],
                "instances": n,
                "requests": int(counts.sum()),
                "max_share": float(g["share"].max()),
                "imbalance": float(g["share"].max() * n - 1),
                "chi2_p": float(sps.chisquare(counts).pvalue) if counts.min() >= 0 else np.nan,
            }
        )
    columns = ["config", "step", "rate_rps", "instances", "requests", "max_share", "imbalance", "chi2_p"]
    return pd.DataFrame(rows, columns=columns)


def _saturation(
    run: RunFolder,
    config_dir: str,
    steps: list[dict[str, Any]],
    config: str,
    memory: float,
    compute_threads: int | None,
) -> pd.DataFrame:
    """Per step of one configuration (its monitors' tables in `config_dir`): each resource's utilisation."""
    server, metrics, probe = (
        run.read_frame(f"{config_dir}/{n}", default=pd.DataFrame()) for n in ("server", "metrics", "probe")
    )
    rows = []
    for s in steps:
        u0, u1 = s["t0_unix"], s["t0_unix"] + s["duration_s"]
        row: dict[str, Any] = {"config": config, "step": s["step"], "rate_rps": s["rate_rps"]}
        if len(server):
            w = server[(server["t_unix"] >= u0) & (server["t_unix"] <= u1)]
            per_t = w.groupby("t_unix")[["cpu_percent", "rss_bytes"]].sum() if len(w) else pd.DataFrame()
            row["cpu"] = float(per_t["cpu_percent"].mean() / (100.0 * run.cores)) if len(per_t) else np.nan
            row["memory"] = float(per_t["rss_bytes"].max() / memory) if len(per_t) else np.nan
            row["rss_gb"] = float(per_t["rss_bytes"].max() / 1e9) if len(per_t) else np.nan
            row["machine_cpu"] = float(w["machine_cpu_percent"].mean() / 100.0) if len(w) else np.nan
        if len(probe):
            w = probe[(probe["t_unix"] >= u0) & (probe["t_unix"] <= u1)]
            w = w[w["ok"].astype(bool)] if "ok" in w else w  # a 404 or a refused probe times nothing of the loop
            row["event_loop"] = float(np.percentile(w["latency_ms"], 95)) if len(w) else np.nan
        if len(metrics) and "in_flight" in metrics:
            w = metrics[(metrics["t_unix"] >= u0) & (metrics["t_unix"] <= u1)]
            row["thread_pool"] = (
                float(w["in_flight"].mean() / compute_threads) if len(w) and compute_threads else np.nan
            )
            if len(w) >= 2:
                row["rejected_per_s"] = float(
                    (w["rejected_total"].iloc[-1] - w["rejected_total"].iloc[0])
                    / max(w["t_unix"].iloc[-1] - w["t_unix"].iloc[0], 1e-9)
                )
        rows.append(row)
    frame = pd.DataFrame(rows)
    for resource, limit in SATURATION_LIMITS.items():
        if resource not in frame:
            frame[resource] = np.nan
        frame[f"{resource}_saturated"] = frame[resource] >= limit
    return frame


def first_saturated(saturation: pd.DataFrame) -> tuple[list[str], float]:
    """The resource(s) that saturate at the lowest step rate, and that rate (([], nan) when none did)."""
    first = {
        r: saturation.loc[saturation[f"{r}_saturated"].fillna(False).astype(bool), "rate_rps"].min()
        for r in SATURATION_LIMITS
    }
    first = {r: float(v) for r, v in first.items() if pd.notna(v)}
    if not first:
        return [], math.nan
    lowest = min(first.values())
    return [r for r, v in first.items() if v == lowest], lowest


def cost_growth(n: np.ndarray, latency_ms: np.ndarray, *, confidence: float = 0.95) -> dict[str, Any]:
    """How a request's cost grows with its document count: log-log slope b (cost ~ N**b) and the linear cost per
    document (ms), each with a t interval from ordinary least squares on every request."""
    n, y = np.asarray(n, float), np.asarray(latency_ms, float)
    keep = np.isfinite(y) & (y > 0) & (n > 0)
    n, y = n[keep], y[keep]
    out: dict[str, Any] = {"requests": int(n.size), "levels": int(np.unique(n).size)}
    if np.unique(n).size < 2 or n.size < 3:
        stems = ("slope", "slope_low", "slope_high", "ms_per_doc", "ms_per_doc_low", "ms_per_doc_high")
        return out | dict.fromkeys((*stems, "intercept_ms"), math.nan)
    t = float(sps.t.ppf(0.5 + confidence / 2, n.size - 2))
    log = sps.linregress(np.log(n), np.log(y))
    lin = sps.linregress(n, y)
    out.update(
        slope=float(log.slope),
        slope_low=float(log.slope - t * log.stderr),
        slope_high=float(log.slope + t * log.stderr),
        log_intercept=float(log.intercept),
        ms_per_doc=float(lin.slope),
        ms_per_doc_low=float(lin.slope - t * lin.stderr),
        ms_per_doc_high=float(lin.slope + t * lin.stderr),
        intercept_ms=float(lin.intercept),
        r_squared_log=float(log.rvalue**2),
    )
    return out


def _stage_rows(records: pd.DataFrame, prefix: str, confidence: float) -> pd.DataFrame:
    rows = []
    for stage, g in records[records["stage"].str.startswith(prefix)].groupby("stage", sort=False):
        ok = g[g["ok"]]
        span = float(g["t_end"].max() - g["t_start"].min()) if len(g) else math.nan
        row = {
            "stage": stage,
            "setting": stage.split("/", 1)[1],
            "requests": len(g),
            "ok": len(ok),
            "throughput_rps": len(ok) / span if span and span > 0 else np.nan,
            "server_ms_median": float(np.nanmedian(ok["server_ms"])) if len(ok) else np.nan,
        }
        for q in (50, 95):
            e = stats.percentile_ci(ok["latency_ms"].to_numpy(), q, confidence)
            row.update({f"p{q}_ms": e.value, f"p{q}_low": e.low, f"p{q}_high": e.high})
        rows.append(row)
    frame = pd.DataFrame(rows)
    if len(frame):
        frame["value"] = pd.to_numeric(frame["setting"], errors="coerce")
        frame = frame.sort_values("value").reset_index(drop=True)
    return frame


def _documents_memory(run: RunFolder, records: pd.DataFrame) -> pd.Series:
    server = run.read_frame(f"{VERTICAL_DIR}/server-documents", default=pd.DataFrame())
    if server.empty or records.empty:
        return pd.Series(dtype=float)
    peaks = {}
    for stage, g in records[records["stage"].str.startswith("documents/")].groupby("stage"):
        lo, hi = (g["t_unix"] - g["latency_ms"] / 1000).min(), g["t_unix"].max()
        w = server[(server["t_unix"] >= lo) & (server["t_unix"] <= hi + 0.5)]
        peaks[stage] = float(w["rss_bytes"].max() / 1e6) if len(w) else np.nan
    return pd.Series(peaks)


@dataclass(frozen=True, slots=True, kw_only=True)
class ScalabilityReport:
    params: ScalabilityParams  # what the run measured (from its run.json)
    configs: pd.DataFrame  # per configuration: status, capacity with interval, peak throughput
    steps: pd.DataFrame  # per configuration and step: offered, throughput, percentiles, success, SLO
    usl: dict[str, dict[str, Any]]  # axis -> {"points", "usl", "amdahl", "levels", "note"}
    shares: pd.DataFrame  # per instance and step (nginx configurations)
    imbalance: pd.DataFrame
    saturation: pd.DataFrame  # per configuration and step: utilisation of each resource
    first_saturated: dict[str, Any]  # {"config", "resources", "rate_rps"}
    documents: pd.DataFrame  # vertical: per document count
    cost: dict[str, Any]  # cost growth with the document count
    threads: pd.DataFrame
    qubits: pd.DataFrame
    shots: pd.DataFrame
    vertical_errors: list[str]
    cores: int
    slo: SloParams
    verdict: str
    verdict_reasons: list[str]
    findings: list[str]
    reliability: list[stats.Check]
    records: pd.DataFrame = field(repr=False)  # every step's records, with config, step and rate_rps
    compliance: pd.DataFrame = field(default_factory=lambda: compliance_frame({}))  # PRD rows (studies.compliance)
    autoscale: dict[str, Any] | None = None  # autoscaling.analyse_autoscale + "rule"; None: not run
    recommendation: str = ""
    contention: stats.Contention | None = None  # other programs, steal and calibration per configuration


def analyse_scalability(run_dir: str | Path, params: ScalabilityParams) -> ScalabilityReport:
    """The study's report from its run folder alone (read through `RunFolder`), computed once."""
    p, run = params, RunFolder(Path(run_dir))
    horizontal = _horizontal(run, p)
    configs = horizontal["configs"]
    compliance = _compliance(configs, horizontal.pop("step_estimates"), load_thresholds(p.thresholds_file, "load"))
    verdict, reasons = _scalability_verdict(configs, compliance)
    contention = read_contention(run.path)
    report_args = dict(
        **horizontal,
        **_vertical(run, p),
        cores=run.cores,
        slo=p.slo,
        verdict=verdict,
        verdict_reasons=list(busy_first(reasons, contention)),  # the busy machine before any verdict
        compliance=compliance,
        autoscale=_autoscale(run, p.confidence),
    )
    return ScalabilityReport(
        params=p,
        findings=_findings(report_args),
        reliability=_reliability(report_args, run.calibration_s),
        recommendation=recommendation(report_args),
        contention=contention,
        **report_args,
    )


def _step_row(e: dict[str, Any], s: dict[str, Any], summ: dict[str, Any]) -> dict[str, Any]:
    """One step of one configuration: what was sent and the SLO estimates (value, low, high each)."""
    res = s.get("result", {})
    row = {
        "config": e["name"],
        "axis": e["axis"],
        "n": e["n"],
        "balance": e.get("balance", ""),
        "step": s["step"],
        "rate_rps": s["rate_rps"],
        "requests": summ["requests"],
        "ok": summ["ok"],
        "dropped": summ["dropped"],
        "meets_slo": summ["meets"],
        "meets_slo_surely": summ["meets_surely"],
        "generator_saturated": bool(res.get("saturated")),
        "sent_rps": res.get("achieved_rps", np.nan),
    }
    for key, name, stem in (
        ("throughput", "throughput_rps", "throughput"),
        ("p50", "p50_ms", "p50"),
        ("p95", "p95_ms", "p95"),
        ("p99", "p99_ms", "p99"),
        ("success", "success", "success"),
    ):
        est = summ[key]
        row[name], row[f"{stem}_low"], row[f"{stem}_high"] = (
            (est.value, est.low, est.high) if est is not None else (np.nan,) * 3
        )
    return row


def _config_row(e: dict[str, Any], rows: list[dict[str, Any]], p: ScalabilityParams):
    """(the configuration's row: capacity under the SLO and peak throughput; its peak step's row or None)."""
    cap = capacity_estimate(
        np.array([r["rate_rps"] for r in rows]),
        np.array([r["meets_slo"] for r in rows]),
        np.array([r["meets_slo_surely"] for r in rows]),
        tolerated=p.steps.steps_past_break,
        confidence=p.confidence,
    )
    peak = max(rows, key=lambda r: r["throughput_rps"] if np.isfinite(r["throughput_rps"]) else -1) if rows else None
    row = {
        "config": e["name"],
        "axis": e["axis"],
        "n": e["n"],
        "balance": e.get("balance", ""),
        "status": e["status"],
        "error": e.get("error", ""),
        "steps": len(rows),
        "capacity_rps": cap.value,
        "capacity_low": cap.low,
        "capacity_high": cap.high,
        "slo_broke": math.isfinite(cap.high),
        "capacity_method": cap.method,
        **{f"peak_{k}": peak[k] if peak else np.nan for k in ("throughput_rps", "throughput_low", "throughput_high")},
        "p95_at_capacity_ms": next((r["p95_ms"] for r in rows if r["rate_rps"] == cap.value), np.nan),
        "start_s": e.get("started_s", np.nan),
        "warmup_s": e.get("warmup_s", np.nan),
    }
    return row, peak


def _horizontal(run: RunFolder, p: ScalabilityParams) -> dict[str, Any]:
    """The configurations' step loads: per step and per configuration tables, the USL fits per axis, the
    instances' shares, the saturation timelines and the first resource to saturate, and every record."""
    memory = float((run.facts.get("machine") or {}).get("memory_bytes") or 1.0)
    compute_threads = run.target_setting("compute_threads", None)  # unknown for a given URL: NaN thread pool
    step_rows, frames, config_rows, share_frames, sat_frames = [], [], [], [], []
    step_estimates: dict[str, list[dict[str, Any]]] = {}  # config -> per step: rate and its Estimates
    points: dict[str, list[dict[str, float]]] = {"workers": [], "instances": []}
    for e in run.read_json("configs.json", []):
        steps = run.read_json(f"{e['dir']}/steps.json", [])
        rows, config_frames = [], []
        for s in steps:
            rec = load_records(run.file(e["dir"]) / s["dir"])
            summ = step_summary(rec, duration_s=s["duration_s"], slo=p.slo, confidence=p.confidence)
            t_unix = s["t0_unix"] + rec["t_end"]
            config_frames.append(rec.assign(config=e["name"], step=s["step"], rate_rps=s["rate_rps"], t_unix=t_unix))
            step_estimates.setdefault(e["name"], []).append({"rate_rps": s["rate_rps"], **summ})
            rows.append(_step_row(e, s, summ))
        step_rows += rows
        frames += config_frames
        row, peak = _config_row(e, rows, p)
        config_rows.append(row)
        # Round robin is the reference policy of the instances axis (least_conn is compared, not fitted).
        reference = e["axis"] != "instances" or e.get("balance") in ("round_robin", "")
        if peak is not None and e["axis"] in points and e["status"] == "ok" and reference:
            peak_rec = config_frames[rows.index(peak)]
            for x in usl_points(peak_rec, duration_s=p.steps.step_s, windows=p.steps.windows):
                points[e["axis"]].append({"n": e["n"], "throughput_rps": float(x), "config": e["name"]})
        if e["axis"] == "instances":
            share_frames.append(instance_shares(steps, e["name"]))
        if steps:
            sat_frames.append(_saturation(run, e["dir"], steps, e["name"], memory, compute_threads))
    shares = pd.concat(share_frames, ignore_index=True) if share_frames else instance_shares([], "")
    saturation = pd.concat(sat_frames, ignore_index=True) if sat_frames else pd.DataFrame()
    usl = {}
    for axis, axis_points in points.items():
        frame = pd.DataFrame(axis_points, columns=["n", "throughput_rps", "config"])
        usl[axis] = {"points": frame, **fit_scaling(frame, confidence=p.confidence)}
    return dict(
        configs=pd.DataFrame(config_rows),
        steps=pd.DataFrame(step_rows),
        usl=usl,
        shares=shares,
        imbalance=imbalance(shares),
        saturation=saturation,
        first_saturated=_first_saturated(saturation),
        records=pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(),
        step_estimates=step_estimates,
    )


def _first_saturated(saturation: pd.DataFrame) -> dict[str, Any]:
    """The resource that saturated first on the reference configuration (workers-1 when it ran)."""
    if not len(saturation):
        return {"config": "", "resources": [], "rate_rps": math.nan}
    reference = "workers-1" if "workers-1" in set(saturation["config"]) else saturation["config"].iloc[0]
    resources, rate = first_saturated(saturation[saturation["config"] == reference])
    return {"config": reference, "resources": resources, "rate_rps": rate}


def _vertical(run: RunFolder, p: ScalabilityParams) -> dict[str, Any]:
    """One instance's sweeps: documents (latency, memory, cost growth), threads, qubits, shots, and errors."""
    vertical_errors = [
        f"{', '.join(v['stages'])}: {v['error']}"
        for v in run.read_json(f"{VERTICAL_DIR}/vertical.json", [])
        if v.get("error")
    ]
    doc_error = run.read_json(f"{VERTICAL_DIR}/documents-error.json", {})
    if doc_error:
        vertical_errors.append(f"documents: {doc_error['error']}")
    try:
        vrec, _ = load_stages(run.file(VERTICAL_DIR))
    except RunError:  # no vertical stage finished: every table is empty
        vrec = pd.DataFrame(
            columns=["stage", "ok", "latency_ms", "n_candidates", "t_start", "t_end", "server_ms", "t_unix"]
        )
    documents = _stage_rows(vrec, "documents/", p.confidence)
    if len(documents):
        documents["documents"] = documents["value"].astype(int)
        documents["rss_peak_mb"] = documents["stage"].map(_documents_memory(run, vrec))
    doc_ok = vrec[vrec["stage"].str.startswith("documents/") & vrec["ok"]]
    n_docs = doc_ok["n_candidates"].to_numpy()
    cost = cost_growth(n_docs, doc_ok["latency_ms"].to_numpy(), confidence=p.confidence)
    cost["server"] = cost_growth(n_docs, doc_ok["server_ms"].to_numpy(), confidence=p.confidence)
    return dict(
        documents=documents,
        cost=cost,
        threads=_stage_rows(vrec, "threads/", p.confidence),
        qubits=_stage_rows(vrec, "qubits/", p.confidence),
        shots=_stage_rows(vrec, "shots/", p.confidence),
        vertical_errors=vertical_errors,
    )


def _scalability_verdict(configs: pd.DataFrame, frame: pd.DataFrame) -> tuple[str, list[str]]:
    """The configurations' verdict, made worse by the PRD capacity target's, with every reason."""
    verdict, reasons = _verdict(configs)
    compliance = frame.to_dict(orient="records")
    reasons += [
        f"PRD capacity target (at least {r['target']:g} req/s within the p95 target), "
        f"{'not shown' if r['verdict'] == 'insufficient' else r['verdict']}: "
        f"{r['reason'].removeprefix(r['metric'] + ': ')}"
        for r in compliance
        if r["verdict"] in ("fail", "warn", "insufficient")
    ]
    if verdict in ("pass", "warn") and any(r["verdict"] == "fail" for r in compliance):
        verdict = "fail"
    elif verdict == "pass" and any(r["verdict"] in ("warn", "insufficient") for r in compliance):
        verdict = "warn"  # the scaling was measured, but the PRD's capacity target could not be shown to pass
    if not reasons and len(configs):
        reasons = [
            "Every configuration ran, its capacity under the SLO is bounded on both sides, and the PRD "
            "capacity target passes on the step load."
        ]
    return verdict, reasons


def _compliance(
    configs: pd.DataFrame, steps: Mapping[str, list[dict[str, Any]]], thresholds: Mapping[str, stats.Threshold]
) -> pd.DataFrame:
    """The PRD capacity target judged on the step load of the configuration with the highest capacity (one row;
    none when no configuration ran or the thresholds file has no load.throughput_rps)."""
    rate_t, lat_t = thresholds.get("throughput_rps"), thresholds.get("p95_ms")
    ran = configs[configs["status"] == "ok"] if len(configs) else configs
    ran = ran[ran["config"].isin([c for c, s in steps.items() if s])] if len(ran) else ran
    if rate_t is None or lat_t is None or ran.empty:
        return compliance_frame({})
    best = _best(ran)["config"]
    rates, throughputs, p95s = ([x[k] for x in steps[best]] for k in ("rate_rps", "throughput", "p95"))
    j = stats.capacity_from_steps(rates, throughputs, p95s, rate_t, lat_t, workload=f"{STEP_WORKLOAD}, {best}")
    return compliance_frame({"throughput_rps": j})


def _best(ran: pd.DataFrame) -> pd.Series:
    """The configuration with the highest capacity (then the highest lower bound); among equals the one with the
    fewest processes, which costs least."""
    return (
        ran.assign(_neg_n=-ran["n"])
        .sort_values(["capacity_rps", "capacity_low", "_neg_n", "peak_throughput_rps"], ascending=False)
        .iloc[0]
    )


def _autoscale(run: RunFolder, confidence: float) -> dict[str, Any] | None:
    """The autoscaling scenario's analysis (autoscaling.py), None when the run has none."""
    record = run.read_json(f"{AUTOSCALE_DIR}/autoscale.json")
    if record is None:
        return None
    try:
        records = load_records(run.file(AUTOSCALE_DIR) / "load")
    except RunError:  # the load never started (the pool failed): the analysis shows only the error
        records = pd.DataFrame(columns=["t_intended", "ok", "latency_ms"])
    out = analyse_autoscale(record, records, confidence=confidence)
    out["rule"] = record["rule"]
    return out


def recommendation(r: Mapping[str, Any]) -> str:
    """One sentence from the measured numbers: which configuration to run, its capacity, what limits it, and
    whether more processes would help on this machine."""
    configs: pd.DataFrame = r["configs"]
    ran = configs[(configs["status"] == "ok")] if len(configs) else configs
    if ran.empty:
        return "No configuration was measured, so no sizing can be recommended from this run."
    best = _best(ran)
    single = ran[ran["n"] == 1]
    base = float(single["capacity_rps"].max()) if len(single) else math.nan
    what = (
        f"{int(best['n'])} worker(s)"
        if best["axis"] == "workers"
        else f"{int(best['n'])} instance(s) behind nginx ({best['balance'].replace('_', ' ')})"
        if best["axis"] == "instances"
        else "the given service"
    )
    bound = "" if best["slo_broke"] else "at least "
    if best["slo_broke"] and best["capacity_rps"] == 0:
        text = (
            f"Run {what} only after making it faster: it broke the SLO at every step measured, the first at "
            f"{fmt(best['capacity_high'])} req/s, on this machine's {r['cores']} core(s)"
        )
    else:
        text = (
            f"Run {what}: it met the SLO up to {bound}{fmt(best['capacity_rps'])} req/s (between steps "
            f"{fmt(best['capacity_low'])} and {fmt(best['capacity_high'])}) on this machine's {r['cores']} core(s)"
        )
    if best["n"] > 1 and math.isfinite(base):
        text += f", against {fmt(base)} req/s for one process"
    first = r["first_saturated"]
    if first["resources"]:
        advice = {
            "cpu": f"so more processes than the {r['cores']} cores will not add capacity here",
            "memory": "so memory, not CPU, bounds how many processes fit",
            "thread_pool": "so more compute threads or processes (up to the cores) come before a bigger machine",
            "event_loop": "so more processes (up to the cores) relieve the event loop",
        }
        text += (
            f"; {' and '.join(_RESOURCE_TEXT[x] for x in first['resources'])} saturated first "
            f"(at {fmt(first['rate_rps'])} req/s with one worker), {advice[first['resources'][0]]}"
        )
    else:
        text += "; no resource reached its saturation limit in the steps measured"
    auto = r.get("autoscale")
    if auto is not None and not auto["error"] and math.isfinite(auto["phases"]["need"].max()):
        text += (
            f"; under the HPA rule (CPU target {auto['rule']['target_cpu']:.0%}) the step-up needed "
            f"{int(auto['phases']['need'].max())} instance(s)"
        )
    return text + "."


def _verdict(configs: pd.DataFrame) -> tuple[str, list[str]]:
    """pass: every configuration ran and its capacity is bounded on both sides; warn: a capacity is only a lower
    bound (the SLO never broke) or is 0 (even the first step broke it); fail: a configuration failed to run;
    insufficient: nothing was measured."""
    if configs.empty:
        return "insufficient", ["No configuration was measured."]
    reasons = []
    failed = configs[configs["status"] != "ok"]
    for _, c in failed.iterrows():
        reasons.append(f"{c['config']} failed: {c['error']}")
    ran = configs[configs["status"] == "ok"]
    for _, c in ran.iterrows():
        if not c["slo_broke"]:
            reasons.append(
                f"{c['config']}: the SLO never broke up to {c['capacity_rps']:.3g} req/s; the capacity is "
                "only a lower bound (add higher steps)."
            )
        elif c["capacity_rps"] == 0:
            reasons.append(
                f"{c['config']}: even the first step broke the SLO; the capacity is below "
                f"{c['capacity_high']:.3g} req/s (start lower)."
            )
    if len(failed):
        return "fail", reasons
    if ran.empty:
        return "insufficient", reasons or ["No configuration finished."]
    return ("warn" if reasons else "pass"), reasons


def fmt(x: float, digits: int = 3) -> str:
    """A number of the report's sentences: `digits` significant digits, "not bounded" for inf, "–" for NaN."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "not bounded" if x == math.inf else "–"
    if abs(x) >= 10**digits:  # 5800, not 5.8e+03
        return f"{float(f'{x:.{digits}g}'):,.0f}"
    return f"{x:.{digits}g}"


def _findings(r: Mapping[str, Any]) -> list[str]:
    out = []
    configs: pd.DataFrame = r["configs"]
    cores = r["cores"]
    slo = r["slo"]
    out.append(
        f"This machine gives the service {cores} core(s); everything past {cores} workers or instances "
        "here competes for the same cores (and with the load generator), so the measured points past it "
        "show contention; nothing here predicts a bigger machine."
    )
    ok = configs[configs["status"] == "ok"] if len(configs) else configs
    if len(ok):
        caps = "; ".join(
            f"{c['config']} {fmt(c['capacity_rps'])} req/s [{fmt(c['capacity_low'])}, {fmt(c['capacity_high'])}]"
            for _, c in ok.iterrows()
        )
        out.append(f"Capacity under the SLO (p95 < {slo.p95_ms:g} ms and success ≥ {slo.success:.0%}): {caps}.")
    for axis, fit in r["usl"].items():
        usl, amdahl = fit["usl"], fit["amdahl"]
        if usl is None:
            if amdahl is not None:
                out.append(
                    f"{axis}: no USL fit ({fit['note']}), so the peak N* cannot be bounded from this data; "
                    f"Amdahl (κ = 0): σ = {fmt(amdahl.sigma.value)} "
                    f"[{fmt(amdahl.sigma.low)}, {fmt(amdahl.sigma.high)}], λ = {fmt(amdahl.lam.value)} req/s "
                    f"per unit, over the measured levels only."
                )
            elif fit["levels"]:
                out.append(f"{axis}: no USL fit ({fit['note']}), so the peak N* cannot be bounded from this data.")
            continue
        peak = usl.peak_n
        measured = int(fit["points"]["n"].max())
        if peak.decided and math.isfinite(peak.high):
            where = (
                f"throughput peaks at N* = {fmt(peak.value)} [{fmt(peak.low)}, {fmt(peak.high)}] with "
                f"{fmt(usl.peak_throughput)} req/s"
            )
        else:
            where = (
                "the peak N* cannot be bounded from this data (κ's interval reaches 0, or the fit is "
                "undecided), so no peak is stated"
            )
        text = (
            f"{axis}: USL over {fit['levels']} levels, σ = {fmt(usl.sigma.value)} [{fmt(usl.sigma.low)}, "
            f"{fmt(usl.sigma.high)}], κ = {fmt(usl.kappa.value)} [{fmt(usl.kappa.low)}, "
            f"{fmt(usl.kappa.high)}], R² = {fmt(usl.r_squared)}; {where}. Nothing is predicted past "
            f"N = {measured}, the largest level measured. These N share this machine's {cores} cores, so σ holds "
            "the contention for the cores too."
        )
        if amdahl is not None:
            text += f" Amdahl (κ = 0): σ = {fmt(amdahl.sigma.value)}, R² = {fmt(amdahl.r_squared)}."
        out.append(text)
    first = r["first_saturated"]
    if first["resources"]:
        names = " and ".join(_RESOURCE_TEXT[x] for x in first["resources"])
        out.append(
            f"First to saturate ({first['config']}): {names}, at {fmt(first['rate_rps'])} req/s offered "
            f"(limits: CPU ≥ {SATURATION_LIMITS['cpu']:.0%} of the cores, memory ≥ "
            f"{SATURATION_LIMITS['memory']:.0%}, event-loop probe p95 ≥ {SATURATION_LIMITS['event_loop']:g} ms, "
            "requests in computation ≥ the compute threads)."
        )
    elif first["config"]:
        out.append(f"No resource of {first['config']} reached its saturation limit in the steps measured.")
    imb = r["imbalance"]
    if len(imb):
        for config, g in imb.groupby("config", sort=False):
            out.append(
                f"{config}: largest instance share {g['max_share'].max():.1%} (even: "
                f"{1 / g['instances'].iloc[0]:.1%}); imbalance up to {g['imbalance'].max():.1%}"
                + (", measurably uneven (χ² p < 0.05) in some step" if (g["chi2_p"] < 0.05).any() else "")
                + "."
            )
    cost = r["cost"]
    if np.isfinite(cost.get("slope", np.nan)):
        out.append(
            f"Cost against the document count (cached documents, a new query each): latency ~ N^b with b = "
            f"{fmt(cost['slope'])} [{fmt(cost['slope_low'])}, {fmt(cost['slope_high'])}]; "
            f"{fmt(cost['ms_per_doc'])} ms per document [{fmt(cost['ms_per_doc_low'])}, "
            f"{fmt(cost['ms_per_doc_high'])}]."
        )
    out += autoscale_findings(r.get("autoscale"))
    if len(configs) and (configs["axis"] == "workers").any():
        out.append(
            "Multi-worker /metrics: the workers share one port and each keeps its own registry, so a scrape "
            "describes one worker picked at random; per-instance shares and cache hit rates come from the "
            "nginx configurations, where each instance has its own port."
        )
    return out


SIMULATION_NOTE = (
    "This simulates the Kubernetes HPA's rule (desired = ceil(current × CPU / target), with its "
    "tolerance and stabilisation windows) on one machine, instances behind nginx: it is not a "
    "cluster (no scheduler, no node start-up, no metrics-pipeline delay), and every instance shares "
    "this machine's cores with the load generator."
)


def autoscale_findings(auto: Mapping[str, Any] | None) -> list[str]:
    """Sentences on the autoscaling scenario (empty when it did not run)."""
    if auto is None:
        return []
    if auto["error"]:
        return [f"Autoscaling scenario: it failed ({auto['error']}). {SIMULATION_NOTE}"]
    rule = auto["rule"]
    out = [
        f"Autoscaling scenario (CPU target {rule['target_cpu']:.0%} of {fmt(rule['cores_per_instance'])} core "
        f"per instance, {fmt(rule['min_replicas'])} to {fmt(rule['max_replicas'])} instances, scale-down "
        f"window {fmt(rule['scale_down_window_s'])} s, control every {fmt(rule['interval_s'])} s): " + SIMULATION_NOTE
    ]
    for _, ph in auto["phases"].iterrows():
        if ph["direction"] == "none":
            continue
        verb = "up" if ph["direction"] == "up" else "down"
        after = ph["scaled_after_s"]
        late = " (after the phase ended)" if math.isfinite(after) and after >= ph["end_s"] - ph["start_s"] else ""
        scaled = (
            f"the first scale-{verb} ended {fmt(after)} s after the step{late}"
            if math.isfinite(after)
            else f"it did not scale {verb} before the run ended"
        )
        need = int(ph["need"])
        if ph["reached_need_after_s"] == 0:
            reached = f"the pool already ran its need of {need} instance(s) when the step came"
        elif math.isfinite(ph["reached_need_after_s"]):
            reached = f"its need of {need} instance(s) was reached after {fmt(ph['reached_need_after_s'])} s"
        else:
            reached = f"its need of {need} instance(s) was not reached within the phase"
        latency = []
        if ph["transition_requests"]:
            latency.append(
                f"p95 during the transition {fmt(ph['p95_transition_ms'])} ms "
                f"[{fmt(ph['p95_transition_low'])}, {fmt(ph['p95_transition_high'])}] "
                f"({ph['transition_requests']} requests)"
            )
        if math.isfinite(ph["p95_settled_ms"]):
            latency.append(f"p95 {'after it' if latency else 'in the phase'} {fmt(ph['p95_settled_ms'])} ms")
        out.append(
            f"Step {verb} to {fmt(ph['rate_rps'])} req/s: {scaled}; {reached}"
            + (f"; {', '.join(latency)}" if latency else "")
            + "."
        )
    if math.isfinite(auto["over_instance_s"]):
        out.append(
            f"Provisioning against the rule's steady-state need: {fmt(auto['over_instance_s'])} "
            f"instance-seconds over and {fmt(auto['under_instance_s'])} under, of "
            f"{fmt(auto['instance_s'])} instance-seconds run (needed: {fmt(auto['needed_instance_s'])})."
        )
    else:
        out.append("Provisioning could not be judged: no phase had a decision that measured its CPU.")
    return out


def _warning(name: str, message: str) -> stats.Check:
    return stats.Check(name=name, ok=False, severity="warning", message=message)


def _reliability(r: Mapping[str, Any], calibration_s: list[float] | None) -> list[stats.Check]:
    steps: pd.DataFrame = r["steps"]
    checks = stats.reliability_checks(
        n_samples={"step requests (smallest step)": int(steps["requests"].min()) if len(steps) else 0},
        machine_noise_cv=stats.noise_cv(calibration_s) if calibration_s else None,
    )
    if len(steps) and steps["generator_saturated"].any():
        bad = steps[steps["generator_saturated"]]
        checks.append(
            _warning(
                "generator_saturated",
                f"The load generator flagged {len(bad)} step(s) as not delivered as asked "
                f"(e.g. {bad['config'].iloc[0]} at {bad['rate_rps'].iloc[0]:.3g} req/s): "
                "those steps describe the generator as much as the server.",
            )
        )
    for axis, fit in r["usl"].items():
        if fit["usl"] is not None and not fit["usl"].sigma.decided:
            checks.append(
                _warning(
                    f"usl_{axis}",
                    f"The {axis} USL fit has no residual degrees of freedom: its intervals are unbounded.",
                )
            )
    sat: pd.DataFrame = r["saturation"]
    if len(sat) and {"cpu", "machine_cpu"} <= set(sat.columns):
        busy = sat[(sat["machine_cpu"] >= 0.9) & (sat["cpu"] < 0.5)]
        if len(busy):
            checks.append(
                _warning(
                    "machine_busy",
                    f"In {len(busy)} step(s) the machine's CPU was at least 90 % busy while the service "
                    f"used less than half of the cores (e.g. {busy['config'].iloc[0]} at "
                    f"{busy['rate_rps'].iloc[0]:.3g} req/s: machine {busy['machine_cpu'].iloc[0]:.0%}, "
                    f"service {busy['cpu'].iloc[0]:.0%}): other processes (the load generator, nginx, other "
                    "programs) held the cores, so the service's CPU never shows saturation and its capacity "
                    "is lower than on a quiet machine.",
                )
            )
    checks.append(
        stats.Check(
            name="cores",
            ok=r["cores"] >= 4,
            severity="info" if r["cores"] >= 4 else "warning",
            message=(
                f"The service ran on {r['cores']} core(s) shared with the load generator; scaling past that is not "
                "measured here, and the report predicts nothing beyond the levels it measured."
            ),
        )
    )
    auto = r.get("autoscale")
    if auto is not None and auto["error"]:
        checks.append(
            _warning(
                "autoscale",
                f"The autoscaling scenario failed ({auto['error']}); nothing is reported on scaling in time.",
            )
        )
    return checks


def summary(report: ScalabilityReport) -> dict[str, Any]:
    """The key numbers for summary.json (the run index and CI)."""

    def fit_dict(fit: Any) -> dict[str, Any] | None:
        if fit is None:
            return None
        return {
            **{k: estimate_row(getattr(fit, k)) for k in ("sigma", "kappa", "lam", "peak_n")},
            "peak_throughput_rps": fit.peak_throughput,
            "r_squared": fit.r_squared,
            "points": fit.n_points,
        }

    auto = report.autoscale
    autoscale = (
        None
        if auto is None
        else {
            "simulation": SIMULATION_NOTE,
            "rule": auto["rule"],
            "error": auto["error"],
            "phases": auto["phases"].to_dict(orient="records"),
            **{
                k: auto[k]
                for k in ("over_instance_s", "under_instance_s", "instance_s", "needed_instance_s", "max_instances")
            },
        }
    )
    return {
        **summary_head("scalability", report),
        "recommendation": report.recommendation,
        "autoscale": autoscale,
        "cores": report.cores,
        "slo": {"p95_ms": report.slo.p95_ms, "success": report.slo.success},
        "configs": report.configs.to_dict(orient="records"),
        "steps": report.steps.to_dict(orient="records"),
        "usl": {
            axis: {"usl": fit_dict(f["usl"]), "amdahl": fit_dict(f["amdahl"]), "levels": f["levels"], "note": f["note"]}
            for axis, f in report.usl.items()
        },
        "imbalance": report.imbalance.to_dict(orient="records"),
        "shares": report.shares.to_dict(orient="records"),
        "first_saturated": report.first_saturated,
        "documents": report.documents.to_dict(orient="records"),
        "cost_growth": report.cost,
        "threads": report.threads.to_dict(orient="records"),
        "qubits": report.qubits.to_dict(orient="records"),
        "shots": report.shots.to_dict(orient="records"),
        "vertical_errors": report.vertical_errors,
        "findings": report.findings,
        "requests": int(len(report.records)),
    }
