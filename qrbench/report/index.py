"""outputs/index.html: suite runs first (verdict, scale, date, reports, an inline SVG trend chart of their
`key_numbers`, so the page stays one file), then single study runs. A suite run's summary.json says
`"study": "suite"` (executive.write_executive_report).
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import RunError
from ..studies import RunFolder, read_summary
from .format import number, verdict_badge
from .html import page

__all__ = ["write_index", "RunEntry", "list_runs", "readable_stamp", "trend_svg"]

_TREND_METRICS = 4  # small multiples drawn at most; the numbers present in the most suite runs come first


@dataclass(frozen=True, kw_only=True)
class RunEntry:
    """One run folder as the index shows it."""

    folder: str
    stamp: str
    kind: str  # "suite" or the study's name
    verdict: str  # pass/warn/fail/insufficient, or "incomplete" without a summary
    scale: str
    report: str | None  # the stakeholder report (relative to outputs/)
    others: tuple[tuple[str, str], ...] = ()  # (label, relative link), e.g. the version with code
    key_numbers: dict[str, float] = field(default_factory=dict)
    reason: str = ""


def readable_stamp(stamp: str, *, day: bool = False) -> str:
    """'20261130T044700Z' -> '30 Nov 2026, 04:47 UTC' (day: '30 Nov'); anything else unchanged."""
    try:
        when = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%SZ")
    except ValueError:
        return stamp
    return f"{when.day} {when:%b}" if day else f"{when.day} {when:%b %Y, %H:%M} UTC"


def _summary(run: Path) -> dict[str, Any] | None:
    try:
        return read_summary(run)
    except RunError:  # no summary.json (an unfinished run), or not readable
        return None


def _scale(run: Path, summary: dict[str, Any] | None) -> str:
    if summary and summary.get("scale"):
        return str(summary["scale"])
    try:  # the run folder's facts, when the study recorded its scale there
        scale = RunFolder(run).facts.get("scale")
    except (RunError, ValueError, AttributeError):
        scale = None
    return str(scale) if scale else "not recorded"


def _entry(run: Path) -> RunEntry:
    summary = _summary(run)
    stamp, _, name = run.name.partition("-")
    kind = str((summary or {}).get("study") or name or run.name)
    rel = run.name
    if kind == "suite":
        report = f"{rel}/report.html" if (run / "report.html").is_file() else None
        others = tuple(
            (f"{p.parent.name}", f"{rel}/{p.parent.name}/{p.name}")
            for p in sorted(run.glob("*/*.html"))
            if not p.stem.endswith("-code") and not p.name.startswith(".")
        )
    else:
        plain = [p for p in sorted(run.glob("*.html")) if not p.stem.endswith("-code") and not p.name.startswith(".")]
        report = f"{rel}/{plain[0].name}" if plain else None
        others = tuple(("with code", f"{rel}/{p.name}") for p in sorted(run.glob("*-code.html")))
    numbers = {
        str(k): float(v)
        for k, v in ((summary or {}).get("key_numbers") or {}).items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    return RunEntry(
        folder=rel,
        stamp=stamp,
        kind=kind,
        verdict=str((summary or {}).get("verdict", "incomplete")),
        scale=_scale(run, summary),
        report=report,
        others=others,
        key_numbers=numbers,
        reason=str((summary or {}).get("reason") or ""),
    )


def list_runs(out_root: str | Path) -> list[RunEntry]:
    """Every run folder under out_root, newest first (suite runs and study runs mixed)."""
    root = Path(out_root)
    if not root.is_dir():
        return []
    return [_entry(p) for p in sorted((p for p in root.iterdir() if p.is_dir()), key=lambda p: p.name, reverse=True)]


def trend_svg(runs: Sequence[RunEntry], *, width: int = 280, height: int = 90) -> str:
    """Inline SVG small multiples: each key number across the suite runs of the latest run's scale (numbers of
    a quick and a full run are not comparable), oldest left, with its latest value.

    Empty string when fewer than two such runs share a key number (a trend needs two points).
    """
    suites = sorted((r for r in runs if r.kind == "suite"), key=lambda r: r.stamp)
    chronological = [r for r in suites if suites and r.scale == suites[-1].scale]
    counts = Counter(k for r in chronological for k, v in r.key_numbers.items() if math.isfinite(v))
    names = [k for k, n in counts.most_common() if n >= 2][:_TREND_METRICS]
    charts = []
    for name in names:
        points = [
            (i, r.key_numbers[name])
            for i, r in enumerate(chronological)
            if name in r.key_numbers and math.isfinite(r.key_numbers[name])
        ]
        lo, hi = min(v for _, v in points), max(v for _, v in points)
        span = hi - lo
        last = max(1, len(chronological) - 1)
        # x: run order (oldest at the left edge); y: the value, the range of this number filling the plot.
        # A number that never changed sits in the middle.
        coords = [
            (8 + (width - 16) * i / last, (height - 22) - (height - 52) * ((v - lo) / span if span else 0.5))
            for i, v in points
        ]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
        dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5"/>' for x, y in coords)
        first, latest = (html.escape(readable_stamp(chronological[points[j][0]].stamp, day=True)) for j in (0, -1))
        charts.append(
            f'<svg class="qr-trend" width="{width}" height="{height}" role="img" '
            f'aria-label="{html.escape(name)} across suite runs">'
            f'<text x="8" y="14" font-size="12" font-weight="600">{html.escape(name)}</text>'
            f'<text x="{width - 8}" y="14" font-size="12" text-anchor="end">latest {html.escape(number(points[-1][1]))}'
            f"</text>"
            f'<polyline fill="none" stroke="#1a5fb4" stroke-width="1.5" points="{path}"/>'
            f'<g fill="#1a5fb4">{dots}</g>'
            f'<text x="8" y="{height - 6}" font-size="10" fill="#555">{first}</text>'
            f'<text x="{width / 2:.0f}" y="{height - 6}" font-size="10" fill="#555" text-anchor="middle">'
            f"{html.escape(f'range {number(lo)} to {number(hi)}' if span else f'unchanged at {number(lo)}')}</text>"
            f'<text x="{width - 8}" y="{height - 6}" font-size="10" fill="#555" text-anchor="end">'
            f"{latest}</text></svg>"
        )
    return "".join(charts)


def _links(entry: RunEntry) -> str:
    parts = []
    if entry.report:
        label = "report" if entry.kind == "suite" else "report (no code)"
        parts.append(f'<a href="{html.escape(entry.report)}"><b>{label}</b></a>')
    else:
        parts.append("no report")
    parts += [f'<a href="{html.escape(link)}">{html.escape(label)}</a>' for label, link in entry.others]
    parts.append(f'<a href="{html.escape(entry.folder)}/">folder</a>')
    return " · ".join(parts)


def _row(entry: RunEntry, *, suite: bool) -> str:
    badge = (
        verdict_badge(entry.verdict)
        if entry.verdict != "incomplete"
        else '<span class="qr-badge" style="background:#e0e0e0">INCOMPLETE</span>'
    )
    what = "" if suite else f"<td>{html.escape(entry.kind)}</td>"
    reason = f"<td>{html.escape(entry.reason)}</td>" if suite else ""
    return (
        f"<tr><td>{html.escape(readable_stamp(entry.stamp))}</td>{what}<td>{badge}</td>"
        f"<td>{html.escape(entry.scale)}</td>{reason}<td>{_links(entry)}</td></tr>"
    )


def _table(headings: Sequence[str], rows: Sequence[str]) -> str:
    head = "".join(f"<th>{h}</th>" for h in headings)
    return (
        f'<div class="qr-table-wrap"><table class="qr-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def index_html(runs: Sequence[RunEntry]) -> str:
    suites = [r for r in runs if r.kind == "suite"]
    studies = [r for r in runs if r.kind != "suite"]
    parts = ['<main class="qr-exec"><h1>qrbench runs</h1>']
    parts.append("<h2>Suite runs</h2>")
    if suites:
        chart = trend_svg(runs)
        scale = html.escape(suites[0].scale)
        parts.append(
            f"<p>Key numbers across the {scale} suite runs:</p><div class='qr-trends'>{chart}</div>"
            if chart
            else f"<p>Trends of the key numbers appear once two {scale} suite runs share them.</p>"
        )
        headings = ("started", "verdict", "scale", "main reason", "reports")
        parts.append(_table(headings, [_row(r, suite=True) for r in suites]))
    else:
        parts.append("<p>No suite run yet: <code>qrbench suite --scale quick</code> makes one.</p>")
    parts.append("<h2>Single study runs</h2>")
    if studies:
        headings = ("started", "study", "verdict", "scale", "reports")
        parts.append(_table(headings, [_row(r, suite=False) for r in studies]))
    else:
        parts.append("<p>No single study run yet.</p>")
    parts.append("</main>")
    css = (
        ".qr-exec{font-family:system-ui,sans-serif}.qr-trends{display:flex;flex-wrap:wrap;gap:1em;margin:.5em 0}"
        ".qr-trend{border:1px solid #e5e5e5;background:#fcfcfc}"
    )
    return page("qrbench runs", "".join(parts), css=css)


def write_index(out_root: str | Path) -> Path:
    """Write out_root/index.html from the run folders under it; returns its path."""
    out_root = Path(out_root)
    path = out_root / "index.html"
    path.write_text(index_html(list_runs(out_root)), encoding="utf-8")  # not run data: the renderer's own page
    return path
