"""What the aer backend buys with its time: shot noise against the exact fidelity, per qubits and shots.

The SWAP test estimates F = |<q|c>|^2 from the ancilla: F = 2 P(0) - 1, with P(0) estimated from
`shots` samples, so the estimate's standard deviation is sqrt((1 - F^2) / shots) before the clip at 0.
The exact backend computes F itself. Both see the same encoded states here, so the difference is
shot noise alone.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import ParameterError
from ..target.embedding import Embedder
from ..target.encoding import Projection, load_projection
from ..target.fidelity import AerSwapTest, exact_fidelity
from .components import RerankInput

__all__ = ["shot_noise"]


def shot_noise(
    inputs: Sequence[RerankInput],
    *,
    embedder: Embedder,
    qubits: Sequence[int] = (2, 3, 4),
    shots: Sequence[int] = (256, 1024, 8192),
    batch_size: int = 50,
    aer_threads: int = 1,
    projection: Projection | None = None,
) -> pd.DataFrame:
    """One row per input, qubits, shots and candidate: exact and aer fidelity, their difference, and the
    wall milliseconds of the whole batched call each came from (exact_ms, aer_ms)."""
    if not inputs:
        raise ParameterError("shot_noise needs at least one RerankInput.")
    projection = projection or load_projection()
    rows = []
    for q in qubits:
        for s in shots:
            aer = AerSwapTest(qubits=q, shots=s, threads=aer_threads)
            aer.warm_up()
            for i, x in enumerate(inputs):
                docs = list(x.candidates[:batch_size])
                vectors, _ = embedder.embed([x.query, *docs])
                states = projection.encode(vectors, q)
                t0 = time.perf_counter_ns()
                exact = exact_fidelity(states[0], states[1:])
                t1 = time.perf_counter_ns()
                estimate = aer.fidelity(states[0], states[1:], seed=i)
                t2 = time.perf_counter_ns()
                for j in range(len(docs)):
                    rows.append(
                        {
                            "input": i,
                            "qubits": q,
                            "shots": s,
                            "candidate": j,
                            "exact": exact[j],
                            "aer": estimate[j],
                            "error": estimate[j] - exact[j],
                            "exact_ms": (t1 - t0) / 1e6,
                            "aer_ms": (t2 - t1) / 1e6,
                        }
                    )
    frame = pd.DataFrame(rows)
    frame["expected_sd"] = np.sqrt((1.0 - frame["exact"] ** 2) / frame["shots"])
    return frame
