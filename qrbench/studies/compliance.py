"""The compliance table every study builds: one row per PRD target judged (`COLUMNS`), from `stats.judge`'s
judgements. The thresholds-file key stays in the `metric` column (summary.json, comparisons with earlier runs);
tables, headlines and the executive report show `label` (`LABELS`: the words for each key).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from typing import Any

import pandas as pd

from .. import stats

__all__ = ["COLUMNS", "LABELS", "metric_label", "compliance_frame", "compliance_records"]

COLUMNS = (
    "metric",
    "label",
    "value",
    "low",
    "high",
    "n",
    "target",
    "threshold",
    "unit",
    "verdict",
    "workload",
    "direction",
    "statistic",
    "kind",
    "reason",
    "machine_busy",
)

# Thresholds-file key -> what a reader calls it; "{statistic}" is the statistic thresholds.yaml judges it on.
# Studies that name a judgement in words already (baseline, bottlenecks: "rerank 50 documents (exact) p95")
# keep their name as its label.
LABELS: dict[str, str] = {
    "p50_ms": "{statistic} latency of all requests",
    "p95_ms": "{statistic} latency of all requests",
    "p99_ms": "{statistic} latency of all requests",
    "similarity_ms": "{statistic} latency of similarity requests",
    "rerank_50_ms": "{statistic} latency of reranks of 25-50 documents",
    "kept_up": "share of the offered rate kept up with",
    "throughput_rps": "capacity (throughput within the latency target)",
    "success_ratio": "share of requests answered successfully",
    "cpu_utilization": "server CPU share of the machine",
    "memory_gb": "peak server memory",
    "quantum_time_ms": "mean quantum time per request",
    "classical_fallback_rate": "share of reranks that fell back to classical",
    "cache_hit_rate": "embedding cache hit rate",
    "error_rate (stress limit)": "error rate (stress limit)",
    "rss_growth_mb_per_h": "memory growth after the caches filled",
}


def metric_label(metric: str, statistic: str = "") -> str:
    """The words a report shows for `metric` (a thresholds-file key, or a study's own readable name)."""
    # A latency target without a statistic is judged on the p95 (studies.analysis.latency_statistic).
    return LABELS.get(metric, metric).format(statistic=statistic or "p95")


def compliance_frame(
    judgements: Mapping[str, stats.Judgement], *, excused: Collection[str] = (), workload_in_reason: bool = True
) -> pd.DataFrame:
    """One row per judged metric (`COLUMNS`); `excused`: the metrics a busy machine made undecidable.
    `workload_in_reason=False` drops judge()'s "[judged by ...]" from the reason (the workload has a column)."""
    rows = []
    for name, j in judgements.items():
        # judge()'s sentence without its leading thresholds-file key ("p50_ms: "): the label names the metric.
        reason = re.sub(r"^[a-z][a-z0-9_]*: ", "", j.reason)
        if not workload_in_reason:
            reason = reason.replace(f" [judged by {j.workload}]", "")
        rows.append(
            {
                "metric": name,
                "label": metric_label(name, j.statistic),
                "value": j.estimate.value,
                "low": j.estimate.low,
                "high": j.estimate.high,
                "n": j.estimate.n,
                "target": j.target,
                "threshold": j.threshold,
                "unit": j.unit,
                "verdict": str(j.verdict),
                "workload": j.workload,
                "direction": j.direction,
                "statistic": j.statistic,
                "kind": j.kind,
                "reason": reason,
                "machine_busy": name in excused,
            }
        )
    return pd.DataFrame(rows, columns=list(COLUMNS))


def compliance_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of summary.json's "compliance" (the executive report's contract)."""
    return frame.reindex(columns=list(COLUMNS)).to_dict(orient="records")
