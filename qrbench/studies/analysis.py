"""From a run folder to tables, verdicts and reliability checks (shared by the studies)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import stats
from ..errors import ParameterError, QrbenchError
from ..params import load_yaml, to_dict
from ..resources import resolve_params_file
from .compliance import compliance_records
from .contention import contention_summary
from .folder import RUN_FILE, RunFolder
from .stages import load_stages

KEY_FIGURE = "key_figure.png"  # each study's key figure, saved by its report in the run folder

__all__ = [
    "Section",
    "Table",
    "Figure",
    "Spec",
    "shown",
    "intervals",
    "stage_table",
    "load_thresholds",
    "compare_runs",
    "estimate_row",
    "trim_stage_warmup",
    "latency_statistic",
    "server_metrics_sentence",
    "server_process_sentence",
    "headline_section",
    "compliance_section",
    "reliability_section",
    "summary_head",
    "COMPLIANCE_ABOUT",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Table:
    """A table of a section. style: how report/ draws it: "plain" (a table for people: a cell holding a tuple
    (low, high[, unit]) reads as an interval), or a study's own layout (e.g. the load study's "latency").
    otherwise: what was not measured when the frame has no rows (said in a sentence instead of the table).
    columns: the columns shown, in order, with their headers (column -> header); default all, headers derived
    from the names (the names, not the headers, decide percentages and verdict badges)."""

    frame: pd.DataFrame
    caption: str = ""
    style: str = "plain"
    otherwise: str = ""
    columns: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Figure:
    """A figure of a section, as data: `draw` names a drawing of report/ (e.g. "load_timeline"), `inputs` are its
    arguments; `otherwise` is what was not measured when it draws nothing; `save_as` a file name in the run
    folder (the key figure)."""

    draw: str
    inputs: Mapping[str, Any]
    otherwise: str
    save_as: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Section:
    """One part of a study's report, shown in one notebook cell (report.format.show_section), in order.

    title: its heading ("" for none); about: what it shows and how (markdown, the same for every run);
    sentence: what this run says (markdown); verdict: the headline's verdict (its reason is `sentence`);
    judgements: the compliance rows it judges (studies.compliance's frame); checks: reliability checks;
    data: its numbers for a machine (summary.json, the terminal); tables_first: its tables before its figures
    and sentence (tables the figures illustrate)."""

    name: str
    title: str = ""
    about: str = ""
    sentence: str = ""
    verdict: str = ""
    tables: tuple[Table, ...] = ()
    figures: tuple[Figure, ...] = ()
    judgements: pd.DataFrame | None = None
    checks: tuple[stats.Check, ...] = ()
    data: Mapping[str, Any] = field(default_factory=dict)
    tables_first: bool = False


# ---- the sections every study's report has (its verdict, its compliance table, its reliability checks)

COMPLIANCE_ABOUT = (
    "*pass* only when the whole 95% interval meets the target; *warn* between target and threshold; *fail* when "
    "the interval lies wholly beyond the threshold; *insufficient* when the sample cannot decide."
)


def headline_section(report: Any, next_action: str = "") -> Section:
    """The verdict, its main reason, the reliability reservations and what to do next (the first screen).
    `report` is any study's report: it has `verdict`, `verdict_reasons` (the main one first) and `reliability`."""
    return Section(
        name="headline",
        verdict=report.verdict,
        sentence=report.verdict_reasons[0] if report.verdict_reasons else "",
        checks=tuple(report.reliability),
        data={"next_action": next_action},
    )


def _of(report: Any, source: str | Callable[[Any], Any] | None) -> Any:
    """A report attribute's value when `source` names one, else what the function `source` gives for the report."""
    if source is None or isinstance(source, str):
        return getattr(report, source) if source else None
    return source(report)


@dataclass(frozen=True, slots=True, kw_only=True)
class Spec:
    """A section as data: SECTIONS holds it, calling it with the report makes the Section, so a section of the
    common shape is one entry. Sources (`table`, `judgements`, `checks`) name a report attribute or are a function
    of the report. `table`: the frame shown (None: no table), `columns` its headers (those the frame has), `empty`
    what was not measured, said when it has no rows; the figure: the drawing `draw` of report/ with
    `inputs(report)` its arguments (`otherwise`, `save_as` as in Figure); `sentence(report)`: what this run says."""

    name: str
    title: str = ""
    about: str = ""
    sentence: Callable[[Any], str] | None = None
    table: str | Callable[[Any], pd.DataFrame | None] | None = None
    columns: Mapping[str, str] | None = None
    style: str = "plain"
    empty: str = ""
    draw: str = ""
    inputs: Callable[[Any], Mapping[str, Any]] | None = None
    otherwise: str = ""
    save_as: str = ""
    judgements: str | Callable[[Any], pd.DataFrame] | None = None
    checks: str | None = None
    tables_first: bool = False

    def __call__(self, report: Any) -> Section:
        frame, tables, figures = _of(report, self.table), (), ()
        if frame is not None:
            tables = (shown(frame, self.columns, style=self.style, otherwise=self.empty),)
        if self.draw:
            inputs = self.inputs(report) if self.inputs else {}
            figures = (Figure(draw=self.draw, inputs=inputs, otherwise=self.otherwise, save_as=self.save_as),)
        return Section(
            name=self.name,
            title=self.title,
            about=self.about,
            sentence=self.sentence(report) if self.sentence else "",
            tables=tables,
            figures=figures,
            judgements=_of(report, self.judgements),
            checks=tuple(_of(report, self.checks) or ()),
            tables_first=self.tables_first,
        )


def shown(frame: pd.DataFrame, columns: Mapping[str, str] | None = None, **table: Any) -> Table:
    """A Table of `frame`'s columns named in `columns` that it has (all of them when it has no rows), under those
    headers, in that order (None: every column); `table`: the Table's other fields."""
    if columns is not None:
        columns = {k: v for k, v in columns.items() if k in frame.columns or frame.empty}
    return Table(frame=frame, columns=columns, **table)


def intervals(frame: pd.DataFrame, low: str, high: str, unit: str = "") -> list[tuple[float, float, str]]:
    """(low, high, unit) per row of two columns: a table for people shows each as an interval."""
    return [(lo, hi, unit) for lo, hi in zip(frame[low], frame[high], strict=True)] if len(frame) else []


def compliance_section(about: str, title: str = "Verdict against the PRD") -> Spec:
    """Each PRD target the study judges (`report.compliance`, studies.compliance's frame), with the workload
    that judged it. `about`: how this study judges (markdown; `COMPLIANCE_ABOUT` says what each verdict means)."""
    return Spec(name="compliance", title=title, about=about, judgements="compliance")


# The reliability checks of the study's numbers (`report.reliability`); a study adds its about-text with replace().
reliability_section = Spec(name="reliability", title="Reliability of these numbers", checks="reliability")


def summary_head(study: str, report: Any) -> dict[str, Any]:
    """What every study's summary.json starts with, and the executive report reads: the study, its verdict and
    reasons, the busy machine, the compliance rows, the reliability checks, the key figure and the parameters.
    `report` is any study's report (`verdict`, `verdict_reasons`, `contention`, `compliance`, `reliability`,
    `params`)."""
    return {
        "study": study,
        "verdict": report.verdict,
        "verdict_reasons": list(report.verdict_reasons),
        "contention": contention_summary(report.contention),
        "compliance": compliance_records(report.compliance),
        "reliability": [
            {"name": c.name, "ok": c.ok, "severity": c.severity, "message": c.message} for c in report.reliability
        ],
        "key_figure": KEY_FIGURE,
        "parameters": to_dict(report.params),
    }


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


def latency_statistic(
    latency_ms: np.ndarray,
    ok: np.ndarray,
    threshold: stats.Threshold,
    *,
    confidence: float = 0.95,
    censor_ms: float | None = None,
) -> stats.Estimate:
    """The statistic `threshold.statistic` names (p50, p95, p99, mean) of a latency sample in ms.

    Percentiles count each failed request at (at least) `censor_ms` (the client timeout) when given, so a
    target is never judged on the survivors only; without it, over successful requests. The mean is over
    successful requests (a censored mean has no finite upper bound).
    """
    latency_ms, ok = np.asarray(latency_ms, dtype=float), np.asarray(ok, dtype=bool)
    statistic = threshold.statistic or "p95"
    if statistic.startswith("p") and statistic[1:].replace(".", "", 1).isdigit():
        q = float(statistic[1:])
        if censor_ms is None:
            return stats.percentile_ci(latency_ms[ok], q, confidence)
        return stats.censored_percentile(np.where(ok, latency_ms, censor_ms), ~ok, q, confidence).estimate
    if statistic == "mean":
        return stats.series_mean_ci(latency_ms[ok], confidence=confidence)
    raise ParameterError(
        f"{threshold.metric} is judged on the statistic {statistic!r}, which a latency sample "
        "cannot give; use p50, p95, p99 (any pNN) or mean in the thresholds file."
    )


def estimate_row(e: stats.Estimate) -> dict[str, float]:
    return {"value": e.value, "low": e.low, "high": e.high, "n": e.n, "decided": e.decided}


def trim_stage_warmup(records: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per stage (and repetition), drop the warm-up MSER-5 finds; returns kept records and what was cut.

    Each repetition of a stage is its own time series (its own clock), so each is trimmed on its own.
    """
    keys = ["stage", "repetition"] if "repetition" in records else ["stage"]
    kept, notes = [], []
    for key, g in records.groupby(keys, sort=False):
        g = g.sort_values("t_start")
        trim = stats.trim_warmup(g["t_start"].to_numpy(), g["latency_ms"].to_numpy())
        kept.append(g[np.asarray(trim.kept)])
        names = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
        notes.append(
            {
                **names,
                "trimmed": trim.n_trimmed,
                "kept": trim.n_kept,
                "seconds_trimmed": trim.seconds_trimmed,
                "reason": trim.reason,
            }
        )
    return pd.concat(kept, ignore_index=True), pd.DataFrame(notes)


def stage_table(records: pd.DataFrame, *, confidence: float = 0.95, censor_ms: float | None = None) -> pd.DataFrame:
    """Per stage: counts, success ratio, latency percentiles (ms) with order-statistic intervals.

    p50/p95/p99 (`p95_ms`, `p95_low`, `p95_high`) are over successful requests only. With `censor_ms`
    (the client timeout, ms) the same percentiles counting every failed request at (at least) that value
    are added beside them (`p95_all_ms`, `_all_low`, `_all_high`, `_all_at_least` when the value is only a
    lower bound), with `failed` the number of failures: a server that times out looks slow, not fast.
    """
    rows = []
    for stage, g in records.groupby("stage", sort=False):
        ok = g[g["ok"]]
        lat = ok["latency_ms"].to_numpy()
        row = {
            "stage": stage,
            "kind": g["kind"].iloc[0],
            "method": g["method"].iloc[0],
            "n_candidates": int(g["n_candidates"].median()),
            "requests": len(g),
            "ok": len(ok),
            "failed": len(g) - len(ok),
            "success": stats.success_ratio(len(ok), len(g), confidence=confidence).value if len(g) else np.nan,
        }
        by_kind = (
            stats.censored_latency(
                g["latency_ms"].to_numpy(dtype=float), g["ok"].to_numpy(dtype=bool), censor_ms, confidence=confidence
            )
            if censor_ms is not None
            else None
        )
        for q in (50, 95, 99):
            e = stats.percentile_ci(lat, q, confidence) if len(lat) else None
            row[f"p{q}_ms"] = e.value if e else np.nan
            row[f"p{q}_low"] = e.low if e else np.nan
            row[f"p{q}_high"] = e.high if e else np.nan
            if by_kind is not None:
                c = by_kind["all"].with_failures[f"p{q}"]
                row[f"p{q}_all_ms"], row[f"p{q}_all_low"] = c.estimate.value, c.estimate.low
                row[f"p{q}_all_high"], row[f"p{q}_all_at_least"] = c.estimate.high, c.at_least
        row["server_ms_median"] = (
            float(np.nanmedian(ok["server_ms"])) if len(ok) and ok["server_ms"].notna().any() else np.nan
        )
        rows.append(row)
    return pd.DataFrame(rows)


def _repetitions(records: pd.DataFrame, stage: str) -> list[np.ndarray]:
    """The successful latencies (ms) of one stage, one array per repetition in time order."""
    g = records[(records["stage"] == stage) & records["ok"]]
    by = g.groupby("repetition", sort=True) if "repetition" in g else [(0, g)]
    return [r.sort_values("t_start")["latency_ms"].to_numpy() for _, r in by]


def _calibration(run_dir: str | Path) -> list[float] | None:
    return RunFolder(Path(run_dir)).read_json(RUN_FILE, {}).get("calibration_s")


def compare_runs(
    run_a: str | Path,
    run_b: str | Path,
    *,
    statistics: tuple[str, ...] = ("median", "p95"),
    min_effect: float = 0.10,
    alpha: float = 0.05,
    correction: str = "holm",
) -> pd.DataFrame:
    """Stage by stage and statistic by statistic, did run_b get slower than run_a (the baseline)?

    Each comparison is `stats.compare_repetitions`: with k >= 2 repetitions per side the difference is
    judged against the variation between repetitions; with one run per side it says it cannot separate
    machine drift from a change, and widens its interval by the drift of the calibration loop measured in
    both runs (run.json). Tails (p95) are compared only when every repetition decides them. The whole
    stage x statistic table is one family, corrected by `correction` (Holm: family-wise error at alpha).
    Columns: stage, statistic, k and n per side, values (ms), ratio current / baseline with its interval,
    detectable (the smallest change, a fraction, found with 80 % power at the family's level), p-value raw
    and adjusted, correction, separable, verdict (regressed, improved, unchanged, cannot tell: no change found
    but none of min_effect could have been, undecided, insufficient data), regressed, improved, summary.
    """
    a, _ = load_stages(run_a)
    b, _ = load_stages(run_b)
    cal_a, cal_b = _calibration(run_a), _calibration(run_b)
    comparisons = []
    for stage in [s for s in a["stage"].unique() if s in set(b["stage"]) and s != "warmup"]:
        reps_a, reps_b = _repetitions(a, stage), _repetitions(b, stage)
        for statistic in statistics:
            comparisons.append(
                stats.compare_repetitions(
                    reps_a,
                    reps_b,
                    statistic=statistic,
                    label=stage,
                    min_effect=min_effect,
                    alpha=alpha,
                    calibration_baseline=cal_a,
                    calibration_current=cal_b,
                )
            )
    family = stats.adjust_family(comparisons, method=correction) if comparisons else ()
    return pd.DataFrame(
        [
            {
                "stage": r.label,
                "statistic": r.statistic,
                "k_baseline": r.k_baseline,
                "k_current": r.k_current,
                "n_baseline": r.n_baseline,
                "n_current": r.n_current,
                "baseline_ms": r.baseline_value,
                "current_ms": r.current_value,
                "ratio": r.ratio.value,
                "ratio_low": r.ratio.low,
                "ratio_high": r.ratio.high,
                "detectable": r.detectable,
                "p_value": r.p_value,
                "p_adjusted": r.p_adjusted,
                "correction": r.correction,
                "separable": r.separable,
                "verdict": r.verdict,
                "regressed": r.regressed,
                "improved": r.improved,
                "summary": r.summary,
            }
            for r in family
        ]
    )


def server_metrics_sentence(run_dir: str | Path) -> str:
    """Where each server-side series of a run came from: CPU and memory from the service's process or its
    /metrics gauges, the rest from /metrics (run.json's metric_sources) — or why there are none, and how to
    enable them. One sentence under a figure that draws them."""
    folder = RunFolder(Path(run_dir))
    try:
        sources = dict(folder.facts.get("metric_sources") or {})
        pid = (folder.facts.get("target") or {}).get("pid")
    except QrbenchError:
        return ""
    process = process_sentence(pid, sources)
    probe = folder.target_probe
    if not sources:
        if probe is not None and not probe.has_metrics:
            return (
                f"{process} Other server-side series: not measured: the service exposes no Prometheus /metrics "
                f"({probe.metrics_status}) — export one, or map your metric names under target: {{metrics: ...}}."
            )
        return f"{process} Server-side series from /metrics: none found in this run."
    said = ", ".join(f"{column} from {name}" for column, name in sorted(sources.items()))
    return f"{process} Server-side series read from /metrics: {said}."


def server_process_sentence(run_dir: str | Path) -> str:
    """Where a run's server CPU and memory came from, or why they were not measured and how to enable them."""
    try:
        facts = RunFolder(Path(run_dir)).facts
    except QrbenchError:
        return ""
    return process_sentence((facts.get("target") or {}).get("pid"), facts.get("metric_sources") or {})


def process_sentence(pid: int | None, sources: Mapping[str, str]) -> str:
    """The sentence of server_process_sentence from the target's local pid and the run's metric sources."""
    if pid:
        return f"CPU and memory: the service's process tree (pid {pid}), sampled on this machine."
    if "rss_bytes" in sources:
        return f"CPU and memory: from the service's /metrics ({sources['rss_bytes']}; no process on this machine)."
    return (
        "CPU and memory: not measured: the service's process is not on this machine and its /metrics has no "
        "process_resident_memory_bytes — run it on this machine, or export the Prometheus client's process metrics."
    )
