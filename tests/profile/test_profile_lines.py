"""Line tables name real lines of the profiled functions, on the quantum path and the classical fallback."""

from __future__ import annotations

import inspect
import linecache
from pathlib import Path

import numpy as np
import pytest

from qrbench.profile import CLASSICAL_FALLBACK, LINE_COLUMNS, QUANTUM_PATH, line_profile
from qrbench.target.engine import RerankEngine
from qrbench.target.fidelity import AerSwapTest
from qrbench.target.settings import EngineSettings

ROOT = Path(__file__).resolve().parents[2]
QUERY = "which court decides arbitration disputes"
DOCS = [
    "The appellate court reversed the judgment, holding the arbitration clause unenforceable.",
    "Metformin remains the first-line therapy for type 2 diabetes.",
    "The router forwards packets using the longest-prefix match.",
]


@pytest.fixture(scope="module")
def engine(embedder):
    engine = RerankEngine(EngineSettings(qubits=2, similarity_cache_size=0), embedder=embedder)
    yield engine
    engine.close()


def _check_real_lines(table):
    assert list(table.columns) == list(LINE_COLUMNS)
    assert len(table) > 0
    for row in table.itertuples():
        text = linecache.getline(str(ROOT / row.file), row.line).rstrip()
        assert text == row.source, (row.file, row.line)
        assert row.hits > 0
    shares = table.groupby("function")["share"].sum()
    np.testing.assert_allclose(shares[shares > 0], 1.0, rtol=1e-9)


def test_quantum_path_lines(engine):
    aer = AerSwapTest(qubits=2, shots=128)
    aer.warm_up()
    states = engine.projection.encode(engine.embedder.embed([QUERY, *DOCS])[0], 2)

    def workload():
        engine.score(QUERY, DOCS, "hybrid")
        aer.fidelity(states[0], states[1:], seed=1)

    table = line_profile(QUANTUM_PATH, workload, repeats=2)
    _check_real_lines(table)
    assert {
        "RerankEngine.score",
        "RerankEngine._quantum",
        "Embedder.embed",
        "Projection.encode",
        "exact_fidelity",
        "AerSwapTest.fidelity",
        "ry_angles",
    } <= set(table["function"])
    run = table[table["source"].str.contains("simulator.run")]
    assert len(run) == 1 and run["hits"].iloc[0] >= 2  # a statement over several lines counts more than once


def test_classical_fallback_lines(engine):
    def workload():
        engine.quantum_fault = RuntimeError("injected by the test")
        try:
            engine.score(QUERY, DOCS, "quantum")
        finally:
            engine.quantum_fault = None

    table = line_profile(CLASSICAL_FALLBACK, workload, repeats=3)
    _check_real_lines(table)
    score = table[table["function"] == "RerankEngine.score"]
    src, first = inspect.getsourcelines(RerankEngine.score)
    assert score["line"].between(first, first + len(src)).all()
    hit = score[score["source"].str.contains("fallback_reason = str(exc)", regex=False)]
    assert len(hit) == 1 and hit["hits"].iloc[0] == 3
