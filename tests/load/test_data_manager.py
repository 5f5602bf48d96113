"""DataManager: request builders, popularity skew, the pre-built pool, validation and loading errors."""

from __future__ import annotations

import dataclasses
import json
import pickle
import random
import shutil
import statistics

import numpy as np
import pytest

from qrbench.errors import ParameterError, RunError
from qrbench.load.data import (
    DEFAULT_DATA_DIR,
    KINDS,
    MAX_TEXT_CHARS,
    DataManager,
    Document,
    Query,
)
from qrbench.load.request import RequestSpec


@pytest.fixture(scope="module")
def dm() -> DataManager:
    return DataManager.from_dir(seed=0)


@pytest.fixture(scope="module")
def by_text(dm) -> dict[str, Document]:
    return {d.text: d for d in dm.documents}


@pytest.fixture(scope="module")
def query_by_text(dm) -> dict[str, Query]:
    return {q.text: q for q in dm.queries}


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# ---- builders --------------------------------------------------------------------------------------


def test_similarity_payload(dm, by_text, query_by_text):
    r = rng(1)
    for _ in range(50):
        spec = dm.similarity("quantum", rng=r)
        body = json.loads(spec.body)
        assert set(body) == {"text1", "text2", "method"}
        assert spec.endpoint == "/v1/similarity" and spec.method == "quantum" and spec.n_candidates == 1
        query, doc = query_by_text[body["text1"]], by_text[body["text2"]]
        assert doc.domain == query.domain
        assert len(body["text1"]) <= MAX_TEXT_CHARS and len(body["text2"]) <= MAX_TEXT_CHARS


def test_rerank_includes_relevant_documents_without_duplicates(dm, by_text, query_by_text):
    r = rng(2)
    for n in (5, 10, 37, 100):
        for _ in range(10):
            spec = dm.rerank(n, "hybrid", rng=r, top_k=7)
            body = json.loads(spec.body)
            assert set(body) == {"query", "candidates", "top_k", "method"}
            assert body["top_k"] == 7 and body["method"] == "hybrid"
            assert spec.n_candidates == n == len(body["candidates"])
            assert len(set(body["candidates"])) == n
            docs = [by_text[c] for c in body["candidates"]]
            query = query_by_text[body["query"]]
            assert set(query.relevant) <= {d.id for d in docs}
            assert all(d.domain == query.domain for d in docs)
            assert all(len(c) <= MAX_TEXT_CHARS for c in body["candidates"])


def test_rerank_smaller_than_relevant_set_takes_only_relevant(dm, by_text, query_by_text):
    r = rng(3)
    for _ in range(20):
        body = json.loads(dm.rerank(2, "classical", rng=r).body)
        query = query_by_text[body["query"]]
        assert {by_text[c].id for c in body["candidates"]} <= set(query.relevant)


def test_relevant_documents_are_not_always_first(dm, query_by_text, by_text):
    # Candidates are shuffled: a reranker must not find the answer by position.
    first_relevant = 0
    r = rng(4)
    for _ in range(100):
        body = json.loads(dm.rerank(25, "hybrid", rng=r).body)
        first_relevant += by_text[body["candidates"][0]].id in query_by_text[body["query"]].relevant
    assert first_relevant < 60


def test_batch_similarity_payload_and_limit(dm):
    body = json.loads(dm.batch_similarity(100, "classical", rng=rng(5)).body)
    assert set(body) == {"query", "candidates", "method"} and len(body["candidates"]) == 100
    with pytest.raises(ParameterError, match="n_candidates"):
        dm.batch_similarity(101, "classical", rng=rng(5))


@pytest.mark.parametrize("kind", list(KINDS))
def test_request_kinds_respect_candidate_ranges(dm, kind):
    r = rng(6)
    spec = KINDS[kind]
    counts = set()
    for _ in range(30):
        req = dm.request(kind, "hybrid", rng=r)
        assert isinstance(req, RequestSpec) and req.kind == kind
        assert spec.min_candidates <= req.n_candidates <= spec.max_candidates
        counts.add(req.n_candidates)
    if kind == "rerank_medium":
        assert len(counts) > 5  # drawn over 25..50, not fixed


@pytest.mark.parametrize(("length", "check"), [("short", lambda w: w <= 100), ("long", lambda w: w >= 250)])
def test_length_levels(dm, by_text, length, check):
    r = rng(7)
    for kind in ("similarity", "rerank_small", "rerank_large"):
        body = json.loads(dm.request(kind, "classical", rng=r, length=length).body)
        texts = body.get("candidates") or [body["text2"]]
        assert all(check(by_text[t].n_words) for t in texts)


def test_long_texts_are_cut_at_a_word_boundary():
    long_text = " ".join(f"word{i}" for i in range(2000))  # ~13,000 characters
    docs = [
        Document(id="long", domain="d", topic="d/t", title="", text=long_text, n_words=2000),
        Document(id="other", domain="d", topic="d/t", title="", text="a short document", n_words=3),
    ]
    query = Query(id="q", domain="d", topic="d/t", text="a question", relevant=("long",))
    small = DataManager(documents=docs, queries=[query])
    body = json.loads(small.rerank(2, "classical", rng=rng(8)).body)
    cut = next(c for c in body["candidates"] if c.startswith("word0"))
    assert len(cut) <= MAX_TEXT_CHARS
    assert long_text.startswith(cut) and long_text[len(cut)] == " "


def test_bodies_are_accepted_by_the_service_schemas(dm):
    from qrbench.target import schemas

    model = {
        "/v1/similarity": schemas.SimilarityRequest,
        "/v1/rerank": schemas.RerankRequest,
        "/v1/batch-similarity": schemas.BatchSimilarityRequest,
    }
    r = rng(9)
    for kind in KINDS:
        for method in ("classical", "quantum", "hybrid"):
            spec = dm.request(kind, method, rng=r)
            model[spec.endpoint].model_validate_json(spec.body)


# ---- determinism and popularity --------------------------------------------------------------------


def test_same_seed_same_requests(dm):
    a = [dm.request("rerank_medium", "hybrid", rng=rng(10)).body for _ in range(3)]
    b = [dm.request("rerank_medium", "hybrid", rng=rng(10)).body for _ in range(3)]
    assert a == b
    assert dm.request("rerank_medium", "hybrid", rng=rng(11)).body != a[0]


def test_manager_seed_sets_which_documents_are_popular():
    a, b = DataManager.from_dir(seed=1), DataManager.from_dir(seed=1)
    c = DataManager.from_dir(seed=2)
    assert np.array_equal(a.popularity(), b.popularity())
    assert not np.array_equal(a.popularity(), c.popularity())


def test_popularity_skew_is_visible_in_draws(dm):
    p = dm.popularity()
    top = set(np.argsort(-p)[: len(p) // 100])
    index = {d.id: i for i, d in enumerate(dm.documents)}
    r = rng(12)
    draws = [index[dm.sample_documents(1, rng=r)[0].id] for _ in range(4000)]
    share = sum(i in top for i in draws) / len(draws)
    assert share > 0.3  # uniform draws would give 0.01
    # Candidate sets repeat: in rerank requests the top 1 % of documents fill many more slots than 1 %.
    pool = dm.mix_sampler({"rerank_medium": 1.0}, {"hybrid": 1.0}, seed=3, pool_size=200)
    by_text = {d.text: index[d.id] for d in dm.documents}
    slots = [by_text[c] for s in pool for c in json.loads(s.body)["candidates"]]
    assert sum(i in top for i in slots) / len(slots) > 0.08


def test_zipf_exponent_zero_is_uniform():
    flat = DataManager.from_dir(seed=0, zipf_exponent=0.0)
    p = flat.popularity()
    assert np.allclose(p, 1 / len(p))
    top = np.sort(DataManager.from_dir(seed=0, zipf_exponent=1.5).popularity())[::-1]
    assert top[: len(top) // 100].sum() > 0.7


# ---- the pre-built pool ----------------------------------------------------------------------------


def test_pool_hands_out_prebuilt_requests_in_a_cycle(dm):
    pool = dm.mix_sampler(
        {"similarity": 0.5, "rerank_small": 0.3, "rerank_large": 0.2},
        {"classical": 0.5, "quantum": 0.25, "hybrid": 0.25},
        seed=5,
        pool_size=40,
    )
    assert len(pool) == 40
    drawn = [pool() for _ in range(80)]
    # Drawing builds nothing: every draw is one of the pool's own objects, each handed out twice.
    ids = {id(s) for s in pool.specs}
    assert all(id(s) in ids for s in drawn)
    assert all(drawn[i] is drawn[i + 40] for i in range(40))
    kinds = {k: sum(n for (kk, _), n in pool.composition().items() if kk == k) for k in KINDS}
    assert kinds == {"similarity": 20, "rerank_small": 12, "rerank_large": 8, "rerank_medium": 0, "batch_similarity": 0}
    methods = {m: sum(n for (_, mm), n in pool.composition().items() if mm == m) for m in pool.method_weights}
    assert methods["classical"] == 20 and methods["quantum"] + methods["hybrid"] == 20
    assert pool.body_bytes == sum(len(s.body) for s in pool.specs)


def test_pool_pickles_and_staggers_workers(dm):
    pool = dm.mix_sampler({"similarity": 1.0}, {"classical": 1.0}, seed=1, pool_size=10)
    copy = pickle.loads(pickle.dumps(pool))
    assert [copy().body for _ in range(10)] == [s.body for s in pool.specs]
    workers = [pool.for_worker(i, 2) for i in range(2)]
    assert workers[0]() is pool.specs[0] and workers[1]() is pool.specs[5]
    assert pool() is pool.specs[0]  # handing out worker copies does not move the original


def test_pool_is_seeded(dm):
    weights = ({"similarity": 0.5, "rerank_small": 0.5}, {"hybrid": 1.0})
    a = dm.mix_sampler(*weights, seed=8, pool_size=30)
    b = dm.mix_sampler(*weights, seed=8, pool_size=30)
    c = dm.mix_sampler(*weights, seed=9, pool_size=30)
    assert [s.body for s in a] == [s.body for s in b]
    assert [s.body for s in a] != [s.body for s in c]


# ---- validation ------------------------------------------------------------------------------------


def test_unknown_kind_method_and_length_name_the_valid_values(dm):
    with pytest.raises(ParameterError, match="'rerank_huge'.*rerank_small"):
        dm.request("rerank_huge", "hybrid", rng=rng())
    with pytest.raises(ParameterError, match="'qaoa'.*classical, quantum, hybrid"):
        dm.request("similarity", "qaoa", rng=rng())
    with pytest.raises(ParameterError, match="'medium'.*short"):
        dm.similarity("hybrid", rng=rng(), length="medium")
    with pytest.raises(ParameterError, match="top_k"):
        dm.rerank(10, "hybrid", rng=rng(), top_k=0)


@pytest.mark.parametrize(
    ("kinds", "methods", "match"),
    [
        ({"rerank_huge": 1.0}, {"hybrid": 1.0}, "kind_weights has the unknown key 'rerank_huge'"),
        ({"similarity": 1.0}, {"qaoa": 1.0}, "method_weights has the unknown key 'qaoa'"),
        ({"similarity": 1.2, "rerank_small": -0.2}, {"hybrid": 1.0}, r"kind_weights\['rerank_small'\]"),
        ({"similarity": 0.5, "rerank_small": 0.4}, {"hybrid": 1.0}, "kind_weights must sum to 1"),
        ({"similarity": 1.0}, {"hybrid": True}, r"method_weights\['hybrid'\]"),
        ({"similarity": 1.0}, {"hybrid": float("nan")}, r"method_weights\['hybrid'\]"),
        ({}, {"hybrid": 1.0}, "kind_weights must be a non-empty mapping"),
    ],
)
def test_bad_weights_name_the_key(dm, kinds, methods, match):
    with pytest.raises(ParameterError, match=match):
        dm.mix_sampler(kinds, methods, seed=0, pool_size=10)


def test_weights_within_tolerance_are_accepted(dm):
    pool = dm.mix_sampler({"similarity": 0.3333333, "rerank_small": 0.6666667}, {"hybrid": 1.0}, seed=0, pool_size=3)
    assert len(pool) == 3
    with pytest.raises(ParameterError, match="pool_size"):
        dm.mix_sampler({"similarity": 1.0}, {"hybrid": 1.0}, seed=0, pool_size=0)


def test_bad_zipf_exponent():
    with pytest.raises(ParameterError, match="zipf_exponent"):
        DataManager.from_dir(zipf_exponent=-1)


# ---- accessors -------------------------------------------------------------------------------------


def test_accessors_are_immutable(dm):
    assert isinstance(dm.documents, tuple) and isinstance(dm.queries, tuple)
    with pytest.raises(dataclasses.FrozenInstanceError):
        dm.documents[0].text = "changed"  # type: ignore[misc]
    q = dm.queries[0]
    assert [d.id for d in dm.relevant_for(q.id)] == list(q.relevant)
    with pytest.raises(ParameterError, match="'q-nope'"):
        dm.relevant_for("q-nope")


def test_profile_samplers(dm):
    rag = dm.profiles["rag_interactive"]
    draw = rag.think_time_sampler(random.Random(0))
    samples = [draw() for _ in range(4000)]
    assert statistics.median(samples) == pytest.approx(2.0, rel=0.1)
    assert statistics.fmean(samples) == pytest.approx(rag.think_mean_s, rel=0.15)
    assert dm.profiles["batch_pipeline"].think_time_sampler(random.Random(0)) is None
    sessions = [rag.session_length(random.Random(i)) for i in range(3000)]
    assert min(sessions) >= 1 and statistics.fmean(sessions) == pytest.approx(12, rel=0.1)


# ---- loading errors --------------------------------------------------------------------------------


@pytest.fixture
def data_copy(tmp_path):
    for name in ("queries.json", "documents.json", "user_behavior_patterns.json"):
        shutil.copy(DEFAULT_DATA_DIR / name, tmp_path / name)
    return tmp_path


def test_missing_folder_is_a_parameter_error(tmp_path):
    with pytest.raises(ParameterError, match="does not exist"):
        DataManager.from_dir(tmp_path / "nowhere")


def test_missing_file_names_the_file(data_copy):
    (data_copy / "queries.json").unlink()
    with pytest.raises(RunError, match=r"queries\.json is missing"):
        DataManager.from_dir(data_copy)


def test_malformed_json_names_the_file(data_copy):
    (data_copy / "documents.json").write_text("[{", encoding="utf-8")
    with pytest.raises(RunError, match=r"documents\.json is not valid"):
        DataManager.from_dir(data_copy)


def test_missing_field_names_the_field(data_copy):
    docs = json.loads((data_copy / "documents.json").read_text(encoding="utf-8"))
    del docs[3]["text"]
    (data_copy / "documents.json").write_text(json.dumps(docs), encoding="utf-8")
    with pytest.raises(RunError, match=r"Item 3 of .*documents\.json .* has no field 'text'"):
        DataManager.from_dir(data_copy)


def test_unknown_relevant_document_is_reported(data_copy):
    queries = json.loads((data_copy / "queries.json").read_text(encoding="utf-8"))
    queries[0]["relevant"].append("doc-missing")
    (data_copy / "queries.json").write_text(json.dumps(queries), encoding="utf-8")
    with pytest.raises(RunError, match="doc-missing"):
        DataManager.from_dir(data_copy)


def test_malformed_profile_names_the_profile(data_copy):
    path = data_copy / "user_behavior_patterns.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["profiles"]["analyst"]["kind_weights"]["rerank_huge"] = 0.0
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(RunError, match="'analyst'.*rerank_huge"):
        DataManager.from_dir(data_copy)


def test_behaviour_file_is_optional(data_copy):
    (data_copy / "user_behavior_patterns.json").unlink()
    loaded = DataManager.from_dir(data_copy)
    assert loaded.profiles == {} and loaded.day is None


def test_pool_with_new_queries_never_repeats_a_query_and_keeps_the_documents(dm):
    pool = dm.mix_sampler(
        {"similarity": 0.5, "rerank_small": 0.5}, {"classical": 1.0}, seed=2, pool_size=10, new_queries=True
    )
    workers = [pickle.loads(pickle.dumps(pool.for_worker(i, 2))) for i in range(2)]
    drawn = [w() for _ in range(25) for w in workers]  # each worker cycles its pool 2.5 times
    payloads = [json.loads(s.body) for s in drawn]  # still valid JSON
    queries = [p.get("query", p.get("text1")) for p in payloads]
    assert len(set(queries)) == len(queries) == 50  # unique across draws and across worker processes
    by_body = {json.loads(s.body).get("query", json.loads(s.body).get("text1")): s for s in pool.specs}
    for spec, payload, query in zip(drawn, payloads, queries, strict=True):
        original_query, tag = query.rsplit(" [q", 1)
        original = json.loads(by_body[original_query].body)
        assert tag.endswith("]") and spec.kind == by_body[original_query].kind
        assert payload.get("candidates", payload.get("text2")) == original.get("candidates", original.get("text2"))
    plain = dm.mix_sampler({"similarity": 1.0}, {"classical": 1.0}, seed=2, pool_size=3)
    assert [plain().body for _ in range(3)] == [s.body for s in plain.specs]  # the default replays


def test_a_new_query_survives_quotes_and_backslashes_in_the_query():
    from qrbench.load.request import RequestSpec, with_new_query

    payload = {"query": 'say "hi" \\ then \\"go\\"', "candidates": ['a "b"'], "method": "classical"}
    spec = RequestSpec.from_payload(kind="rerank_small", endpoint="/v1/rerank", payload=payload)
    out = json.loads(with_new_query(spec, b" [q0.1]").body)
    assert out == {**payload, "query": payload["query"] + " [q0.1]"}
