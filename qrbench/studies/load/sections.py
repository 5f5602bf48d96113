"""The load study's report as ordered sections over one `LoadReport` (analysis.py): `SECTIONS` are the
notebook's cells in order; "screen" is `qrbench load`'s terminal summary and its summary.json.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

from ...params import to_dict
from ..analysis import (
    COMPLIANCE_ABOUT,
    Figure,
    Section,
    Spec,
    Table,
    compliance_section,
    headline_section,
    reliability_section,
    server_metrics_sentence,
)
from .analysis import KEY_FIGURE, LoadReport, drawn_thresholds, estimate_dict, next_action, steady_summary
from .params import LOAD_DIR

__all__ = ["SECTIONS", "screen_text"]


def headline(report: LoadReport) -> Section:
    """The verdict, its main reason and the reliability reservations."""
    return headline_section(report, next_action(report))


def errors(report: LoadReport) -> Section:
    """Errors by kind and the outages (stretches in which the target answered nothing)."""
    outages = "Outages (a second or more in which the target answered nothing: refused, reset or timed out)"
    return Section(
        name="errors",
        tables=(
            Table(frame=report.errors, caption="Errors by kind"),
            Table(frame=report.outages.drop(columns="errors"), caption=outages),
        ),
    )


def alerts(report: LoadReport) -> Section:
    """What Prometheus saw during the load (the alert report), or that it was not running."""
    about = (
        "With `monitor: {prometheus: true}` in the scenario, a real "
        "Prometheus scraped the service every second and evaluated the alert rules rendered from "
        "the thresholds (`qrbench alerts render`, with the scenario's short windows). Amber: an "
        "alert was pending (its condition held, its `for:` not yet); red: it was firing. The "
        "scrape latency is how long `/metrics` took to answer under this load: a monitoring "
        "endpoint that stalls under load is a finding of its own."
    )
    a = report.alerts
    if a is None:
        sentence = (
            "Prometheus was not running during this load (the scenario has no "
            "`monitor: {prometheus: true}`), so no alert was evaluated."
        )
        return Section(name="alerts", title="Alerts under load", about=about, sentence=sentence)
    figure = Figure(
        draw="alert_timeline",
        inputs={
            "records": report.records,
            "intervals": a.intervals,
            "thresholds": report.thresholds,
            "title": f"alerts during scenario {report.params.name} (rate window {a.rate_window_s:g} s, "
            f"for: {a.for_s:g} s)",
        },
        otherwise="the requests next to the alerts",
    )
    fired = a.firing()
    onsets = "When each alert first turned pending and firing (s since the run started)"
    return Section(
        name="alerts",
        title="Alerts under load",
        about=about,
        figures=(figure,),
        sentence=f"**Fired:** {', '.join(fired)}." if fired else "**No alert fired.**",
        tables=(
            Table(frame=a.onset_table(), caption=onsets),
            Table(
                frame=a.scrape, caption="Scrape latency of /metrics under load (failed: no answer within the interval)"
            ),
        ),
        data=a.summary(),
    )


def screen(report: LoadReport) -> Section:
    """`qrbench load`'s one screen (its summary.json is `data`): counts, errors, the study's percentiles."""
    data = _screen_data(report)
    return Section(
        name="screen",
        title="`qrbench load`'s summary",
        sentence=f"```text\n{screen_text(data)}\n```",
        data=data,
    )


def _table(name: str, title: str, about: str) -> Spec:
    """A section showing the report's frame `name` in the table layout of the same name."""
    return Spec(name=name, title=title, about=about, table=name, style=name)


# The report's sections in order: name -> function. The notebook shows each in a cell of its own.
SECTIONS: dict[str, Callable[[LoadReport], Section]] = {
    "headline": headline,
    # each PRD load target, judged on its interval, with the workload that judged it
    "compliance": compliance_section(
        title="Verdict against the PRD load targets",
        about="Judged on the requests after the warm-up and outside ramp phases, each target on the "
        "statistic and request kind `parameters/thresholds.yaml` defines. "
        + COMPLIANCE_ABOUT
        + " The workload column names what judged each row: a closed model (users with "
        "think time) offers only so many requests per second, so its throughput is judged as "
        "kept-up-with-offered, and the capacity target (at least 100 req/s within the latency "
        "target) is left to a workload able to offer it. Memory and quantum time are observed "
        "values (no sampling interval).",
    ),
    # the run on one time axis, with only the limits of targets this workload can judge (the key figure)
    "timeline": Spec(
        name="timeline",
        title="Timeline",
        draw="load_timeline",
        inputs=lambda report: {
            "records": report.records,
            "server": report.server,
            "metrics": report.metrics,
            "phases": report.spans,
            "thresholds": drawn_thresholds(report.params, report.thresholds, report.spans),
            "t0_unix": report.t0_unix,
            "cores": report.cores,
            "title": f"scenario {report.params.name}",
        },
        otherwise="the timeline",
        save_as=KEY_FIGURE,
        sentence=lambda report: server_metrics_sentence(report.run_dir),
    ),
    "latency": _table(
        "latency",
        "Latency by request kind",
        "Percentiles (ms) of the judged requests with 95% intervals "
        "(order statistics over the effective number of samples, since successive requests are "
        "correlated). *Failures counted*: a timed-out or dropped request counts at its timeout, "
        "any other failure at its recorded time, as a lower bound; where a percentile falls on "
        "failures it reads *at least*. The success-only p95 is beside them for comparison.",
    ),
    "phases": _table("phases", "Per phase", "Rates and percentiles (ms, failures counted) per phase of the scenario."),
    # how requests failed per phase, and error rate and latency against the offered rate
    "degradation": Spec(
        name="degradation",
        title="Degradation under load",
        about="How requests failed, per phase: shedding with 503 at once is "
        "the healthy answer to overload; timeouts and 5xx are not.",
        table="degradation",
        draw="load_degradation",
        inputs=lambda report: {
            "records": report.records,
            "thresholds": report.thresholds,
            "failure_rate": report.params.failure_threshold,
        },
        otherwise="degradation with the offered load",
    ),
    "errors": errors,
    "littles_law": _table(
        "littles_law",
        "Little's law",
        "In a steady state, requests in the system = throughput × time in the "
        "system: X·(W+Z) for a closed model must equal its users (Z: think time), X·W the "
        "server's in-flight gauge, which counts only requests being computed (so it reads lower "
        "by the time spent in the network and queues). A difference beyond 10 % is flagged: "
        "lost requests, a load that was not steady, or users that were not reached.",
    ),
    # RSS growth after the caches are full, judged or said why not
    "leak": Spec(
        name="leak",
        title="Memory leak (long runs)",
        about="RSS growth after the caches are full, with its interval "
        "(batch means over blocks of correlated 1-s samples); growth while the caches fill is "
        "not a leak. Needs a soak: `qrbench study load -p parameters/soak.yaml` (30 min).",
        judgements=lambda report: report.compliance[report.compliance["metric"] == "rss_growth_mb_per_h"],
    ),
    "alerts": alerts,
    # the reliability checks (generator CPU and send lag, sample size, warm-up, Little's law, ...)
    "reliability": replace(
        reliability_section,
        about="The generator's own CPU and send lag are checked: a saturated generator measures itself, "
        "not the server.",
    ),
    "screen": screen,
}


_GENERATOR_KEYS = (
    "processes generator_cpu_percent send_lag_p50_ms send_lag_p99_ms n_late n_dropped saturated saturation_reasons"
).split()


def _screen_data(report: LoadReport) -> dict[str, Any]:
    """The key numbers of a finished run for `qrbench load` (its summary.json); latencies in milliseconds.

    The verdict covers only the scenario's failure threshold ("fail" when the error ratio exceeds it, else
    "unjudged"): `qrbench study load` judges the PRD thresholds. The latency percentiles and the outages are the
    study's (failures counted, after the warm-up, outside ramps)."""
    params, records, result = report.params, report.records, report.result
    n = len(records)
    error_ratio = float((~records["ok"]).sum() / n) if n else math.nan
    judged = report.judged
    return {
        "study": "load",
        "scenario": params.name,
        "verdict": "fail" if n > 0 and error_ratio > params.failure_threshold else "unjudged",
        "verdict_basis": "failure_threshold only; `qrbench study load` judges the PRD thresholds",
        "parameters": to_dict(params),
        "records": str(Path(LOAD_DIR) / "records.parquet"),
        "requests": n,
        "ok": int(records["ok"].sum()),
        "errors": {str(k): int(v) for k, v in records.loc[~records["ok"], "error"].value_counts().items()},
        "error_ratio": error_ratio,
        "failure_threshold": params.failure_threshold,
        "duration_s": result["duration_s"],
        "achieved_rps": result["achieved_rps"],
        "latency_basis": "requests after the warm-up, outside ramps, failures counted above every latency target "
        "(as the load study judges them)",
        "latency_failure_share": float((~judged["ok"]).mean()) if len(judged) else math.nan,
        "latency_ms": {k.removesuffix("_ms"): estimate_dict(e) for k, e in report.percentiles.items()},
        "steady": steady_summary(report.warmup),
        "generator": {k: result[k] for k in _GENERATOR_KEYS},
        "phases": _screen_phases(report),
        "outages": report.outages.to_dict(orient="records"),
    }


def _screen_phases(report: LoadReport) -> list[dict[str, Any]]:
    """Per phase of phases.json: what was sent and answered, and the study's p50/p95 (ms, failures counted,
    after the warm-up) from the report's phase table."""
    records = report.records
    table = report.phases.set_index("phase") if len(report.phases) else pd.DataFrame()
    rows = []
    for p in report.spans:
        g = records[records["phase"] == p["name"]]
        span = p["end_s"] - p["start_s"]
        known = p["name"] in table.index
        rows.append(
            {
                **{k: p[k] for k in ("name", "kind", "start_s", "end_s", "offered", "unit")},
                "requests": len(g),
                "ok": int(g["ok"].sum()),
                "sent_rps": len(g[g["error"] != "dropped"]) / span if span > 0 else math.nan,
                **{q: float(table.loc[p["name"], q]) if known else math.nan for q in ("p50_ms", "p95_ms")},
            }
        )
    return rows


def _ms(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.1f}"


def screen_text(summary: Mapping[str, Any]) -> str:
    """One screen of text: counts, errors, throughput, latency percentiles with intervals, the generator."""
    n = summary["requests"]
    errors = ", ".join(f"{k} {v}" for k, v in summary["errors"].items()) or "none"
    if n:
        exceeded = ": EXCEEDED" if summary["verdict"] == "fail" else ""
        threshold = f"failure threshold {summary['failure_threshold']:.0%}{exceeded}"
        errors += f"  (error ratio {summary['error_ratio']:.1%}, {threshold})"
    lines = [
        f"scenario {summary['scenario'] or '(unnamed)'}: {n} requests in {summary['duration_s']:.1f} s, "
        f"{summary['ok']} ok, achieved {summary['achieved_rps']:.1f} req/s",
        f"errors: {errors}",
    ]
    pcts = []
    for q, e in summary["latency_ms"].items():
        why = e.get("undecided_reason", "too few samples for an interval")
        interval = f"[{_ms(e['low'])}, {_ms(e['high'])}]" if e["decided"] else f"({why})"
        pcts.append(f"{q} {_ms(e['value'])} ms {interval}")
    share = summary.get("latency_failure_share")
    failed = f", {share:.2%} of them failed" if share is not None and share == share else ""
    lines.append(f"latency, failures counted above every target (from intended send{failed}): " + "; ".join(pcts))
    steady = summary.get("steady", {"steady": True})
    if not steady["steady"]:
        regimes = "; ".join(
            f"{side}: " + ", ".join(f"{q} {_ms(e['value'])} ms" for q, e in steady[f"{side}_ms"].items())
            for side in ("before", "after")
        )
        lines.append(f"NOT A STEADY RUN: {steady['sentence']} Regimes, {regimes}")
    g = summary["generator"]
    lines.append(
        f"generator: {g['processes']} process(es), busiest at {g['generator_cpu_percent']:.0f} % of a core, "
        f"send lag p50 {_ms(g['send_lag_p50_ms'])} ms / p99 {_ms(g['send_lag_p99_ms'])} ms, "
        f"{g['n_late']} late, {g['n_dropped']} dropped"
    )
    if g["saturated"]:
        lines.append(
            "GENERATOR SATURATED, these numbers describe the generator as much as the server: "
            + "; ".join(g["saturation_reasons"])
        )
    else:
        lines.append("generator saturated: no")
    for o in summary["outages"]:
        end = "never recovered" if not o["recovered"] else f"first ok again at {o['next_ok_s']:.2f} s"
        kinds = ", ".join(f"{k} {v}" for k, v in o["errors"].items())
        lines.append(
            f"outage: no request was answered from {o['start_s']:.2f} s to {o['end_s']:.2f} s "
            f"({o['failed_requests']} failures: {kinds}); {end}"
        )
    if summary["phases"]:
        lines.append(
            f"{'phase':<34} {'offered':>12} {'sent/s':>7} {'requests':>8} {'ok':>7} {'p50 ms':>7} {'p95 ms':>7}"
        )
        for p in summary["phases"][:16]:
            lines.append(
                f"{p['name'][:34]:<34} {p['offered']:>6.1f} {p['unit']:<5} {p['sent_rps']:>7.1f} "
                f"{p['requests']:>8} {p['ok']:>7} {_ms(p['p50_ms']):>7} {_ms(p['p95_ms']):>7}"
            )
        if len(summary["phases"]) > 16:
            lines.append(f"... {len(summary['phases']) - 16} more phases in summary.json")
    return "\n".join(lines)
