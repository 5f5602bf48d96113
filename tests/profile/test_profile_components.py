"""The component breakdown on a small real workload: the real model, the real engine, real Qiskit Aer."""

from __future__ import annotations

import numpy as np
import pytest

from qrbench.errors import ParameterError
from qrbench.profile import (
    COMPONENTS,
    TOTAL,
    UNATTRIBUTED,
    RerankInput,
    Scenario,
    measure_cold_start,
    measure_components,
    scenario_grid,
)

QUERY = "treatment options for type 2 diabetes in older adults"
DOCS = (
    "Metformin remains the first-line therapy for type 2 diabetes, with insulin added when control is poor.",
    "The appellate court reversed the judgment, holding the arbitration clause unenforceable.",
    "Gradient descent updates parameters in the direction of the negative gradient of the loss.",
    "The router forwards packets using the longest-prefix match in its routing table.",
    "Older adults with diabetes face a higher risk of hypoglycaemia from sulfonylureas.",
    "A lease may be terminated early when the landlord fails to make essential repairs.",
)
INPUTS = [RerankInput(QUERY, DOCS), RerankInput("how do routers choose a path for packets", DOCS[::-1])]


@pytest.fixture(scope="module")
def breakdown(embedder):
    # One torch thread: on shared cores torch's default threads spin-wait and make single timings erratic.
    scenarios = scenario_grid(
        batch_sizes=(6,),
        methods=("classical", "quantum", "hybrid"),
        backends=("exact", "aer"),
        qubits=(2,),
        shots=(256,),
        torch_threads=(1,),
    )
    scenarios.append(
        Scenario(batch_size=4, method="hybrid", backend="exact", qubits=2, torch_threads=1, documents="cold")
    )
    scenarios.append(
        Scenario(batch_size=4, method="hybrid", backend="aer", qubits=2, shots=256, torch_threads=1, fallback=True)
    )
    return scenarios, measure_components(scenarios, INPUTS, embedder=embedder, repeats=9, cold_repeats=2)


def test_every_scenario_has_the_components_its_method_runs(breakdown):
    scenarios, frame = breakdown
    assert frame["scenario"].nunique() == len(scenarios) == 7  # classical collapses over the backends
    for sc in scenarios:
        got = set(frame[frame["scenario"] == sc.label]["component"])
        quantum = sc.method != "classical" and not sc.fallback
        expected = {c for c in COMPONENTS if quantum or c not in ("encode states", "fidelity")}
        assert got == expected | {UNATTRIBUTED, TOTAL}, sc.label


def test_parts_and_unattributed_add_up_to_the_total(breakdown):
    _, frame = breakdown
    wide = frame.pivot_table(index=["scenario", "repeat"], columns="component", values="ms")
    parts = wide.drop(columns=[TOTAL]).sum(axis=1, skipna=True)
    np.testing.assert_allclose(parts, wide[TOTAL], rtol=1e-9)
    assert (wide[TOTAL] > 0).all()


def test_the_parts_explain_the_warm_totals(breakdown):
    """What the parts leave unexplained is small: the median over repeats of |unattributed| / total."""
    _, frame = breakdown
    warm = frame[(frame["documents"] == "cached") & ~frame["fallback"]]
    wide = warm.pivot_table(index=["scenario", "repeat"], columns="component", values="ms")
    share = (wide[UNATTRIBUTED] / wide[TOTAL]).abs().groupby(level="scenario").median()
    assert (share < 0.4).all(), share.to_dict()


def test_aer_fidelity_costs_more_than_the_closed_form(breakdown):
    _, frame = breakdown
    fid = frame[(frame["component"] == "fidelity") & (frame["method"] == "quantum")]
    by = fid.groupby("backend")["ms"].median()
    assert by["aer"] > 10 * by["exact"]


def test_the_fallback_scenario_is_answered_classically_at_classical_cost(breakdown):
    _, frame = breakdown
    fb = frame[frame["fallback"] & (frame["component"] == "fidelity")]
    assert fb.empty  # no quantum part ran


def test_cold_documents_cost_a_forward_pass(breakdown):
    _, frame = breakdown
    docs = frame[frame["component"] == "embed documents"]
    cold = docs[docs["documents"] == "cold"]["ms"].median()
    cached = docs[(docs["documents"] == "cached") & (docs["batch_size"] == 6)]["ms"].median()
    assert cold > 20 * cached


def test_cold_start_splits_construction_and_transpilation():
    frame = measure_cold_start(qubits=(2,), repeats=1)
    assert set(frame["component"]) == {"circuit construction", "transpilation"}
    assert (frame["ms"] > 0).all()


def test_scenarios_are_validated_with_messages_naming_the_field():
    with pytest.raises(ParameterError, match="method"):
        Scenario(method="quantumish")
    with pytest.raises(ParameterError, match="fallback"):
        Scenario(method="classical", fallback=True)
    with pytest.raises(ParameterError, match="aer_threads"):
        Scenario(settings=(("aer_threads", -1),))
    with pytest.raises(ParameterError, match="fewer than"):
        measure_components([Scenario(batch_size=50)], INPUTS, embedder=None)
