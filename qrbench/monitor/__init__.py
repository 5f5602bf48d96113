"""Server-side monitoring during a run: the target's process tree and its /metrics."""

from .contention import CONTENTION_COLUMNS, ContentionSampler, own_roots
from .metrics_sampler import METRIC_COLUMNS, MetricsSampler, rates, summarize_scrape
from .noise import calibration_timings
from .process import ProcessSampler, pid_listening_on
from .prometheus import counter_delta, sample_key, scrape

__all__ = [
    "ContentionSampler",
    "CONTENTION_COLUMNS",
    "own_roots",
    "calibration_timings",
    "ProcessSampler",
    "pid_listening_on",
    "scrape",
    "sample_key",
    "counter_delta",
    "MetricsSampler",
    "METRIC_COLUMNS",
    "summarize_scrape",
    "rates",
]
