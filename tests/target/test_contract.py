"""The HTTP contract against a real uvicorn on loopback with the real model."""

from __future__ import annotations

import concurrent.futures

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

DOCS = [
    "The statute of limitations for breach of contract claims is six years in many jurisdictions.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "A contract claim must be filed before the limitation period expires, or it is barred.",
    "Kubernetes schedules containers onto nodes according to resource requests.",
]
QUERY = "How long do I have to sue for breach of contract?"


def post(url: str, path: str, **json) -> httpx.Response:
    return httpx.post(url + path, json=json, timeout=60)


@pytest.mark.parametrize("method", ["classical", "quantum", "hybrid"])
def test_rerank_ranks_relevant_documents_first(service, method):
    url, _ = service
    r = post(url, "/v1/rerank", query=QUERY, candidates=DOCS, top_k=10, method=method)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["method_used"] == method
    results = body["results"]
    assert [x["rank"] for x in results] == [1, 2, 3, 4]  # top_k clipped to the candidate count
    scores = [x["similarity_score"] for x in results]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert {results[0]["text"], results[1]["text"]} == {DOCS[0], DOCS[2]}
    assert body["computation_time_ms"] > 0
    assert body["query_metadata"]["classical_fallback"] is False
    assert body["query_metadata"]["candidates"] == 4


def test_rerank_top_k_limits_results(service):
    url, _ = service
    body = post(url, "/v1/rerank", query=QUERY, candidates=DOCS, top_k=2, method="classical").json()
    assert len(body["results"]) == 2 and body["query_metadata"]["top_k"] == 2


@pytest.mark.parametrize("method", ["classical", "quantum", "hybrid"])
def test_similarity_of_identical_texts_is_one(service, method):
    url, _ = service
    body = post(url, "/v1/similarity", text1=DOCS[0], text2=DOCS[0], method=method).json()
    assert body["similarity_score"] == pytest.approx(1.0, abs=1e-5)
    assert body["method_used"] == method
    related = post(url, "/v1/similarity", text1=QUERY, text2=DOCS[2], method=method).json()["similarity_score"]
    unrelated = post(url, "/v1/similarity", text1=QUERY, text2=DOCS[1], method=method).json()["similarity_score"]
    assert 0.0 <= unrelated < related < 1.0


def test_batch_similarity_threshold_and_return_all(service):
    url, _ = service
    all_ = post(url, "/v1/batch-similarity", query=QUERY, candidates=DOCS, method="classical", return_all=True).json()
    assert all_["returned"] == 4 and all_["total_candidates"] == 4
    cut = sorted(x["similarity_score"] for x in all_["results"])[2]
    some = post(url, "/v1/batch-similarity", query=QUERY, candidates=DOCS, method="classical", threshold=cut).json()
    assert some["returned"] == 2
    assert all(x["similarity_score"] >= cut for x in some["results"])


BAD_INPUTS = [
    ("/v1/rerank", {"query": "", "candidates": ["a"]}, "query"),
    ("/v1/rerank", {"query": "   ", "candidates": ["a"]}, "query"),
    ("/v1/rerank", {"query": "q", "candidates": []}, "candidates"),
    ("/v1/rerank", {"query": "q", "candidates": ["doc"] * 1001}, "candidates"),
    ("/v1/rerank", {"query": "q" * 10_001, "candidates": ["a"]}, "query"),
    ("/v1/rerank", {"query": "q", "candidates": ["a", "x" * 50_001]}, "candidates"),
    ("/v1/rerank", {"query": "q", "candidates": ["a", " \n"]}, "candidates"),
    ("/v1/rerank", {"query": "q", "candidates": "not a list"}, "candidates"),
    ("/v1/rerank", {"query": 42, "candidates": ["a"]}, "query"),
    ("/v1/rerank", {"query": "q", "candidates": ["a"], "method": "magic"}, "method"),
    ("/v1/rerank", {"query": "q", "candidates": ["a"], "top_k": 0}, "top_k"),
    ("/v1/rerank", {"query": "q", "candidates": ["a"], "top_k": 101}, "top_k"),
    ("/v1/rerank", {"query": "q", "candidates": ["a"], "metod": "quantum"}, "metod"),
    ("/v1/rerank", {"candidates": ["a"]}, "query"),
    ("/v1/similarity", {"text1": "a", "text2": "b" * 5001}, "text2"),
    ("/v1/similarity", {"text1": "a"}, "text2"),
    ("/v1/batch-similarity", {"query": "q", "candidates": ["a"] * 101}, "candidates"),
    ("/v1/batch-similarity", {"query": "q", "candidates": ["a"], "threshold": 1.5}, "threshold"),
]


@pytest.mark.parametrize(("path", "payload", "field"), BAD_INPUTS)
def test_bad_input_is_a_422_naming_the_field(service, path, payload, field):
    url, _ = service
    r = httpx.post(url + path, json=payload, timeout=30)
    assert r.status_code == 422, r.text
    assert field in r.json()["error"]


def test_malformed_json_is_a_4xx(service):
    url, _ = service
    r = httpx.post(
        url + "/v1/rerank",
        content=b'{"query": "q", "candidates": [',
        timeout=30,
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 422
    assert "json" in r.json()["error"].lower()


def test_health_endpoints(service):
    url, _ = service
    assert httpx.get(url + "/health/live").status_code == 200
    assert httpx.get(url + "/health/ready").json() == {"status": "ready"}
    assert httpx.get(url + "/health").json()["status"] == "healthy"


def scrape(url: str) -> dict[str, float]:
    """Every sample as 'name{label=value,...}' -> value."""
    out = {}
    for family in text_string_to_metric_families(httpx.get(url + "/metrics").text):
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            out[f"{s.name}{{{labels}}}"] = s.value
    return out


def test_metrics_count_requests_caches_and_memory(make_service):
    url, _ = make_service()  # a fresh service: counters start at zero
    docs = [f"{d} (metrics test)" for d in DOCS]
    for _ in range(2):
        assert post(url, "/v1/rerank", query=QUERY + "?", candidates=docs, method="quantum").status_code == 200
    post(url, "/v1/rerank", query="", candidates=docs)
    m = scrape(url)
    assert m["qrbench_requests_total{endpoint=/v1/rerank,method=quantum,status=200}"] == 2
    assert m["qrbench_requests_total{endpoint=/v1/rerank,method=,status=422}"] == 1
    assert m["qrbench_request_duration_seconds_count{endpoint=/v1/rerank,method=quantum}"] == 2
    assert m["qrbench_batch_computation_seconds_count{method=quantum}"] == 2
    assert m["qrbench_quantum_computation_seconds_count{backend=exact}"] == 1  # the second was cached
    # The second request found all four pairs in the similarity cache.
    assert m["qrbench_similarity_cache_hits_total{}"] >= 4
    assert m["qrbench_similarity_cache_misses_total{}"] >= 4
    assert m["qrbench_embedding_cache_misses_total{}"] >= 1
    assert m["qrbench_requests_in_flight{}"] == 0
    assert m["process_resident_memory_bytes{}"] > 50e6
    # The micro-batcher (on by default) encoded the four new documents in shared passes, each text padded to
    # a multiple of 16 tokens.
    texts, batches = m["qrbench_embed_texts_total{}"], m["qrbench_embed_batches_total{}"]
    assert texts >= 4 and 1 <= batches <= texts
    assert batches <= m["qrbench_embed_passes_total{}"] <= texts
    assert m["qrbench_embed_padded_tokens_total{}"] >= 16 * texts


def test_api_key_required_when_configured(make_service):
    url, _ = make_service(api_key="s3cret")
    payload = {"text1": "a b", "text2": "a c", "method": "classical"}
    assert httpx.post(url + "/v1/similarity", json=payload).status_code == 401
    assert httpx.post(url + "/v1/similarity", json=payload, headers={"X-API-Key": "wrong"}).status_code == 401
    assert httpx.post(url + "/v1/similarity", json=payload, headers={"X-API-Key": "s3cret"}).status_code == 200
    bearer = {"Authorization": "Bearer s3cret"}
    assert httpx.post(url + "/v1/similarity", json=payload, headers=bearer).status_code == 200
    assert httpx.get(url + "/health/ready").status_code == 200  # probes need no key


def test_failing_quantum_backend_falls_back_to_classical(make_service):
    url, app = make_service()
    app.state.service.engine.quantum_fault = RuntimeError("simulated backend outage")
    body = post(url, "/v1/rerank", query=QUERY, candidates=DOCS, method="quantum").json()
    assert body["method_used"] == "classical"
    assert body["query_metadata"]["classical_fallback"] is True
    assert body["query_metadata"]["fallback_reason"] == "error: RuntimeError"
    classical = post(url, "/v1/rerank", query=QUERY, candidates=DOCS, method="classical").json()
    assert [x["similarity_score"] for x in body["results"]] == [x["similarity_score"] for x in classical["results"]]
    m = scrape(url)
    assert m["qrbench_classical_fallbacks_total{reason=error: RuntimeError}"] == 1


def test_slow_quantum_backend_past_its_budget_falls_back(make_service):
    url, _ = make_service(backend="aer", shots=200_000, quantum_budget_ms=1.0)
    body = post(url, "/v1/rerank", query=QUERY, candidates=DOCS * 20, method="hybrid").json()
    assert body["query_metadata"]["fallback_reason"] == "timeout"
    assert scrape(url)["qrbench_classical_fallbacks_total{reason=timeout}"] == 1


def test_overload_is_refused_with_503_and_retry_after(make_service):
    url, _ = make_service(max_concurrency=1, compute_threads=1, embedding_cache_size=0, similarity_cache_size=0)
    docs = [f"document number {i} about a distinct subject, with enough words to take a while" for i in range(100)]

    def one(i: int) -> httpx.Response:
        return httpx.post(url + "/v1/rerank", json={"query": f"query {i}", "candidates": docs}, timeout=60)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(one, range(8)))
    statuses = [r.status_code for r in responses]
    assert 200 in statuses and 503 in statuses, statuses
    assert set(statuses) <= {200, 503}
    refused = next(r for r in responses if r.status_code == 503)
    assert refused.headers["retry-after"] == "1"
    assert "Overloaded" in refused.json()["error"]
