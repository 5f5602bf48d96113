"""Requests that no cache can know: the one query-tagging helper the studies share."""

from __future__ import annotations

import json

from ..load import RequestSpec
from ..load.request import with_new_query

__all__ = ["tagged", "NewQueries"]


def tagged(spec: RequestSpec, tag: str, *, documents: bool = False) -> RequestSpec:
    """The same request with its query (and, with documents=True, its documents) made new texts.

    Production queries are nearly all unique while documents recur; appending a tag keeps the text's
    meaning and length and defeats every cache keyed by text.
    """
    payload = json.loads(spec.body)
    for key in ("query", "text1"):
        if key in payload:
            payload[key] = f"{payload[key]} [{tag}]"
    if documents:
        if "candidates" in payload:
            payload["candidates"] = [f"{c} [{tag}.{i}]" for i, c in enumerate(payload["candidates"])]
        if "text2" in payload:
            payload["text2"] = f"{payload['text2']} [{tag}.d]"
    return RequestSpec.from_payload(kind=spec.kind, endpoint=spec.endpoint, payload=payload)


class NewQueries:
    """The pool's requests with a new query each time (production queries are unique; documents recur), so
    no request is answered from the similarity cache. Callable like the driver's request sources.

    The tag goes in through load.with_new_query, on the encoded body (no JSON parsing on a generator's hot path).
    """

    def __init__(self, pool, phase: str) -> None:
        self.pool = pool
        self.phase = phase
        self.n = 0

    def __call__(self):
        self.n += 1
        return with_new_query(self.pool(), f" [{self.phase}{self.n}]".encode())
