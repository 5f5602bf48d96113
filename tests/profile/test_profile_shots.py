"""Shot noise of the aer backend against the exact fidelity, on real embeddings and real Aer runs."""

from __future__ import annotations

import numpy as np

from qrbench.profile import RerankInput, shot_noise

DOCS = (
    "Metformin lowers blood glucose in type 2 diabetes.",
    "The court reversed the judgment.",
    "Routers forward packets by longest-prefix match.",
    "Insulin is added when control is poor.",
    "Gradient descent minimises the loss.",
    "A lease ends when the landlord fails to repair.",
)


def test_shot_noise_shrinks_with_shots_as_expected(embedder):
    frame = shot_noise(
        [RerankInput("diabetes drugs", DOCS), RerankInput("court rulings", DOCS)],
        embedder=embedder,
        qubits=(2,),
        shots=(64, 4096),
        batch_size=6,
    )
    assert len(frame) == 2 * 2 * 6
    rmse = frame.groupby("shots")["error"].apply(lambda e: float(np.sqrt(np.mean(e**2))))
    assert rmse[4096] < rmse[64]
    # Every estimate lies within 5 standard deviations of shot noise (the clip at 0 only shrinks errors).
    assert (frame["error"].abs() <= 5 * frame["expected_sd"] + 1e-9).all()
    assert (frame["aer_ms"] > frame["exact_ms"]).all()
