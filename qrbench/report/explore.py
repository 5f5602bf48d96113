"""Open any run folder in a notebook and slice it: `qrbench.open_run(path)`, and the first views a performance
engineer asks for (latency by request kind and document count, by method, over time, two runs overlaid), as
tables (milliseconds) and matplotlib figures that notebooks/explore.ipynb calls.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..errors import RunError
from ..studies import RUN_FILE, SUMMARY_FILE, RunFolder, outputs_root
from .live import WARMUP_STAGE, live_records

__all__ = [
    "RunView",
    "open_run",
    "latest_runs",
    "runs_table",
    "records_of",
    "latency_table",
    "latency_by_plot",
    "latency_over_time",
    "latency_overlay",
    "RECORD_COLUMNS",
]

# The columns of RunView.records a reader slices on first; the rest of the record schema follows them.
RECORD_COLUMNS = ("kind", "method", "n_candidates", "status", "ok", "error", "latency_ms", "service_ms", "server_ms")
_QUANTILES = (0.5, 0.95, 0.99)


def _read_json(folder: RunFolder, name: str) -> dict[str, Any] | None:
    try:
        return folder.read_json(name)
    except (OSError, ValueError):
        return None


@dataclass(frozen=True, eq=False)
class RunView:
    """One run folder, opened. facts: run.json; summary: summary.json (None for an unfinished run). records:
    every request (RECORD_COLUMNS first, t_s since the run's start, warmup for the cache warm-up's requests).
    server, metrics: the target's process and /metrics timelines (None when not sampled).
    """

    path: Path
    facts: dict[str, Any]
    summary: dict[str, Any] | None
    records: pd.DataFrame
    server: pd.DataFrame | None
    metrics: pd.DataFrame | None

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def study(self) -> str:
        return str(self.facts.get("study", "unknown"))

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.facts.get("params") or {})

    @property
    def requests(self) -> pd.DataFrame:
        """The run's own requests: records without the warm-up's."""
        return self.records[~self.records["warmup"]]

    @functools.cached_property
    def report(self) -> Any:
        """The study's report of this folder, analysed on first use (some analyses take seconds)."""
        from ..studies import get_study

        return get_study(self.study).analyse(self.path)

    def __repr__(self) -> str:
        verdict = (self.summary or {}).get("verdict", "no summary")
        return f"<run {self.name}: {self.study}, {len(self.requests)} requests, verdict {verdict}>"


def open_run(path: str | os.PathLike[str]) -> RunView:
    """Open the run folder `path`; RunError when it is not one."""
    path = Path(path).expanduser().resolve()
    folder = RunFolder(path)
    facts = _read_json(folder, RUN_FILE)
    if facts is None:
        raise RunError(f"{path} holds no readable run.json: it is not a qrbench run folder (see outputs/).")
    summary = _read_json(folder, SUMMARY_FILE)
    records = live_records(path)
    if records.empty:
        records = pd.DataFrame({c: pd.Series(dtype=float) for c in (*RECORD_COLUMNS, "stage", "t_intended")})
    records = records.assign(
        t_s=records["t_intended"],
        warmup=records["stage"].eq(WARMUP_STAGE) if "stage" in records else False,
        run=path.name,
    )
    first = [c for c in RECORD_COLUMNS if c in records.columns]
    records = records[first + [c for c in records.columns if c not in first]]
    return RunView(
        path=path,
        facts=facts,
        summary=summary,
        records=records,
        server=folder.read_frame("server", default=None),
        metrics=folder.read_frame("metrics", default=None),
    )


def latest_runs(study: str, n: int = 2, *, outputs: str | os.PathLike[str] | None = None) -> list[RunView]:
    """The n most recent runs of `study` with requests (newest first) under `outputs` (default: outputs_root())."""
    root = Path(outputs) if outputs is not None else outputs_root()
    found: list[RunView] = []
    for folder in sorted((p for p in root.glob("*") if (p / RUN_FILE).is_file()), reverse=True):
        facts = _read_json(RunFolder(folder), RUN_FILE) or {}
        if facts.get("study") != study:
            continue
        run = open_run(folder)
        if len(run.requests):
            found.append(run)
        if len(found) == n:
            break
    if not found:
        raise RunError(
            f"No {study} run with requests under {root}; run notebooks/{study}.ipynb (scale 'smoke' takes a minute) "
            f"or `qrbench study {study}`, or give the run folders."
        )
    return found


def runs_table(runs: Sequence[RunView]) -> pd.DataFrame:
    """One row per run: when, scale, verdict, requests, errors, the machine's cores and the qrbench commit."""
    rows = []
    for run in runs:
        summary, facts = run.summary or {}, run.facts
        requests = run.requests
        rows.append(
            {
                "run": run.name,
                "study": run.study,
                "scale": summary.get("scale", facts.get("scale", "")),
                "verdict": summary.get("verdict", "no summary"),
                "requests": len(requests),
                "errors": int((~requests["ok"].astype(bool)).sum()),
                "warm-up requests": int(run.records["warmup"].sum()),
                "cores": (facts.get("machine") or {}).get("cores"),
                "commit": (facts.get("git_commit") or "")[:10],
            }
        )
    return pd.DataFrame(rows)


def latency_table(records: pd.DataFrame, by: Sequence[str] | str = ("kind", "n_candidates")) -> pd.DataFrame:
    """Requests, errors, error rate and latency percentiles (ms, successful requests) per group of `by` columns;
    warm-up requests left out when the records mark them."""
    by = [by] if isinstance(by, str) else list(by)
    if "warmup" in records.columns:
        records = records[~records["warmup"]]
    rows = []
    for key, group in records.groupby(by, sort=True, dropna=False):
        ok = group.loc[group["ok"].astype(bool), "latency_ms"].dropna().to_numpy()
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(by, key, strict=True))
        failed = len(group) - len(ok)
        row.update(requests=len(group), errors=failed, error_rate=failed / len(group))
        for q in _QUANTILES:
            row[f"p{round(q * 100)}_ms"] = float(np.quantile(ok, q)) if len(ok) else float("nan")
        rows.append(row)
    columns = [*by, "requests", "errors", "error_rate", *(f"p{round(q * 100)}_ms" for q in _QUANTILES)]
    return pd.DataFrame(rows, columns=columns)


def _runs(runs: RunView | Sequence[RunView]) -> list[RunView]:
    return [runs] if isinstance(runs, RunView) else list(runs)


def records_of(runs: RunView | Sequence[RunView]) -> pd.DataFrame:
    """The records of several runs in one frame; the column `run` names each row's run."""
    return pd.concat([r.records for r in _runs(runs)], ignore_index=True)


def _title(runs: list[RunView], what: str) -> str:
    return f"{what} — {' vs '.join(r.name for r in runs)}"


def latency_by_plot(runs: RunView | Sequence[RunView], by: str = "kind"):
    """p50 and p95 latency per value of `by`, one colour per run; None when no run has a successful request."""
    runs = _runs(runs)
    table = latency_table(records_of(runs), ["run", by])
    table = table.dropna(subset=["p50_ms"])
    if table.empty:
        return None
    values = sorted(table[by].unique(), key=lambda v: (str(type(v)), v))
    fig, ax = plt.subplots(figsize=(10, 3.6))
    width = 0.8 / len(runs)
    x = np.arange(len(values))
    for i, run in enumerate(runs):
        mine = table[table["run"] == run.name].set_index(by).reindex(values)
        pos = x - 0.4 + width * (i + 0.5)
        ax.bar(pos, mine["p95_ms"], width * 0.9, color=f"C{i}", alpha=0.35, label=f"{run.name} p95")
        ax.bar(pos, mine["p50_ms"], width * 0.9, color=f"C{i}", label=f"{run.name} p50")
    ax.set_xticks(x, [str(v) for v in values])
    ax.set_xlabel({"n_candidates": "documents per request", "kind": "request kind"}.get(by, by))
    ax.set_ylabel("latency (ms, successful requests)")
    ax.set_title(_title(runs, f"Latency by {ax.get_xlabel()}"), fontsize=10)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def latency_over_time(runs: RunView | Sequence[RunView], window_s: float = 2.0):
    """Each run's p50 and p95 latency per window of window_s seconds since its start; None without successes."""
    runs = _runs(runs)
    fig, ax = plt.subplots(figsize=(10, 3.6))
    drawn = False
    for i, run in enumerate(runs):
        ok = run.requests[run.requests["ok"].astype(bool)].dropna(subset=["latency_ms"])
        if ok.empty:
            continue
        window = np.floor(ok["t_s"] / window_s) * window_s + window_s / 2
        per = ok.groupby(window)["latency_ms"].quantile([0.5, 0.95]).unstack()
        ax.plot(per.index, per[0.95], color=f"C{i}", lw=1, alpha=0.6, marker=".", label=f"{run.name} p95")
        ax.plot(per.index, per[0.5], color=f"C{i}", lw=2, marker="o", ms=3, label=f"{run.name} p50")
        drawn = True
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xlabel(f"seconds since the run started (windows of {window_s:g} s)")
    ax.set_ylabel("latency (ms, successful requests)")
    ax.set_ylim(bottom=0)
    ax.set_title(_title(runs, "Latency over time"), fontsize=10)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    return fig


def latency_overlay(runs: RunView | Sequence[RunView], by: str = "kind"):
    """One empirical CDF of latency per run, one panel per value of `by`, so a shift between two runs is seen at
    every percentile; None without successful requests."""
    runs = _runs(runs)
    records = pd.concat([r.requests for r in runs], ignore_index=True)
    records = records[records["ok"].astype(bool)].dropna(subset=["latency_ms"])
    if records.empty:
        return None
    values = sorted(records[by].unique(), key=lambda v: (str(type(v)), v))
    fig, axes = plt.subplots(1, len(values), figsize=(min(4 * len(values), 14), 3.4), sharey=True, squeeze=False)
    for ax, value in zip(axes[0], values, strict=True):
        for i, run in enumerate(runs):
            ms = np.sort(records.loc[(records["run"] == run.name) & (records[by] == value), "latency_ms"].to_numpy())
            if len(ms):  # from 0 at the fastest request, so that even one request draws a visible step
                share = np.r_[0.0, np.arange(1, len(ms) + 1) / len(ms)]
                ax.step(np.r_[ms[0], ms], share, where="post", color=f"C{i}", marker=".", ms=4)
        ax.set_xscale("log")
        ax.set_ylim(0, 1.03)
        ax.set_title(f"{by} = {value}", fontsize=9)
        ax.set_xlabel("latency (ms)")
    axes[0][0].set_ylabel("share of requests at or below")
    handles = [plt.Line2D([], [], color=f"C{i}", marker=".", label=run.name) for i, run in enumerate(runs)]
    fig.legend(handles=handles, fontsize=7, loc="lower center", ncol=len(runs), bbox_to_anchor=(0.5, -0.02))
    fig.suptitle(_title(runs, "Latency distributions"), fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return fig
