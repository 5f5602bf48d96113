"""Memory profilers on a small real workload: peak per document count, line increments, allocation sites, gc."""

from __future__ import annotations

import gc
import json

import pytest

from qrbench.profile import allocation_sites, gc_pauses, line_memory, memory_by_documents
from qrbench.target.embedding import Embedder
from qrbench.target.engine import RerankEngine
from qrbench.target.settings import EngineSettings

DOCS = [f"Document {i} about diabetes care, contract law and packet routing, version {i}." for i in range(12)]


@pytest.fixture(scope="module")
def engine(embedder):
    engine = RerankEngine(EngineSettings(qubits=2), embedder=embedder)
    yield engine
    engine.close()


def test_memory_by_documents_reports_peak_and_increment(engine):
    frame = memory_by_documents(engine, "diabetes treatment", DOCS, [4, 12], method="hybrid")
    assert list(frame["documents"]) == [4, 12]
    assert (frame["peak_mib"] >= frame["before_mib"]).all()
    assert (frame["increment_mib"] >= 0).all()
    assert frame["per_document_kib"].iloc[1] == pytest.approx(frame["increment_mib"].iloc[1] * 1024 / 12)
    assert (frame["before_mib"] > 100).all()  # a process holding a transformer model


def test_line_memory_names_lines_of_the_profiled_functions(engine):
    engine.embedder.cache.clear()
    table = line_memory((RerankEngine.score, Embedder.embed), lambda: engine.score("a new query", DOCS[:5], "hybrid"))
    assert {"RerankEngine.score", "Embedder.embed"} <= set(table["function"])
    assert (table["occurrences"] > 0).all()
    assert table["source"].str.contains("self.embedder.embed").any()


def test_allocation_sites_find_what_the_caches_keep(engine):
    bodies = [json.dumps({"query": f"query number {i}", "candidates": DOCS}) for i in range(6)]

    def workload():
        for body in bodies:
            payload = json.loads(body)
            engine.score(payload["query"], payload["candidates"], "classical")

    sites, totals = allocation_sites(workload, top=10)
    assert totals["traced_retained_mib"] > 0
    assert totals["traced_peak_mib"] >= totals["traced_retained_mib"]
    assert (sites["size_kib"] > 0).all() and (sites["count"] > 0).all()
    # The caches (digest keys and stored scores, held by target/cache.py) are among the sites still holding memory.
    assert sites["file"].str.endswith("cache.py").any()


def test_gc_pauses_are_counted_and_timed():
    pauses = gc_pauses(lambda: (gc.collect(), gc.collect(1)))
    assert len(pauses) >= 2
    assert {2, 1} <= set(pauses["generation"])
    assert (pauses["ms"] >= 0).all()
