"""Analysis of the autoscaling scenario (autoscale/autoscale.json and autoscale/load/): how the HPA's rule,
simulated on this machine (not a cluster), followed a load that stepped up and down. Times: seconds since the load
started; the instance count changes when a scaling event ends (an added instance ready, a removed one drained).

Steady-state need of a phase: ceil(demand / target) within the rule's bounds, demand = current x metric (CPU in use),
the median over the decisions of the phase's second half (the whole phase if none measured there), counting a
decision when the interval its metric measured lies inside the phase; no such decision: NaN, left out of the sums.
Over-/under-provisioning: instance-seconds above / below that need. Time to scale: from the phase's start to the end
of the first scaling event in its direction (even after the phase); time to the need: until the count first reached
it within the phase. Transition latency: p95 of the requests meant to be sent before the need was reached.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ... import stats

PHASE_COLUMNS = [
    "phase",
    "rate_rps",
    "start_s",
    "end_s",
    "need",
    "direction",
    "scaled_after_s",
    "reached_need_after_s",
    "requests",
    "success",
    "p95_transition_ms",
    "p95_transition_low",
    "p95_transition_high",
    "transition_requests",
    "p95_settled_ms",
    "p95_settled_low",
    "p95_settled_high",
    "over_instance_s",
    "under_instance_s",
]


def instances_over_time(events: list[Mapping[str, Any]], *, initial: int, t0_unix: float) -> pd.DataFrame:
    """The instance count as a step function: rows (t_s since t0_unix, instances from then on), the first at
    -inf with `initial`."""
    rows = [(-math.inf, int(initial))]
    for e in sorted(events, key=lambda e: e["t_unix"]):
        rows.append((float(e["t_unix"]) - t0_unix, int(e["to"])))
    return pd.DataFrame(rows, columns=["t_s", "instances"])


def _count_at(steps: pd.DataFrame, t: np.ndarray) -> np.ndarray:
    idx = np.searchsorted(steps["t_s"].to_numpy(float), t, side="right") - 1
    return steps["instances"].to_numpy(int)[np.clip(idx, 0, None)]


def steady_need(
    decisions: pd.DataFrame, *, start_s: float, end_s: float, target: float, min_replicas: int, max_replicas: int
) -> float:
    """Instances the rule needs in steady state for the load of [start_s, end_s) (module docstring); NaN when no
    decision of the phase measured the metric. decisions: t_s (since the load's start), current, metric."""
    # A decision's metric is the CPU since the previous decision: it describes a phase only when that whole
    # interval lies inside it.
    decisions = decisions.sort_values("t_s")
    since = decisions["t_s"].shift(1)
    measured = decisions[(since >= start_s) & (decisions["t_s"] <= end_s) & decisions["metric"].notna()]
    d = measured[since[measured.index] >= (start_s + end_s) / 2]
    if d.empty:
        d = measured  # the control loop was busy starting an instance through the second half
    if d.empty:
        return math.nan
    demand = float(np.median(d["current"].to_numpy(float) * d["metric"].to_numpy(float)))
    return float(min(max_replicas, max(min_replicas, math.ceil(demand / target - 1e-9))))


def _p95(records: pd.DataFrame, confidence: float, name: str) -> dict[str, float]:
    """The p95 of the ok latencies (ms) with its interval, as columns p95_<name>_ms, _low and _high."""
    lat = records.loc[records["ok"], "latency_ms"].to_numpy(float)
    e = stats.percentile_ci(lat, 95, confidence) if lat.size else None
    values = (e.value, e.low, e.high) if e else (math.nan,) * 3
    return dict(zip((f"p95_{name}_ms", f"p95_{name}_low", f"p95_{name}_high"), values, strict=True))


def analyse_autoscale(
    record: Mapping[str, Any], records: pd.DataFrame, *, confidence: float = 0.95, grid_s: float = 0.05
) -> dict[str, Any]:
    """The scenario's phases (PHASE_COLUMNS), its timeline on a grid of grid_s seconds, decisions, latency per second
    and totals, from autoscale.json's content and the load's records (t_intended since t0_unix, ok, latency_ms)."""
    t0 = float(record.get("t0_unix") or 0.0)
    decisions = pd.DataFrame(
        record.get("decisions") or [], columns=["t_s", "t_unix", "current", "metric", "proposed", "desired", "scale_s"]
    )
    decisions["t_s"] = decisions["t_unix"].astype(float) - t0
    steps = instances_over_time(record.get("events") or [], initial=int(record.get("initial", 1)), t0_unix=t0)
    rows, grid_rows = [], []
    previous_need = math.nan
    for ph in record.get("phases") or []:
        row, grid = _phase(ph, record, decisions, steps, records, previous_need, confidence=confidence, grid_s=grid_s)
        rows.append(row)
        grid_rows.append(grid)
        if math.isfinite(row["need"]):
            previous_need = row["need"]
    table = pd.DataFrame(rows, columns=PHASE_COLUMNS)
    timeline = (
        pd.concat(grid_rows, ignore_index=True) if grid_rows else pd.DataFrame(columns=["t_s", "instances", "need"])
    )
    known = timeline[timeline["need"].notna()] if len(timeline) else timeline
    latency = _latency_per_second(records)
    return {
        "phases": table,
        "timeline": timeline,
        "decisions": decisions,
        "latency": latency,
        "over_instance_s": float(table["over_instance_s"].sum(min_count=1)) if len(table) else math.nan,
        "under_instance_s": float(table["under_instance_s"].sum(min_count=1)) if len(table) else math.nan,
        "instance_s": float(timeline["instances"].sum() * grid_s) if len(timeline) else math.nan,
        "needed_instance_s": float(known["need"].sum() * grid_s) if len(known) else math.nan,
        "max_instances": int(timeline["instances"].max()) if len(timeline) else int(record.get("initial", 1)),
        "error": str(record.get("error") or ""),
    }


def _phase(
    ph: Mapping[str, Any],
    record: Mapping[str, Any],
    decisions: pd.DataFrame,
    steps: pd.DataFrame,
    records: pd.DataFrame,
    previous_need: float,
    *,
    confidence: float,
    grid_s: float,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """One phase's row (PHASE_COLUMNS) and its instances and need on the grid."""
    rule, t0 = record["rule"], float(record.get("t0_unix") or 0.0)
    a, b = float(ph["start_s"]), float(ph["end_s"])
    need = steady_need(
        decisions,
        start_s=a,
        end_s=b,
        target=float(rule["target_cpu"]),
        min_replicas=int(rule["min_replicas"]),
        max_replicas=int(rule["max_replicas"]),
    )
    t = a + grid_s * np.arange(round((b - a) / grid_s))
    n = _count_at(steps, t)
    direction = (
        ("up" if need > previous_need else "down" if need < previous_need else "none")
        if math.isfinite(need) and math.isfinite(previous_need)
        else "none"
    )
    later = sorted((e for e in record.get("events") or [] if float(e["t_unix"]) - t0 >= a), key=lambda e: e["t_unix"])
    inside = [e for e in later if float(e["t_unix"]) - t0 < b]
    # A scaling that ends after the phase (an instance still starting) still answers the phase's step.
    scaled = [
        float(e["t_unix"]) - t0 - a
        for e in later
        if (direction == "up" and e["to"] > e["from"]) or (direction == "down" and e["to"] < e["from"])
    ]
    # Exactly, from the step function: the phase's start or an event in it, the first with the need met.
    moments = np.array([a, *sorted(float(e["t_unix"]) - t0 for e in inside)])
    reached = moments[_count_at(steps, moments) == need] if math.isfinite(need) else np.array([])
    reached_s = float(reached[0] - a) if reached.size else math.nan
    over = float(np.clip(n - need, 0, None).sum() * grid_s) if math.isfinite(need) else math.nan
    under = float(np.clip(need - n, 0, None).sum() * grid_s) if math.isfinite(need) else math.nan
    ph_rec = records[(records["t_intended"] >= a) & (records["t_intended"] < b)] if len(records) else records
    split = a + reached_s if direction != "none" and math.isfinite(reached_s) else (b if direction != "none" else a)
    transition, settled = ph_rec[ph_rec["t_intended"] < split], ph_rec[ph_rec["t_intended"] >= split]
    row = {
        "phase": int(ph["phase"]),
        "rate_rps": float(ph["rate_rps"]),
        "start_s": a,
        "end_s": b,
        "need": need,
        "direction": direction,
        "scaled_after_s": scaled[0] if scaled else math.nan,
        "reached_need_after_s": reached_s if direction != "none" else math.nan,
        "requests": int(len(ph_rec)),
        "success": float(ph_rec["ok"].mean()) if len(ph_rec) else math.nan,
        **_p95(transition, confidence, "transition"),
        "transition_requests": int(len(transition)),
        **_p95(settled, confidence, "settled"),
        "over_instance_s": over,
        "under_instance_s": under,
    }
    return row, pd.DataFrame({"t_s": t, "instances": n, "need": need})


def _latency_per_second(records: pd.DataFrame) -> pd.DataFrame:
    """p95 (ms) and the number of successful requests per second of intended send time."""
    if not len(records):
        return pd.DataFrame(columns=["second", "p95_ms", "requests"])
    second = np.floor(records["t_intended"].to_numpy(float))
    ok = records.assign(second=second)[records["ok"].to_numpy(bool)]
    return (
        ok.groupby("second")["latency_ms"]
        .agg(p95_ms=lambda x: float(np.percentile(x, 95)), requests="size")
        .reset_index()
    )
