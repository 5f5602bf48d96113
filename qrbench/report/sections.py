"""Show a study's report section (`qrbench.studies.Section`) in a notebook cell: its heading and what it shows,
its headline or figures, its sentence, its judgements, tables and reliability checks, in that order.

A section's figures are data (`Figure.draw` names a drawing below, `Figure.inputs` its arguments) and its tables
name their layout (`Table.style`), so the studies say what to show and this module how.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..studies import RunFolder
from . import baseline_tables, format, plots, plots_ab, plots_alerts, plots_bottlenecks, plots_load, plots_scalability

__all__ = ["show_section", "DRAWINGS"]


def _degradation(records, **kwargs):
    return plots_load.degradation(records, **kwargs) if len(records) else None


def _baseline_key_figure(stages, records, *, rerank_ms, similarity_ms):
    """Rerank percentiles by batch size; the similarity latencies when no rerank ran."""
    fig = plots.percentiles_by_batch(stages, target_ms=rerank_ms)
    if fig is None:
        title = "Similarity, one pair per request"
        fig = plots.latency_by_stage(records, "similarity/", target_ms=similarity_ms, title=title)
    return fig


# Figure.draw -> the function that draws it (returns a matplotlib figure, or None when there is nothing to draw).
DRAWINGS: dict[str, Callable[..., Any]] = {
    "load_timeline": plots_load.timeline,
    "load_degradation": _degradation,
    "alert_timeline": plots_alerts.alert_timeline,
    # the A/B comparison
    "ab_pairs": plots_ab.pair_differences,
    # the baseline study
    "baseline_key_figure": _baseline_key_figure,
    "baseline_latency": plots.latency_by_stage,
    "baseline_quality": plots.quality_vs_cost,
    "baseline_memory": plots.memory_by_documents,
    "baseline_cache": plots.cache_effect,
    # scalability
    "scalability_capacity": plots_scalability.capacity_bars,
    "scalability_steps": plots_scalability.step_curves,
    "scalability_usl": plots_scalability.usl_fit,
    "scalability_shares": plots_scalability.lb_shares,
    "scalability_saturation": plots_scalability.saturation,
    "scalability_autoscale": plots_scalability.autoscale_timeline,
    "scalability_documents": plots_scalability.documents_cost,
    "scalability_vertical": plots_scalability.vertical_settings,
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
    # the baseline study
    "baseline_stages": baseline_tables.stage_latency,
    "baseline_quality_sentence": baseline_tables.quality_sentence,
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
    if section.tables_first:
        _show_tables(section.tables)
    for figure in section.figures:
        fig = DRAWINGS[figure.draw](**figure.inputs)
        if fig is not None and figure.save_as and save_in is not None:
            RunFolder(save_in).write_figure(figure.save_as, fig)
        plots.show(fig, otherwise=format.not_measured(figure.otherwise))
    if section.sentence:
        display(Markdown(section.sentence))
    if section.judgements is not None:
        display(format.compliance_table(section.judgements, extra=["workload"]))
    if not section.tables_first:
        _show_tables(section.tables)
    if section.checks:
        display(plots.reliability_table(section.checks))


def _show_tables(tables) -> None:
    """Each table in its style's layout, else as a table for people; one with no rows and an `otherwise` says
    what was not measured instead."""
    from IPython.display import Markdown, display

    for table in tables:
        if table.otherwise and table.frame.empty:
            display(Markdown(format.not_measured(table.otherwise)))
        elif table.style in _TABLES:
            display(_TABLES[table.style](table.frame))
        else:
            display(format.stakeholder_table(table.frame, table.columns, caption=table.caption))
