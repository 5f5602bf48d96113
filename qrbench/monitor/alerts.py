"""Prometheus recording and alerting rules made from the PRD thresholds (`parameters/thresholds.yaml`, `load`).

`render_rules` turns each threshold it knows into one recording rule over the reference service's own metric
names (qrbench.target.metrics) and one alert per severity: ``warning`` when the recorded value is past the
`target`, ``critical`` when it is past the `threshold` (the worse limit); a metric whose target equals its
threshold gets only the critical alert. Every alert carries ``severity`` and ``metric`` (the thresholds key)
labels and waits its `for:` duration before firing, so one slow scrape interval does not page anyone.

What each threshold becomes (W = `RuleWindows.rate_window_s`; only the service's ``/v1/*`` endpoints count):

- ``p50_ms``, ``p95_ms``, ``p99_ms``: ``histogram_quantile`` of the request-duration histogram per job and
  endpoint over W (seconds). The histogram also holds the fast 503 refusals, so shedding lowers it: the
  shedding alert is the one that speaks for refused requests.
- ``success_ratio``: the error ratio (non-2xx answers / all answers over W) against 1 - target and
  1 - threshold, and the shedding ratio (503 refusals at the concurrency bound / all answers) against the
  same limits, because a refused request is an unsuccessful one.
- ``classical_fallback_rate``: classical fallbacks / 200 answers of the quantum and hybrid methods over W.
- ``cache_hit_rate``: embedding-cache hits / lookups over W (fires when it is *below* its limits).
- ``memory_gb``: the resident memory of each service process (GB = 1e9 bytes), no window.
- ``quantum_time_ms``: mean time in the quantum backend per computation over W.

Not rendered (each needs context a rule cannot see): ``throughput_rps`` (an idle service would "fail" it;
throughput is judged against the offered load by the load study) and ``cpu_utilization`` (a share of the
whole machine, whose core count Prometheus does not scrape here). The rendered file names them in a comment.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from qrbench.errors import ParameterError
from qrbench.params import load_yaml
from qrbench.stats import Threshold, thresholds_from_mapping

__all__ = ["RuleWindows", "render_rules", "rules_yaml", "load_thresholds", "RENDERED_METRICS"]

_V1 = 'endpoint=~"/v1/.+"'
# The service's own series carry qrbench_requests_in_flight (always exported); process_* series of other
# exporters scraped by the same Prometheus (nginx has none, Prometheus itself does) are left out this way.
_ONLY_QRBENCH = "and on (job, instance) qrbench_requests_in_flight"


@dataclass(frozen=True, kw_only=True)
class RuleWindows:
    """Time windows of the rules, in seconds.

    rate_window_s: the window of every rate() (at least four scrape intervals, so a rate has points).
    warning_for_s / critical_for_s: how long a condition must hold before its alert fires (its `for:`).
    evaluation_interval_s: how often Prometheus evaluates the group (the group's `interval:`).
    """

    rate_window_s: float = 60.0
    warning_for_s: float = 120.0
    critical_for_s: float = 60.0
    evaluation_interval_s: float = 15.0

    def __post_init__(self) -> None:
        for name in ("rate_window_s", "evaluation_interval_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ParameterError(f"{name} is {value!r}; it must be a positive number of seconds.")
        for name in ("warning_for_s", "critical_for_s"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                raise ParameterError(f"{name} is {value!r}; it must be 0 or a positive number of seconds.")


@dataclass(frozen=True)
class _Rule:
    record: str
    expr: str
    scale: float  # Prometheus value = threshold value × scale
    alert: str
    what: str  # words for the annotation, e.g. "p95 latency of {{ $labels.endpoint }}"
    humanize: str  # Go template function for $value
    complement: bool = False  # judge 1 - threshold values (success ratio → error ratio)


def _duration(seconds: float) -> str:
    """A Prometheus duration: whole milliseconds, e.g. 1500 ms -> '1500ms', 60 s -> '60s'."""
    ms = round(seconds * 1000)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def _rate(selector: str, window: str) -> str:
    return f"rate({selector}[{window}])"


def _rules_for(metric: str, window: str) -> list[_Rule]:
    if metric in ("p50_ms", "p95_ms", "p99_ms"):
        q = metric[1:3]
        buckets = _rate(f"qrbench_request_duration_seconds_bucket{{{_V1}}}", window)
        return [
            _Rule(
                record=f"job_endpoint:qrbench_request_duration_seconds:p{q}",
                expr=f"histogram_quantile(0.{q}, sum by (job, endpoint, le) ({buckets}))",
                scale=1e-3,
                alert=f"QrbenchLatencyP{q}High",
                what=f"p{q} latency of {{{{ $labels.endpoint }}}}",
                humanize="humanizeDuration",
            )
        ]
    answers = f"sum by (job) ({_rate(f'qrbench_requests_total{{{_V1}}}', window)})"
    if metric == "success_ratio":
        not_2xx = _rate("qrbench_requests_total{" + _V1 + ',status!~"2.."}', window)
        errors = f"sum by (job) ({not_2xx})"
        shed = f"sum by (job) ({_rate('qrbench_rejected_requests_total', window)})"
        return [
            _Rule(
                record="job:qrbench_request_errors:ratio",
                expr=f"{errors} / {answers}",
                scale=1.0,
                alert="QrbenchErrorRatioHigh",
                what="the share of non-2xx answers",
                humanize="humanizePercentage",
                complement=True,
            ),
            _Rule(
                record="job:qrbench_requests_shed:ratio",
                expr=f"{shed} / {answers}",
                scale=1.0,
                alert="QrbenchSheddingHigh",
                what="the share of requests refused with 503 (concurrency bound)",
                humanize="humanizePercentage",
                complement=True,
            ),
        ]
    if metric == "classical_fallback_rate":
        fallbacks = f"sum by (job) ({_rate('qrbench_classical_fallbacks_total', window)})"
        quantum_ok = _rate(f'qrbench_requests_total{{{_V1},status="200",method=~"quantum|hybrid"}}', window)
        return [
            _Rule(
                record="job:qrbench_classical_fallbacks:ratio",
                expr=f"{fallbacks} / sum by (job) ({quantum_ok})",
                scale=1.0,
                alert="QrbenchFallbackRatioHigh",
                what="the share of quantum and hybrid answers computed classically",
                humanize="humanizePercentage",
            )
        ]
    if metric == "cache_hit_rate":
        hits = f"sum by (job) ({_rate('qrbench_embedding_cache_hits_total', window)})"
        misses = f"sum by (job) ({_rate('qrbench_embedding_cache_misses_total', window)})"
        return [
            _Rule(
                record="job:qrbench_embedding_cache_hits:ratio",
                expr=f"{hits} / ({hits} + {misses})",
                scale=1.0,
                alert="QrbenchCacheHitRatioLow",
                what="the embedding cache hit ratio",
                humanize="humanizePercentage",
            )
        ]
    if metric == "memory_gb":
        return [
            _Rule(
                record="instance:qrbench_resident_memory:bytes",
                expr=f"process_resident_memory_bytes {_ONLY_QRBENCH}",
                scale=1e9,
                alert="QrbenchMemoryHigh",
                what="the resident memory of {{ $labels.instance }}",
                humanize="humanize",
            )
        ]
    if metric == "quantum_time_ms":
        s = f"sum by (job) ({_rate('qrbench_quantum_computation_seconds_sum', window)})"
        n = f"sum by (job) ({_rate('qrbench_quantum_computation_seconds_count', window)})"
        return [
            _Rule(
                record="job:qrbench_quantum_computation_seconds:mean",
                expr=f"{s} / {n}",
                scale=1e-3,
                alert="QrbenchQuantumTimeHigh",
                what="the mean time in the quantum backend",
                humanize="humanizeDuration",
            )
        ]
    return []


RENDERED_METRICS = (
    "p50_ms",
    "p95_ms",
    "p99_ms",
    "success_ratio",
    "classical_fallback_rate",
    "cache_hit_rate",
    "memory_gb",
    "quantum_time_ms",
)


def _number(value: float) -> str:
    return f"{value:.10g}"


def _shown(value: float, unit: str) -> str:
    """A limit for people: fractions as percentages, other units after the number."""
    if unit == "fraction":
        return f"{value * 100:g}%"
    return f"{value:g} {unit}".strip()


def _alerts(rule: _Rule, t: Threshold, windows: RuleWindows) -> list[dict[str, Any]]:
    below = t.direction == "below"
    target, threshold = t.target, t.threshold
    if rule.complement:  # a lower limit on success is an upper limit on its complement
        below, target, threshold = not below, 1.0 - target, 1.0 - threshold
    op, word = (">", "above") if below else ("<", "below")
    levels = [("critical", threshold, windows.critical_for_s)]
    if target != threshold:
        levels.insert(0, ("warning", target, windows.warning_for_s))
    out = []
    for severity, limit, for_s in levels:
        level = "target" if severity == "warning" else "threshold"
        source = f"1 - success_ratio {level}" if rule.complement else f"{t.metric} {level}"
        out.append(
            {
                "alert": rule.alert,
                "expr": f"{rule.record} {op} {_number(limit * rule.scale)}",
                "for": _duration(for_s),
                "labels": {"severity": severity, "metric": t.metric},
                "annotations": {
                    "summary": f"{rule.what[0].upper()}{rule.what[1:]} is {{{{ $value | {rule.humanize} }}}}, {word} "
                    f"the {level} {_shown(limit, t.unit)} ({source}).",
                },
            }
        )
    return out


def render_rules(thresholds: Mapping[str, Threshold], windows: RuleWindows | None = None) -> dict[str, Any]:
    """Prometheus rule groups (a mapping ready for YAML) for every threshold in RENDERED_METRICS.

    thresholds: Thresholds keyed by metric name, as `thresholds_from_mapping` returns them for the `load`
    section. Metrics not in RENDERED_METRICS are skipped (listed by `rules_yaml` in its header).
    """
    windows = windows or RuleWindows()
    window = _duration(windows.rate_window_s)
    records: list[dict[str, Any]] = []
    alerts: list[dict[str, Any]] = []
    seen: set[str] = set()
    for metric in RENDERED_METRICS:
        if metric not in thresholds:
            continue
        for rule in _rules_for(metric, window):
            if rule.record not in seen:
                seen.add(rule.record)
                records.append({"record": rule.record, "expr": rule.expr})
            alerts += _alerts(rule, thresholds[metric], windows)
    interval = _duration(windows.evaluation_interval_s)
    # One group: its rules run in order, so each alert reads the value recorded in the same evaluation.
    return {"groups": [{"name": "qrbench", "interval": interval, "rules": records + alerts}]}


def load_thresholds(path: str | Path, *, section: str = "load") -> dict[str, Threshold]:
    """The Thresholds of one section of a thresholds file (default: `load`, the PRD's limits under load)."""
    data = load_yaml(path)
    if section not in data:
        raise ParameterError(f"{path} has no {section!r} section; its sections are {', '.join(map(str, data))}.")
    try:
        return thresholds_from_mapping(data[section], where=f"{Path(path).name} {section}")
    except ValueError as exc:
        raise ParameterError(str(exc)) from exc


def rules_yaml(thresholds: Mapping[str, Threshold], windows: RuleWindows | None = None, *, source: str = "") -> str:
    """`render_rules` as the text of a Prometheus rules file, with a header saying where it came from."""
    skipped = sorted(set(thresholds) - set(RENDERED_METRICS))
    header = [
        f"# Prometheus rules generated by `qrbench alerts render`{f' from {source}' if source else ''}.",
        "# Check with `promtool check rules FILE`; warning = past the target, critical = past the threshold.",
    ]
    if skipped:
        header.append(f"# Not rendered (judged by the load study instead): {', '.join(skipped)}.")
    body = yaml.safe_dump(render_rules(thresholds, windows), sort_keys=False, width=1000)
    return "\n".join(header) + "\n" + body
