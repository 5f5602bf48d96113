"""What a request costs, seen from outside any service: latency by request kind and size, and payload sizes.

`measure_request_costs` sends the given requests one at a time (one client, keep-alive) and keeps, per
request, its kind, endpoint, candidate count, text length, the bytes each way, the status, the end-to-end
latency and the computation time the service reports when it does (`computation_time_ms`). It needs
nothing of the service but the HTTP contract, so the bottleneck study uses it on targets qrbench did not
write; fitting latency against the candidate count (stats.cost_model) then separates what every request
pays from what each document costs. It stops at `budget_s` and keeps what it measured.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

__all__ = ["measure_request_costs", "COST_COLUMNS"]

COST_COLUMNS = (
    "order",
    "kind",
    "endpoint",
    "method",
    "n_candidates",
    "text_chars",
    "request_bytes",
    "response_bytes",
    "status",
    "error",
    "e2e_ms",
    "server_ms",
)


def _text_chars(payload: dict[str, Any]) -> int:
    texts = [payload.get(k) for k in ("query", "text1", "text2")] + list(payload.get("candidates") or [])
    return sum(len(t) for t in texts if isinstance(t, str))


def measure_request_costs(
    url: str,
    requests: Sequence[Any],
    *,
    headers: Mapping[str, str] | None = None,
    timeout_s: float = 60.0,
    budget_s: float | None = None,
) -> tuple[pd.DataFrame, bool]:
    """Send `requests` (objects with kind, endpoint, method, body) one at a time; returns (rows of
    COST_COLUMNS, cut) where cut says the budget stopped it before the last request. Milliseconds."""
    import httpx

    rows = []
    cut = False
    started = time.monotonic()
    with httpx.Client(
        base_url=url, headers={"content-type": "application/json", **(headers or {})}, timeout=timeout_s
    ) as client:
        for i, spec in enumerate(requests):
            if budget_s is not None and time.monotonic() - started >= budget_s:
                cut = i < len(requests)
                break
            payload = json.loads(spec.body)
            row: dict[str, Any] = {
                "order": i,
                "kind": spec.kind,
                "endpoint": spec.endpoint,
                "method": spec.method,
                "n_candidates": len(payload.get("candidates") or [None]),
                "text_chars": _text_chars(payload),
                "request_bytes": len(spec.body),
                "response_bytes": 0,
                "status": 0,
                "error": "",
                "e2e_ms": math.nan,
                "server_ms": math.nan,
            }
            t0 = time.perf_counter_ns()
            try:
                r = client.post(spec.endpoint, content=spec.body)
            except httpx.HTTPError as exc:
                row.update(error=type(exc).__name__, e2e_ms=(time.perf_counter_ns() - t0) / 1e6)
                rows.append(row)
                continue
            row.update(status=r.status_code, e2e_ms=(time.perf_counter_ns() - t0) / 1e6, response_bytes=len(r.content))
            if r.status_code == 200:
                try:
                    server = r.json().get("computation_time_ms")
                    row["server_ms"] = float(server) if server is not None else math.nan
                except (ValueError, TypeError, AttributeError):
                    pass
            rows.append(row)
    return pd.DataFrame(rows, columns=list(COST_COLUMNS)), cut
