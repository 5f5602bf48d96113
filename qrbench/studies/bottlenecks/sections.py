"""The bottlenecks study's report as an ordered list of sections over one computed `BottlenecksReport`.

`SECTIONS` names each section's function, in the order the notebook shows them (one cell each, through
`report.sections.show_section`). The in-process sections profile qrbench's reference engine: for any other
target they say what was not measured, why, and where to read the target's own costs (`_gap`). The last three
(line profiles, call trees, allocations) are profiler output for the version of the report with code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd

from ...profile import render_tree
from ..analysis import (
    Figure,
    Section,
    Spec,
    Table,
    compliance_section,
    headline_section,
    intervals,
    reliability_section,
)
from .analysis import KEY_FIGURE, BottlenecksReport, under_load_change, wide_breakdown

__all__ = ["SECTIONS", "top_finding"]


def top_finding(report: BottlenecksReport) -> str:
    """The study's top finding as one sentence: the open time opportunity saving the most per request."""
    o = report.opportunities
    o = o[(o["kind"] == "time") & ~o["status"].str.startswith("done")] if len(o) else o
    if len(o) == 0:
        return "No open optimisation saves a measurable time per request."
    top = o.sort_values("saving_ms", ascending=False).iloc[0]
    share = top["share_of_request"]
    of = f", {share:.0%} of the request" if np.isfinite(share) else ""
    return (
        f"Top opportunity: {top['opportunity']} ({top['lives_in']}) would save {top['saving_ms']:.3g} ms "
        f"per request{of} (95 % interval {top['saving_low']:.3g} to {top['saving_high']:.3g} ms)."
    )


def _unmeasured(what: str) -> str:
    """'What: not measured in this run.' (as report.format.not_measured says it under a figure)."""
    return f"{what[:1].upper()}{what[1:]}: not measured in this run."


def _gap(report: BottlenecksReport, what: str) -> str:
    """What an in-process section shows when it has nothing: 'What: not measured: why — where to look.'"""
    skipped = (report.info.get("in_process") or {}).get("skipped")
    why = (
        "the target is not qrbench's reference engine, so this in-process profile does not exist for it (why and "
        "what to do: *The target* above; its own costs: *Cost by request kind and size*)"
        if skipped
        else "this run did not measure it"
    )
    return f"{what[:1].upper()}{what[1:]}: **not measured**: {why}."


def _mib(value: float) -> str:
    """A size in MiB with 3 significant digits, thousands separated: "0.687 MiB", "1,230 MiB"."""
    return f"{float(f'{value:.3g}'):,g} MiB"


def headline(report: BottlenecksReport) -> Section:
    """The verdict, its main reason with the top finding, the reliability reservations and what to do next."""
    main = (report.verdict_reasons or ["Every target is met and the parts explain every total."])[0]
    # A pass points at the top opportunity; any other verdict gets the headline's own next step for it.
    top = "work on the top opportunity below, then rerun this study to confirm the saving."
    action = top if report.verdict == "pass" else ""
    return replace(headline_section(report, action), sentence=f"{main.rstrip('.')}. {top_finding(report)}")


key_figure = Spec(  # what fixing each part would save, saved for the executive report
    name="key_figure",
    draw="bottlenecks_opportunities",
    inputs=lambda report: {"opportunities": report.opportunities},
    otherwise="time-saving opportunities",
    save_as=KEY_FIGURE,
)


def target(report: BottlenecksReport) -> Section:
    """What the target offered when probed, and what could not be measured on it (why, how to enable)."""
    measured = report.gaps.empty
    sentence = report.target or "The target was not probed in this run."
    return Section(
        name="target",
        title="The target",
        about="What the service offered when the study probed it, and what could not be measured.",
        sentence=sentence + ("\n\nEvery section of this study was measured on the target." if measured else ""),
        tables=() if measured else (Table(frame=report.gaps),),
    )


_COST_COLUMNS = {
    "kind": "request kind",
    "requests": "requests",
    "errors": "errors",
    "sizes": "documents per request",
    "fixed_ms": "fixed cost (ms)",
    "fixed_ci": "95 % interval",
    "per_doc_ms": "per document (ms)",
    "per_ci": "95 % interval",
    "request_bytes": "request (bytes)",
    "response_bytes": "response (bytes)",
    "computation_share": "share the service reports as computation",
}


# Per request kind: the fixed and per-document cost with intervals, the payload sizes, and the fit.
costs = Spec(
    name="costs",
    title="Cost by request kind and size",
    about="One request at a time, each with a new query, round-robin over kinds and sizes: latency against the "
    "number of documents gives what every request pays (fixed) and what each document costs (per document), "
    "with 95 % intervals; bytes each way per request.",
    draw="bottlenecks_cost_by_size",
    inputs=lambda report: {"requests": report.cost_requests, "table": report.costs},
    otherwise="the cost by request kind and size",
    table=lambda report: report.costs.assign(
        fixed_ci=intervals(report.costs, "fixed_low", "fixed_high", "ms"),
        per_ci=intervals(report.costs, "per_doc_low", "per_doc_high", "ms"),
    ),
    columns=_COST_COLUMNS,
    empty="the cost by request kind and size",
)

_OPPORTUNITY_COLUMNS = {
    "rank": "rank",
    "opportunity": "Opportunity",
    "lives_in": "lives in",
    "saving_ms": "saving per request (ms)",
    "ci": "95 % interval",
    "saving_mib": "memory saved (MiB)",
    "how": "how",
    "status": "status",
}


# The ranked opportunities: what, where it lives, the saving per request with its interval, how.
opportunities = Spec(
    name="opportunities",
    title="Optimisation opportunities, ranked",
    about="Each with the time (or memory) it would save per request, measured here (a difference of two "
    "measured configurations, or a part that would go away), where it lives, and what it would free at the "
    "load study's rates (cores = CPU-seconds per second).",
    table=lambda report: report.opportunities.assign(
        ci=intervals(report.opportunities, "saving_low", "saving_high", "ms")
    ),
    columns=_OPPORTUNITY_COLUMNS,
    empty="optimisation opportunities",
)


def _profile(
    make: Callable[[BottlenecksReport], Section], what: str, measured: str = ""
) -> Callable[[BottlenecksReport], Section]:
    """`make`'s section, of the reference engine's in-process profiles; for another target (or when the report's
    frame `measured` has no rows) its heading and `what` was not measured, why, and where to look."""

    def section(report: BottlenecksReport) -> Section:
        made = make(report)
        if report.reference and (not measured or len(getattr(report, measured)) > 0):
            return made
        return Section(name=made.name, title=made.title, about=made.about, sentence=_gap(report, what))

    return section


def breakdown(report: BottlenecksReport) -> Section:
    """Where a rerank's time goes, stacked by component: in milliseconds and in shares."""
    draw, request = "bottlenecks_breakdown", report.request
    figures = (
        Figure(draw=draw, inputs={"request": request}, otherwise="the breakdown"),
        Figure(draw=draw, inputs={"request": request, "share": True}, otherwise="the breakdown in shares"),
    )
    about = (
        "Means per request (they add up; medians do not). Engine parts are measured in this process; the parts "
        "outside the engine come from the HTTP measurement of the same batch size and method."
    )
    return Section(name="breakdown", title="Where a rerank's time goes", about=about, figures=figures)


def scenarios(report: BottlenecksReport) -> Section:
    """Mean milliseconds per component of every scenario, and whether the parts explain each total."""
    b = report.breakdown
    tables = (Table(frame=wide_breakdown(b).reset_index() if len(b) else b), Table(frame=report.explained))
    about = (
        "Mean milliseconds per component; *unattributed* is the engine's total minus the parts (negative when the "
        "engine does in one step what the parts do in two)."
    )
    return Section(name="scenarios", title="Every scenario", about=about, tables=tables)


# Engine time of quantum and hybrid over classical, with intervals.
overhead = Spec(
    name="overhead",
    title="Quantum vs classical overhead",
    about="Engine time of quantum and hybrid over classical on the same documents: ratio of medians with a bootstrap "
    "95% interval, and the extra milliseconds (difference of means).",
    draw="bottlenecks_overhead",
    inputs=lambda report: {"overhead": report.overhead},
    otherwise="the overhead",
    table="overhead",
)
# What the aer simulation costs against the closed form, and its shot noise.
aer_vs_exact = Spec(
    name="aer_vs_exact",
    title="Aer vs exact: what the simulation costs and the shot noise it trades for it",
    about="The same encoded states through the closed form and the SWAP test: the aer estimate's error is "
    "shot noise alone.",
    draw="bottlenecks_aer_vs_exact",
    inputs=lambda report: {"table": report.aer_vs_exact},
    otherwise="the aer simulator (no aer scenario in this run)",
    table="aer_vs_exact",
)
# Model load, the first forward pass, circuit construction and transpilation.
cold_start = Spec(
    name="cold_start",
    title="One-off costs",
    about="Model load, the first forward pass, and the aer circuit's construction and transpilation (once "
    "per qubit count, at warm-up).",
    table="cold_start",
    columns={
        "component": "component",
        "qubits": "qubits",
        "median": "median (ms)",
        "min": "min (ms)",
        "max": "max (ms)",
        "count": "times measured",
    },
)
# End-to-end time over HTTP minus the server's computation, split into the service's code and the rest.
outside = Spec(
    name="outside",
    title="Outside the engine",
    about="End-to-end latency over HTTP minus the server's computation time, split into what the service's "
    "own code does (parse, validate, rank, serialise; timed in-process on the same bodies) and the rest "
    "(uvicorn, FastAPI, the thread hand-off, loopback).",
    table="outside",
)
# Peak memory of one cold rerank per document count, against the PRD's limit.
memory = Spec(
    name="memory",
    title="Memory",
    about="Peak resident memory while one cold rerank of N documents runs (memory_profiler), what it leaves "
    "behind, and garbage-collection pauses. The lines that grow it and the allocation sites still holding "
    "memory (tracemalloc) are in the version with code.",
    draw="bottlenecks_memory",
    inputs=lambda report: {"memory": report.memory, "limit_gb": report.thresholds["memory_100_docs_gb"].target},
    otherwise="memory growth",
    table="memory",
)


def gc(report: BottlenecksReport) -> Section:
    """What tracemalloc saw retained, and the garbage collector's pauses."""
    t = report.info.get("tracemalloc") or {}
    said = []
    if t:
        peak, kept = _mib(t.get("traced_peak_mib", np.nan)), _mib(t.get("traced_retained_mib", np.nan))
        said.append(
            f"tracemalloc: peak {peak}, {kept} retained after {t.get('requests', 0)} reranks of new request bodies."
        )
    if report.gc.empty:
        said.append(_gap(report, "garbage-collection pauses"))
    return Section(name="gc", sentence="\n\n".join(said), tables=() if report.gc.empty else (Table(frame=report.gc),))


def under_load(report: BottlenecksReport) -> Section:
    """One user against many: latency, the server's CPU, and what the service's threads do (py-spy)."""
    skipped = (report.info.get("under_load") or {}).get("skipped")
    why = f"the under-load profile ({skipped})" if skipped else "the under-load profile"
    figure = Figure(draw="bottlenecks_under_load", inputs={"shares": report.under_load}, otherwise=why)
    runs = report.load_runs
    return Section(
        name="under_load",
        title="Under load",
        about="The same request mix sent by one user and by many; py-spy samples every thread of the service (and, "
        "separately, only the thread holding the GIL). Waits on the thread pool, on locks or on a future show "
        "where concurrency queues work; torch and Aer run without the GIL.",
        figures=(figure,) if report.reference else (),
        sentence="" if len(runs) else _unmeasured("the under-load runs"),
        tables=(Table(frame=runs),) if len(runs) else (),
    )


def hot_functions(report: BottlenecksReport) -> Section:
    """py-spy's hottest functions of the target's process under load, or why there are none."""
    h = report.hot
    if h.empty:
        why = (report.info.get("under_load") or {}).get("skipped") or "no samples of the target's process"
        return Section(name="hot_functions", sentence=f"Hot functions of the target: **not measured**: {why}.")
    columns = {"function": "function", "file": "file", "samples": "samples", "share": "share of GIL-holding samples"}
    return Section(name="hot_functions", tables=(Table(frame=h, columns=columns),))


def concurrency(report: BottlenecksReport) -> Section:
    """Each activity's share of the busy threads' samples with one user and under load, and the change."""
    change = under_load_change(report.under_load)
    about = (
        "What changes with concurrency: each activity's share of the busy threads' samples, one user against "
        "load (percentage points)."
    )
    if change.empty:
        return Section(name="concurrency", about=about, sentence=_unmeasured("the change under load"))
    # One column per sampler and phase: the shares in %, beside their change in percentage points.
    shown = pd.DataFrame(index=change.index.rename("activity"))
    for (sampler, phase), column in change.items():
        points = phase.startswith("change")
        shown[f"{sampler}, {phase}" if points else f"{sampler}, {phase} (%)"] = column if points else 100 * column
    return Section(name="concurrency", about=about, tables=(Table(frame=shown.reset_index()),))


# ---- the version with code only: profiler output


def line_profiles(report: BottlenecksReport) -> Section:
    """The most expensive lines of the quantum path and of the classical fallback (line_profiler)."""
    lines = report.lines
    paths = ("quantum path", "classical fallback") if len(lines) else ()
    return Section(
        name="line_profiles",
        title="Profiles (version with code only)",
        about="The most expensive lines of the quantum path and of the classical fallback (line_profiler), the "
        "call trees of one cold and one warm rerank (cProfile), the lines that grow memory and the allocation "
        "sites that keep it.",
        tables=tuple(Table(frame=lines[lines["path"] == p], style="bottlenecks_lines") for p in paths),
    )


def call_trees(report: BottlenecksReport) -> Section:
    """The cProfile call trees of one cold and one warm rerank."""
    calls = report.calls
    trees = [render_tree(calls[calls["call"] == call]) for call in ("cold", "warm")] if len(calls) else []
    return Section(name="call_trees", sentence="".join(f"```text\n{tree}\n```\n" for tree in trees))


def allocations(report: BottlenecksReport) -> Section:
    """The lines that grow memory, the allocation sites still holding it, and activity shares per thread role."""
    grew, roles = report.memory_lines, report.under_load_roles
    frames = (
        grew[grew["increment_mib"].abs() > 0.1] if len(grew) else grew,
        report.allocations,
        roles.sort_values(["phase", "role", "share"], ascending=[True, True, False]) if len(roles) else roles,
    )
    return Section(name="allocations", tables=tuple(Table(frame=f, style="raw") for f in frames if len(f)))


# The report's sections in order: name -> function. The notebook shows each in a cell of its own.
SECTIONS: dict[str, Callable[[BottlenecksReport], Section]] = {
    "headline": headline,
    "key_figure": key_figure,
    "target": target,
    "costs": costs,
    "compliance": compliance_section(
        title="Verdict",
        about="*pass*: the PRD's per-request targets are met on their 95% intervals (a rerank of 50 cached documents "
        "under 500 ms on the statistic `parameters/thresholds.yaml` defines for it, the p95 as in the baseline "
        "study, in the engine and over HTTP; under 2 GB scoring 100 cold documents) **and** the measured parts "
        "explain every default-configuration total (|unattributed| below `max_unattributed_share`). *warn*: an "
        "interval straddles a target, or the parts leave too much unexplained — then the breakdown below must "
        "not be read as the whole story. *fail*: a target is missed on the whole interval. *insufficient*: "
        "this run measured nothing a target can be judged on. Each row names the workload that judged it.",
    ),
    "opportunities": opportunities,
    "breakdown": _profile(breakdown, "the breakdown of the engine"),
    "scenarios": _profile(scenarios, "every scenario"),
    "overhead": _profile(overhead, "the quantum overhead in the engine"),
    "aer_vs_exact": _profile(aer_vs_exact, "the simulator against the closed form"),
    "cold_start": _profile(cold_start, "the one-off costs", measured="cold_start"),
    "outside": _profile(outside, "the split of the time outside the engine", measured="outside"),
    "memory": _profile(memory, "memory per document count"),
    "gc": gc,
    "under_load": under_load,
    "hot_functions": hot_functions,
    "concurrency": concurrency,
    "reliability": reliability_section,  # interval widths, machine noise, whether the under-load profile ran
    "line_profiles": _profile(line_profiles, "line profiles", measured="lines"),
    "call_trees": call_trees,
    "allocations": allocations,
}
