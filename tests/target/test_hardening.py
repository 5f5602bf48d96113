"""The service under hostile input (issue 12): real uvicorn on loopback, real model."""

from __future__ import annotations

import json
import random
import socket

import httpx
import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from qrbench.target.cache import LRUCache, key_digest
from qrbench.target.schemas import CANDIDATE_MAX_CHARS, MAX_BODY_BYTES

WORDS = (
    "contract",
    "limitation",
    "glucose",
    "kubernetes",
    "statute",
    "energy",
    "claim",
    "container",
    "node",
    "court",
    "light",
    "period",
    "schedule",
    "resource",
    "breach",
    "chemical",
)


def words(rng: random.Random, chars: int) -> str:
    out, size = [], 0
    while size < chars:
        w = rng.choice(WORDS)
        out.append(w)
        size += len(w) + 1
    return " ".join(out)[:chars]


def samples(url: str, headers: dict[str, str] | None = None) -> dict[str, float]:
    out = {}
    for family in text_string_to_metric_families(httpx.get(url + "/metrics", headers=headers).text):
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            out[f"{s.name}{{{labels}}}"] = s.value
    return out


def raw_exchange(url: str, head: bytes, body_chunks: list[bytes] = ()) -> bytes:
    """Send a hand-made request over a socket and return everything the server sent until it closed."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head)
        for chunk in body_chunks:
            sock.sendall(chunk)
        received = b""
        try:
            while data := sock.recv(65536):
                received += data
        except ConnectionResetError:
            pass  # the server closed with our unread bytes pending: what it sent first is still here
    return received


# -- 1. metrics labels ----------------------------------------------------------------------


def test_unknown_paths_create_no_metric_series(make_service):
    url, _ = make_service(api_key="s3cret")
    rng = random.Random(12)
    key = {"X-API-Key": "s3cret"}

    def hammer(client: httpx.Client, n: int) -> None:
        for _ in range(n):
            token = "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=12))
            client.post(f"/v1/{token}", json={})  # 401 without the key
            client.post(f"/v1/{token}", json={}, headers=key)  # 404 with it
            client.get(f"/{token}")  # 404, no key needed outside /v1/

    with httpx.Client(base_url=url, timeout=30) as client:
        hammer(client, 20)
        before = samples(url)
        hammer(client, 300)
    after = samples(url)
    assert set(after) == set(before), sorted(set(after) - set(before))[:5]
    assert after["qrbench_requests_total{endpoint=unmatched,method=,status=401}"] == 320
    assert after["qrbench_requests_total{endpoint=unmatched,method=,status=404}"] == 640


# -- 2. body size and deadlines -----------------------------------------------------------


def test_oversize_content_length_is_refused_before_the_body_is_sent(service):
    url, _ = service
    limit = MAX_BODY_BYTES["/v1/similarity"]
    head = (
        f"POST /v1/similarity HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {limit + 1}\r\n\r\n"
    ).encode()
    answer = raw_exchange(url, head)  # not one byte of body: the answer cannot have waited for it
    status, _, rest = answer.partition(b"\r\n")
    assert status == b"HTTP/1.1 413 Request Entity Too Large", answer[:200]
    assert str(limit).encode() in rest
    assert b"connection: close" in rest.lower()


def test_oversize_chunked_body_is_refused_while_streaming(service):
    url, _ = service
    limit = MAX_BODY_BYTES["/v1/similarity"]
    chunk = b"x" * 65536
    chunks = [b"%x\r\n%s\r\n" % (len(chunk), chunk)] * (limit // len(chunk) + 1)  # just past the limit, unfinished
    head = (
        b"POST /v1/similarity HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
    )
    answer = raw_exchange(url, head, chunks)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert str(limit).encode() in answer


def test_body_limits_follow_the_schema_constants():
    # The largest legal rerank (1000 candidates of 50,000 characters) fits, and nothing much larger.
    assert 1000 * CANDIDATE_MAX_CHARS < MAX_BODY_BYTES["/v1/rerank"] < 1000 * CANDIDATE_MAX_CHARS * 7
    assert MAX_BODY_BYTES["/v1/similarity"] < MAX_BODY_BYTES["/v1/batch-similarity"] < MAX_BODY_BYTES["/v1/rerank"]


def test_slow_drip_body_is_cut_off_while_health_answers(make_service):
    url, _ = make_service(body_timeout_s=1.0)
    host, port = url.removeprefix("http://").split(":")
    head = b"POST /v1/similarity HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    health = []
    answer = b""
    with socket.create_connection((host, int(port)), timeout=30) as sock, httpx.Client(timeout=30) as client:
        sock.sendall(head)
        sock.settimeout(0.2)
        # One byte every 0.2 s would take 200 s to finish; the server must give up long before the loop does.
        for _ in range(150):
            try:
                sock.sendall(b" ")
                answer += sock.recv(65536)
            except TimeoutError:
                health.append(client.get(url + "/health").status_code)
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            if answer.endswith(b"}"):
                break
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert b"within 1 s" in answer
    assert health and set(health) == {200}


def test_large_legal_body_is_parsed_and_answered(service):
    # 1.25 MB: past the size parsed on the event loop, so the body parser's child process validates it.
    url, _ = service
    rng = random.Random(3)
    docs = [words(rng, CANDIDATE_MAX_CHARS) for _ in range(25)]
    r = httpx.post(
        url + "/v1/batch-similarity",
        json={"query": "court claim", "candidates": docs, "method": "classical", "return_all": True},
        timeout=120,
    )
    assert r.status_code == 200, r.text
    assert r.json()["returned"] == 25
    bad = {"query": "court claim", "candidates": docs + [" "]}
    r = httpx.post(url + "/v1/batch-similarity", json=bad, timeout=120)
    assert r.status_code == 422 and "candidates.25" in r.json()["error"], r.text


@pytest.mark.parametrize(
    "junk", [b"[" + b"1," * 1_000_000 + b"1]", b'"text"', b"", b"  \n"], ids=["2MB-array", "string", "empty", "blank"]
)
def test_a_body_that_is_not_a_json_object_is_refused_unparsed(service, junk):
    url, _ = service
    r = httpx.post(url + "/v1/rerank", content=junk, headers={"content-type": "application/json"}, timeout=60)
    assert r.status_code == 422
    assert r.json()["error"] == "Invalid request: body: the body must be a JSON object."


# -- 4. caches bounded by bytes ----------------------------------------------------------


def test_cache_entries_do_not_grow_with_key_length():
    cache: LRUCache[np.ndarray] = LRUCache(100)
    batch = np.ones((64, 384), dtype=np.float32)
    rng = random.Random(4)
    for i in range(100):
        cache.put(words(rng, CANDIDATE_MAX_CHARS) + str(i), batch[i % 64])
    # A row of 384 float32 is 1,536 bytes; the 50,000-character keys and the 98 KB batch are not held.
    assert len(cache) == 100
    assert 100 * 1536 < cache.nbytes < 100 * 2048
    assert cache.get(("x", "y")) is None and cache.misses == 1


def test_cache_byte_bound_evicts_oldest():
    cache: LRUCache[tuple[float, float, float]] = LRUCache(1000, max_bytes=10_000)
    for i in range(1000):
        cache.put(("hybrid", "q", str(i)), (0.5, 0.5, 0.5))
    assert cache.nbytes <= 10_000 and 0 < len(cache) < 1000
    assert cache.get(("hybrid", "q", "999")) == (0.5, 0.5, 0.5)
    assert cache.get(("hybrid", "q", "0")) is None


def test_key_digest_separates_parts():
    assert key_digest(("ab", "c")) != key_digest(("a", "bc"))
    assert key_digest(("1", 1)) != key_digest((1, "1"))
    assert key_digest("é") == key_digest("é") and len(key_digest("x" * 50_000)) == 16


def test_cache_bytes_are_exported_for_maximum_length_texts(make_service):
    url, _ = make_service()
    rng = random.Random(5)
    docs = [words(rng, CANDIDATE_MAX_CHARS) for _ in range(4)]
    r = httpx.post(
        url + "/v1/rerank", json={"query": "breach of contract", "candidates": docs, "method": "quantum"}, timeout=120
    )
    assert r.status_code == 200, r.text
    m = samples(url)
    # Five embeddings (query + 4 documents of 50,000 characters) and four similarity entries.
    assert m["qrbench_embedding_cache_entries{}"] >= 5
    assert 1536 * 5 <= m["qrbench_embedding_cache_bytes{}"] <= 2048 * m["qrbench_embedding_cache_entries{}"]
    assert m["qrbench_similarity_cache_entries{}"] == 4
    assert 0 < m["qrbench_similarity_cache_bytes{}"] <= 512 * 4


# -- 5. a cache hit answers as the miss did ----------------------------------------------

# Fields that describe how the answer was computed this time, not the answer.
_HOW = {"computation_time_ms", "embedding_ms", "quantum_ms", "embedding_cache_hits", "similarity_cache_hits"}


def _answer(body):
    if isinstance(body, dict):
        return {k: _answer(v) for k, v in body.items() if k not in _HOW}
    if isinstance(body, list):
        return [_answer(v) for v in body]
    return body


@pytest.mark.parametrize("method", ["classical", "quantum", "hybrid"])
def test_cache_hit_answers_like_the_miss(service, method):
    url, _ = service
    pair = {
        "text1": f"cache hit test ({method}): the statute of limitations",
        "text2": "a contract claim must be filed in time",
        "method": method,
    }
    miss, hit = (httpx.post(url + "/v1/similarity", json=pair, timeout=60).json() for _ in range(2))
    assert hit["computation_details"]["similarity_cache_hits"] == 1
    assert _answer(hit) == _answer(miss)
    assert miss["computation_details"]["classical_score"] is not None
    assert (miss["computation_details"]["quantum_score"] is None) == (method == "classical")
    rerank = {
        "query": pair["text1"] + " (rerank)",
        "candidates": [pair["text2"], "glucose and light"],
        "method": method,
    }
    miss, hit = (httpx.post(url + "/v1/rerank", json=rerank, timeout=60).json() for _ in range(2))
    assert hit["query_metadata"]["similarity_cache_hits"] == 2
    assert _answer(hit) == _answer(miss)


# -- 6. what needs the key -------------------------------------------------------------------


def test_metrics_and_docs_stay_open_by_default(make_service):
    url, _ = make_service(api_key="s3cret")
    assert httpx.get(url + "/metrics").status_code == 200
    assert httpx.get(url + "/openapi.json").status_code == 200
    assert httpx.get(url + "/health").status_code == 200
    same_length = {"X-API-Key": "s3creT"}
    assert httpx.post(url + "/v1/similarity", json={"text1": "a", "text2": "b"}, headers=same_length).status_code == 401


def test_metrics_and_docs_can_require_the_key(make_service):
    url, _ = make_service(api_key="s3cret", metrics_need_key=True, docs_need_key=True)
    key = {"Authorization": "Bearer s3cret"}
    for path in ("/metrics", "/openapi.json", "/docs"):
        assert httpx.get(url + path).status_code == 401, path
        assert httpx.get(url + path, headers=key).status_code == 200, path
    for path in ("/health", "/health/live", "/health/ready"):
        assert httpx.get(url + path).status_code == 200, path


# -- 8. the schema says what the service enforces -----------------------------------------


def test_schema_publishes_item_rules_and_error_answers(service):
    url, _ = service
    spec = httpx.get(url + "/openapi.json").json()
    rerank = spec["paths"]["/v1/rerank"]["post"]
    body = rerank["requestBody"]["content"]["application/json"]["schema"]
    item = body["properties"]["candidates"]["items"]
    assert item["minLength"] == 1 and item["maxLength"] == CANDIDATE_MAX_CHARS and item["pattern"] == r"\S"
    assert {"200", "401", "408", "413", "422", "503"} <= set(rerank["responses"])
    assert rerank["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/RerankResponse")
    assert list(spec["paths"]["/metrics"]["get"]["responses"]["200"]["content"]) == ["text/plain"]
    r = httpx.post(
        url + "/v1/rerank",
        content=json.dumps({"query": "q", "candidates": [""]}),
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert r.status_code == 422 and "candidates.0" in r.json()["error"]


def test_metrics_scrape_is_plain_text(service):
    url, _ = service
    r = httpx.get(url + "/metrics")
    assert r.headers["content-type"].startswith("text/plain")


# -- 3. memory returned after a burst ---------------------------------------------------------


def test_heap_is_trimmed_once_per_idle_period_and_never_while_serving():
    """The idle trimmer (app._trim_when_idle) runs the real malloc_trim, only when nothing is in flight."""
    import asyncio
    import time
    from types import SimpleNamespace

    from qrbench.target.app import _trim_when_idle
    from qrbench.target.embedding import release_memory

    trims: list[int] = []
    svc = SimpleNamespace(in_flight=0, finished=0, last_finished=time.monotonic())

    def release() -> None:
        trims.append(svc.in_flight)
        release_memory()

    async def wait_for(predicate, limit_s: float = 10.0) -> None:
        deadline = time.monotonic() + limit_s
        while not predicate() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    async def scenario() -> None:
        task = asyncio.create_task(_trim_when_idle(svc, idle_s=0.05, release=release))
        await asyncio.sleep(0.3)
        assert trims == [], "trimmed before anything was served"
        svc.in_flight = 1  # a long computation: idle periods pass, but it is in flight
        await asyncio.sleep(0.3)
        assert trims == [], "trimmed while a computation was in flight"
        svc.in_flight, svc.finished, svc.last_finished = 0, 1, time.monotonic()
        await wait_for(lambda: len(trims) == 1)
        assert trims == [0]
        await asyncio.sleep(0.3)  # several idle periods with nothing new finished: no second trim
        assert trims == [0]
        svc.finished, svc.last_finished = 2, time.monotonic()
        await wait_for(lambda: len(trims) == 2)
        assert trims == [0, 0]
        task.cancel()

    asyncio.run(scenario())


def test_keyed_digests_equal_the_digests_of_the_whole_keys():
    """The engine's similarity keys hash their shared prefix once; each equals key_digest of the full key."""
    from qrbench.target.cache import keyed_digests

    prefix = ("hybrid", "exact", 4, 1024, 0.5, "what is the appeal deadline")
    candidates = ["a", "b" * 5000, "é", ""]
    assert keyed_digests(prefix, candidates) == [key_digest((*prefix, c)) for c in candidates]
    assert len(set(keyed_digests(prefix, candidates))) == len(candidates)
    cache: LRUCache[int] = LRUCache(10)
    cache.put((*prefix, "a"), 1)
    assert cache.get_digest(keyed_digests(prefix, ["a"])[0]) == 1


def test_the_startup_heap_is_frozen_out_of_full_collections():
    """freeze_startup_heap moves what is alive (the loaded libraries) out of the collector's reach."""
    import gc

    from qrbench.target.app import freeze_startup_heap

    gc.unfreeze()
    try:
        freeze_startup_heap()
        frozen = gc.get_freeze_count()
        assert frozen > 10_000  # numpy, torch, pydantic, ... already imported by this module's imports
    finally:
        gc.unfreeze()
