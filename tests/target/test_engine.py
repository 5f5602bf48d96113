"""The engine in-process: discriminating scores, determinism across processes, settings validation."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from qrbench.errors import ParameterError
from qrbench.target.engine import RerankEngine
from qrbench.target.settings import EngineSettings

QUERY = "treatment options for type 2 diabetes in older adults"
CANDIDATES = [
    "Metformin remains the first-line therapy for type 2 diabetes, with insulin added when control is poor.",
    "The appellate court reversed the judgment, holding the arbitration clause unenforceable.",
    "Gradient descent updates parameters in the direction of the negative gradient of the loss.",
    "The router forwards packets using the longest-prefix match in its routing table.",
]

SCRIPT = """
import json, sys
from qrbench.target.engine import RerankEngine
from qrbench.target.settings import EngineSettings
query, candidates = json.loads(sys.argv[1])
out = {}
for backend in ("exact", "aer"):
    engine = RerankEngine(EngineSettings(backend=backend, shots=512))
    for method in ("classical", "quantum", "hybrid"):
        out[f"{backend}/{method}"] = engine.score(query, candidates, method).scores.tolist()
print(json.dumps(out))
"""


def scores_in_subprocess() -> dict[str, list[float]]:
    arg = json.dumps([QUERY, CANDIDATES])
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, arg],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONHASHSEED": "random"},
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_scores_are_identical_in_two_processes():
    first, second = scores_in_subprocess(), scores_in_subprocess()
    assert first == second
    for key, scores in first.items():
        assert np.argmax(scores) == 0, key  # the diabetes document wins for every backend and method


def test_scores_are_identical_in_this_process_too(embedder):
    # Determinism of the Aer path is the question, not its time budget: a generous budget keeps a busy machine
    # from turning the first (transpiling) call into a classical fallback, and the asserts make sure it did not.
    settings = EngineSettings(backend="aer", shots=512, similarity_cache_size=0, quantum_budget_ms=600_000)
    engine = RerankEngine(settings, embedder=embedder)
    a, b = (engine.score(QUERY, CANDIDATES, "hybrid") for _ in range(2))
    assert a.fallback_reason is None and b.fallback_reason is None
    np.testing.assert_array_equal(a.scores, b.scores)


def test_similarity_cache_hits_on_repeat(embedder):
    engine = RerankEngine(EngineSettings(), embedder=embedder)
    first = engine.score(QUERY, CANDIDATES, "quantum")
    second = engine.score(QUERY, CANDIDATES, "quantum")
    assert first.similarity_cache_hits == 0 and second.similarity_cache_hits == len(CANDIDATES)
    np.testing.assert_array_equal(first.scores, second.scores)
    assert engine.similarity_cache.hits == len(CANDIDATES)


def test_hybrid_is_the_weighted_sum(embedder):
    engine = RerankEngine(EngineSettings(hybrid_weight=0.3, similarity_cache_size=0), embedder=embedder)
    s = engine.score(QUERY, CANDIDATES, "hybrid")
    np.testing.assert_allclose(s.scores, 0.3 * s.quantum + 0.7 * s.classical)


@pytest.mark.parametrize(
    ("field", "value"),
    [("backend", "gpu"), ("qubits", 5), ("hybrid_weight", 1.5), ("shots", 0), ("max_concurrency", 0)],
)
def test_bad_settings_name_the_setting(field, value):
    with pytest.raises(ParameterError, match=field):
        EngineSettings(**{field: value})
