"""What the driver sends: one prepared HTTP request, built before the clock starts."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RequestSpec", "ENDPOINTS"]

# Request kind -> endpoint path of the QuantumRerank HTTP contract.
ENDPOINTS = {
    "similarity": "/v1/similarity",
    "rerank": "/v1/rerank",
    "batch_similarity": "/v1/batch-similarity",
}


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestSpec:
    """One request, ready to send.

    kind: the label the records and reports group by (e.g. "similarity", "rerank_small").
    endpoint: URL path, e.g. "/v1/rerank".
    method: the scoring method asked for (classical, quantum, hybrid).
    n_candidates: documents scored by this request (1 for a similarity pair).
    body: the JSON body, already encoded, so encoding costs nothing while the clock runs.
    """

    kind: str
    endpoint: str
    method: str
    n_candidates: int
    body: bytes = field(repr=False)

    @classmethod
    def from_payload(cls, *, kind: str, endpoint: str, payload: dict[str, Any]) -> RequestSpec:
        candidates = payload.get("candidates")
        n = len(candidates) if isinstance(candidates, list) else 1
        return cls(
            kind=kind,
            endpoint=endpoint,
            method=str(payload.get("method", "")),
            n_candidates=n,
            body=json.dumps(payload, separators=(",", ":")).encode(),
        )
