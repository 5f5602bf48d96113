"""The embedding micro-batcher: same numbers as unbatched encoding, coalescing, bounds, shutdown."""

from __future__ import annotations

import concurrent.futures
import itertools
import threading
import time

import numpy as np
import pytest

from qrbench.cli import build_parser
from qrbench.errors import ParameterError
from qrbench.target.embedding import EMBEDDING_DIM, EncodeBatcher, EncodePass, length_groups
from qrbench.target.engine import RerankEngine
from qrbench.target.settings import EngineSettings

QUERIES = [
    "statute of limitations contract",
    "How long do I have to sue for breach of contract in most jurisdictions, and does it differ by state?",
    "metformin",
    "What are the first-line treatments for type 2 diabetes in older adults with kidney disease?",
    "kubernetes pod scheduling",
    "Explain how gradient descent chooses the step size and why a learning rate that is too large diverges.",
]
DOCS = [
    "The statute of limitations for breach of contract claims is six years in many jurisdictions. " * 6,
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "Kubernetes schedules containers onto nodes according to resource requests and limits, and it evicts "
    "pods when a node runs out of memory. " * 3,
    "Metformin remains the first-line therapy for type 2 diabetes.",
]
TEXTS = QUERIES + DOCS


class StubEmbedder:
    """Fast stand-in for Embedder: row i is a function of the text; records every call."""

    def __init__(self, fail: BaseException | None = None, delay_s: float = 0.0) -> None:
        self.calls: list[list[str]] = []
        self.spans: list[tuple[float, float]] = []  # (start, end) of each call, perf_counter seconds
        self.fail = fail
        self.delay_s = delay_s

    def plan(self, texts: list[str], *, max_group: int = 64) -> list[EncodePass]:
        # One pass of all the texts; the token ids are not used by run_pass.
        self._texts = list(texts)
        empty = np.zeros((len(texts), 1), dtype=np.int64)
        return [EncodePass(list(range(len(texts))), empty, empty)]

    def run_pass(self, p: EncodePass) -> np.ndarray:
        return self.encode_grouped(self._texts)

    def encode_grouped(self, texts: list[str], *, max_group: int = 64) -> np.ndarray:
        self.calls.append(list(texts))
        start = time.perf_counter()
        if self.delay_s:
            time.sleep(self.delay_s)
        self.spans.append((start, time.perf_counter()))
        if self.fail is not None:
            raise self.fail
        out = np.zeros((len(texts), EMBEDDING_DIM), dtype=np.float32)
        for i, text in enumerate(texts):
            out[i, 0] = len(text)
            out[i, 1] = sum(map(ord, text)) % 1000
        return out


def stub_row(text: str) -> np.ndarray:
    return StubEmbedder().encode_grouped([text])[0]


def submit_together(batcher: EncodeBatcher, jobs: list[list[str]]) -> list[np.ndarray]:
    """Submit every job from its own thread at (nearly) the same moment; results in job order."""
    barrier = threading.Barrier(len(jobs))

    def call(texts: list[str]) -> np.ndarray:
        barrier.wait()
        return batcher.encode(texts)

    with concurrent.futures.ThreadPoolExecutor(len(jobs)) as pool:
        return list(pool.map(call, jobs))


# ---- length groups ------------------------------------------------------------------------------------


def _cost(groups: list[list[int]], lengths: list[int], pass_cost: int) -> int:
    return sum(pass_cost + len(g) * max(lengths[i] for i in g) for g in groups)


@pytest.mark.parametrize("seed", range(20))
def test_length_groups_is_the_cheapest_split_of_the_sorted_texts(seed):
    rng = np.random.default_rng(seed)
    lengths = [int(x) for x in rng.integers(3, 256, size=int(rng.integers(1, 9)))]
    groups = length_groups(lengths, max_group=4, max_tokens=10**9, pass_cost=17)
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    assert all(1 <= len(g) <= 4 for g in groups)
    # Brute force: every way to cut the longest-first order into runs of at most 4.
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    best = min(
        _cost([order[a:b] for a, b in itertools.pairwise((0, *cuts, len(order)))], lengths, 17)
        for r in range(len(order))
        for cuts in itertools.combinations(range(1, len(order)), r)
        if all(b - a <= 4 for a, b in itertools.pairwise((0, *cuts, len(order))))
    )
    assert _cost(groups, lengths, 17) == best


def test_length_groups_keep_short_texts_away_from_long_ones():
    groups = length_groups([12] * 10 + [256], max_group=64)
    assert sorted(map(sorted, groups)) == [list(range(10)), [10]]
    assert length_groups([], max_group=64) == []


def test_length_groups_bound_the_texts_and_padded_tokens_of_a_pass():
    groups = length_groups([40] * 100, max_group=64, max_tokens=10**9)
    assert len(groups) == 2 and all(len(g) <= 64 for g in groups)
    groups = length_groups([256] * 40 + [300], max_group=64, max_tokens=4096)
    assert all(len(g) * max(([256] * 40 + [300])[i] for i in g) <= 4096 or len(g) == 1 for g in groups)
    assert [40] in groups  # a text longer than the token bound still gets a pass of its own
    assert sorted(i for g in groups for i in g) == list(range(41))


# ---- numbers: batched equals unbatched within float32 rounding ---------------------------------------


def test_grouped_encoding_matches_unbatched_encoding(embedder):
    alone = np.vstack([embedder.encode_uncached([t]) for t in TEXTS])
    together = embedder.encode_uncached(TEXTS)  # the engine's unbatched path: one padded call
    grouped = embedder.encode_grouped(TEXTS)
    # Padding a text to a longer neighbour's length changes the last bits (summation order in the
    # matrix products), so rows agree to ~1e-7, not bit for bit, in the unbatched path as much as here.
    np.testing.assert_allclose(grouped, alone, rtol=0, atol=1e-5)
    np.testing.assert_allclose(together, alone, rtol=0, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(grouped, axis=1), 1.0, atol=1e-5)


def test_concurrent_callers_get_their_own_rows(embedder):
    batcher = EncodeBatcher(embedder, window_ms=200.0)
    try:
        jobs = [[t] for t in TEXTS] + [[QUERIES[0], DOCS[1]], [DOCS[1], QUERIES[0], DOCS[1]]]
        results = submit_together(batcher, jobs)
    finally:
        batcher.close()
    for texts, rows in zip(jobs, results, strict=True):
        assert rows.shape == (len(texts), EMBEDDING_DIM) and rows.dtype == np.float32
        np.testing.assert_allclose(rows, np.vstack([embedder.encode_uncached([t]) for t in texts]), atol=1e-5)
    assert batcher.batches < len(jobs)  # callers shared forward passes
    # Texts repeated across the jobs of one batch are encoded once.
    assert batcher.texts < sum(len(job) for job in jobs)


def test_engine_scores_with_and_without_batching_agree(embedder):
    plain = RerankEngine(EngineSettings(similarity_cache_size=0), embedder=embedder)
    batched = RerankEngine(EngineSettings(similarity_cache_size=0, embed_batch_window_ms=5.0), embedder=embedder)
    try:
        for method in ("classical", "quantum", "hybrid"):
            embedder.cache.clear()
            a = plain.score(QUERIES[1], DOCS, method).scores
            embedder.cache.clear()
            b = batched.score(QUERIES[1], DOCS, method).scores
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-5)
        # Many requests at once through the batcher: each gets the scores it gets alone.
        embedder.cache.clear()
        requests = [(q, DOCS) for q in QUERIES]
        with concurrent.futures.ThreadPoolExecutor(len(requests)) as pool:
            together = list(pool.map(lambda r: batched.score(r[0], r[1], "hybrid").scores, requests))
        for (q, docs), scores in zip(requests, together, strict=True):
            np.testing.assert_allclose(scores, plain.score(q, docs, "hybrid").scores, rtol=0, atol=1e-5)
    finally:
        plain.close()
        batched.close()


def test_batched_service_answers_concurrent_requests(make_service):
    import httpx

    url, app = make_service(embed_batch_window_ms=2.0, compute_threads=8)
    try:

        def post(q: str) -> httpx.Response:
            body = {"query": q, "candidates": DOCS, "top_k": 2, "method": "hybrid"}
            return httpx.post(url + "/v1/rerank", json=body, timeout=60)

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(post, QUERIES + QUERIES))
        assert [r.status_code for r in responses] == [200] * len(responses)
        top = {r.json()["results"][0]["text"] for r in responses[:2]}
        assert top == {DOCS[0]}
    finally:
        app.state.service.engine.close()


# ---- coalescing, bounds and the window (stub model: fast and exact) ------------------------------------


def test_jobs_arriving_within_the_window_share_one_model_call():
    stub = StubEmbedder()
    batcher = EncodeBatcher(stub, window_ms=300.0, max_batch=64)
    try:
        jobs = [[f"text {i}", "shared"] for i in range(6)]
        results = submit_together(batcher, jobs)
    finally:
        batcher.close()
    assert len(stub.calls) == 1 and sorted(stub.calls[0]) == sorted({t for job in jobs for t in job})
    for texts, rows in zip(jobs, results, strict=True):
        np.testing.assert_array_equal(rows, np.vstack([stub_row(t) for t in texts]))


def test_max_batch_bounds_a_model_call_and_a_large_job_goes_alone():
    stub = StubEmbedder()
    batcher = EncodeBatcher(stub, window_ms=300.0, max_batch=4)
    try:
        jobs = [[f"a{i}", f"b{i}"] for i in range(4)] + [[f"big{i}" for i in range(9)]]
        results = submit_together(batcher, jobs)
    finally:
        batcher.close()
    assert all(len(call) <= 4 or len(call) == 9 for call in stub.calls)
    assert [f"big{i}" for i in range(9)] in stub.calls
    for texts, rows in zip(jobs, results, strict=True):
        np.testing.assert_array_equal(rows, np.vstack([stub_row(t) for t in texts]))


def test_a_lone_job_waits_for_the_window_and_a_busy_model_does_not():
    """Times are compared with the window, measured in the same test: a busy machine delays a thread's wake-up
    by milliseconds, never by half a second."""
    window_s, delay_s = 0.5, 1.0
    stub = StubEmbedder(delay_s=delay_s)
    batcher = EncodeBatcher(stub, window_ms=window_s * 1000)
    try:
        t0 = time.perf_counter()
        batcher.encode(["alone"])
        assert stub.spans[0][0] - t0 >= window_s - 0.01  # a lone job waits for the window
        # Jobs that queued while the model was busy are older than the window: they leave at once.
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            first = pool.submit(batcher.encode, ["first"])
            time.sleep(window_s + 0.1)  # the first batch is now in the model for delay_s
            second = pool.submit(batcher.encode, ["second"])
            first.result(), second.result()
        assert stub.calls[1:] == [["first"], ["second"]]
        gap = stub.spans[2][0] - stub.spans[1][1]
        assert gap < window_s / 2, f"the queued job waited {gap:.3f} s after the model was free"
    finally:
        batcher.close()


class PerTextStub(StubEmbedder):
    """One pass per text (as onnx-int8 plans); a text starting with "slow" takes 1 s to encode."""

    def plan(self, texts: list[str], *, max_group: int = 64) -> list[EncodePass]:
        self._texts = list(texts)
        empty = np.zeros((1, 1), dtype=np.int64)
        return [EncodePass([i], empty, empty) for i in range(len(texts))]

    def run_pass(self, p: EncodePass) -> np.ndarray:
        (text,) = [self._texts[i] for i in p.indices]
        if text.startswith("slow"):
            time.sleep(1.0)
        return self.encode_grouped([text])


def test_a_job_is_answered_when_its_own_passes_are_done_not_the_whole_batch():
    stub = PerTextStub()
    batcher = EncodeBatcher(stub, window_ms=300.0, workers=2)
    try:
        answered: dict[str, float] = {}

        def call(texts: list[str]) -> np.ndarray:
            rows = batcher.encode(texts)
            answered[texts[0]] = time.perf_counter()
            return rows

        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            fast = pool.submit(call, ["fast"])
            time.sleep(0.05)  # within the 300 ms window: the same batch, queued after "fast"
            slow = pool.submit(call, ["slow one", "slow two"])
            rows_fast, rows_slow = fast.result(), slow.result()
    finally:
        batcher.close()
    assert batcher.batches == 1
    assert sorted(stub.calls) == [["fast"], ["slow one"], ["slow two"]]  # one batch, three passes
    # Two workers: "fast" shares the batch with the two slow passes but does not wait for them.
    assert answered["slow one"] - answered["fast"] >= 0.5
    np.testing.assert_array_equal(rows_fast, np.vstack([stub_row("fast")]))
    np.testing.assert_array_equal(rows_slow, np.vstack([stub_row("slow one"), stub_row("slow two")]))


def test_empty_input_needs_no_model_call():
    stub = StubEmbedder()
    batcher = EncodeBatcher(stub, window_ms=1.0)
    try:
        assert batcher.encode([]).shape == (0, EMBEDDING_DIM)
    finally:
        batcher.close()
    assert stub.calls == []


# ---- failures and shutdown ----------------------------------------------------------------------------


def test_a_failing_model_call_fails_every_caller_of_the_batch_and_the_batcher_lives_on():
    stub = StubEmbedder(fail=RuntimeError("model exploded"))
    batcher = EncodeBatcher(stub, window_ms=200.0)
    try:
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            futures = [pool.submit(batcher.encode, [f"t{i}"]) for i in range(3)]
            for f in futures:
                with pytest.raises(RuntimeError, match="model exploded"):
                    f.result()
        stub.fail = None
        np.testing.assert_array_equal(batcher.encode(["after"])[0], stub_row("after"))
    finally:
        batcher.close()


def test_close_finishes_queued_jobs_then_encodes_in_the_callers_thread():
    stub = StubEmbedder(delay_s=0.05)
    batcher = EncodeBatcher(stub, window_ms=500.0)
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(batcher.encode, [f"q{i}"]) for i in range(4)]
        time.sleep(0.05)
        t0 = time.perf_counter()
        batcher.close()
        assert time.perf_counter() - t0 < 0.45  # closing cuts the window short
        for i, f in enumerate(futures):
            np.testing.assert_array_equal(f.result(timeout=5)[0], stub_row(f"q{i}"))
    assert not batcher._thread.is_alive()
    batcher.close()  # idempotent
    n_calls = len(stub.calls)
    np.testing.assert_array_equal(batcher.encode(["late"])[0], stub_row("late"))
    assert len(stub.calls) == n_calls + 1


def test_engine_close_stops_its_batcher_but_not_a_shared_embedder(embedder):
    engine = RerankEngine(EngineSettings(embed_batch_window_ms=1.0), embedder=embedder)
    thread = engine._batcher._thread
    assert thread.is_alive()
    engine.close()
    assert not thread.is_alive()
    assert embedder.encode_uncached(["still usable"]).shape == (1, EMBEDDING_DIM)
    assert RerankEngine(EngineSettings(embed_batch_window_ms=0.0), embedder=embedder)._batcher is None  # off


# ---- settings and the serve flags ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"), [("embed_batch_window_ms", -1.0), ("embed_batch_window_ms", 5000.0), ("embed_max_batch", 0)]
)
def test_bad_batching_settings_name_the_setting(field, value):
    with pytest.raises(ParameterError, match=field):
        EngineSettings(**{field: value})


def test_serve_flags_reach_the_settings(monkeypatch):
    import qrbench.target

    seen = {}
    monkeypatch.setattr(qrbench.target, "serve", lambda settings, **kw: seen.update(settings=settings))
    args = build_parser().parse_args(["serve", "--embed-batch-window-ms", "2.5", "--embed-max-batch", "32"])
    assert args.func(args) == 0
    assert seen["settings"].embed_batch_window_ms == 2.5 and seen["settings"].embed_max_batch == 32
    default = build_parser().parse_args(["serve"])
    assert default.embed_batch_window_ms == 2.0 and default.embed_max_batch == 64  # on by default
