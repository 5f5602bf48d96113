"""The target's /metrics on a timeline: one scrape per interval in a thread, summed into a few wide columns.

Counters stay cumulative in `MetricsSampler.frame()` (as the service reports them); `rates()` turns them into
per-interval rates and ratios. Both carry t_unix, the wall clock the client records are anchored to
(run.json's t0_unix), so the two line up.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Mapping

import numpy as np
import pandas as pd

from .prometheus import scrape

__all__ = ["MetricsSampler", "summarize_scrape", "metric_sources", "check_metric_names", "rates", "METRIC_COLUMNS"]

# Wide column -> the Prometheus sample summed over all its label sets (reference service names).
_SUMS = {
    "requests_total": "qrbench_requests_total",
    "in_flight": "qrbench_requests_in_flight",
    "rejected_total": "qrbench_rejected_requests_total",
    "fallbacks_total": "qrbench_classical_fallbacks_total",
    "embedding_cache_hits": "qrbench_embedding_cache_hits_total",
    "embedding_cache_misses": "qrbench_embedding_cache_misses_total",
    "similarity_cache_hits": "qrbench_similarity_cache_hits_total",
    "similarity_cache_misses": "qrbench_similarity_cache_misses_total",
    "quantum_seconds_sum": "qrbench_quantum_computation_seconds_sum",
    "quantum_seconds_count": "qrbench_quantum_computation_seconds_count",
    "request_seconds_sum": "qrbench_request_duration_seconds_sum",
    "request_seconds_count": "qrbench_request_duration_seconds_count",
    "embedding_cache_bytes": "qrbench_embedding_cache_bytes",
    "embedding_cache_entries": "qrbench_embedding_cache_entries",
    "similarity_cache_bytes": "qrbench_similarity_cache_bytes",
    "similarity_cache_entries": "qrbench_similarity_cache_entries",
    "admission_shed_total": "qrbench_admission_shed_total",
    "admission_client_gone_total": "qrbench_admission_client_gone_total",
    "rss_bytes": "process_resident_memory_bytes",
    "cpu_seconds": "process_cpu_seconds_total",
}
# Standard names read when the qrbench one is absent: OpenTelemetry's semantic conventions, then
# prometheus-fastapi-instrumentator's (the Prometheus client's process_* are already the defaults above).
_STANDARD = {
    "request_seconds_sum": ("http_server_request_duration_seconds_sum", "http_request_duration_seconds_sum"),
    "request_seconds_count": ("http_server_request_duration_seconds_count", "http_request_duration_seconds_count"),
    "requests_total": ("http_requests_total",),
    "in_flight": ("http_server_active_requests", "http_requests_inprogress"),
}
# Short names a parameter file may map (`target: {metrics: {cache_hits: my_cache_hits_total}}`); a histogram
# name maps both its _sum and _count.
_ALIASES = {
    "cache_hits": ("embedding_cache_hits", "similarity_cache_hits"),
    "cache_misses": ("embedding_cache_misses", "similarity_cache_misses"),
    "cache_entries": ("embedding_cache_entries", "similarity_cache_entries"),
    "quantum_seconds": ("quantum_seconds_sum", "quantum_seconds_count"),
    "request_seconds": ("request_seconds_sum", "request_seconds_count"),
    "cpu": ("cpu_seconds",),
    "memory": ("rss_bytes",),
}
# qrbench_requests_total by the first digit of its status label.
_STATUS_CLASSES = {"ok_total": "2", "errors_4xx_total": "4", "errors_5xx_total": "5"}
# Samples a qrbench service exports only once they are non-zero (labelled counters, histograms): 0 when absent.
# Gauges, and what only the reference service exports, stay missing (NaN) when a target does not export them:
# a zero would read as a measurement (an empty cache, nothing shed).
_ZERO_WHEN_ABSENT = frozenset(_SUMS) - {
    "in_flight",
    "rss_bytes",
    "cpu_seconds",
    "embedding_cache_bytes",
    "embedding_cache_entries",
    "similarity_cache_bytes",
    "similarity_cache_entries",
    "admission_shed_total",
    "admission_client_gone_total",
} | frozenset(_STATUS_CLASSES)

METRIC_COLUMNS: tuple[str, ...] = ("t", "t_unix", *_SUMS, *_STATUS_CLASSES)

_STATUS = re.compile(r"[{,]status=(\d)")


def check_metric_names(names: Mapping[str, str] | None) -> dict[str, tuple[str, ...]]:
    """A parameter file's metric mapping ({column or alias: metric name}) as {column: (metric name,)};
    ValueError naming a key that is neither a column of METRIC_COLUMNS nor an alias."""
    out: dict[str, tuple[str, ...]] = {}
    for key, name in (names or {}).items():
        if key in _ALIASES:
            columns = _ALIASES[key]
        elif key in _SUMS:
            columns = (key,)
        else:
            raise ValueError(
                f"metrics: {key!r} is not a metric qrbench reads; use one of {', '.join((*_ALIASES, *_SUMS))}."
            )
        for column in columns:
            suffix = column.rsplit("_", 1)[-1]
            out[column] = (f"{name}_{suffix}" if suffix in ("sum", "count") and not name.endswith(suffix) else name,)
    return out


def _candidates(column: str, mapped: Mapping[str, tuple[str, ...]]) -> tuple[str, ...]:
    return mapped.get(column) or (_SUMS[column], *_STANDARD.get(column, ()))


def metric_sources(samples: Mapping[str, float], names: Mapping[str, str] | None = None) -> dict[str, str]:
    """{column: the metric name it is read from} for the columns this scrape has (qrbench's name, else a
    standard one, or the parameter file's mapping)."""
    mapped = check_metric_names(names)
    present = {key.split("{", 1)[0] for key in samples}
    out = {}
    for column in _SUMS:
        found = next((n for n in _candidates(column, mapped) if n in present), None)
        if found:
            out[column] = found
    return out


def summarize_scrape(samples: Mapping[str, float], names: Mapping[str, str] | None = None) -> dict[str, float]:
    """One scrape (`scrape()`'s {sample_key: value}) as the wide columns of METRIC_COLUMNS, less t and t_unix.

    Each column is read from qrbench's metric, else from a standard name (OpenTelemetry, the instrumentator),
    or from the name `names` maps it to. A column whose samples are absent is NaN, except the qrbench
    counters and histograms, which a qrbench service exports only once they are non-zero: for such a
    service they are 0.
    """
    totals: dict[str, float] = {}
    sources = metric_sources(samples, names)
    by_name: dict[str, list[str]] = {}
    for column, name in sources.items():
        by_name.setdefault(name, []).append(column)
    requests_metric = sources.get("requests_total", "qrbench_requests_total")
    is_qrbench = False
    for key, value in samples.items():
        name = key.split("{", 1)[0]
        is_qrbench = is_qrbench or name.startswith("qrbench_")
        for column in by_name.get(name, ()):
            totals[column] = totals.get(column, 0.0) + value
        if name == requests_metric:
            match = _STATUS.search(key)
            for cls, digit in _STATUS_CLASSES.items():
                if match and match.group(1) == digit:
                    totals[cls] = totals.get(cls, 0.0) + value
    out = {}
    for column in (*_SUMS, *_STATUS_CLASSES):
        default = 0.0 if is_qrbench and column in _ZERO_WHEN_ABSENT else math.nan
        out[column] = totals.get(column, default)
    return out


class MetricsSampler:
    """Scrapes `url`/metrics every `interval_s` seconds while running (a context manager, like ProcessSampler).

    A scrape that fails or finds no Prometheus metrics adds no row, so a target without /metrics gives an
    empty frame. timeout_s: seconds allowed per scrape. t0: a time.perf_counter() value that column t counts
    from (default: construction time).
    """

    def __init__(
        self,
        url: str,
        *,
        interval_s: float = 1.0,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = 2.0,
        t0: float | None = None,
        names: Mapping[str, str] | None = None,
    ) -> None:
        if not (isinstance(interval_s, int | float) and interval_s > 0 and math.isfinite(interval_s)):
            raise ValueError(f"interval_s must be a positive number of seconds, not {interval_s!r}.")
        self.url = url
        self.interval_s = float(interval_s)
        self.headers = dict(headers) if headers else None
        self.timeout_s = timeout_s
        self.t0 = time.perf_counter() if t0 is None else t0
        self.rows: list[dict[str, float]] = []
        self.n_failed = 0  # scrapes that found nothing (target down, no /metrics, not Prometheus text)
        self.names = dict(names or {})
        check_metric_names(self.names)
        self.sources: dict[str, str] = {}  # column -> the metric it was read from (for the reports)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="metrics-sampler", daemon=True)

    def sample(self) -> dict[str, float] | None:
        """Scrape once; append and return the row, or None when the scrape found no metrics."""
        t, t_unix = time.perf_counter() - self.t0, time.time()
        samples = scrape(self.url, timeout_s=self.timeout_s, headers=self.headers)
        if not samples:
            self.n_failed += 1
            return None
        self.sources.update(metric_sources(samples, self.names))
        row = {"t": t, "t_unix": t_unix, **summarize_scrape(samples, self.names)}
        self.rows.append(row)
        return row

    def _run(self) -> None:
        self.sample()
        while not self._stop.wait(self.interval_s):
            self.sample()

    def start(self) -> MetricsSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread and take a last sample, so the timeline covers the end of the run."""
        self._stop.set()
        self._thread.join(self.timeout_s + 5)
        self.sample()

    def __enter__(self) -> MetricsSampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def frame(self) -> pd.DataFrame:
        """The timeline so far, one row per successful scrape, columns METRIC_COLUMNS (counters cumulative)."""
        return pd.DataFrame(list(self.rows), columns=list(METRIC_COLUMNS))


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    return (num / den.where(den > 0)).astype(float)


def rates(frame: pd.DataFrame) -> pd.DataFrame:
    """Per-interval rates between consecutive rows of a MetricsSampler frame, stamped at the interval's end.

    Columns: t, t_unix, dt_s, requests_per_s, ok_per_s, errors_4xx_per_s, errors_5xx_per_s, rejected_per_s,
    fallbacks_per_s, fallback_rate (fallbacks per 2xx answer), embedding_cache_hit_rate and
    similarity_cache_hit_rate (hits / lookups in the interval), quantum_ms_mean (mean quantum computation
    time in the interval, ms), server_ms_mean (mean request duration measured by the service, ms),
    cpu_percent (of one core), in_flight, rss_bytes. Ratios with nothing to divide are NaN; an interval in
    which a counter went down (the service restarted) is NaN for that counter.
    """
    columns = [
        "t",
        "t_unix",
        "dt_s",
        "requests_per_s",
        "ok_per_s",
        "errors_4xx_per_s",
        "errors_5xx_per_s",
        "rejected_per_s",
        "fallbacks_per_s",
        "fallback_rate",
        "embedding_cache_hit_rate",
        "similarity_cache_hit_rate",
        "quantum_ms_mean",
        "server_ms_mean",
        "cpu_percent",
        "in_flight",
        "rss_bytes",
    ]
    if len(frame) < 2:
        return pd.DataFrame(columns=columns, dtype=float)
    f = frame.reindex(columns=list(METRIC_COLUMNS)).astype(float).sort_values("t_unix").reset_index(drop=True)
    d = f.diff().iloc[1:]
    d = d.where(d >= 0)  # a counter that went down was reset: that interval says nothing
    dt = f["t_unix"].diff().iloc[1:]
    dt = dt.where(dt > 0)
    out = pd.DataFrame({"t": f["t"].iloc[1:], "t_unix": f["t_unix"].iloc[1:], "dt_s": dt})
    for src, dst in (
        ("requests_total", "requests_per_s"),
        ("ok_total", "ok_per_s"),
        ("errors_4xx_total", "errors_4xx_per_s"),
        ("errors_5xx_total", "errors_5xx_per_s"),
        ("rejected_total", "rejected_per_s"),
        ("fallbacks_total", "fallbacks_per_s"),
    ):
        out[dst] = d[src] / dt
    out["fallback_rate"] = _ratio(d["fallbacks_total"], d["ok_total"])
    for cache in ("embedding", "similarity"):
        hits, misses = d[f"{cache}_cache_hits"], d[f"{cache}_cache_misses"]
        out[f"{cache}_cache_hit_rate"] = _ratio(hits, hits + misses)
    out["quantum_ms_mean"] = 1000.0 * _ratio(d["quantum_seconds_sum"], d["quantum_seconds_count"])
    out["server_ms_mean"] = 1000.0 * _ratio(d["request_seconds_sum"], d["request_seconds_count"])
    out["cpu_percent"] = 100.0 * d["cpu_seconds"] / dt
    out["in_flight"] = f["in_flight"].iloc[1:]
    out["rss_bytes"] = f["rss_bytes"].iloc[1:]
    return out[columns].astype(np.float64).reset_index(drop=True)
