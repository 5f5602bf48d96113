"""The executive report of a suite run: one self-contained report.html whose first screen is the answer.

Input: one `StudySummary` per study (`from_summary` of its summary.json; `failed_study` for one that crashed).
First screen: the overall verdict and its main reason, the reliability reservations, capacity, the top three
bottlenecks, the scaling recommendation, the regression, ranking quality and the PRD compliance across studies.
Then one section per study with its key figure (embedded) and a link to its full report. Anything a run did not
produce reads "not measured in this run".
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path
from typing import Any

import pandas as pd

from qrbench.stats import interval_change

from ..studies import RunFolder, metric_label
from .baseline_tables import quantum_vs_classical
from .format import (
    NOT_MEASURED,
    compliance_table,
    gap_reason,
    headline,
    interval,
    number,
    quantity,
    verdict_badge,
)
from .html import page

NOT_IN_RUN = f"{NOT_MEASURED} in this run"
_RESERVATIONS_SHOWN = 5  # failed reliability checks listed per study section
_ORDER = {"pass": 0, "warn": 1, "insufficient": 2, "error": 3, "fail": 4}


@dataclass(frozen=True, kw_only=True)
class ComplianceRow:
    """One PRD target judged by one study, in `unit`; low/high: the 95 % interval (inf: not bounded). `metric` is
    the key (thresholds file, summary.json), `label` what the report shows (default: metric_label of the key)."""

    metric: str
    target: float
    unit: str
    value: float
    low: float
    high: float
    verdict: str
    study: str
    workload: str
    direction: str = "below"
    reason: str = ""
    machine_busy: bool = False  # failed by less than the busy machine could explain: insufficient (machine busy)
    label: str = ""

    @property
    def shown(self) -> str:
        return self.label or metric_label(self.metric)


@dataclass(frozen=True, kw_only=True)
class Busy:
    """Other programs' share of all cores (0-1) over a study's contended stages, and how many of its stages were."""

    sentence: str
    other_share: float
    contended_stages: int
    stages: int


@dataclass(frozen=True, kw_only=True)
class Capacity:
    """The highest arrival rate (req/s) meeting the SLO, its interval, the configuration and what limits it."""

    rps: float
    low: float
    high: float
    config: str
    limited_by: str
    slo: str = ""


@dataclass(frozen=True, kw_only=True)
class Bottleneck:
    """An optimisation opportunity and the time it saves per request (ms, 95 % interval)."""

    name: str
    saving_ms: float
    low: float = math.nan
    high: float = math.nan
    where: str = ""


@dataclass(frozen=True, kw_only=True)
class Regression:
    """The comparison with the previous suite run: verdict "regressed", "unchanged" or "improved"."""

    verdict: str
    summary: str
    previous_run: str = ""


@dataclass(frozen=True, kw_only=True)
class ReliabilityNote:
    name: str
    ok: bool
    message: str


@dataclass(frozen=True, kw_only=True)
class StudySummary:
    """What the executive report needs from one study; `error` set means it failed (verdict "error") and
    `what_to_do` says how to recover. report_link and key_figure: relative to the suite folder, or absolute."""

    study: str
    verdict: str
    reason: str = ""
    compliance: tuple[ComplianceRow, ...] = ()
    capacity: Capacity | None = None
    bottlenecks: tuple[Bottleneck, ...] = ()
    scaling: str | None = None
    regression: Regression | None = None
    reliability: tuple[ReliabilityNote, ...] = ()
    report_link: str | None = None
    key_figure: str | None = None
    error: str | None = None
    what_to_do: str = ""
    quality: tuple[dict[str, Any], ...] = ()  # the baseline's ranking quality records (summary.json "quality")
    busy: Busy | None = None  # the machine was busy with other programs during the study (named first)

    def __post_init__(self) -> None:
        if self.verdict not in _ORDER:
            raise ValueError(
                f"StudySummary {self.study!r}: verdict must be one of {', '.join(_ORDER)}; got {self.verdict!r}."
            )
        if self.error and self.verdict != "error":
            raise ValueError(
                f"StudySummary {self.study!r} carries an error, so its verdict must be 'error', not {self.verdict!r}."
            )


def _float(value: Any) -> float:
    """A summary.json number: "inf"/"-inf" strings (how runs.write_summary stores them) and null included."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


# summary.json value -> a field of the declared type; a missing or empty text takes the field's default.
_AS = {
    "float": lambda value, default: _float(value),
    "str": lambda value, default: str(value) if value not in (None, "") else "" if default is MISSING else default,
    "bool": lambda value, default: bool(value),
    "int": lambda value, default: int(value or 0),
}


def _record(cls: type, raw: dict[str, Any], keys: dict[str, str] | None = None, **given: Any) -> Any:
    """A `cls` from one summary.json entry: each field not `given` is raw[keys.get(field, field)] as its type, so
    a new field of Capacity, Bottleneck, ... is read by declaring it (and its key, when named otherwise)."""
    keys = keys or {}
    read = {
        f.name: _AS[f.type](raw.get(keys.get(f.name, f.name)), f.default) for f in fields(cls) if f.name not in given
    }
    return cls(**read, **given)


def from_summary(
    summary: dict[str, Any], *, report_link: str | None = None, key_figure: str | None = None, workload: str = ""
) -> StudySummary:
    """A StudySummary from a study's summary.json. A compliance row's workload is its "workload", else
    `workload`; capacity is the best finished configuration of "configs", limited by "first_saturated"."""
    study = str(summary.get("study", "study"))
    rows = tuple(
        _record(
            ComplianceRow,
            r,
            metric=str(r["metric"]),
            study=study,
            workload=str(r.get("workload") or workload or study),
            label=str(r.get("label") or metric_label(str(r["metric"]), str(r.get("statistic") or ""))),
        )
        for r in summary.get("compliance") or ()
    )
    opportunity = {"name": "opportunity", "low": "saving_low", "high": "saving_high", "where": "lives_in"}
    bottlenecks = tuple(
        _record(Bottleneck, o, opportunity, name=str(o["opportunity"]))
        for o in summary.get("top_opportunities") or ()
        if math.isfinite(_float(o.get("saving_ms")))
    )
    reasons = summary.get("verdict_reasons") or []
    verdict = str(summary.get("verdict", "insufficient"))
    contention = summary.get("contention") or {}
    return StudySummary(
        study=study,
        verdict=verdict if verdict in _ORDER else "insufficient",
        reason=str(reasons[0]) if reasons else "",
        compliance=rows,
        capacity=_capacity_of(summary),
        bottlenecks=bottlenecks,
        scaling=summary.get("recommendation"),
        regression=_regression_of(summary.get("regression")),
        reliability=tuple(_record(ReliabilityNote, c) for c in summary.get("reliability") or ()),
        report_link=report_link,
        key_figure=key_figure,
        quality=tuple(dict(r) for r in summary.get("quality") or ()),
        busy=_record(Busy, contention) if contention.get("contended") else None,  # studies/contention.py
    )


def _capacity_of(summary: dict[str, Any]) -> Capacity | None:
    finished = [
        c
        for c in summary.get("configs") or ()
        if c.get("status") == "ok" and math.isfinite(_float(c.get("capacity_rps")))
    ]
    if not finished:
        return None
    best = max(finished, key=lambda c: _float(c["capacity_rps"]))
    resources = (summary.get("first_saturated") or {}).get("resources") or []
    slo = summary.get("slo") or {}
    return _record(
        Capacity,
        best,
        {"rps": "capacity_rps", "low": "capacity_low", "high": "capacity_high"},
        limited_by=", ".join(map(str, resources)) if resources else "no resource saturated in the measured range",
        slo=f"p95 below {number(slo['p95_ms'])} ms" if slo.get("p95_ms") else "",
    )


def _regression_of(rows: list[dict[str, Any]] | None) -> Regression | None:
    """The baseline's own comparison with its previous run (summary.json "regression") as one line."""
    if not rows:
        return None
    changed = [r for r in rows if r.get("verdict") in ("regressed", "improved")]
    worse = [r for r in changed if r.get("verdict") == "regressed"]
    verdict = "regressed" if worse else "improved" if changed else "unchanged"
    if not changed:
        return Regression(verdict=verdict, summary="No metric changed significantly.")
    names = ", ".join(str(r.get("metric", r.get("stage", "?"))) for r in (worse or changed)[:3])
    return Regression(verdict=verdict, summary=f"{len(worse or changed)} metric(s) {verdict}: {names}.")


def busy_sentence(studies: Sequence[StudySummary]) -> str:
    """The busy machine across the studies in one sentence, said before any pass/fail reason ("" if quiet)."""
    busy = [s for s in studies if s.busy is not None]
    if not busy:
        return ""
    stages = sum(s.busy.stages for s in busy)
    contended = sum(s.busy.contended_stages for s in busy)
    weights = [(s.busy.other_share, s.busy.contended_stages) for s in busy if math.isfinite(s.busy.other_share)]
    share = sum(x * w for x, w in weights) / max(1, sum(w for _, w in weights)) if weights else math.nan
    used = f"other programs used {100 * share:.0f} % of the cores" if math.isfinite(share) else "it was busy"
    excused = sum(r.machine_busy for s in studies for r in s.compliance)
    tail = (
        f"; {excused} target(s) that failed by less than that could explain read insufficient (machine busy)"
        if excused
        else ""
    )
    return (
        f"Machine busy: {used} during {contended} of {stages} stages ({_studies([s.study for s in busy])}), so slow "
        f"numbers there may be the machine's, not the service's{tail}."
    )


def compare_with_previous(current: StudySummary, previous: StudySummary, previous_run: str = "") -> Regression | None:
    """The regression line of a study that does not compare runs itself: each PRD metric both runs judged on the
    same workload moved only when the two 95 % intervals do not overlap; None when no metric is in both."""
    before = {(r.metric, r.workload): r for r in previous.compliance}
    moved: dict[str, list[str]] = {"worse": [], "better": []}
    compared = 0
    for r in current.compliance:
        old = before.get((r.metric, r.workload))
        if old is None or old.unit != r.unit:
            continue
        compared += 1
        change = interval_change(
            (old.value, old.low, old.high), (r.value, r.low, r.high), "above" if r.direction == "above" else "below"
        )
        if change != "unresolved":
            moved[change].append(f"{r.shown} {quantity(old.value, r.unit)} → {quantity(r.value, r.unit)}")
    if not compared:
        return None
    caveat = "one run per side, so a change of the machine cannot be told from a change of the service"
    if moved["worse"] or moved["better"]:
        parts = [f"{kind}: {'; '.join(items)}" for kind, items in moved.items() if items]
        text = (
            f"{len(moved['worse']) + len(moved['better'])} of {compared} PRD metrics moved beyond both runs' "
            f"95 % intervals ({'. '.join(parts)}); {caveat}."
        )
    else:
        text = f"None of {compared} PRD metrics moved beyond both runs' 95 % intervals ({caveat})."
    verdict = "regressed" if moved["worse"] else "improved" if moved["better"] else "unchanged"
    return Regression(verdict=verdict, summary=text, previous_run=previous_run)


def failed_study(study: str, error: str, *, report_link: str | None = None, what_to_do: str = "") -> StudySummary:
    """The summary of a study that did not finish: its error and what to do (a default sentence if not given)."""
    return StudySummary(
        study=study,
        verdict="error",
        error=error,
        report_link=report_link,
        what_to_do=what_to_do
        or f"Open the {study} report (it shows how far the study got), fix the "
        f"cause the error names and rerun: qrbench study {study}.",
    )


def _label(row: ComplianceRow) -> str:
    judged = f"{row.study} study" + (f", {row.workload}" if row.workload and row.workload != row.study else "")
    return f"{row.shown} ({judged})"


def _studies(names: Sequence[str]) -> str:
    return f"{', '.join(names)} {'study' if len(names) == 1 else 'studies'}"


def overall_verdict(studies: Sequence[StudySummary]) -> tuple[str, str]:
    """(verdict, main reason) across the studies, the busy machine (`busy_sentence`) first. A failed target or
    study makes it "fail"; a crashed study an otherwise passing suite "insufficient"; else the worst verdict."""
    verdict, reason = _overall(studies)
    busy = busy_sentence(studies)
    return verdict, f"{busy} {reason}" if busy else reason


def _overall(studies: Sequence[StudySummary]) -> tuple[str, str]:
    if not studies:
        return "insufficient", "No study ran, so nothing was measured."
    rows = [r for s in studies for r in s.compliance]
    failed_rows = [r for r in rows if r.verdict == "fail"]
    crashed = [s.study for s in studies if s.verdict == "error"]
    # A crashed study is named in every verdict: the checks that ran are not the whole answer.
    missing = f" The {_studies(crashed)} failed to run." if crashed else ""
    if failed_rows:
        first = failed_rows[0]
        return "fail", (
            f"{len(failed_rows)} of {len(rows)} PRD checks fail; first: {_label(first)} measured "
            f"{quantity(first.value, first.unit)} against a target of "
            f"{quantity(first.target, first.unit)}.{missing}"
        )
    failed_studies = [s for s in studies if s.verdict == "fail"]
    if failed_studies:
        s = failed_studies[0]
        return "fail", f"The {s.study} study fails: {s.reason or 'see its section below'}{missing}"
    if crashed:
        ran = f"; the {len(rows)} PRD checks that ran " + ("pass." if rows else "are none.")
        return "insufficient", f"The answer is incomplete: the {_studies(crashed)} failed to run{ran}"
    worst = max((s.verdict for s in studies), key=_ORDER.__getitem__)
    if worst == "warn":
        warned = [r for r in rows if r.verdict == "warn"]
        what = _label(warned[0]) if warned else next(s.study for s in studies if s.verdict == "warn")
        return "warn", f"No PRD target fails, but {what} is close to its limit."
    if worst == "insufficient":
        thin = [s.study for s in studies if s.verdict == "insufficient"]
        if all(any(r.machine_busy for r in s.compliance) for s in studies if s.verdict == "insufficient"):
            return "insufficient", f"The busy machine left the {', '.join(thin)} study undecided; nothing fails."
        return "insufficient", f"Too few samples to decide in the {', '.join(thin)} study; nothing fails."
    return "pass", (
        f"All {len(rows)} PRD checks across {len(studies)} studies pass."
        if rows
        else f"All {len(studies)} studies pass; no PRD target was judged."
    )


def _caveats(studies: Sequence[StudySummary]) -> list[dict[str, Any]]:
    """One reservation per study with failed reliability checks (its first, and how many more), so the headline
    stays a few lines however many checks fail."""
    out = []
    for s in studies:
        failed = [n for n in s.reliability if not n.ok]
        if failed:
            more = f" (and {len(failed) - 1} more in its section below)" if len(failed) > 1 else ""
            out.append({"ok": False, "message": f"{s.study}: {failed[0].message.rstrip('.')}{more}."})
    return out


def _compliance(studies: Sequence[StudySummary]) -> str:
    rows = [r for s in studies for r in s.compliance]
    if not rows:
        return f"<p>PRD compliance: {NOT_IN_RUN}.</p>"
    by_metric: dict[str, list[ComplianceRow]] = {}
    for r in rows:
        by_metric.setdefault(r.shown, []).append(r)
    notes = [
        f"{metric} is judged differently by different studies because they measure different workloads: "
        + "; ".join(f"{r.study} ({r.workload}): {r.verdict.upper()}" for r in same)
        + "."
        for metric, same in by_metric.items()
        if len({r.verdict for r in same}) > 1
    ]
    gaps = [(r.shown, r.study, gap_reason(r.value, r.reason)) for r in rows]
    notes += [f"{label} ({study} study) not measured: {why}" for label, study, why in gaps if why]
    note = "".join(f'<p class="qr-note">{html.escape(n)}</p>' for n in notes)
    frame = pd.DataFrame(
        [
            {
                **asdict(r),
                "label": r.shown,
                "verdict": f"{r.verdict} (machine busy)" if r.machine_busy else r.verdict,
                "workload": r.workload if r.workload != r.study else "as in its report",
            }
            for r in rows
        ],
        dtype=object,
    )
    # No "Why": each study's report explains its verdicts, and here the table must stay short for the first screen.
    return compliance_table(frame, extra={"study": "Study", "workload": "Judged under"}, why=False).html + note


def _fact(title: str, items: list[str], *, heading: str = "", tag: str = "ul", missing: str = "") -> str:
    """A fact of the first screen: its HTML `items` listed (tag ul/ol) under `heading`, or one "<title>: item"
    paragraph each (tag p); without items "<title>: <missing>" (default: not measured in this run)."""
    if tag == "p" or not items:
        return "".join(f"<p><b>{title}:</b> {item}</p>" for item in items or [missing or f"{NOT_IN_RUN}."])
    return f"<p><b>{heading or title}</b></p><{tag}>" + "".join(f"<li>{item}</li>" for item in items) + f"</{tag}>"


def _capacity(studies: Sequence[StudySummary]) -> str:
    items = [
        f"<b>{html.escape(quantity(c.rps, 'req/s'))}</b> with {html.escape(c.config)}"
        f"{html.escape(f' (SLO: {c.slo})' if c.slo else '')}; limited by {html.escape(c.limited_by)}. 95 % interval: "
        f"{html.escape(interval(c.low, c.high, 'req/s'))}. <i>({html.escape(s.study)} study)</i>"
        for s in studies
        if (c := s.capacity) is not None
    ]
    return _fact("Capacity under the SLO", items)


def _bottlenecks(studies: Sequence[StudySummary]) -> str:
    items = []
    for b in sorted((b for s in studies for b in s.bottlenecks), key=lambda b: -b.saving_ms)[:3]:
        ci = "" if math.isnan(b.low) and math.isnan(b.high) else f" (95 % interval {interval(b.low, b.high, 'ms')})"
        where = f"; lives in {b.where}" if b.where else ""
        items.append(
            f"{html.escape(b.name)}: saves <b>{html.escape(quantity(b.saving_ms, 'ms'))}</b> per request"
            f"{html.escape(ci + where)}."
        )
    return _fact("Top bottlenecks", items, heading="Top bottlenecks (time saved per request)", tag="ol")


def _regression(studies: Sequence[StudySummary]) -> str:
    items = [
        f"{verdict_badge(r.verdict)} {html.escape(s.study)}: {html.escape(r.summary)}"
        + (f" (against {html.escape(r.previous_run)})" if r.previous_run else "")
        for s in studies
        if (r := s.regression) is not None
    ]
    missing = "no previous suite run to compare with (pass --baseline to compare)."
    return _fact("Regression", items, heading="Regression against the previous suite run", missing=missing)


def _quality(studies: Sequence[StudySummary]) -> str:
    """Is quantum worth its cost: nDCG@10 per method with its interval and latency, and the comparison."""
    study, rows = next(((s.study, s.quality) for s in studies if s.quality), ("", ()))
    q = pd.DataFrame(list(rows))
    # summary.json numbers (null and "inf" included) as floats, once.
    for column in ("ndcg", "ndcg_low", "ndcg_high", "p50_ms", "queries"):
        q[column] = q[column].map(_float) if column in q else math.nan
    q = q[q["ndcg"].notna()]
    if q.empty:
        return f"<p><b>Ranking quality:</b> {NOT_IN_RUN}.</p>"
    parts = []
    for r in q.itertuples():
        at = f" at a median {quantity(r.p50_ms, 'ms')} per rerank" if math.isfinite(r.p50_ms) else ""
        parts.append(
            f"{r.method} nDCG@10 <b>{html.escape(number(r.ndcg))}</b> "
            f"(95 % interval {html.escape(interval(r.ndcg_low, r.ndcg_high))}){html.escape(at)}"
        )
    queries = int(q["queries"].max()) if q["queries"].notna().any() else 0
    labelled = f"{queries} labelled quer{'y' if queries == 1 else 'ies'}"
    return (
        f"<p><b>Is quantum worth its cost?</b> Ranking quality on {labelled} <i>({html.escape(study)} study)</i>: "
        f"{'; '.join(parts)}.{html.escape(quantum_vs_classical(q))}</p>"
    )


def _embed(path: str | None, base: Path) -> str | None:
    if not path:
        return None
    png = RunFolder(base).read_raw(path)  # relative to the suite folder, or absolute
    return None if png is None else "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _study_section(s: StudySummary, base: Path) -> str:
    parts = [
        f'<section class="qr-study" id="study-{html.escape(s.study)}"><h2>{html.escape(s.study.capitalize())} '
        f"study {verdict_badge(s.verdict)}</h2>"
    ]
    if s.reason:
        parts.append(f"<p>{html.escape(s.reason)}</p>")
    if s.error:
        todo = s.what_to_do or "Open the study's report for the cell that failed, fix its cause and rerun the suite."
        parts.append(
            f'<div class="qr-error"><p><b>The study failed:</b></p><pre>{html.escape(s.error)}</pre>'
            f"<p><b>What to do:</b> {html.escape(todo)}</p></div>"
        )
    image = _embed(s.key_figure, base)
    if image:
        caption = html.escape(f"Key figure of the {s.study} study")
        parts.append(f'<figure><img src="{image}" alt="{caption}"><figcaption>{caption}</figcaption></figure>')
    elif not s.error:
        parts.append(f"<p>Key figure: {NOT_IN_RUN}.</p>")
    failed = [n for n in s.reliability if not n.ok]
    if failed:
        # The first few, in the study's order (its main ones first); the full list is in the study's report.
        items = "".join(f"<li>{html.escape(n.message)}</li>" for n in failed[:_RESERVATIONS_SHOWN])
        hidden = len(failed) - _RESERVATIONS_SHOWN
        more = f"<p class='qr-note'>and {hidden} more in the full report.</p>" if hidden > 0 else ""
        parts.append(f"<p><b>Reliability reservations</b> ({len(failed)})</p><ul>{items}</ul>{more}")
    if s.report_link:
        parts.append(f'<p><a href="{html.escape(s.report_link)}">Full {html.escape(s.study)} report</a></p>')
    else:
        parts.append("<p>Full report: not produced in this run.</p>")
    return "".join(parts) + "</section>"


_CSS = """
.qr-exec-facts{display:grid;grid-template-columns:repeat(3,minmax(0,1fr));gap:1.5em;align-items:start}
@media (max-width:900px){.qr-exec-facts{grid-template-columns:1fr}}
.qr-exec-facts ul,.qr-exec-facts ol{padding-left:1.2em;margin:.2em 0}
.qr-exec h2{font-size:1.15em;margin:.6em 0 .2em}
.qr-exec h1{font-family:system-ui,sans-serif;font-size:1.5em;margin:.4em 0 .2em}
.qr-exec{font-family:system-ui,sans-serif;font-size:15px;line-height:1.4}
.qr-meta{color:#555;margin:0 0 .6em}
.qr-note{color:#444;font-size:.92em}
.qr-error{border:1px solid #6a1b9a;background:#f6effa;padding:.4em 1em;margin:.6em 0}
.qr-error pre{white-space:pre-wrap;overflow-wrap:anywhere}
.qr-study{border-top:1px solid #ddd;margin-top:1.5em}
.qr-study img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#555;font-size:.9em}
"""


def executive_html(
    studies: Sequence[StudySummary],
    *,
    title: str = "qrbench suite",
    scale: str = "",
    started: str = "",
    target: str = "",
    base: str | Path = ".",
    probe: str = "",
) -> str:
    """The executive report page. started: a readable date ("2026-11-30 04:47 UTC"); target: what was
    measured (e.g. "embedded reference service"); base: the folder the key figure paths are relative to;
    probe: the paragraph saying what the target offers (deploy.TargetProbe.paragraph)."""
    verdict, reason = overall_verdict(studies)
    head = headline(verdict, reason, checks=_caveats(studies), next_action=_next_action(verdict, studies))
    facts = (
        f"scale: {scale}" if scale else "",
        started,
        f"target: {target}" if target else "",
        f"{len(studies)} studies",
    )
    meta = " · ".join(x for x in facts if x)
    scaling = _fact("Scaling recommendation", [html.escape(s.scaling) for s in studies if s.scaling], tag="p")
    top = (
        f'<div class="qr-exec-facts"><div>{_capacity(studies)}</div><div>{_bottlenecks(studies)}</div>'
        f"<div>{scaling}{_regression(studies)}</div></div>"
        f"{_quality(studies)}<h2>PRD compliance</h2>{_compliance(studies)}"
    )
    sections = "".join(_study_section(s, Path(base)) for s in studies)
    body = (
        f'<main class="qr-exec"><h1>{html.escape(title)}</h1><p class="qr-meta">{html.escape(meta)}</p>'
        + (f'<p class="qr-meta qr-probe">{html.escape(probe)}</p>' if probe else "")
        + f'<div id="qr-answer">{head.to_html()}</div>{top}{sections}</main>'
    )
    return page(title, body, css=_CSS)


def _next_action(verdict: str, studies: Sequence[StudySummary]) -> str:
    crashed = [s for s in studies if s.verdict == "error"]
    if crashed:
        return f"fix the failed {crashed[0].study} study (its error is in its section below) and rerun the suite."
    if busy_sentence(studies):
        return (
            "rerun the suite on an idle machine (stop the other programs the report names) before acting on this "
            "verdict; compare with --baseline on a run from a quiet machine."
        )
    if verdict == "fail":
        return (
            "fix the failing target (first FAIL row of the compliance table, its study's report says why), "
            "then rerun the suite with --baseline on this run to confirm the fix."
        )
    return ""  # headline() derives one from the verdict and the reservations


def suite_summary(studies: Sequence[StudySummary], *, scale: str) -> dict[str, Any]:
    """The suite's summary.json: verdict, reason, scale, each study's verdict, and the key numbers the run
    index draws trends of (metric -> measured value; capacity in req/s)."""
    verdict, reason = overall_verdict(studies)
    key: dict[str, float] = {}
    for s in studies:
        for r in s.compliance:
            key.setdefault(f"{r.metric} ({r.unit})" if r.unit else r.metric, r.value)
        if s.capacity is not None:
            key.setdefault("capacity (req/s)", s.capacity.rps)
    return {
        "study": "suite",
        "verdict": verdict,
        "reason": reason,
        "scale": scale,
        "studies": {s.study: s.verdict for s in studies},
        "machine_busy": busy_sentence(studies) or None,
        "key_numbers": key,
    }


def write_executive_report(
    suite_dir: str | Path,
    studies: Sequence[StudySummary],
    *,
    scale: str,
    started: str = "",
    target: str = "",
    title: str = "qrbench suite",
    probe: str = "",
) -> Path:
    """Write <suite_dir>/report.html and <suite_dir>/summary.json; returns the report's path."""
    from ..studies import write_summary

    suite_dir = Path(suite_dir)
    out = suite_dir / "report.html"
    out.write_text(  # not run data: the renderer's own page
        executive_html(studies, title=title, scale=scale, started=started, target=target, base=suite_dir, probe=probe),
        encoding="utf-8",
    )
    write_summary(suite_dir, suite_summary(studies, scale=scale))
    return out
