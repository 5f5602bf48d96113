"""What a request costs outside the engine: HTTP, the framework, parsing, validation, ranking, JSON.

`measure_http` sends requests one at a time to a running service and keeps, per request, the end-to-end
latency and the computation time the server reports (the engine call, `computation_time_ms`); their
difference is everything outside the engine. `measure_codec` times the pieces of that difference the
service's own code does, in this process, on the same bodies: JSON parsing, pydantic validation, the
ranking the rerank endpoint does and the JSON rendering of the response. What remains (`framework`) is
uvicorn, FastAPI routing, the thread hand-off and the loopback round trip.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ParameterError

__all__ = ["measure_http", "measure_codec", "CODEC_PARTS"]

CODEC_PARTS = ("parse JSON", "validate request", "rank candidates", "serialise response")


def measure_http(
    url: str,
    bodies: Sequence[bytes],
    *,
    endpoint: str = "/v1/rerank",
    headers: Mapping[str, str] | None = None,
    timeout_s: float = 60.0,
) -> pd.DataFrame:
    """One request per body, sequentially: rows of request, n_candidates, method, status, e2e_ms, server_ms
    (computation_time_ms), outside_ms (e2e - server), embedding_ms, quantum_ms, request_bytes,
    response_bytes and `response` (the body, for measure_codec). Failures are rows with their status."""
    import httpx

    rows = []
    with httpx.Client(
        base_url=url, headers={"content-type": "application/json", **(headers or {})}, timeout=timeout_s
    ) as client:
        for i, body in enumerate(bodies):
            payload = json.loads(body)
            row: dict[str, Any] = {
                "request": i,
                "endpoint": endpoint,
                "method": payload.get("method"),
                "n_candidates": len(payload.get("candidates", [None])),
                "request_bytes": len(body),
            }
            t0 = time.perf_counter_ns()
            try:
                r = client.post(endpoint, content=body)
            except httpx.HTTPError as exc:
                rows.append({**row, "status": 0, "error": type(exc).__name__})
                continue
            e2e = (time.perf_counter_ns() - t0) / 1e6
            row.update(status=r.status_code, e2e_ms=e2e, response_bytes=len(r.content), response=r.content)
            if r.status_code == 200:
                doc = r.json()
                meta = doc.get("query_metadata") or doc.get("computation_details") or {}
                server = float(doc["computation_time_ms"])
                row.update(
                    server_ms=server,
                    outside_ms=e2e - server,
                    embedding_ms=meta.get("embedding_ms"),
                    quantum_ms=meta.get("quantum_ms"),
                    method_used=doc.get("method_used"),
                )
            rows.append(row)
    return pd.DataFrame(rows)


def _rank(scores: np.ndarray, top_k: int) -> list[int]:
    # The rerank endpoint's ordering: stable, by descending score, cut to top_k.
    return sorted(range(len(scores)), key=lambda i: -scores[i])[:top_k]


def measure_codec(pairs: Sequence[tuple[bytes, bytes]], *, repeats: int = 20, seed: int = 0) -> pd.DataFrame:
    """Time the service-side handling of (request body, response body) pairs of /v1/rerank, in-process.

    Rows of (request, n_candidates, repeat, component, ms) for the CODEC_PARTS: json.loads of the request,
    RerankRequest validation of the parsed body (as FastAPI does), the stable sort of n scores cut to
    top_k, and JSONResponse rendering of the response's content. Milliseconds per request.
    """
    from fastapi.responses import JSONResponse

    from ..target.schemas import RerankRequest

    if repeats < 1:
        raise ParameterError(f"repeats is {repeats!r}; it must be 1 or more.")
    rng = np.random.default_rng(seed)
    rows = []
    for i, (request, response) in enumerate(pairs):
        payload = json.loads(request)
        content = json.loads(response)
        n = len(payload.get("candidates", []))
        top_k = min(int(payload.get("top_k", 10)), n)
        scores = rng.random(n)
        steps = (
            ("parse JSON", functools.partial(json.loads, request)),
            ("validate request", functools.partial(RerankRequest.model_validate, payload)),
            ("rank candidates", functools.partial(_rank, scores, top_k)),
            ("serialise response", functools.partial(JSONResponse, content)),
        )
        for r in range(repeats):
            for name, fn in steps:
                t0 = time.perf_counter_ns()
                fn()
                rows.append(
                    {
                        "request": i,
                        "n_candidates": n,
                        "repeat": r,
                        "component": name,
                        "ms": (time.perf_counter_ns() - t0) / 1e6,
                    }
                )
    return pd.DataFrame(rows)
