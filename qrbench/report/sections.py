"""Show a study's report section (`qrbench.studies.Section`) in a notebook cell: its heading and what it shows,
its headline or figures, its sentence, its judgements, tables and reliability checks, in that order.

A section's figures are data (`Figure.draw` names a drawing below, `Figure.inputs` its arguments) and its tables
name their layout (`Table.style`), so the studies say what to show and this module how.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import format, plots, plots_alerts, plots_bottlenecks, plots_load

__all__ = ["show_section", "DRAWINGS"]


def _degradation(records, **kwargs):
    return plots_load.degradation(records, **kwargs) if len(records) else None


# Figure.draw -> the function that draws it (returns a matplotlib figure, or None when there is nothing to draw).
DRAWINGS: dict[str, Callable[..., Any]] = {
    "load_timeline": plots_load.timeline,
    "load_degradation": _degradation,
    "alert_timeline": plots_alerts.alert_timeline,
    # the bottlenecks study
    "bottlenecks_opportunities": plots_bottlenecks.opportunities_chart,
    "bottlenecks_cost_by_size": plots_bottlenecks.cost_by_size,
    "bottlenecks_breakdown": plots_bottlenecks.stacked_breakdown,
    "bottlenecks_overhead": plots_bottlenecks.overhead_ratios,
    "bottlenecks_aer_vs_exact": plots_bottlenecks.aer_vs_exact,
    "bottlenecks_memory": plots_bottlenecks.memory_growth,
    "bottlenecks_under_load": plots_bottlenecks.under_load_profile,
}

# Table.style -> the function that lays it out for people.
_TABLES: dict[str, Callable[..., Any]] = {
    "latency": plots_load.latency_table,
    "phases": plots_load.phase_table,
    "littles_law": plots_load.littles_law_table,
    # the bottlenecks study: line profiles with a bar on each line's share; "raw": the frame as pandas shows it
    "bottlenecks_lines": plots_bottlenecks.line_table,
    "raw": lambda frame: frame,
}


def show_section(section, *, save_in: str | Path | None = None) -> None:
    """Display `section` (a qrbench.studies.Section) in the notebook. save_in: the run folder, where figures
    with a `save_as` name are saved (the key figure)."""
    from IPython.display import Markdown, display

    if section.title or section.about:
        heading = f"## {section.title}\n" if section.title else ""
        display(Markdown(heading + section.about))
    if section.verdict:
        display(
            format.headline(
                section.verdict,
                section.sentence,
                checks=section.checks,
                next_action=section.data.get("next_action", ""),
            )
        )
        return
    for figure in section.figures:
        fig = DRAWINGS[figure.draw](**figure.inputs)
        if fig is not None and figure.save_as and save_in is not None:
            fig.savefig(Path(save_in) / figure.save_as, dpi=100, bbox_inches="tight")
        plots.show(fig, otherwise=format.not_measured(figure.otherwise))
    if section.sentence:
        display(Markdown(section.sentence))
    if section.judgements is not None:
        display(format.compliance_table(section.judgements, extra=["workload"]))
    for table in section.tables:
        if table.style in _TABLES:
            display(_TABLES[table.style](table.frame))
        else:
            display(format.stakeholder_table(table.frame, table.columns, caption=table.caption))
    if section.checks:
        display(plots.reliability_table(section.checks))
