"""What the driver sends: one prepared HTTP request, built before the clock starts."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RequestSpec", "ENDPOINTS", "with_new_query"]

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


def with_new_query(spec: RequestSpec, tag: bytes) -> RequestSpec:
    """The same request with `tag` appended to its query ("query", or "text1" of a similarity pair).

    Production queries are nearly all unique while documents recur: a tag keeps the query's meaning and
    length and makes it a text no cache has seen. Works on the encoded body (no JSON parsing), cheap
    enough for a load generator's hot path; `tag` must be valid inside a JSON string (no quotes or
    backslashes). A body with neither key is returned unchanged.
    """
    body = spec.body
    for key in (b'"query":"', b'"text1":"'):
        at = body.find(key)
        if at >= 0:
            end = _string_end(body, at + len(key))
            return RequestSpec(
                kind=spec.kind,
                endpoint=spec.endpoint,
                method=spec.method,
                n_candidates=spec.n_candidates,
                body=body[:end] + tag + body[end:],
            )
    return spec


def _string_end(body: bytes, start: int) -> int:
    """Index of the quote that closes the JSON string starting at `start` (escaped quotes skipped)."""
    i = start
    while True:
        j = body.index(b'"', i)
        backslashes = len(body[:j]) - len(body[:j].rstrip(b"\\"))
        if backslashes % 2 == 0:
            return j
        i = j + 1
