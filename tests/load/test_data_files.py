"""The shipped corpus in data/: sizes, length spread, relevance, behaviour profiles, reproducibility."""

from __future__ import annotations

import importlib.util
import json
import re
import statistics
from collections import Counter

import pytest

from qrbench.load.data import DEFAULT_DATA_DIR, KINDS, METHODS, DataManager

DOMAINS = {"academic", "legal", "medical", "technical"}


@pytest.fixture(scope="module")
def dm() -> DataManager:
    return DataManager.from_dir(seed=0)


def test_counts_per_domain(dm):
    assert len(dm.documents) >= 2000
    assert len(dm.queries) >= 200
    assert set(Counter(d.domain for d in dm.documents)) == DOMAINS
    per_domain = Counter(q.domain for q in dm.queries)
    assert set(per_domain) == DOMAINS
    assert min(per_domain.values()) >= 50
    # Enough topics that documents of other topics are clearly different material.
    assert len({d.topic for d in dm.documents}) >= 4 * 15


def test_document_lengths_are_right_skewed_retrieval_chunks(dm):
    words = sorted(d.n_words for d in dm.documents)
    assert all(d.n_words == len(d.text.split()) for d in dm.documents)
    assert words[0] >= 30 and words[-1] <= 600
    median = statistics.median(words)
    assert 120 <= median <= 180
    p5, p95 = words[len(words) // 20], words[len(words) * 19 // 20]
    assert p5 < 80 and p95 > 300
    # Right skew: the upper tail is longer than the lower one.
    assert statistics.fmean(words) > median
    assert p95 - median > 2 * (median - p5)


def test_files_stay_small():
    assert (DEFAULT_DATA_DIR / "documents.json").stat().st_size < 10 * 2**20
    assert (DEFAULT_DATA_DIR / "queries.json").stat().st_size < 1 * 2**20


def test_every_query_has_two_to_five_relevant_documents_of_its_topic(dm):
    for q in dm.queries:
        relevant = dm.relevant_for(q.id)
        assert 2 <= len(relevant) <= 5, q.id
        assert len(set(q.relevant)) == len(q.relevant)
        assert all(d.domain == q.domain and d.topic == q.topic for d in relevant), q.id


def test_queries_and_relevant_documents_share_key_terms(dm):
    for q in dm.queries:
        assert len(q.key_terms) == 2
        assert any(t.lower() in q.text.lower() for t in q.key_terms), q.id
        for d in dm.relevant_for(q.id):
            assert all(t.lower() in d.text.lower() for t in q.key_terms), (q.id, d.id)


def test_query_lengths_span_keywords_to_paragraphs(dm):
    words = [len(q.text.split()) for q in dm.queries]
    assert min(words) <= 5
    assert max(words) >= 40
    styles = Counter(q.style for q in dm.queries)
    assert set(styles) == {"short", "question", "paragraph"}
    assert min(styles.values()) >= 0.15 * len(dm.queries)
    assert len({q.text for q in dm.queries}) == len(dm.queries)


def test_texts_are_varied(dm):
    assert len({d.text for d in dm.documents}) == len(dm.documents)
    sentences = [s for d in dm.documents for s in re.split(r"(?<=[.!?])\s+", d.text)]
    # Templates are filled with different terms, numbers and names: most sentences occur once.
    assert len(set(sentences)) / len(sentences) > 0.7


def test_behaviour_profiles(dm):
    assert {"rag_interactive", "batch_pipeline", "analyst"} <= set(dm.profiles)
    for p in dm.profiles.values():
        assert set(p.kind_weights) <= set(KINDS) and set(p.method_weights) <= set(METHODS)
        assert sum(p.kind_weights.values()) == pytest.approx(1.0)
        assert sum(p.method_weights.values()) == pytest.approx(1.0)
    rag = dm.profiles["rag_interactive"]
    assert rag.think_time == "lognormal" and rag.think_median_s == 2.0
    assert dm.profiles["batch_pipeline"].think_median_s == 0.0
    assert dm.profiles["batch_pipeline"].kind_weights["rerank_large"] >= 0.5


def test_realistic_day(dm):
    day = dm.day
    rates = day.hourly_rate_per_min
    assert len(rates) == 24
    assert rates[2] == rates[3] == 0  # maintenance window 02:00-04:00
    assert day.maintenance_window == (2, 4)
    assert rates[12] == 300 and max(rates) == 600  # business hours, and the x2 peak
    assert rates[0] == rates[22] == 50  # off-hours
    stages = day.stages(seconds_per_hour=10)
    assert len(stages) == 24 and stages[10] == (10.0, 10.0, 10.0)  # 600/min = 10/s


def test_generator_reproduces_the_shipped_files(monkeypatch):
    # The committed JSON must be exactly what the seeded script writes, so anyone can regenerate it.
    monkeypatch.syspath_prepend(str(DEFAULT_DATA_DIR))
    spec = importlib.util.spec_from_file_location("qrbench_data_generate", DEFAULT_DATA_DIR / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    queries, documents = module.generate()
    assert queries == json.loads((DEFAULT_DATA_DIR / "queries.json").read_text(encoding="utf-8"))
    assert documents == json.loads((DEFAULT_DATA_DIR / "documents.json").read_text(encoding="utf-8"))
    behaviour = json.loads((DEFAULT_DATA_DIR / "user_behavior_patterns.json").read_text(encoding="utf-8"))
    assert module.behavior_patterns() == behaviour
