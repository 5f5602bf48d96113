"""cProfile call trees of a real rerank."""

from __future__ import annotations

import pytest

from qrbench.profile import call_profile
from qrbench.target.engine import RerankEngine
from qrbench.target.settings import EngineSettings


@pytest.fixture(scope="module")
def engine(embedder):
    engine = RerankEngine(EngineSettings(qubits=2, similarity_cache_size=0), embedder=embedder)
    yield engine
    engine.close()


def test_call_tree_of_a_rerank(engine):
    docs = ["Metformin lowers blood glucose.", "The court reversed the judgment.", "Routers forward packets."]
    prof = call_profile(lambda: engine.score("diabetes drugs", docs, "hybrid"), min_share=0.0, max_depth=4)
    tree = prof.tree
    assert tree["depth"].iloc[0] == 0 and tree["share"].iloc[0] == pytest.approx(1.0, abs=0.05)
    assert tree["function"].str.contains(r"^score \(qrbench/target/engine\.py").any()
    assert tree["function"].str.contains(r"^embed \(qrbench/target/embedding\.py").any()
    assert (tree["share"] <= 1.0 + 1e-9).all()
    assert prof.functions["cumtime_ms"].max() <= prof.wall_ms * 1.05
    assert prof.result.scores.shape == (3,)
    assert "score (qrbench/target/engine.py" in prof.render()
