"""The HTTP service (FastAPI): the anchor's contract over the engine, with admission control.

Bad input gets a 422 naming the field and the limit; past `max_concurrency` requests in computation the
service answers 503 with Retry-After at once instead of queueing without bound; an unexpected error
is a 500 only if the engine itself is broken, never for anything the client sent.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import threading
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from .admission import Admission, ClientGone, Overloaded
from .engine import RerankEngine, Scores
from .metrics import ServiceMetrics
from .schemas import BatchSimilarityRequest, RerankRequest, SimilarityRequest
from .settings import EngineSettings

__all__ = ["create_app"]


def _describe_validation(errors: list[dict[str, Any]]) -> str:
    parts = []
    for err in errors:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return "Invalid request: " + "; ".join(parts) + "."


class _Service:
    """Holds the engine (loaded in the background), the metrics and the admission counter."""

    def __init__(self, settings: EngineSettings, engine: RerankEngine | None) -> None:
        self.settings = settings
        self.engine = engine
        self.ready = threading.Event()
        self.load_error: BaseException | None = None
        self.in_flight = 0
        self.pool = concurrent.futures.ThreadPoolExecutor(settings.compute_threads, thread_name_prefix="compute")
        self.admission = Admission(slots=settings.max_concurrency, queue_budget_s=settings.queue_budget_ms / 1000)
        self.metrics = ServiceMetrics(lambda: self.engine)
        if engine is not None:
            self.ready.set()

    def load(self) -> None:
        try:
            self.engine = RerankEngine(self.settings)
            self.engine.warm_up()
            self.ready.set()
        except BaseException as exc:  # reported by /health/ready, never crashes the loop
            self.load_error = exc

    def observe(self, endpoint: str, method: str, status: int, started: float) -> None:
        self.metrics.requests.labels(endpoint, method, str(status)).inc()
        self.metrics.request_seconds.labels(endpoint, method).observe(time.perf_counter() - started)


def create_app(settings: EngineSettings | None = None, *, engine: RerankEngine | None = None) -> FastAPI:
    """The service as an ASGI app. With no engine given, the model loads in the background at startup."""
    settings = settings or (engine.settings if engine else EngineSettings())
    svc = _Service(settings, engine)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        loader = None
        if not svc.ready.is_set():
            loader = threading.Thread(target=svc.load, name="model-loader", daemon=True)
            loader.start()
        yield
        svc.pool.shutdown(wait=False, cancel_futures=True)
        if svc.engine is not None and engine is None:
            svc.engine.close()

    app = FastAPI(title="QuantumRerank (qrbench reference service)", version="1.0", lifespan=lifespan)
    app.state.service = svc

    def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status, headers=headers)

    def endpoint_of(request: Request) -> str:
        return request.url.path

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        svc.observe(endpoint_of(request), "", 422, getattr(request.state, "t0", time.perf_counter()))
        errors = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors()]
        return JSONResponse({"error": _describe_validation(errors), "detail": errors}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    app.add_middleware(_Gate, api_key=settings.api_key, on_refused=svc.observe)

    async def compute(request: Request, method: str, fn, *args):
        """Run fn in the compute pool under the concurrency bound; a JSONResponse when refused."""
        endpoint = endpoint_of(request)
        if not svc.ready.is_set():
            svc.observe(endpoint, method, 503, request.state.t0)
            return None, error(503, "The model is still loading; retry shortly.", headers={"Retry-After": "1"})
        svc.in_flight += 1
        svc.metrics.in_flight.inc()
        try:  # admission by queueing delay and cancellation on disconnect: see admission.py
            waited_s = time.perf_counter() - request.state.t0  # reading and parsing it on a busy loop
            return await svc.admission.run(svc.pool, fn, *args, receive=request.receive, waited_s=waited_s), None
        except Overloaded as exc:
            svc.metrics.rejected.inc()
            svc.observe(endpoint, method, 503, request.state.t0)
            return None, error(503, str(exc), headers={"Retry-After": str(exc.retry_after_s)})
        except ClientGone:
            svc.observe(endpoint, method, 499, request.state.t0)
            return None, Response(status_code=499)
        finally:
            svc.in_flight -= 1
            svc.metrics.in_flight.dec()

    def details(s: Scores) -> dict[str, Any]:
        return {
            "backend": settings.backend,
            "qubits": settings.qubits,
            "shots": settings.shots if settings.backend == "aer" else None,
            "classical_fallback": s.classical_fallback,
            "fallback_reason": s.fallback_reason,
            "embedding_cache_hits": s.embedding_cache_hits,
            "similarity_cache_hits": s.similarity_cache_hits,
            "embedding_ms": round(s.embedding_ms, 3),
            "quantum_ms": round(s.quantum_ms, 3),
        }

    def observe_quantum(s: Scores) -> None:
        if s.quantum_ms > 0:
            svc.metrics.quantum_seconds.labels(settings.backend).observe(s.quantum_ms / 1000)

    @app.post("/v1/similarity")
    async def similarity(body: SimilarityRequest, request: Request):
        done, refused = await compute(request, body.method, svc.engine.score, body.text1, [body.text2], body.method)
        if refused:
            return refused
        s, ms = done
        svc.metrics.similarity_seconds.labels(body.method).observe(ms / 1000)
        observe_quantum(s)
        svc.observe(endpoint_of(request), body.method, 200, request.state.t0)
        quantum = None if s.quantum is None else s.quantum[0]
        return JSONResponse({
            "similarity_score": float(s.scores[0]),
            "method_used": s.method_used,
            "computation_details": {
                **details(s),
                "classical_score": _num(s.classical[0]),
                "quantum_score": _num(quantum),
            },
            "computation_time_ms": round(ms, 3),
        })

    @app.post("/v1/rerank")
    async def rerank(body: RerankRequest, request: Request):
        done, refused = await compute(request, body.method, svc.engine.score, body.query, body.candidates,
                                      body.method)
        if refused:
            return refused
        s, ms = done
        svc.metrics.batch_seconds.labels(body.method).observe(ms / 1000)
        observe_quantum(s)
        top_k = min(body.top_k, len(body.candidates))
        # Stable ordering: ties keep the candidates' original order, so the ranking is deterministic.
        order = sorted(range(len(body.candidates)), key=lambda i: -s.scores[i])[:top_k]
        results = [
            {
                "text": body.candidates[i],
                "similarity_score": float(s.scores[i]),
                "rank": rank,
                "metadata": {"index": i, "classical_score": _num(s.classical[i]),
                             "quantum_score": None if s.quantum is None else _num(s.quantum[i])},
            }
            for rank, i in enumerate(order, start=1)
        ]
        svc.observe(endpoint_of(request), body.method, 200, request.state.t0)
        return JSONResponse({
            "results": results,
            "query_metadata": {**details(s), "candidates": len(body.candidates), "top_k": top_k},
            "computation_time_ms": round(ms, 3),
            "method_used": s.method_used,
        })

    @app.post("/v1/batch-similarity")
    async def batch_similarity(body: BatchSimilarityRequest, request: Request):
        done, refused = await compute(request, body.method, svc.engine.score, body.query, body.candidates,
                                      body.method)
        if refused:
            return refused
        s, ms = done
        svc.metrics.batch_seconds.labels(body.method).observe(ms / 1000)
        observe_quantum(s)
        order = sorted(range(len(body.candidates)), key=lambda i: -s.scores[i])
        results = [
            {"text": body.candidates[i], "similarity_score": float(s.scores[i]), "index": i}
            for i in order
            if body.return_all or s.scores[i] >= body.threshold
        ]
        svc.observe(endpoint_of(request), body.method, 200, request.state.t0)
        return JSONResponse({
            "results": results,
            "total_candidates": len(body.candidates),
            "returned": len(results),
            "threshold": body.threshold,
            "query_metadata": details(s),
            "computation_time_ms": round(ms, 3),
            "method_used": s.method_used,
        })

    @app.get("/health")
    async def health():
        ready = svc.ready.is_set()
        return JSONResponse(
            {"status": "healthy" if ready else "starting", "ready": ready, "backend": settings.backend,
             "qubits": settings.qubits, "in_flight": svc.in_flight},
            status_code=200,
        )

    @app.get("/health/live")
    async def live():
        return {"status": "alive"}

    @app.get("/health/ready")
    async def ready():
        if svc.ready.is_set():
            return {"status": "ready"}
        if svc.load_error is not None:
            return JSONResponse({"status": "failed", "error": repr(svc.load_error)}, status_code=503)
        return JSONResponse({"status": "loading"}, status_code=503, headers={"Retry-After": "1"})

    @app.get("/metrics")
    async def metrics():
        return Response(generate_latest(svc.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


class _Gate:
    """Pure ASGI middleware: stamps the arrival time, and checks the API key on /v1/ routes.

    Pure ASGI rather than @app.middleware("http"), which wraps every request in extra tasks and
    streams: measurable overhead at hundreds of requests per second on two cores.
    """

    def __init__(self, app, *, api_key: str | None, on_refused) -> None:
        self.app = app
        self.api_key = api_key
        self.on_refused = on_refused

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        scope.setdefault("state", {})["t0"] = t0
        if self.api_key and scope["path"].startswith("/v1/"):
            headers = dict(scope["headers"])
            given = headers.get(b"x-api-key")
            auth = headers.get(b"authorization", b"")
            if given is None and auth.lower().startswith(b"bearer "):
                given = auth[7:].strip()
            if given != self.api_key.encode():
                self.on_refused(scope["path"], "", 401, t0)
                response = JSONResponse(
                    {"error": "Missing or wrong API key: send it as X-API-Key or Authorization: Bearer."},
                    status_code=401, headers={"WWW-Authenticate": "Bearer"},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _num(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if value != value else value
