"""What qrbench reads from /metrics: its own names, else the standard ones, else the parameter file's mapping."""

from __future__ import annotations

import math

import pytest

from qrbench.deploy import TargetParams
from qrbench.errors import ParameterError
from qrbench.monitor import check_metric_names, metric_sources, summarize_scrape


def test_opentelemetry_and_instrumentator_names_are_read_when_qrbench_names_are_absent():
    otel = {
        "http_server_request_duration_seconds_sum{route=/v1/rerank}": 3.0,
        "http_server_request_duration_seconds_count{route=/v1/rerank}": 12.0,
        "http_server_active_requests{}": 2.0,
        "process_resident_memory_bytes{}": 5e7,
    }
    row = summarize_scrape(otel)
    assert row["request_seconds_sum"] == 3.0 and row["request_seconds_count"] == 12.0
    assert row["in_flight"] == 2.0 and row["rss_bytes"] == 5e7
    assert math.isnan(row["embedding_cache_hits"])  # not a qrbench service: absent stays missing, not 0
    assert metric_sources(otel)["request_seconds_sum"] == "http_server_request_duration_seconds_sum"
    inst = {"http_requests_total{handler=/v1/rerank,status=2xx}": 7.0, "http_requests_total{status=5xx}": 1.0}
    row = summarize_scrape(inst)
    assert row["requests_total"] == 8.0 and row["ok_total"] == 7.0 and row["errors_5xx_total"] == 1.0


def test_a_mapping_names_other_metrics():
    samples = {"my_hits_total{}": 9.0, "my_misses_total{}": 1.0, "my_latency_seconds_sum{}": 2.0}
    names = {"cache_hits": "my_hits_total", "cache_misses": "my_misses_total", "request_seconds": "my_latency_seconds"}
    row = summarize_scrape(samples, names)
    assert row["embedding_cache_hits"] == 9.0 and row["embedding_cache_misses"] == 1.0
    assert row["request_seconds_sum"] == 2.0
    assert metric_sources(samples, names)["embedding_cache_hits"] == "my_hits_total"


def test_an_unknown_key_is_named():
    with pytest.raises(ValueError, match="'cache_hitz'"):
        check_metric_names({"cache_hitz": "x"})
    with pytest.raises(ParameterError, match="target.metrics: 'cache_hitz'"):
        TargetParams(metrics={"cache_hitz": "x"})
