"""The scalability study's report as ordered sections (`SECTIONS`, one notebook cell each) over one computed
`ScalabilityReport`; tables come in their final form, figures name a drawing of report/ (`DRAWINGS`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..analysis import Figure, Section, Spec, compliance_section, headline_section, reliability_section, shown
from .analysis import KEY_FIGURE, SATURATION_LIMITS, ScalabilityReport, fmt

_CONFIG_HEADERS = {
    "config": "Configuration",
    "status": "Status",
    "steps": "steps run",
    "capacity_rps": "capacity under the SLO (req/s)",
    "capacity_low": "from (req/s)",
    "capacity_high": "to (req/s)",
    "peak_throughput_rps": "peak throughput (req/s)",
    "error": "error",
}
_STEP_HEADERS = {
    "config": "Configuration",
    "rate_rps": "offered rate (req/s)",
    "requests": "requests",
    "throughput_rps": "throughput (req/s)",
    "throughput_low": "from (req/s)",
    "throughput_high": "to (req/s)",
    "p50_ms": "p50 (ms)",
    "p95_ms": "p95 (ms)",
    "p99_ms": "p99 (ms)",
    "success": "success (fraction)",
    "meets_slo": "meets the SLO",
}
_IMBALANCE_HEADERS = {
    "config": "Configuration",
    "rate_rps": "offered rate (req/s)",
    "instances": "instances",
    "requests": "requests",
    "max_share": "largest share (%)",
    "imbalance": "imbalance (0 = even)",
    "chi2_p": "χ² p (even split)",
}
_SATURATION_HEADERS = {
    "config": "Configuration",
    "rate_rps": "offered rate (req/s)",
    "cpu": "CPU (share of cores)",
    "memory": "memory (share)",
    "event_loop": "event-loop probe p95 (ms)",
    "thread_pool": "thread pool (busy / threads)",
}
_PHASE_HEADERS = {
    "rate_rps": "offered rate (req/s)",
    "need": "need (instances)",
    "direction": "step",
    "scaled_after_s": "scaled after (s)",
    "reached_need_after_s": "need reached after (s)",
    "p95_transition_ms": "p95 in transition (ms)",
    "p95_settled_ms": "p95 after (ms)",
    "over_instance_s": "over (instance-s)",
    "under_instance_s": "under (instance-s)",
}
_DOCUMENT_HEADERS = {
    "documents": "documents",
    "requests": "requests",
    "p50_ms": "p50 (ms)",
    "p95_ms": "p95 (ms)",
    "rss_peak_mb": "peak memory (MB)",
}


def _usl_note(fit: Mapping[str, Any], axis: str) -> str:
    """What range a USL figure covers, and that it says nothing beyond it."""
    levels = sorted(int(n) for n in fit["points"]["n"].unique())
    if not levels:
        return f"No {axis} configuration was measured, so no scalability model was fitted."
    if len(levels) < 3:
        many = len(levels) != 1
        return (
            f"Only {len(levels)} level{'s' if many else ''} of {axis} ({', '.join(map(str, levels))}) "
            f"{'were' if many else 'was'} measured: too few to bound a scalability model, so none is drawn and "
            f"nothing is predicted beyond {levels[-1]}."
        )
    return (
        f"The fitted models are drawn over the measured range only ({levels[0]} to {levels[-1]} {axis}); "
        f"beyond {levels[-1]} they are not bounded by any measurement."
    )


def _usl(axis: str, **heading: str) -> Callable[[ScalabilityReport], Section]:
    """Throughput against N on one axis with its fits (a single level draws a column and no curve: no figure)."""

    def section(report: ScalabilityReport) -> Section:
        fit = report.usl[axis]
        figure = Figure(
            draw="scalability_usl",
            inputs={"fit": fit, "cores": report.cores, "axis": axis},
            otherwise=f"throughput against {axis}",
        )
        figures = (figure,) if fit["levels"] >= 2 else ()
        return Section(name=f"usl_{axis}", **heading, figures=figures, sentence=_usl_note(fit, axis))

    return section


def autoscaling(report: ScalabilityReport) -> Section:
    auto = report.autoscale
    figure = Figure(
        draw="scalability_autoscale",
        inputs={"auto": auto},
        otherwise="the autoscaling scenario" if auto is None else "the autoscaling timeline",
    )
    return Section(
        name="autoscaling",
        title="Autoscaling (the HPA rule, simulated)",
        about="An open-model load steps up, then down, while a controller in qrbench adds and removes single-worker "
        "instances behind nginx by the Kubernetes HorizontalPodAutoscaler's own rule (desired = ceil(current × CPU "
        "utilisation / target), with its tolerance and stabilisation windows). **This simulates the HPA rule on one "
        "machine; it is not a cluster.** Time to scale, latency during the transition, and instance-seconds above "
        "or below what the rule needs in steady state (the findings above say it in words).",
        figures=(figure,),
        sentence=f"The scenario failed: {auto['error']}" if auto is not None and auto["error"] else "",
        tables=() if auto is None else (shown(auto["phases"], _PHASE_HEADERS),),
    )


def cost_growth(report: ScalabilityReport) -> Section:
    """The cost's growth with the document count, fitted (a power law, and milliseconds per document)."""
    c = report.cost
    if c["levels"] < 2:
        return Section(name="cost_growth", data=c)
    sentence = (
        f"Cost growth over {c['levels']} document counts ({c['requests']} requests): latency ~ N^b with "
        f"b = {fmt(c['slope'])} [{fmt(c['slope_low'])}, {fmt(c['slope_high'])}]; {fmt(c['ms_per_doc'])} ms per "
        f"document [{fmt(c['ms_per_doc_low'])}, {fmt(c['ms_per_doc_high'])}] ms."
    )
    return Section(name="cost_growth", sentence=sentence, data=c)


# The report's sections in order: name -> function. The notebook shows each in a cell of its own.
SECTIONS: dict[str, Callable[[ScalabilityReport], Section]] = {
    "headline": headline_section,
    "recommendation": Spec(
        name="recommendation", sentence=lambda report: f"**Recommendation.** {report.recommendation}"
    ),
    "compliance": compliance_section(
        title="PRD compliance",
        about="The capacity target (at least 100 req/s with the p95 within its target) is judged on the step load "
        "(open model) of the configuration with the highest capacity: the achieved rate of the highest step whose "
        "p95 interval lies wholly below the target. Each row names the workload that judged it.",
    ),
    "findings": Spec(
        name="findings",
        title="Findings",
        about="*pass*: every configuration ran, its capacity is bounded on both sides and the PRD rows pass; *warn*: "
        "some capacity is only a bound, or a PRD row warns; *fail*: a configuration failed to run or a PRD row "
        "fails; *insufficient*: nothing was measured.",
        sentence=lambda report: "\n".join(f"- {f}" for f in report.verdict_reasons[1:] + report.findings),
    ),
    "capacity": Spec(
        name="capacity",
        title="Capacity under the SLO",
        about="A step meets the SLO when its p95 (from the intended send time) is under the limit and its success "
        "ratio at least the target. The capacity is the highest step before the break; its interval runs from the "
        "highest step that met the SLO on the p95's 95 % interval to the first step that broke it (so it carries "
        "the step width too). An open upper end: the SLO never broke.",
        draw="scalability_capacity",
        inputs=lambda report: {"configs": report.configs},
        otherwise="the capacity of each configuration",
        save_as=KEY_FIGURE,
        table="configs",
        columns=_CONFIG_HEADERS,
    ),
    "steps": Spec(
        name="steps",
        title="Throughput and latency at each step",
        about="Throughput is the mean of one-second windows of successful completions, its interval from batch "
        "means over the windows' correlation time.",
        draw="scalability_steps",
        inputs=lambda report: {"steps": report.steps, "slo_p95_ms": report.slo.p95_ms},
        otherwise="the step loads",
        table="steps",
        columns=_STEP_HEADERS,
    ),
    "usl_workers": _usl(
        "workers",
        title="Universal Scalability Law",
        about="Throughput against workers and against instances (round robin): each configuration's peak step cut "
        "into windows (one observation per level: the fit averages them). The USL (contention σ, coherency κ, peak "
        "N*) needs at least 4 levels and is drawn over the measured range only; N* is stated only when its interval "
        "is bounded.",
    ),
    "usl_instances": _usl("instances"),
    "load_balancer": Spec(
        name="load_balancer",
        title="Load balancer effectiveness",
        about="Each instance's share of the requests in every step, from its own `/metrics` before and after the "
        "step, the imbalance (largest share over the even share, minus 1) with a χ² test against an even split, "
        "and each instance's cache hit rates (caches are per instance).",
        table="imbalance",
        columns=_IMBALANCE_HEADERS,
        draw="scalability_shares",
        inputs=lambda report: {"shares": report.shares},
        otherwise="instance shares",
    ),
    "saturation": Spec(
        name="saturation",
        title="Which resource saturates first",
        about="Per step of the single-worker service: its CPU over the cores, its memory over the machine's, the "
        "event loop (p95 of a `/health/live` probe that computes nothing), and the thread pool (requests in "
        "computation over the compute threads).",
        table="saturation",
        columns=_SATURATION_HEADERS,
        draw="scalability_saturation",
        inputs=lambda report: {
            "table": report.saturation,
            "limits": SATURATION_LIMITS,
            "config": report.first_saturated["config"] or "workers-1",
        },
        otherwise="resource saturation",
    ),
    "autoscaling": autoscaling,
    "documents": Spec(
        name="documents",
        title="Vertical scaling",
        about="Document count per request (cached documents, a new query each: the cost's growth fitted as a power "
        "law and as milliseconds per document, with 95 % intervals), memory against the document count, and "
        "latency and throughput against torch threads, qubits and shots (aer).",
        draw="scalability_documents",
        inputs=lambda report: {"documents": report.documents, "cost": report.cost},
        otherwise="the cost against the document count",
        table=lambda report: report.documents if len(report.documents) else None,
        columns=_DOCUMENT_HEADERS,
    ),
    "cost_growth": cost_growth,
    # latency and throughput against torch threads, qubits and shots, and the sweeps that failed
    "vertical_settings": Spec(
        name="vertical_settings",
        draw="scalability_vertical",
        inputs=lambda report: {
            "tables": {"torch threads": report.threads, "qubits": report.qubits, "shots": report.shots}
        },
        otherwise="the thread, qubit and shot sweeps",
        sentence=lambda report: "\n".join(f"- failed: {e}" for e in report.vertical_errors),
    ),
    "reliability": reliability_section,
}
