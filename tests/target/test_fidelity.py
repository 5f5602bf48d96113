"""The SWAP test on Qiskit Aer against the closed form, and the state loading it relies on."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.quantum_info import Statevector

from qrbench.target.fidelity import AerSwapTest, _gray, exact_fidelity, ry_angles


def random_states(rng, m, d):
    s = rng.normal(size=(m, d))
    return s / np.linalg.norm(s, axis=1, keepdims=True)


@pytest.mark.parametrize("qubits", [2, 3, 4])
def test_ry_cascade_loads_signed_real_states_exactly(qubits):
    """The circuit the aer backend builds prepares exactly the encoded state (checked by statevector)."""
    rng = np.random.default_rng(qubits)
    for state in random_states(rng, 5, 2**qubits):
        angles = ry_angles(state)[0]
        qc, index = QuantumCircuit(qubits), 0
        for level in range(qubits):
            target, controls = qubits - 1 - level, [qubits - 1 - j for j in range(level)]
            for i in range(2**level):
                qc.ry(angles[index], target)
                index += 1
                if level:
                    qc.cx(controls[(_gray(i) ^ _gray((i + 1) % 2**level)).bit_length() - 1], target)
        np.testing.assert_allclose(np.real(Statevector(qc).data), state, atol=1e-9)


def test_exact_fidelity_is_squared_overlap():
    rng = np.random.default_rng(0)
    q, c = random_states(rng, 1, 16)[0], random_states(rng, 50, 16)
    np.testing.assert_allclose(exact_fidelity(q, c), (c @ q) ** 2)
    assert exact_fidelity(q, q[None])[0] == pytest.approx(1.0)


@pytest.mark.parametrize(("qubits", "shots"), [(2, 1024), (3, 4096), (4, 1024)])
def test_aer_agrees_with_exact_within_shot_noise(qubits, shots):
    """F = 2*P0 - 1 with P0 = (1 + F)/2 binomial over `shots`: sd(F) = 2*sqrt(P0*(1-P0)/shots)."""
    rng = np.random.default_rng(10 + qubits)
    q, c = random_states(rng, 1, 2**qubits)[0], random_states(rng, 60, 2**qubits)
    exact = exact_fidelity(q, c)
    aer = AerSwapTest(qubits=qubits, shots=shots).fidelity(q, c, seed=123)
    p0 = (1 + exact) / 2
    sd = 2 * np.sqrt(p0 * (1 - p0) / shots)
    # 4.5 sd per candidate: a false failure over 60 candidates has probability ~4e-4 (and the seed is fixed).
    assert np.all(np.abs(aer - exact) <= 4.5 * sd + 1e-12), np.max(np.abs(aer - exact) / (sd + 1e-12))
    # And the noise is really there (it is a sampled estimate, not the closed form in disguise).
    assert np.any(aer != exact)
    # The estimator is unbiased: the mean error is small against its standard error.
    assert abs(np.mean(aer - exact)) < 4 * np.sqrt(np.sum(sd**2)) / len(c) + 0.01


def test_aer_same_seed_same_result():
    rng = np.random.default_rng(3)
    q, c = random_states(rng, 1, 16)[0], random_states(rng, 10, 16)
    swap = AerSwapTest(qubits=4, shots=512)
    np.testing.assert_array_equal(swap.fidelity(q, c, seed=7), swap.fidelity(q, c, seed=7))
