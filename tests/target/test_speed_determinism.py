"""Scores are batch-independent: bit for bit the same alone and in any micro-batch composition."""

from __future__ import annotations

import concurrent.futures
import threading

import numpy as np
import pytest

from qrbench.target.embedding import EMBEDDING_DIM, MAX_PASS_TOKENS, Embedder, padded_length
from qrbench.target.engine import RerankEngine
from qrbench.target.settings import EngineSettings

QUERY = "How long do I have to appeal an immigration detention decision?"
DOCS = [
    "Appeal deadlines in immigration detention cases are short; counsel must file within days.",
    "Metformin remains the first-line therapy for type 2 diabetes.",
    "Kubernetes evicts pods when a node runs out of memory. " * 8,
    "The tribunal extended the appeal deadline because the detainee had no interpreter. " * 3,
    "Gradient descent minimises the loss by stepping against the gradient.",
    "Bail hearings for detained migrants follow a separate timetable. " * 12,
]
OTHER_QUERIES = [
    "short one",
    "a somewhat longer question about contracts and their remedies in law",
    "metformin",
    "what is consumer lag in kafka and how do partitions affect it " * 2,
]


@pytest.fixture
def engine(embedder):
    # No caches: every score is computed from its own forward passes.
    e = RerankEngine(
        EngineSettings(similarity_cache_size=0, embed_batch_window_ms=20.0, embed_workers=2),
        embedder=Embedder(cache_size=0, model=embedder.model),
    )
    yield e
    e.close()


def test_scores_are_identical_across_batch_compositions(engine):
    alone = {m: engine.score(QUERY, DOCS, m).scores for m in ("classical", "quantum", "hybrid")}
    compositions = [
        [(QUERY, DOCS)] + [(q, DOCS[:3]) for q in OTHER_QUERIES],
        [(q, DOCS[::-1]) for q in OTHER_QUERIES] + [(QUERY, DOCS)],
        [(QUERY, DOCS), (QUERY, DOCS[1:]), ("metformin", DOCS * 2)],
    ]
    for requests in compositions:
        barrier = threading.Barrier(len(requests))

        def one(request, method, barrier=barrier):
            barrier.wait()
            return engine.score(request[0], list(request[1]), method).scores

        for method, expected in alone.items():
            with concurrent.futures.ThreadPoolExecutor(len(requests)) as pool:
                results = list(pool.map(one, requests, [method] * len(requests)))
            np.testing.assert_array_equal(results[[r == (QUERY, DOCS) for r in requests].index(True)], expected)


def test_passes_are_bounded_in_tokens_and_padded_per_text(embedder):
    e = Embedder(cache_size=0, model=embedder.model)
    texts = [DOCS[5] * 5] * 40 + [QUERY]
    passes = e.plan(texts, max_group=64)
    assert sorted(i for p in passes for i in p.indices) == list(range(len(texts)))
    for p in passes:
        assert p.padded_tokens <= MAX_PASS_TOKENS or len(p.indices) == 1
        assert p.input_ids.shape[1] % 16 == 0 or p.input_ids.shape[1] == e.max_seq_length
    assert padded_length(17, 256) == 32 and padded_length(300, 256) == 256 and padded_length(16, 256) == 16
    assert e.encode_grouped(texts).shape == (len(texts), EMBEDDING_DIM)


def test_truncation_shortens_passes(embedder):
    short = Embedder(cache_size=0, model=embedder.model, max_seq_length=32)
    assert max(p.input_ids.shape[1] for p in short.plan([DOCS[5]])) == 32


def test_the_traced_torch_encoder_agrees_with_the_sentence_transformers_model(embedder):
    """The torch encoder runs a TorchScript trace of the transformer: every length (a trace that baked in its
    example's shape would be off by far more), pooled and normalised as the model's own modules do."""
    texts = [QUERY, *DOCS, *OTHER_QUERIES, "word " * 400]
    ours = Embedder(cache_size=0, model=embedder.model).encode_uncached(texts)
    reference = embedder.model.encode(texts, normalize_embeddings=True, convert_to_numpy=True)
    np.testing.assert_allclose(ours, reference, atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-6)
