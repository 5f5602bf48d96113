"""Analysis of an A/B run folder: per-block statistics, the paired comparison of every row (request kind x
{median, p95}), the three-way verdict, and the reliability of the run. Reads the folder alone."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ... import stats
from ...params import to_dict
from ..folder import RunFolder
from ..stages import load_stages
from .params import ABParams

__all__ = ["ABReport", "analyse_ab", "summary", "EXIT_STATUS"]

STATISTICS = ("median", "p95")
# The exit status of `qrbench ab` for each overall verdict (cli.py uses it; documented in --help and the README).
EXIT_STATUS = {"no regression of that size": 0, "regression": 1, "cannot tell": 4}


@dataclass(frozen=True, slots=True, kw_only=True)
class ABReport:
    params: ABParams  # what the run measured (from its run.json)
    targets: dict  # run.json's facts of targets A and B
    blocks: pd.DataFrame  # block_table: one row per block and kind
    differences: pd.DataFrame  # one row per pair and row: pair, t_s, kind, statistic, change_percent (B / A - 1)
    rows: tuple[stats.PairedComparison, ...]  # judged together (Holm)
    table: pd.DataFrame  # the rows as a table, for the report and the terminal
    verdict: str  # regression / no regression of that size / cannot tell
    exit_status: int
    headline: str  # the answer in one sentence
    pairs_done: int
    reliability: list[stats.Check]


def block_table(records: pd.DataFrame, kinds: tuple[str, ...]) -> pd.DataFrame:
    """Per measured block and kind: start (s from the first block), requests, successes, median and p95 (ms)."""
    blocks = records[~records["stage"].str.startswith("warmup")]
    t0 = float((blocks["t_unix"] - blocks["latency_ms"] / 1000.0).min()) if len(blocks) else 0.0
    rows = []
    for (block, arm), g in blocks.groupby(["repetition", "stage"], sort=True):
        start = float((g["t_unix"] - g["latency_ms"] / 1000.0).min()) - t0
        for kind in kinds:
            k = g[g["kind"] == kind]
            lat = k.loc[k["ok"], "latency_ms"].to_numpy(dtype=float)
            rows.append(
                {
                    "block": int(block),
                    "pair": int(block) // 2,
                    "arm": arm,
                    "t_s": start,
                    "kind": kind,
                    "requests": len(k),
                    "ok": len(lat),
                    "median": float(np.median(lat)) if len(lat) else np.nan,
                    "p95": float(np.percentile(lat, 95)) if len(lat) else np.nan,
                }
            )
    return pd.DataFrame(rows, columns=["block", "pair", "arm", "t_s", "kind", "requests", "ok", "median", "p95"])


def _paired(blocks: pd.DataFrame, kind: str, statistic: str) -> pd.DataFrame:
    """pair, t_s (the pair's start), a, b: the statistic of the pair's A and B block (complete pairs only)."""
    k = blocks[blocks["kind"] == kind]
    wide = k.pivot_table(index="pair", columns="arm", values=statistic, aggfunc="first")
    t = k.groupby("pair")["t_s"].min()
    out = pd.DataFrame({"a": wide.get("A"), "b": wide.get("B"), "t_s": t}).dropna(subset=["a", "b"])
    return out.reset_index()


def _table(rows: tuple[stats.PairedComparison, ...]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "kind": r.label,
                "statistic": r.statistic,
                "pairs": r.n_pairs,
                "a_ms": r.a_value,
                "b_ms": r.b_value,
                "change_percent": (r.change.value - 1) * 100,
                "low_percent": (r.change.low - 1) * 100,
                "high_percent": (r.change.high - 1) * 100 if math.isfinite(r.change.high) else math.inf,
                "detectable_percent": r.detectable * 100,
                "p_adjusted": r.p_adjusted,
                "verdict": r.verdict,
                "summary": r.summary,
            }
            for r in rows
        ]
    )


def _headline(verdict: str, rows, params: ABParams, done: int) -> str:
    threshold = f"{params.threshold:.0%}"
    if verdict == "regression":
        worst = max((r for r in rows if r.verdict == "regression"), key=lambda r: r.change.value)
        return (
            f"B is slower than A: {worst.label} {worst.statistic} {worst.change.value - 1:+.1%} "
            f"(95 % interval {worst.change.low - 1:+.1%} to {worst.change.high - 1:+.1%}), beyond the {threshold} "
            f"threshold, over {done} pairs of blocks."
        )
    worst_d = max((r.detectable for r in rows), default=math.inf)
    if verdict == "no regression of that size":
        return (
            f"B is not {threshold} or more slower than A: every row could have shown a slowdown of "
            f"{worst_d:.1%} or more with {params.power:.0%} power, and none did ({done} pairs of blocks)."
        )
    blind = [f"{r.label} {r.statistic}" for r in rows if r.verdict == "cannot tell"]
    d = "an unbounded change" if not math.isfinite(worst_d) else f"{worst_d:.0%}"
    return (
        f"This run could not have seen a {threshold} slowdown in {', '.join(blind) or 'any row'} "
        f"(smallest detectable change {d} with {params.power:.0%} power over {done} pairs); "
        "measure more pairs, or on a quieter machine."
    )


def _check(name: str, ok: bool, message: str) -> stats.Check:
    return stats.Check(name=name, ok=ok, severity="info" if ok else "warning", message=message)


def _reliability(folder: RunFolder, blocks: pd.DataFrame, params: ABParams, done: int) -> list[stats.Check]:
    cal = folder.calibration_s
    cv = stats.noise_cv(cal) if cal else math.nan
    checks = [
        _check(
            "machine noise",
            not (cv > 0.10),
            "no calibration was recorded"
            if not math.isfinite(cv)
            else f"the calibration loop varied by {cv:.0%} (coefficient of variation) at the start of the run; "
            "pairing cancels slow drift, fast noise widens the intervals",
        ),
        _check(
            "pairs measured",
            done >= params.pairs,
            f"{done} of {params.pairs} planned pairs"
            + ("" if done >= params.pairs else f" (the time budget of {params.time_budget_s:g} s was reached)"),
        ),
    ]
    per_arm = blocks.groupby("arm")[["requests", "ok"]].sum().reindex(["A", "B"], fill_value=0)
    for arm, (n, ok) in per_arm.astype(int).iterrows():
        checks.append(
            _check(
                f"failed requests {arm}",
                n == ok,
                f"{n - ok} of {n} requests to {arm} failed; block statistics are over successful requests",
            )
        )
    return checks


def analyse_ab(run_dir: str | Path, params: ABParams) -> ABReport:
    """The A/B verdict of a run folder written by run_ab."""
    folder = RunFolder(Path(run_dir))
    facts = folder.facts
    records, _ = load_stages(run_dir)
    blocks = block_table(records, params.kinds)
    rows, diffs = [], []
    for kind in params.kinds:
        for statistic in STATISTICS:
            paired = _paired(blocks, kind, statistic)
            rows.append(
                stats.paired_comparison(
                    paired["a"].to_numpy(),
                    paired["b"].to_numpy(),
                    label=kind,
                    statistic=statistic,
                    threshold=params.threshold,
                    alpha=params.alpha,
                    power=params.power,
                )
            )
            diffs.append(
                paired.assign(kind=kind, statistic=statistic, change_percent=(paired["b"] / paired["a"] - 1) * 100)[
                    ["pair", "t_s", "kind", "statistic", "change_percent"]
                ]
            )
    judged = stats.judge_family(rows)
    verdict = stats.overall_ab_verdict(judged)
    done = int(facts.get("pairs_done") or blocks["pair"].nunique())
    return ABReport(
        params=params,
        targets=facts.get("targets") or {},
        blocks=blocks,
        differences=pd.concat(diffs, ignore_index=True),
        rows=judged,
        table=_table(judged),
        verdict=verdict,
        exit_status=EXIT_STATUS[verdict],
        headline=_headline(verdict, judged, params, done),
        pairs_done=done,
        reliability=_reliability(folder, blocks, params, done),
    )


def summary(report: ABReport) -> dict:
    """The key numbers for summary.json, the run index and CI."""
    return {
        "study": "ab",
        "verdict": report.verdict,
        "exit_status": report.exit_status,
        "headline": report.headline,
        "threshold": report.params.threshold,
        "power": report.params.power,
        "pairs_planned": report.params.pairs,
        "pairs_done": report.pairs_done,
        "targets": {arm: t["url"] for arm, t in report.targets.items()},
        "rows": report.table.drop(columns=["summary"]).to_dict(orient="records"),
        "reliability": [
            {"name": c.name, "ok": c.ok, "severity": c.severity, "message": c.message} for c in report.reliability
        ],
        "parameters": to_dict(report.params),
    }
