"""Requests that no cache can know: the one query-tagging helper the studies share."""

from __future__ import annotations

import json

from ..load import RequestSpec

__all__ = ["tagged"]


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
