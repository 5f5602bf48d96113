"""MetricsSampler against the real reference service, and its pure helpers on fixed data."""

import math
import socket
import time

import httpx
import numpy as np
import pandas as pd
import pytest

import qrbench.monitor as monitor
from qrbench.load import start_stub_server
from qrbench.monitor import METRIC_COLUMNS, MetricsSampler, rates, sample_key, summarize_scrape

SCRAPE = {
    sample_key("qrbench_requests_total", {"endpoint": "/v1/rerank", "method": "hybrid", "status": "200"}): 7.0,
    sample_key("qrbench_requests_total", {"endpoint": "/v1/similarity", "method": "quantum", "status": "200"}): 3.0,
    sample_key("qrbench_requests_total", {"endpoint": "/v1/rerank", "method": "", "status": "422"}): 2.0,
    sample_key("qrbench_requests_total", {"endpoint": "/v1/rerank", "method": "hybrid", "status": "503"}): 1.0,
    sample_key("qrbench_requests_created", {"endpoint": "/v1/rerank", "method": "hybrid", "status": "200"}): 1.7e9,
    sample_key("qrbench_quantum_computation_seconds_sum", {"backend": "exact"}): 0.25,
    sample_key("qrbench_quantum_computation_seconds_count", {"backend": "exact"}): 10.0,
    sample_key("qrbench_quantum_computation_seconds_bucket", {"backend": "exact", "le": "0.1"}): 10.0,
    sample_key("qrbench_classical_fallbacks_total", {"reason": "timeout"}): 1.0,
    sample_key("qrbench_classical_fallbacks_total", {"reason": "error"}): 2.0,
    sample_key("qrbench_requests_in_flight"): 4.0,
    sample_key("qrbench_embedding_cache_hits_total"): 5.0,
    sample_key("qrbench_embedding_cache_misses_total"): 15.0,
    sample_key("process_resident_memory_bytes"): 6e8,
    sample_key("process_cpu_seconds_total"): 12.5,
}


def test_exports_are_complete():
    assert {"MetricsSampler", "rates", "summarize_scrape", "METRIC_COLUMNS"} <= set(monitor.__all__)
    for name in monitor.__all__:
        assert hasattr(monitor, name)


def test_summarize_sums_label_sets_and_splits_status_classes():
    row = summarize_scrape(SCRAPE)
    assert set(row) == set(METRIC_COLUMNS) - {"t", "t_unix"}
    assert row["requests_total"] == 13 and row["ok_total"] == 10
    assert row["errors_4xx_total"] == 2 and row["errors_5xx_total"] == 1
    assert row["fallbacks_total"] == 3 and row["in_flight"] == 4
    assert row["quantum_seconds_sum"] == 0.25 and row["quantum_seconds_count"] == 10
    assert row["embedding_cache_hits"] == 5 and row["embedding_cache_misses"] == 15
    assert row["rss_bytes"] == 6e8 and row["cpu_seconds"] == 12.5
    # Exported only once non-zero by a qrbench service: absent means 0 there.
    assert row["rejected_total"] == 0 and row["similarity_cache_hits"] == 0


def test_summarize_of_a_foreign_target_leaves_unknown_columns_nan():
    row = summarize_scrape({sample_key("process_resident_memory_bytes"): 1e6, sample_key("http_total"): 3.0})
    assert row["rss_bytes"] == 1e6
    assert math.isnan(row["requests_total"]) and math.isnan(row["fallbacks_total"]) and math.isnan(row["in_flight"])


def _frame(**columns):
    n = len(next(iter(columns.values())))
    base = {c: np.zeros(n) for c in METRIC_COLUMNS}
    base["t"] = np.arange(n, dtype=float)
    base["t_unix"] = 1000.0 + 2.0 * np.arange(n)
    base.update({k: np.asarray(v, dtype=float) for k, v in columns.items()})
    return pd.DataFrame(base)


def test_rates_are_deltas_over_the_interval():
    f = _frame(
        requests_total=[0, 10, 30],
        ok_total=[0, 8, 28],
        fallbacks_total=[0, 2, 2],
        similarity_cache_hits=[0, 1, 4],
        similarity_cache_misses=[0, 3, 4],
        quantum_seconds_sum=[0, 0.1, 0.1],
        quantum_seconds_count=[0, 4, 4],
        cpu_seconds=[1, 2, 2.5],
        in_flight=[0, 3, 1],
        rss_bytes=[1, 2, 3],
    )
    r = rates(f)
    assert len(r) == 2 and list(r["t_unix"]) == [1002, 1004] and list(r["dt_s"]) == [2, 2]
    assert list(r["requests_per_s"]) == [5, 10] and list(r["ok_per_s"]) == [4, 10]
    assert r["fallback_rate"].tolist() == [0.25, 0.0]
    assert r["similarity_cache_hit_rate"].tolist() == [0.25, 0.75]
    assert r["quantum_ms_mean"].iloc[0] == pytest.approx(25.0) and math.isnan(r["quantum_ms_mean"].iloc[1])
    assert r["cpu_percent"].tolist() == [50, 25]
    assert r["in_flight"].tolist() == [3, 1] and r["rss_bytes"].tolist() == [2, 3]
    assert r["embedding_cache_hit_rate"].isna().all()  # no lookups: no rate, not 0
    assert rates(f.assign(phase="steady")).equals(r)  # extra columns (e.g. a phase label) are ignored


def test_rates_of_a_restarted_counter_are_nan_and_short_frames_empty():
    r = rates(_frame(requests_total=[5, 9, 2, 4]))
    assert r["requests_per_s"].iloc[0] == 2 and math.isnan(r["requests_per_s"].iloc[1])
    assert r["requests_per_s"].iloc[2] == 1
    assert rates(_frame(requests_total=[5])).empty and "quantum_ms_mean" in rates(_frame(requests_total=[5]))


def test_sampler_follows_the_real_service(make_service):
    url, _app = make_service()
    with MetricsSampler(url, interval_s=0.2) as sampler:
        time.sleep(0.3)
        with httpx.Client(base_url=url, timeout=60) as client:
            r1 = client.post("/v1/similarity", json={"text1": "a red fox", "text2": "a brown dog", "method": "quantum"})
            rerank = {"query": "fox", "candidates": ["fox den", "tax law"], "method": "hybrid"}
            r2 = client.post("/v1/rerank", json=rerank)
            r3 = client.post("/v1/rerank", json={"query": "fox", "method": "hybrid"})  # no candidates: 422
        assert (r1.status_code, r2.status_code, r3.status_code) == (200, 200, 422)
        time.sleep(0.5)
    f = sampler.frame()
    assert list(f.columns) == list(METRIC_COLUMNS) and len(f) >= 3 and f["t_unix"].is_monotonic_increasing
    first, last = f.iloc[0], f.iloc[-1]
    assert first["requests_total"] == 0 and last["requests_total"] == 3
    assert last["ok_total"] == 2 and last["errors_4xx_total"] == 1 and last["errors_5xx_total"] == 0
    assert last["quantum_seconds_count"] >= 2 and last["quantum_seconds_sum"] > 0
    lookups = ["embedding_cache_hits", "embedding_cache_misses"]
    assert last[lookups].sum() > first[lookups].sum()  # the model is shared: counts start where others left them
    assert last["in_flight"] == 0 and last["fallbacks_total"] == 0 and last["rss_bytes"] > 1e8
    assert last["cpu_seconds"] >= first["cpu_seconds"] > 0
    # Cache sizes (the soak's leak analysis waits for them to stop growing) and the admission counters.
    assert last["similarity_cache_entries"] > first["similarity_cache_entries"]
    assert last["similarity_cache_bytes"] > first["similarity_cache_bytes"]
    assert last["embedding_cache_bytes"] > 0 and last["admission_shed_total"] == 0
    r = rates(f)
    assert (r["requests_per_s"] * r["dt_s"]).sum() == pytest.approx(3)
    assert r["quantum_ms_mean"].dropna().gt(0).any()


def test_a_target_without_metrics_gives_an_empty_frame(tmp_path):
    with start_stub_server() as url, MetricsSampler(url, interval_s=0.1) as sampler:
        time.sleep(0.35)
    assert sampler.frame().empty and list(sampler.frame().columns) == list(METRIC_COLUMNS)
    assert sampler.n_failed >= 2 and rates(sampler.frame()).empty


def test_an_unreachable_target_gives_an_empty_frame():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with MetricsSampler(f"http://127.0.0.1:{port}", interval_s=0.1, timeout_s=0.5) as sampler:
        time.sleep(0.25)
    assert sampler.frame().empty and sampler.n_failed >= 2


def test_interval_must_be_positive():
    with pytest.raises(ValueError, match="interval_s"):
        MetricsSampler("http://127.0.0.1:1", interval_s=0)
