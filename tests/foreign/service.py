"""A QuantumRerank-compatible service written without qrbench's code: a foreign target for the studies.

It speaks the HTTP contract (`POST /v1/similarity`, `/v1/rerank`, `/v1/batch-similarity`, `GET /health`)
with the same JSON bodies, but it is another system: aiohttp instead of FastAPI, no `/metrics`, no
`/health/live` or `/health/ready`, no Aer, no shots, no caches. Its cost is a latency model (a fixed part
plus a part per document, in milliseconds), part of which can be spent computing on the CPU so that a
sampling profiler sees its own functions; a share of requests gets a fast 500; a fixed number of slots
computes at once and the rest wait in an unbounded queue (as many small services do).

    python tests/foreign/service.py --port 8123 --rerank-per-doc-ms 100 --slots 4 --error-share 0.005

Only the standard library and aiohttp: do not import qrbench here.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

METHODS = ("classical", "quantum", "hybrid")
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True, slots=True, kw_only=True)
class LatencyModel:
    """Milliseconds a request of each kind costs: fixed + per document."""

    fixed_ms: float = 2.0
    similarity_ms: float = 5.0
    rerank_per_doc_ms: float = 1.0
    batch_per_doc_ms: float = 1.0
    cpu_fraction: float = 0.0  # share of each cost spent computing (GIL held) rather than waiting

    def cost_ms(self, endpoint: str, documents: int) -> float:
        if endpoint == "similarity":
            return self.fixed_ms + self.similarity_ms
        per_doc = self.rerank_per_doc_ms if endpoint == "rerank" else self.batch_per_doc_ms
        return self.fixed_ms + per_doc * documents


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def overlap_score(a: str, b: str) -> float:
    """Jaccard overlap of the two texts' words, in [0, 1]."""
    wa, wb = _words(a), _words(b)
    return len(wa & wb) / len(wa | wb) if wa and wb else 0.0


def phase_score(a: str, b: str) -> float:
    """A second, cruder score standing for the 'quantum' one: overlap of character trigrams, squared."""
    ta = {a.lower()[i : i + 3] for i in range(max(len(a) - 2, 0))}
    tb = {b.lower()[i : i + 3] for i in range(max(len(b) - 2, 0))}
    return (len(ta & tb) / math.sqrt(len(ta) * len(tb))) ** 2 if ta and tb else 0.0


def score(method: str, a: str, b: str) -> tuple[float, float | None, float | None]:
    classical = overlap_score(a, b) if method != "quantum" else None
    quantum = phase_score(a, b) if method != "classical" else None
    if method == "classical":
        return classical, classical, None
    if method == "quantum":
        return quantum, None, quantum
    return 0.5 * classical + 0.5 * quantum, classical, quantum


def burn_cpu(ms: float) -> None:
    """Compute for ms milliseconds (holding the GIL), so that a profiler has something of ours to see."""
    end = time.perf_counter() + ms / 1000.0
    x = 0
    while time.perf_counter() < end:
        for i in range(500):
            x += i * i
    return None


class ForeignService:
    def __init__(self, *, model: LatencyModel, slots: int, error_share: float, seed: int) -> None:
        self.model = model
        self.slots = asyncio.Semaphore(slots)
        self.error_share = error_share
        self.rng = random.Random(seed)
        self.served = 0

    async def _spend(self, endpoint: str, documents: int) -> float:
        cost = self.model.cost_ms(endpoint, documents)
        t0 = time.perf_counter()
        async with self.slots:
            busy = cost * self.model.cpu_fraction
            if busy > 0:
                await asyncio.get_running_loop().run_in_executor(None, burn_cpu, busy)
            await asyncio.sleep(max(cost - busy, 0.0) / 1000.0)
        return (time.perf_counter() - t0) * 1000.0

    async def _handle(self, request: web.Request, endpoint: str, parse: Callable) -> web.Response:
        if self.rng.random() < self.error_share:
            return web.json_response({"error": "internal error (injected)"}, status=500)
        try:
            doc = await request.json()
            fields = parse(doc)
        except (ValueError, KeyError, TypeError) as exc:
            return web.json_response({"error": f"invalid body: {exc}"}, status=422)
        documents = len(fields.get("candidates", ())) or 1
        elapsed = await self._spend(endpoint, documents)
        self.served += 1
        return web.json_response(build(endpoint, fields, elapsed))

    async def similarity(self, request: web.Request) -> web.Response:
        return await self._handle(request, "similarity", parse_similarity)

    async def rerank(self, request: web.Request) -> web.Response:
        return await self._handle(request, "rerank", parse_rerank)

    async def batch(self, request: web.Request) -> web.Response:
        return await self._handle(request, "batch", parse_batch)

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "served": self.served})


def _text(doc: dict, key: str) -> str:
    value = doc[key]
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key} must be a non-blank string")
    return value


def _method(doc: dict) -> str:
    method = doc.get("method", "hybrid")
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}")
    return method


def _candidates(doc: dict, limit: int) -> list[str]:
    cands = doc["candidates"]
    if not isinstance(cands, list) or not 1 <= len(cands) <= limit:
        raise ValueError(f"candidates must be a list of 1..{limit} strings")
    return [_text({"c": c}, "c") for c in cands]


def parse_similarity(doc: dict) -> dict:
    return {"text1": _text(doc, "text1"), "text2": _text(doc, "text2"), "method": _method(doc)}


def parse_rerank(doc: dict) -> dict:
    top_k = int(doc.get("top_k", 10))
    return {"query": _text(doc, "query"), "candidates": _candidates(doc, 1000), "top_k": top_k, "method": _method(doc)}


def parse_batch(doc: dict) -> dict:
    return {
        "query": _text(doc, "query"),
        "candidates": _candidates(doc, 100),
        "method": _method(doc),
        "return_all": bool(doc.get("return_all", False)),
        "threshold": float(doc.get("threshold", 0.0)),
    }


def _details(method: str, elapsed_ms: float) -> dict:
    # The contract's fields, filled with what this service knows: it has no quantum backend or caches.
    return {
        "backend": "exact",
        "qubits": 0,
        "shots": None,
        "classical_fallback": False,
        "fallback_reason": None,
        "embedding_cache_hits": 0,
        "similarity_cache_hits": 0,
        "embedding_ms": 0.0,
        "quantum_ms": 0.0,
    }


def build(endpoint: str, f: dict, elapsed_ms: float) -> dict:
    method = f["method"]
    if endpoint == "similarity":
        s, c, q = score(method, f["text1"], f["text2"])
        details = {**_details(method, elapsed_ms), "classical_score": c, "quantum_score": q}
        return {
            "similarity_score": s,
            "method_used": method,
            "computation_details": details,
            "computation_time_ms": elapsed_ms,
        }
    scored = [(score(method, f["query"], text), i, text) for i, text in enumerate(f["candidates"])]
    ranked = sorted(scored, key=lambda item: (-item[0][0], item[1]))
    if endpoint == "rerank":
        results = [
            {
                "text": text,
                "similarity_score": s,
                "rank": rank + 1,
                "metadata": {"index": i, "classical_score": c, "quantum_score": q},
            }
            for rank, ((s, c, q), i, text) in enumerate(ranked[: f["top_k"]])
        ]
        meta = {**_details(method, elapsed_ms), "candidates": len(f["candidates"]), "top_k": f["top_k"]}
        return {"results": results, "query_metadata": meta, "computation_time_ms": elapsed_ms, "method_used": method}
    kept = [(s, i, text) for (s, _, _), i, text in ranked if f["return_all"] or s >= f["threshold"]]
    results = [{"text": text, "similarity_score": s, "index": i} for s, i, text in kept]
    return {
        "results": results,
        "total_candidates": len(f["candidates"]),
        "returned": len(results),
        "threshold": f["threshold"],
        "query_metadata": _details(method, elapsed_ms),
        "computation_time_ms": elapsed_ms,
        "method_used": method,
    }


def make_app(service: ForeignService) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/similarity", service.similarity)
    app.router.add_post("/v1/rerank", service.rerank)
    app.router.add_post("/v1/batch-similarity", service.batch)
    app.router.add_get("/health", service.health)
    return app


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8123)
    p.add_argument("--fixed-ms", type=float, default=2.0, help="cost of every request (ms)")
    p.add_argument("--similarity-ms", type=float, default=5.0, help="extra cost of a similarity (ms)")
    p.add_argument("--rerank-per-doc-ms", type=float, default=1.0, help="cost per rerank candidate (ms)")
    p.add_argument("--batch-per-doc-ms", type=float, default=1.0, help="cost per batch-similarity candidate (ms)")
    p.add_argument("--cpu-fraction", type=float, default=0.0, help="share of the cost spent computing (0..1)")
    p.add_argument("--error-share", type=float, default=0.0, help="share of requests answered by a fast 500")
    p.add_argument("--slots", type=int, default=4, help="requests computed at once; the rest queue")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    model = LatencyModel(
        fixed_ms=args.fixed_ms,
        similarity_ms=args.similarity_ms,
        rerank_per_doc_ms=args.rerank_per_doc_ms,
        batch_per_doc_ms=args.batch_per_doc_ms,
        cpu_fraction=min(max(args.cpu_fraction, 0.0), 1.0),
    )
    service = ForeignService(model=model, slots=args.slots, error_share=args.error_share, seed=args.seed)
    web.run_app(make_app(service), host=args.host, port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
