"""The bottleneck study's sections that need nothing of the target but its HTTP contract and its process.

For a service qrbench did not write, these are the whole study: cost by request kind and size (a fixed part
and a part per document, from latency against the candidate count), the payload sizes, the time outside the
computation the service reports, queueing under load, its process's CPU and memory when local, and py-spy's
hot functions of its own process when it is local Python. Every finding here is about the measured service;
what it does not offer is a gap with its reason and how to enable it (`gaps`).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from ... import stats

__all__ = ["cost_table", "hot_functions", "opportunity_row", "outside_opportunities", "gaps"]

_LEAF = re.compile(r"^(?P<function>.+?) \((?P<file>[^:()]+)(?::(?P<line>\d+))?\)$")
# py-spy leaves that are waiting, not working (a process's idle threads and its event loop's select).
_IDLE = re.compile(r"\b(?:select|poll|epoll|wait|_worker|acquire|sleep|accept|recv|read)\b")


def cost_table(costs: pd.DataFrame, *, confidence: float = 0.95) -> pd.DataFrame:
    """Per request kind: fixed and per-document ms with intervals (stats.cost_model on the successful requests),
    mean bytes each way, and the median share of the latency the service reports as computation (NaN: none)."""
    if costs.empty:
        return pd.DataFrame()
    rows = []
    for kind, g in costs.groupby("kind", sort=False):
        ok = g[g["status"] == 200]
        fit = stats.cost_model(ok["n_candidates"].to_numpy(), ok["e2e_ms"].to_numpy(), confidence=confidence)
        share = (ok["server_ms"] / ok["e2e_ms"]).replace([np.inf, -np.inf], np.nan)
        rows.append(
            {
                "kind": kind,
                "endpoint": g["endpoint"].iloc[0],
                "requests": len(g),
                "errors": int((g["status"] != 200).sum()),
                "sizes": ", ".join(str(int(n)) for n in sorted(ok["n_candidates"].unique())),
                "fixed_ms": fit.fixed.value,
                "fixed_low": fit.fixed.low,
                "fixed_high": fit.fixed.high,
                "per_doc_ms": fit.per_item.value,
                "per_doc_low": fit.per_item.low,
                "per_doc_high": fit.per_item.high,
                "decided": bool(fit.fixed.decided and fit.per_item.decided),
                "request_bytes": float(g["request_bytes"].mean()),
                "response_bytes": float(ok["response_bytes"].mean()) if len(ok) else np.nan,
                "computation_share": float(share.median()) if share.notna().any() else np.nan,
            }
        )
    return pd.DataFrame(rows)


def hot_functions(stacks: pd.DataFrame, *, phase: str = "under load", top: int = 8) -> pd.DataFrame:
    """The target process's functions holding the GIL most often (py-spy's GIL-holder samples, else the
    busy samples of all threads): function, file, samples and share. Empty without stacks."""
    if stacks.empty:
        return pd.DataFrame()
    s = stacks[stacks["phase"] == phase]
    gil = s[s["sampler"] == "GIL holder"]
    busy = gil if gil["samples"].sum() > 0 else s[~s["leaf"].str.contains(_IDLE)]
    if busy.empty or busy["samples"].sum() == 0:
        return pd.DataFrame()
    parsed = busy["leaf"].str.extract(_LEAF)
    frame = pd.DataFrame(
        {
            "function": parsed["function"].fillna(busy["leaf"]),
            "file": parsed["file"].fillna(""),
            "samples": busy["samples"],
        }
    )
    out = frame.groupby(["function", "file"], as_index=False)["samples"].sum()
    out["share"] = out["samples"] / out["samples"].sum()
    return out.sort_values("samples", ascending=False).head(top).reset_index(drop=True)


def opportunity_row(
    name: str,
    lives_in: str,
    applies_to: str,
    saving: tuple[float, float, float],
    request_ms: float,
    rates: dict[str, float],
    how: str,
    *,
    trade_off: str = "",
    status: str = "open",
) -> dict[str, Any]:
    """One time-saving opportunity; `saving` is (ms, low, high) per request, `request_ms` what the request costs."""
    value, low, high = saving
    row: dict[str, Any] = {
        "opportunity": name,
        "lives_in": lives_in,
        "applies_to": applies_to,
        "kind": "time",
        "saving_ms": value,
        "saving_low": low,
        "saving_high": high,
        "share_of_request": value / request_ms if request_ms and np.isfinite(request_ms) else np.nan,
        "saving_mib": np.nan,
        "how": how,
        "trade_off": trade_off,
        "status": status,
    }
    for label, rps in rates.items():
        row[f"cores saved at {label}"] = value * rps / 1000
    return row


def outside_opportunities(
    costs: pd.DataFrame,
    table: pd.DataFrame,
    load_runs: pd.DataFrame,
    hot: pd.DataFrame,
    *,
    reference_batch: int,
    rates: dict[str, float],
    min_saving_ms: float = 0.05,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Ranked time savings per request, every one measured on the target: its per-document and fixed costs
    (at reference_batch documents), its time outside the computation it reports, its queueing under load,
    and its hottest functions (py-spy share x the single-user latency)."""
    rows = _cost_rows(table, reference_batch, rates) + _outside_rows(costs, rates, confidence)
    if len(load_runs) and {"single user", "under load"} <= set(load_runs.get("phase", ())):
        one = load_runs[load_runs["phase"] == "single user"].iloc[0]
        many = load_runs[load_runs["phase"] == "under load"].iloc[0]
        rows += _queueing_rows(one, many, rates) + _hot_function_rows(many, hot, rates)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    frame = frame[frame["saving_ms"] >= min_saving_ms].sort_values("saving_ms", ascending=False)
    frame.insert(0, "rank", range(1, len(frame) + 1))
    return frame.reset_index(drop=True)


def _cost_rows(table: pd.DataFrame, reference_batch: int, rates: dict[str, float]) -> list:
    """Halving each request kind's per-document and fixed costs (at reference_batch documents)."""
    rows = []
    for r in table.itertuples() if len(table) else ():
        if not r.decided:
            continue
        n = 1 if r.kind == "similarity" else reference_batch
        whole = r.fixed_ms + r.per_doc_ms * n
        if r.kind != "similarity" and r.per_doc_ms > 0:
            half = (r.per_doc_ms * n * 0.5, max(r.per_doc_low, 0.0) * n * 0.5, r.per_doc_high * n * 0.5)
            rows.append(
                opportunity_row(
                    f"Halve the per-document cost of {r.kind} ({r.per_doc_ms:.3g} ms per document)",
                    "the target's per-document work (encoding and scoring each candidate)",
                    f"{r.kind} of {n} documents",
                    half,
                    whole,
                    rates,
                    "encode documents in batches, cache their embeddings, score all candidates in one vectorised call",
                )
            )
        if r.fixed_ms > 0:
            half = (r.fixed_ms * 0.5, max(r.fixed_low, 0.0) * 0.5, max(r.fixed_high, r.fixed_ms) * 0.5)
            rows.append(
                opportunity_row(
                    f"Halve the fixed cost every {r.kind} request pays ({r.fixed_ms:.3g} ms)",
                    "the target's per-request work (HTTP, parsing, one model call per request)",
                    f"every {r.kind} request",
                    half,
                    whole,
                    rates,
                    "find what every request does once (framework, validation, a model call) in a profile of the "
                    "service",
                )
            )
    return rows


def _outside_rows(costs: pd.DataFrame, rates: dict[str, float], confidence: float) -> list:
    """The time a request costs outside the computation the service reports (rerank requests when there are)."""
    ok = costs[(costs["status"] == 200) & costs["server_ms"].notna()] if len(costs) else costs
    rerank = ok[ok["kind"] == "rerank"] if len(ok) else ok
    g = rerank if len(rerank) else ok
    if len(g) < 3:
        return []
    e = stats.bootstrap_ci((g["e2e_ms"] - g["server_ms"]).to_numpy(), np.mean, confidence=confidence, seed=0)
    return [
        opportunity_row(
            "Cut what a request costs outside the computation the service reports",
            "the target's HTTP stack, framework, (de)serialisation, the loopback round trip",
            f"{g['kind'].iloc[0]} requests",
            (e.value, e.low, e.high),
            float(g["e2e_ms"].mean()),
            rates,
            "faster JSON (orjson), less per-request middleware, smaller responses",
        )
    ]


def _queueing_rows(one: pd.Series, many: pd.Series, rates: dict[str, float]) -> list:
    """How much longer the median request waits under load than for a single user (difference of medians)."""
    wait = float(many["p50_ms"] - one["p50_ms"])
    if not (np.isfinite(wait) and wait > 0):
        return []
    low = max(float(many["p50_low"] - one["p50_high"]), 0.0) if np.isfinite(many["p50_low"]) else np.nan
    high = float(many["p50_high"] - one["p50_low"]) if np.isfinite(many["p50_high"]) else np.nan
    return [
        opportunity_row(
            f"Queueing under load ({int(many['users'])} users): the median request waits {wait:.3g} ms longer",
            "the target's concurrency (slots, workers, event loop)",
            "every request under load",
            (wait, low, high),
            float(many["p50_ms"]),
            rates,
            "more concurrent slots or workers where the CPU allows, or a cheaper request",
        )
    ]


def _hot_function_rows(many: pd.Series, hot: pd.DataFrame, rates: dict[str, float]) -> list:
    """The target's hottest functions under load: their share of the GIL-holding time per request (no interval)."""
    # Its share of the GIL-holding samples, times the share of the time the GIL was held, over the requests
    # answered per second (under load).
    held = float(many.get("gil_held_share", np.nan))
    rps = float(many.get("throughput_rps", np.nan))
    per_request_ms = held * 1000.0 / rps if np.isfinite(held) and np.isfinite(rps) and rps > 0 else np.nan
    return [
        opportunity_row(
            f"Hot function {h.function} ({h.file}): {h.share:.0%} of the GIL-holding samples under load",
            f"the target's code ({h.file})" if h.file else "the target's code",
            "requests under load (its GIL-holding time per request)",
            (float(h.share) * per_request_ms, np.nan, np.nan),
            float(many["p50_ms"]),
            rates,
            "profile this function in the service (its line profile) and make it cheaper or release the GIL",
        )
        for h in (hot.head(3).itertuples() if len(hot) and np.isfinite(per_request_ms) else ())
    ]


def gaps(info: dict[str, Any], probe: Any, *, has_server: bool, has_stacks: bool) -> pd.DataFrame:
    """What this run could not measure about the target: section, "not measured", why, how to enable it."""
    rows = []
    skipped = (info.get("in_process") or {}).get("skipped")
    if skipped:
        rows.append(
            (
                "engine profiles (breakdown, lines, memory, call trees, Aer and shots)",
                skipped,
                "these profiles are of qrbench's reference engine; run `qrbench suite` without --url to profile it, "
                "or profile this service's own code (its py-spy hot functions are below when it runs here)",
            )
        )
    under = info.get("under_load") or {}
    if not has_stacks:
        rows.append(
            (
                "py-spy stacks of the target under load",
                under.get("skipped") or "the under-load stage did not run",
                "run the service on this machine as a Python process, with py-spy installed next to qrbench "
                "(pip install py-spy)",
            )
        )
    if not has_server:
        rows.append(
            (
                "the target's CPU and memory",
                "its process is not on this machine (or not visible to this user)",
                "run the service on this machine, or expose process_cpu_seconds_total and "
                "process_resident_memory_bytes on /metrics",
            )
        )
    if probe is not None and not probe.has_metrics:
        rows.append(
            (
                "server-side latency, cache hit rate, quantum time, in-flight requests",
                f"the service exposes no Prometheus /metrics ({probe.metrics_status})",
                "export Prometheus metrics (prometheus_client, an OpenTelemetry exporter or "
                "prometheus-fastapi-instrumentator), or map your metric names under `metrics:` in the parameter file",
            )
        )
    return pd.DataFrame(
        [(s, "not measured", w, h) for s, w, h in rows], columns=["section", "status", "why", "how to enable"]
    )
