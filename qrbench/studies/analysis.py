"""From a run folder to tables, verdicts and reliability checks (shared by the studies)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from .. import stats
from ..errors import ParameterError
from ..params import load_yaml
from ..resources import resolve_params_file
from .stages import load_stages

__all__ = ["stage_table", "load_thresholds", "compare_runs", "estimate_row", "trim_stage_warmup",
           "judgements_frame"]


def load_thresholds(path: str | Path, section: str) -> dict[str, stats.Threshold]:
    """A section of a thresholds file (relative paths: from the current folder, else the shipped parameters/)."""
    path = resolve_params_file(path)
    data = load_yaml(path)
    if section not in data:
        raise ParameterError(f"{path} has no {section!r} section; it has {', '.join(data)}.")
    try:
        return stats.thresholds_from_mapping(data[section], where=f"{path.name} {section}")
    except ValueError as exc:
        raise ParameterError(str(exc)) from exc


def estimate_row(e: stats.Estimate) -> dict[str, float]:
    return {"value": e.value, "low": e.low, "high": e.high, "n": e.n, "decided": e.decided}


def trim_stage_warmup(records: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per stage, drop the warm-up MSER-5 finds (never more than half); returns kept records and what was cut."""
    kept, notes = [], []
    for stage, g in records.groupby("stage", sort=False):
        g = g.sort_values("t_start")
        trim = stats.trim_warmup(g["t_start"].to_numpy(), g["latency_ms"].to_numpy())
        kept.append(g[np.asarray(trim.kept)])
        notes.append({"stage": stage, "trimmed": trim.n_trimmed, "kept": trim.n_kept,
                      "seconds_trimmed": trim.seconds_trimmed, "reason": trim.reason})
    return pd.concat(kept, ignore_index=True), pd.DataFrame(notes)


def stage_table(records: pd.DataFrame, *, confidence: float = 0.95) -> pd.DataFrame:
    """Per stage: counts, success ratio, latency percentiles (ms) with order-statistic intervals."""
    rows = []
    for stage, g in records.groupby("stage", sort=False):
        ok = g[g["ok"]]
        lat = ok["latency_ms"].to_numpy()
        row = {"stage": stage, "kind": g["kind"].iloc[0], "method": g["method"].iloc[0],
               "n_candidates": int(g["n_candidates"].median()), "requests": len(g), "ok": len(ok),
               "success": stats.success_ratio(len(ok), len(g), confidence=confidence).value if len(g) else np.nan}
        for q in (50, 95, 99):
            e = stats.percentile_ci(lat, q, confidence) if len(lat) else None
            row[f"p{q}_ms"] = e.value if e else np.nan
            row[f"p{q}_low"] = e.low if e else np.nan
            row[f"p{q}_high"] = e.high if e else np.nan
        row["server_ms_median"] = float(np.nanmedian(ok["server_ms"])) if len(ok) and ok["server_ms"].notna().any() \
            else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def compare_runs(run_a: str | Path, run_b: str | Path, *, statistics: tuple[str, ...] = ("median", "p95"),
                 min_effect: float = 0.10, alpha: float = 0.05) -> pd.DataFrame:
    """Stage by stage, is run_b slower than run_a? Bootstrap CI of the ratio plus a rank test per statistic."""
    a, _ = load_stages(run_a)
    b, _ = load_stages(run_b)
    rows = []
    for stage in [s for s in a["stage"].unique() if s in set(b["stage"]) and s != "warmup"]:
        xa = a[(a["stage"] == stage) & a["ok"]]["latency_ms"].to_numpy()
        xb = b[(b["stage"] == stage) & b["ok"]]["latency_ms"].to_numpy()
        for statistic in statistics:
            r = stats.compare_samples(xa, xb, statistic=statistic, min_effect=min_effect, alpha=alpha)
            rows.append({"stage": stage, "statistic": statistic, "baseline_ms": r.baseline_value,
                         "current_ms": r.current_value, "ratio": r.ratio.value, "ratio_low": r.ratio.low,
                         "ratio_high": r.ratio.high, "p_worse": r.p_value_worse, "n_baseline": r.n_baseline,
                         "n_current": r.n_current, "verdict": str(r.verdict), "regressed": r.regressed,
                         "improved": r.improved, "summary": r.summary})
    return pd.DataFrame(rows)


def judgements_frame(judgements: Mapping[str, stats.Judgement]) -> pd.DataFrame:
    return pd.DataFrame([
        {"metric": name, "value": j.estimate.value, "low": j.estimate.low, "high": j.estimate.high,
         "n": j.estimate.n, "target": j.target, "threshold": j.threshold, "unit": j.unit,
         "verdict": str(j.verdict), "reason": j.reason}
        for name, j in judgements.items()
    ])
