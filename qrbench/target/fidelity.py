"""Fidelity |<a|b>|^2 between one query state and many candidate states.

Two backends with the same expected value:
- `exact`: the closed form, vectorised over all candidates at once.
- `aer`: a real SWAP-test circuit run on Qiskit Aer with shots; F = max(0, 2*P(ancilla=0) - 1).

The aer circuit is built once per qubit count with symbolic rotation angles, transpiled once, and each
request binds all its candidates in one batched `run` (parameter_binds). Building a fresh circuit with
`initialize` per candidate is what makes naive SWAP tests slow: `initialize` carries a reset that
forces Aer to simulate every shot separately, and `StatePreparation` costs ~60-100 ms to transpile.
"""

from __future__ import annotations

import threading
import zlib
from functools import cached_property

import numpy as np

__all__ = ["exact_fidelity", "row_dots", "AerSwapTest", "ry_angles"]


def exact_fidelity(query: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """|<q|c_i>|^2 for a (d,) query state and (m, d) candidate states, clipped to [0, 1]."""
    overlaps = row_dots(candidates, query)
    return np.clip(overlaps * overlaps, 0.0, 1.0)


def row_dots(rows: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """rows @ vector in float64, summed in an order fixed by the shapes alone.

    BLAS matrix-vector kernels sum in an order that depends on the arrays' memory alignment, so the
    same inputs in another allocation can differ in the last bit; numpy's elementwise product and
    pairwise sum do not. Scores are then a function of the texts alone, whatever else the request
    or the forward pass held (deterministic to every bit the API returns). Costs ~10 us per 100 rows.
    """
    return np.sum(np.asarray(rows, dtype=np.float64) * np.asarray(vector, dtype=np.float64), axis=-1)


def _gray(i: int) -> int:
    return i ^ (i >> 1)


def _popcount_parity(x: int) -> int:
    return bin(x).count("1") & 1


def ry_angles(states: np.ndarray) -> np.ndarray:
    """Angles of the uniformly controlled RY cascade that loads real unit states (m, 2**n - 1).

    Level k (k = 0..n-1) splits the norm of each k-bit prefix of the amplitude index between its two
    halves: angle 2*atan2(right, left), the last level on the signed amplitudes (atan2 keeps the
    signs). A uniformly controlled RY with k controls is then run as 2**k plain RY gates and 2**k CNOTs
    (Mottonen et al., 2004): the gate angles phi solve theta = M phi with
    M[x, i] = (-1)**popcount(x & gray(i)), so phi = M.T @ theta / 2**k. Each circuit parameter is then
    a plain RY angle, which is what Aer's batched parameter binding handles.
    """
    states = np.atleast_2d(np.asarray(states, dtype=np.float64))
    m, d = states.shape
    n = d.bit_length() - 1
    columns = []
    for level in range(n):
        blocks = states.reshape(m, 2 ** (level + 1), d // 2 ** (level + 1))
        if level == n - 1:
            left, right = blocks[:, 0::2, 0], blocks[:, 1::2, 0]
        else:
            left = np.linalg.norm(blocks[:, 0::2, :], axis=2)
            right = np.linalg.norm(blocks[:, 1::2, :], axis=2)
        theta = 2.0 * np.arctan2(right, left)  # indexed by prefix p, most significant bit first
        if level > 0:
            # x is the prefix with its bits reversed: bit j of x is the value of control j (= reg bit
            # n-1-j), while prefix p has that bit at position level-1-j.
            x_of_p = [int(format(p, f"0{level}b")[::-1], 2) for p in range(2**level)]
            mat = np.array(
                [[(-1) ** _popcount_parity(x & _gray(i)) for i in range(2**level)] for x in x_of_p],
                dtype=np.float64,
            )
            theta = theta @ mat / 2**level
        columns.append(theta)
    return np.concatenate(columns, axis=1)


class AerSwapTest:
    """SWAP tests of one query against many candidates on Qiskit Aer, one batched run per call."""

    def __init__(self, *, qubits: int, shots: int, threads: int = 1) -> None:
        """threads: OpenMP threads Aer may use per run (0: Aer's default, every core)."""
        self.qubits = qubits
        self.shots = shots
        self.threads = threads
        # Aer's simulator objects are not meant to be shared by concurrent runs.
        self._lock = threading.Lock()

    @cached_property
    def _template(self):
        from qiskit import QuantumCircuit, transpile
        from qiskit.circuit import ParameterVector
        from qiskit_aer import AerSimulator

        n = self.qubits
        a = ParameterVector("a", 2**n - 1)
        b = ParameterVector("b", 2**n - 1)
        circuit = QuantumCircuit(2 * n + 1, 1)
        ancilla, reg_a, reg_b = 0, list(range(1, n + 1)), list(range(n + 1, 2 * n + 1))
        for params, reg in ((a, reg_a), (b, reg_b)):
            # Qiskit is little-endian: the most significant bit of the amplitude index is reg[n - 1].
            index = 0
            for level in range(n):
                target = reg[n - 1 - level]
                controls = [reg[n - 1 - j] for j in range(level)]
                for i in range(2**level):
                    circuit.ry(params[index], target)
                    index += 1
                    if level > 0:
                        changed = _gray(i) ^ _gray((i + 1) % 2**level)
                        circuit.cx(controls[changed.bit_length() - 1], target)
        circuit.h(ancilla)
        for qa, qb in zip(reg_a, reg_b, strict=True):
            circuit.cswap(ancilla, qa, qb)
        circuit.h(ancilla)
        circuit.measure(ancilla, 0)
        # A SWAP test holds at most 2**9 amplitudes: too small for OpenMP to pay. With Aer's default (every
        # core) its threads spin-wait against the service's own: measured ~10x slower per run when the cores
        # are busy (as under load), at most ~1.4x faster on idle cores; counts are identical either way.
        simulator = AerSimulator(method="statevector", max_parallel_threads=self.threads)
        compiled = transpile(circuit, simulator, optimization_level=1)
        return simulator, compiled, list(a), list(b)

    def warm_up(self) -> None:
        """Build and transpile the template now rather than inside the first request."""
        self._template  # noqa: B018

    def fidelity(self, query: np.ndarray, candidates: np.ndarray, *, seed: int | None = None) -> np.ndarray:
        """Estimated |<q|c_i>|^2 from `shots` SWAP tests per candidate (m,), in [0, 1]."""
        simulator, compiled, a, b = self._template
        candidates = np.atleast_2d(candidates)
        m = candidates.shape[0]
        qa = ry_angles(query)[0]
        cb = ry_angles(candidates)
        binds = {p: [float(qa[i])] * m for i, p in enumerate(a)}
        binds.update({p: cb[:, i].tolist() for i, p in enumerate(b)})
        if seed is None:
            seed = zlib.crc32(np.ascontiguousarray(cb).tobytes() + qa.tobytes())
        with self._lock:
            result = simulator.run(compiled, shots=self.shots, parameter_binds=[binds], seed_simulator=seed).result()
        p0 = np.array([result.get_counts(i).get("0", 0) / self.shots for i in range(m)])
        return np.clip(2.0 * p0 - 1.0, 0.0, 1.0)
