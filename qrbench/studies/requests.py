"""Requests that no cache can know: the one query-tagging helper the studies share."""

from __future__ import annotations

import json

from ..load import RequestSpec

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


def _string_end(body: bytes, start: int) -> int:
    """Index of the quote that closes the JSON string starting at `start` (escaped quotes skipped)."""
    i = start
    while True:
        j = body.index(b'"', i)
        backslashes = len(body[:j]) - len(body[:j].rstrip(b"\\"))
        if backslashes % 2 == 0:
            return j
        i = j + 1


class NewQueries:
    """The pool's requests with a new query each time (production queries are unique; documents recur), so
    no request is answered from the similarity cache. Callable like the driver's request sources.

    `tagged` on the bytes, for a load generator's hot path: the tag goes in without parsing the JSON body.
    """

    def __init__(self, pool, phase: str) -> None:
        self.pool = pool
        self.phase = phase
        self.n = 0

    def __call__(self):
        spec = self.pool()
        self.n += 1
        tag = f" [{self.phase}{self.n}]".encode()
        body = spec.body
        for key in (b'"query":"', b'"text1":"'):
            at = body.find(key)
            if at >= 0:
                end = _string_end(body, at + len(key))
                body = body[:end] + tag + body[end:]
                break
        return RequestSpec(
            kind=spec.kind, endpoint=spec.endpoint, method=spec.method, n_candidates=spec.n_candidates, body=body
        )
