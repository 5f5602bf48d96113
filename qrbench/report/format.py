"""Text for people: numbers, tables, verdict badges and the headline block of the stakeholder reports.

Numbers get 2-3 significant digits and their unit; an infinite interval bound reads "not bounded" (the reason
says why) and a missing value "not measured", never `inf` or `nan`. Tables come out as HTML without the pandas
index, with friendly column names (units in brackets) and CSS that wraps long text and scrolls wide tables
sideways, so no message is ever cut. A `Headline` is the 3-5 lines a report opens with: verdict, main reason,
caveats (reliability checks), next action.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = [
    "NOT_BOUNDED",
    "NOT_MEASURED",
    "VERDICTS",
    "TABLE_CSS",
    "Headline",
    "StakeholderTable",
    "headline",
    "number",
    "quantity",
    "interval",
    "friendly_name",
    "verdict_badge",
    "stakeholder_table",
    "compliance_table",
    "reliability_caveats",
    "not_measured",
]

NOT_BOUNDED = "not bounded"  # why (too few samples, or too correlated) is the reason's to say
NOT_MEASURED = "not measured"

# Verdict -> (label, text colour, background). "insufficient": too few samples to decide either way.
VERDICTS = {
    "pass": ("PASS", "#ffffff", "#1b7f3b"),
    "warn": ("WARN", "#000000", "#f2a900"),
    "fail": ("FAIL", "#ffffff", "#b00020"),
    "insufficient": ("INSUFFICIENT DATA", "#ffffff", "#5f6368"),
    "insufficient (machine busy)": ("INSUFFICIENT (MACHINE BUSY)", "#ffffff", "#5f6368"),
    "error": ("STUDY FAILED", "#ffffff", "#6a1b9a"),
    "regressed": ("REGRESSED", "#ffffff", "#b00020"),
    "unchanged": ("UNCHANGED", "#ffffff", "#1b7f3b"),
    "improved": ("IMPROVED", "#ffffff", "#1b7f3b"),
    # qrbench ab and qrbench compare (a comparison that could not have seen the threshold's change says so)
    "regression": ("REGRESSION", "#ffffff", "#b00020"),
    "no regression of that size": ("NO REGRESSION OF THAT SIZE", "#ffffff", "#1b7f3b"),
    "cannot tell": ("CANNOT TELL", "#000000", "#f2a900"),
}

TABLE_CSS = """
.qr-table-wrap{overflow-x:auto;max-width:100%;margin:.5em 0 1em}
table.qr-table{border-collapse:collapse;font-family:system-ui,sans-serif;font-size:14px}
table.qr-table th,table.qr-table td{border-bottom:1px solid #ddd;padding:.35em .7em;text-align:left;
  vertical-align:top;white-space:normal;overflow-wrap:break-word;max-width:36em}
table.qr-table th{background:#f3f4f6;font-weight:600;white-space:nowrap}
table.qr-table td.num{text-align:right;white-space:nowrap}
table.qr-table td.text{min-width:14em}
.qr-badge{display:inline-block;padding:.1em .55em;border-radius:.3em;font-weight:700;font-size:.9em;
  letter-spacing:.03em;white-space:nowrap}
.qr-headline{border-left:6px solid #5f6368;padding:.6em 1em;margin:.5em 0 1.2em;background:#fafafa;
  font-family:system-ui,sans-serif;font-size:15px;line-height:1.45}
.qr-headline p{margin:.2em 0}
"""

# Column names of the studies' tidy tables -> what a reader sees. Columns not listed get their underscores
# replaced and their unit suffix turned into "(unit)" by friendly_name.
_NAMES = {
    "metric": "Metric",
    "verdict": "Verdict",
    "reason": "Why",
    "study": "Study",
    "workload": "Workload",
    "n": "samples",
    "requests": "requests",
    "stage": "Stage",
    "method": "Method",
    "config": "Configuration",
    "documents": "documents",
    "n_candidates": "documents per request",
    "batch_size": "documents per request",
    "rss_max_mb": "peak memory (MB)",
    "rss_median_mb": "median memory (MB)",
    "rss_peak_mb": "peak memory (MB)",
    "throughput_rps": "throughput (req/s)",
    "rate_rps": "offered rate (req/s)",
    "capacity_rps": "capacity under the SLO (req/s)",
    "error_rate": "errors (%)",
    "share": "share (%)",
    "saving_ms": "saving per request (ms)",
    "opportunity": "Opportunity",
    "message": "What it means",
    "check": "Check",
    "ok": "passed",
}
_UNITS = {
    "ms": "ms",
    "s": "s",
    "rps": "req/s",
    "mb": "MB",
    "gb": "GB",
    "mib": "MiB",
    "kib": "KiB",
    "us": "µs",
    "bytes": "bytes",
    "pct": "%",
}
_PERCENT_SUFFIXES = ("_rate", "share", "_fraction")
_TEXT_COLUMNS = {"reason", "message", "what_to_do", "error"}  # sentences: kept wide enough to read


def friendly_name(column: str) -> str:
    """A reader's name for a tidy column: 'p95_ms' -> 'p95 (ms)', 'error_rate' -> 'errors (%)'."""
    if column in _NAMES:
        return _NAMES[column]
    head, _, suffix = column.rpartition("_")
    if head and suffix.lower() in _UNITS:
        return f"{head.replace('_', ' ')} ({_UNITS[suffix.lower()]})"
    if column.endswith(_PERCENT_SUFFIXES):
        return f"{column.replace('_', ' ')} (%)"
    return column.replace("_", " ")


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def number(value: Any, digits: int = 3) -> str:
    """`value` with `digits` significant digits (thousands separated, no exponent, no trailing zeros).

    None/NaN -> "not measured"; +-inf -> "not bounded"; integers stay whole; booleans
    read "yes"/"no"; strings pass through unchanged (never truncated).
    """
    if isinstance(value, bool):
        return "yes" if value else "no"
    if _missing(value):
        return NOT_MEASURED
    if isinstance(value, str):
        return value
    if hasattr(value, "item"):  # numpy scalars
        return number(value.item(), digits)
    if isinstance(value, int):
        return f"{value:,}"
    x = float(value)
    if math.isinf(x):
        return NOT_BOUNDED
    if x == 0:
        return "0"
    rounded = float(f"{x:.{digits}g}")
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(rounded))))
    text = f"{rounded:,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def quantity(value: Any, unit: str = "", digits: int = 3) -> str:
    """`number(value)` followed by its unit ("fraction" is shown as a percentage); words stay unitless."""
    if unit == "fraction" and isinstance(value, int | float) and math.isfinite(value):
        return f"{number(100 * value, digits)} %"
    text = number(value, digits)
    if not unit or text in (NOT_MEASURED, NOT_BOUNDED) or isinstance(value, str | bool):
        return text
    return f"{text} {unit}"


def interval(low: Any, high: Any, unit: str = "", digits: int = 3) -> str:
    """A confidence interval "[low, high] unit"; a side the samples could not bound says so in words."""
    if _missing(low) and _missing(high):
        return NOT_MEASURED
    if unit == "fraction":
        low = low if _missing(low) else 100 * float(low)
        high = high if _missing(high) else 100 * float(high)
        unit = "%"
    lo, hi = number(low, digits), number(high, digits)
    suffix = f" {unit}" if unit else ""
    if NOT_BOUNDED in (lo, hi):
        known = lo if hi == NOT_BOUNDED else hi
        if known in (NOT_BOUNDED, NOT_MEASURED):
            return NOT_BOUNDED
        side = "at least" if hi == NOT_BOUNDED else "at most"
        end = "upper" if hi == NOT_BOUNDED else "lower"
        return f"{side} {known}{suffix}; {end} end {NOT_BOUNDED}"
    return f"[{lo}, {hi}]{suffix}"


def verdict_badge(verdict: str | None) -> str:
    """An HTML badge for a verdict (pass/warn/fail/insufficient/error); unknown ones read as given, grey."""
    key = (verdict or "").lower()
    label, fg, bg = VERDICTS.get(key, ((verdict or NOT_MEASURED).upper(), "#ffffff", "#5f6368"))
    return (
        f'<span class="qr-badge qr-verdict-{html.escape(key or "none")}" data-verdict="{html.escape(key)}" '
        f'style="color:{fg};background:{bg}">{html.escape(label)}</span>'
    )


@dataclass(frozen=True)
class StakeholderTable:
    """An HTML table for people; displays itself in Jupyter (`_repr_html_`)."""

    html: str

    def _repr_html_(self) -> str:
        # A wide table scrolls inside its own box (JupyterLab's output area would cut it at the right edge).
        scroll = '<div class="qr-table-scroll" style="overflow-x:auto;max-width:100%">'
        return f"<style>{TABLE_CSS}</style>{scroll}{self.html}</div>"

    def __str__(self) -> str:
        return self.html


def _cell(column: str, value: Any) -> tuple[str, bool]:
    """(HTML of one cell, is it numeric)."""
    if column == "verdict" and isinstance(value, str):
        return verdict_badge(value), False
    if isinstance(value, tuple):  # an interval: (low, high) or (low, high, unit)
        return html.escape(interval(*value)), False
    if column.endswith(_PERCENT_SUFFIXES) and isinstance(value, float) and math.isfinite(value) and 0 <= value <= 1:
        return html.escape(number(100 * value)), True
    numeric = isinstance(value, int | float) and not isinstance(value, bool) and not _missing(value)
    return html.escape(number(value)), numeric


def stakeholder_table(
    frame: pd.DataFrame, columns: Mapping[str, str] | Sequence[str] | None = None, *, caption: str = ""
) -> StakeholderTable:
    """`frame` as a table for people: only `columns` (a list, or a mapping column -> header; default all),
    friendly headers with units, 2-3 significant digits, words for inf/NaN, verdict badges, no index.

    Columns whose name ends in _rate, share or _fraction and hold values in [0, 1] are shown as percentages
    (their header says "(%)"); a cell holding a tuple (low, high[, unit]) reads as an interval (`interval`). An
    empty frame, with or without its columns, reads "No rows: not measured.";
    a frame with rows but without an asked column is a KeyError naming it.
    """
    columns = frame.columns if columns is None else columns
    headers = dict(columns) if isinstance(columns, Mapping) else {c: friendly_name(str(c)) for c in columns}
    missing = [c for c in headers if c not in frame.columns]
    if missing and len(frame):  # an empty table (a stage that measured nothing) says so instead
        raise KeyError(
            f"stakeholder_table: the frame has no column {', '.join(map(repr, missing))}; "
            f"it has {', '.join(map(str, frame.columns))}."
        )
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers.values())
    rows = []
    for record in frame.reindex(columns=list(headers)).to_dict(orient="records"):
        cells = []
        for column in headers:
            text, numeric = _cell(str(column), record[column])
            css = "num" if numeric else "text" if column in _TEXT_COLUMNS else ""
            cells.append(f'<td class="{css}">{text}</td>' if css else f"<td>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    body = "".join(rows) if rows else f'<tr><td colspan="{len(headers)}">No rows: {NOT_MEASURED}.</td></tr>'
    return StakeholderTable(
        f'<div class="qr-table-wrap"><table class="qr-table">{cap}<thead><tr>{head}</tr>'
        f"</thead><tbody>{body}</tbody></table></div>"
    )


def gap_reason(value: Any, reason: str | None) -> str | None:
    """Why a compliance row was not measured ("the service exposes no /metrics — export …"), or None when the
    row holds a measurement: its value is missing and its reason says "not measured: why"."""
    marker = f"{NOT_MEASURED}: "
    if not _missing(value) or marker not in (reason or ""):
        return None
    return reason.split(marker, 1)[1]


def compliance_cells(value: Any, low: Any, high: Any, unit: str, verdict: str, reason: str) -> dict[str, str]:
    """Measured, interval and verdict cells of a compliance row; a row the run could not measure reads
    "not measured" in each (its reason says why), never an interval "not bounded"."""
    if gap_reason(value, reason) is not None:
        return {"measured": NOT_MEASURED, "ci": "–", "verdict": NOT_MEASURED}
    return {"measured": quantity(value, unit), "ci": interval(low, high, unit), "verdict": verdict}


def compliance_table(
    frame: pd.DataFrame, *, extra: Sequence[str] | Mapping[str, str] = (), why: bool = True
) -> StakeholderTable:
    """A compliance frame (studies.compliance.COLUMNS: label, value, low, high, target, unit, verdict, reason,
    direction, workload, ...) as: Metric | Target | Measured | 95 % interval | Verdict (+ `extra` columns: names,
    or name -> header) | Why (unless not `why`). The Metric column shows each row's label."""
    extra = dict(extra) if isinstance(extra, Mapping) else {c: friendly_name(c) for c in extra}
    rows = []
    for r in frame.to_dict(orient="records"):
        unit = r.get("unit") or ""
        sign = {"below": "below ", "above": "above "}.get(r.get("direction") or "", "")
        rows.append(
            {
                "metric": r["label"],
                "target": sign + quantity(r.get("target"), unit),
                **compliance_cells(
                    r.get("value"), r.get("low"), r.get("high"), unit, r.get("verdict"), r.get("reason")
                ),
                "reason": r.get("reason") or "",
                **{c: r.get(c) for c in extra},
            }
        )
    headers = {
        "metric": "Metric",
        "target": "Target",
        "measured": "Measured",
        "ci": "95 % interval",
        "verdict": "Verdict",
        **extra,
        **({"reason": "Why"} if why else {}),
    }
    return stakeholder_table(pd.DataFrame(rows, columns=list(headers)), headers)


def not_measured(what: str) -> str:
    """The sentence a report shows instead of a figure of something the run did not measure."""
    return f"{what[:1].upper()}{what[1:]}: {NOT_MEASURED} in this run."


@dataclass(frozen=True, kw_only=True)
class Headline:
    """The opening lines of a report: verdict, main reason, caveats (failed reliability checks), next action."""

    verdict: str
    reason: str
    caveats: tuple[str, ...] = field(default_factory=tuple)
    next_action: str = ""

    @property
    def reliable(self) -> bool:
        return not self.caveats

    def lines(self) -> list[str]:
        """The headline as 3-5 plain-text lines."""
        label = VERDICTS.get(self.verdict, (self.verdict.upper(),))[0]
        reserved = " (with reservations)" if self.caveats else ""
        lines = [f"Verdict: {label}{reserved}. {self.reason}"]
        if self.caveats:
            shown = list(self.caveats[:2])
            more = len(self.caveats) - len(shown)
            rest = f" ({more} more in the reliability section.)" if more > 0 else ""
            lines.append("Reservations: " + " ".join(shown) + rest)
        else:
            lines.append("Reliability: every reliability check passed.")
        if self.next_action:
            lines.append(f"Next: {self.next_action}")
        return lines

    def to_html(self) -> str:
        _, _, colour = VERDICTS.get(self.verdict, ("", "", "#5f6368"))
        _, *rest = self.lines()
        reserved = " with reservations:" if self.caveats else ""
        parts = [f'<p class="qr-verdict-line">{verdict_badge(self.verdict)}{reserved} {html.escape(self.reason)}</p>']
        parts += [f"<p>{html.escape(line)}</p>" for line in rest]
        return f'<div class="qr-headline" style="border-left-color:{colour}">' + "".join(parts) + "</div>"

    def _repr_html_(self) -> str:
        return f"<style>{TABLE_CSS}</style>{self.to_html()}"

    def __str__(self) -> str:
        return "\n".join(self.lines())


def reliability_caveats(checks: Iterable[Any]) -> tuple[str, ...]:
    """The messages of the failed checks (objects with .ok and .message, or dicts with those keys)."""
    out = []
    for c in checks:
        ok = c["ok"] if isinstance(c, Mapping) else c.ok
        message = c["message"] if isinstance(c, Mapping) else c.message
        if not ok:
            out.append(str(message).strip())
    return tuple(out)


# What to do next after each verdict; a verdict with reservations, fail aside, reads as "insufficient".
_NEXT = {
    "fail": "fix the failing target (see the compliance table), then rerun this study.",
    "insufficient": "rerun on an idle machine with more samples before relying on these numbers.",
    "warn": "look at the metrics marked WARN: they are close to their limit.",
    "error": "read the error below, fix its cause and rerun the study.",
    "pass": "nothing required; keep this run as the baseline for the next comparison.",
}


def headline(verdict: str, reason: str, *, checks: Iterable[Any] = (), next_action: str = "") -> Headline:
    """The headline of a report. A failed reliability check always appears as a reservation, so a verdict
    never reads as unreserved while a check fails. Without `next_action`, one follows from the verdict."""
    caveats = reliability_caveats(checks)
    if not next_action:
        next_action = _NEXT.get("insufficient" if caveats and verdict != "fail" else verdict, _NEXT["pass"])
    return Headline(verdict=verdict, reason=reason.strip(), caveats=caveats, next_action=next_action)
