"""The A/B comparison's report: `SECTIONS`, in the notebook's order, over one computed `ABReport`."""

from __future__ import annotations

from collections.abc import Callable

from ..analysis import Section, Spec, reliability_section
from .analysis import ABReport

__all__ = ["SECTIONS"]

_COLUMNS = {
    "kind": "Request kind",
    "statistic": "Statistic",
    "pairs": "pairs",
    "a_ms": "A (ms)",
    "b_ms": "B (ms)",
    "change_percent": "change (%)",
    "low_percent": "from (%)",
    "high_percent": "to (%)",
    "detectable_percent": "detectable change (%)",
    "verdict": "Verdict",
}


def headline(report: ABReport) -> Section:
    """The answer: regression, no regression of that size, or cannot tell, and why."""
    return Section(name="headline", verdict=report.verdict, sentence=report.headline, checks=tuple(report.reliability))


def targets(report: ABReport) -> Section:
    """Where A and B were: URL, embedded or given."""
    where = {True: "the embedded reference service", False: "a given URL"}
    lines = [f"- **{arm}**: {t['url']} ({where[bool(t['embedded'])]})" for arm, t in report.targets.items()]
    return Section(name="targets", title="The targets", sentence="\n".join(lines))


SECTIONS: dict[str, Callable[[ABReport], Section]] = {
    "headline": headline,
    # every row (a request kind's median or p95) judged on its paired differences, then its sentence
    "rows": Spec(
        name="rows",
        title="Every row",
        about="*regression*: B is slower (significant after Holm's correction over the rows) and a slowdown of "
        "the threshold's size lies within the 95 % interval. *no regression of that size*: the detectable change "
        "(the slowdown this run would have found with 80 % power) is below the threshold, and none was found. "
        "*cannot tell*: the detectable change exceeds the threshold, so finding nothing means nothing. Change and "
        "interval: B against A in percent (positive: B slower).",
        table="table",
        columns=_COLUMNS,
        sentence=lambda report: "\n".join(f"- {r.summary}" for r in report.rows),
        tables_first=True,
    ),
    # each pair of blocks' difference over the run: drift leaves them in place, a real change shifts them all
    "pairs": Spec(
        name="pairs",
        title="Per-block differences over time",
        about="Each point is one pair of blocks: B's statistic against A's, in percent. Drift of the machine moves "
        "both blocks of a pair and leaves the points in place; a real difference shifts them all; contention that "
        "starts inside a pair scatters single points both ways.",
        draw="ab_pairs",
        inputs=lambda report: {"differences": report.differences, "threshold": report.params.threshold},
        otherwise="the pairs of blocks",
    ),
    "targets": targets,
    "reliability": reliability_section,
}
