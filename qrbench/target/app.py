"""The HTTP service (FastAPI): the anchor's contract over the engine, with admission control.

Bad input gets a 422 naming the field and the limit (413 for a body larger than any legal one, 408 for
one that never finishes); past `max_concurrency` requests in computation the service answers 503 with
Retry-After at once instead of queueing without bound; an unexpected error is a 500 only if the engine
itself is broken, never for anything the client sent. Request bodies are parsed by the request models
themselves (large ones in a thread), so the published schema is the one enforced.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gc
import multiprocessing
import re
import threading
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from .admission import Admission, ClientGone, Overloaded
from .embedding import release_memory
from .engine import RerankEngine, Scores
from .guard import RequestGuard, Traffic
from .metrics import ServiceMetrics
from .schemas import (
    JSON_ENVELOPE_BYTES,
    MAX_BODY_BYTES,
    BatchSimilarityRequest,
    BatchSimilarityResponse,
    ErrorResponse,
    HealthResponse,
    NotReadyResponse,
    RerankRequest,
    RerankResponse,
    SimilarityRequest,
    SimilarityResponse,
    StatusResponse,
    validate_body,
)
from .settings import EngineSettings

__all__ = ["create_app", "freeze_startup_heap"]


# Bodies up to this size are parsed on the event loop (~10 ms at most). Larger ones are parsed in a child
# process: pydantic holds the GIL while it parses, so a thread would stall the loop just the same (a 60 MB
# body: ~8 s).
_PARSE_INLINE_BYTES = 1024 * 1024
_JSON_OBJECT = re.compile(rb"\s*\{")
_DOC_PATHS = ("/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json")
# After this long with no computation in flight (and at least one finished since the last trim), the heap's
# free memory goes back to the system; see _trim_when_idle.
IDLE_TRIM_S = 2.0


def _describe_validation(errors: list[dict[str, Any]]) -> str:
    parts = []
    for err in errors:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        msg = err.get("msg", "invalid")
        if err.get("type") == "string_pattern_mismatch":
            msg = "must contain non-whitespace text"
        parts.append(f"{loc}: {msg}")
    return "Invalid request: " + "; ".join(parts) + "."


class _BodyParser:
    """Validates request bodies: small ones on the event loop, large ones in one spawned child process.

    Spawned, not forked: the child imports only the request models, never the embedding model. Started on
    the first large body; a child that died (killed, out of memory) is replaced on the next one.
    """

    def __init__(self) -> None:
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None

    async def parse(self, request: Request, model: type[BaseModel]) -> BaseModel:
        """The body validated by `model`; RequestValidationError when invalid (a non-object before parsing:
        parsing a large junk array costs seconds)."""
        body = await request.body()
        if not _JSON_OBJECT.match(body):
            raise RequestValidationError(
                [{"loc": ("body",), "msg": "the body must be a JSON object", "type": "model_type"}]
            )
        if len(body) <= _PARSE_INLINE_BYTES:
            result = validate_body(model, body)
        else:
            if self._pool is None:
                self._pool = concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
            try:
                result = await asyncio.get_running_loop().run_in_executor(self._pool, validate_body, model, body)
            except concurrent.futures.BrokenExecutor:
                self._pool = None
                raise StarletteHTTPException(
                    503, "The body parser failed; retry shortly.", {"Retry-After": "1"}
                ) from None
        if isinstance(result, list):
            raise RequestValidationError(result)
        return result

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)


def _body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI of a JSON request body validated by hand (see _BodyParser)."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}}


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    what = {
        401: "Missing or wrong API key (only when the service has one).",
        408: "The request body was not received within the body timeout.",
        413: "The body is larger than any legal request to this endpoint; the message gives the limit.",
        422: "The body is not JSON, or does not match the request schema; the message names the field.",
        503: "Overloaded, still loading, or shutting down: retry after Retry-After seconds.",
    }
    return {s: {"model": ErrorResponse, "description": what[s]} for s in statuses}


_V1_ERRORS = _errors(401, 408, 413, 422, 503)


class _Service:
    """Holds the engine (loaded in the background), the metrics and the admission counter."""

    def __init__(self, settings: EngineSettings, engine: RerankEngine | None) -> None:
        self.settings = settings
        self.engine = engine
        self.ready = threading.Event()
        self.load_error: BaseException | None = None
        self.in_flight = 0
        self.finished = 0  # computations ended (any outcome), and when the last one did: for _trim_when_idle
        self.last_finished = time.monotonic()
        self.pool = concurrent.futures.ThreadPoolExecutor(settings.compute_threads, thread_name_prefix="compute")
        self.admission = Admission(slots=settings.max_concurrency, queue_budget_s=settings.queue_budget_ms / 1000)
        self.metrics = ServiceMetrics(lambda: self.engine, lambda: self.admission)
        self.traffic = Traffic()
        self.parser = _BodyParser()
        if engine is not None:
            self.ready.set()

    def load(self) -> None:
        try:
            self.engine = RerankEngine(self.settings)
            self.engine.warm_up()
            freeze_startup_heap()
            self.ready.set()
        except BaseException as exc:  # noqa: BLE001 - reported by /health/ready, never crashes the loop
            self.load_error = exc

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.parser.close()

    def observe(self, endpoint: str, method: str, status: int, started: float) -> None:
        self.metrics.requests.labels(endpoint, method, str(status)).inc()
        self.metrics.request_seconds.labels(endpoint, method).observe(time.perf_counter() - started)


def freeze_startup_heap() -> None:
    """Collect once, then move every object alive now (the model, torch, transformers, every library) to the
    cyclic collector's permanent generation (gc.freeze). Its full collections then scan only what serving
    allocates (requests, cache entries) instead of the million objects of the loaded libraries: those passes
    hold the GIL, and every request in flight waits for them. Call once, when the service is ready."""
    gc.collect()
    gc.freeze()


async def _trim_when_idle(svc: _Service, idle_s: float = IDLE_TRIM_S, release=release_memory) -> None:
    """Give freed heap back to the system once the service has been idle for idle_s after serving.

    The encoder trims after its own large passes (embedding.release_memory), but a request's body, its
    parsed candidates, its scoring buffers and its response are freed later, when the request ends, and
    glibc keeps them in its arenas: without this, RSS after a burst stays well above where it started.
    The trim runs in a thread (a few ms to tens of ms on a fragmented heap), once per idle period; the
    task runs until cancelled.
    """
    trimmed_at = svc.finished
    while True:
        await asyncio.sleep(idle_s / 2)
        idle = svc.in_flight == 0 and time.monotonic() - svc.last_finished >= idle_s
        if idle and svc.finished != trimmed_at:
            trimmed_at = svc.finished
            await asyncio.to_thread(release)


def create_app(settings: EngineSettings | None = None, *, engine: RerankEngine | None = None) -> FastAPI:
    """The service as an ASGI app. With no engine given, the model loads in the background at startup."""
    settings = settings or (engine.settings if engine else EngineSettings())
    svc = _Service(settings, engine)
    app = FastAPI(
        title="QuantumRerank (qrbench reference service)", version="1.0", lifespan=_lifespan(svc, engine is None)
    )
    app.state.service = svc
    calls = _Calls(svc)
    _add_error_handlers(app, svc)
    _add_v1_routes(app, calls)
    _add_health_routes(app, svc)
    _add_metrics_route(app, svc)
    _add_guard(app, svc)
    return app


def _lifespan(svc: _Service, owns_engine: bool):
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        if not svc.ready.is_set():
            threading.Thread(target=svc.load, name="model-loader", daemon=True).start()
        trimmer = asyncio.create_task(_trim_when_idle(svc))
        yield
        trimmer.cancel()
        svc.close()
        if svc.engine is not None and owns_engine:
            svc.engine.close()

    return lifespan


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _endpoint_of(request: Request) -> str:
    return request.state.endpoint  # a route path or "unmatched", set by the guard


def _add_error_handlers(app: FastAPI, svc: _Service) -> None:
    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        svc.observe(_endpoint_of(request), "", 422, getattr(request.state, "t0", time.perf_counter()))
        errors = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in exc.errors()]
        return JSONResponse({"error": _describe_validation(errors), "detail": errors}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        svc.observe(_endpoint_of(request), "", exc.status_code, request.state.t0)
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)


class _Calls:
    """What every /v1 endpoint does around its scoring: shedding, parsing, admission, metrics, details."""

    def __init__(self, svc: _Service) -> None:
        self.svc = svc
        self.settings = svc.settings

    async def score(self, request: Request, model: type[BaseModel], texts):
        """(body, scores, milliseconds, None), or (None, None, None, the refusal to answer with).
        texts(body) -> (query, candidates, method)."""
        if (shed := self._shed_before_parsing(request)) is not None:
            return None, None, None, shed
        body = await self.svc.parser.parse(request, model)
        query, candidates, method = texts(body)
        done, refused = await self._compute(request, method, self.svc.engine.score, query, candidates, method)
        if refused:
            return None, None, None, refused
        s, ms = done
        if s.quantum_ms > 0:
            self.svc.metrics.quantum_seconds.labels(self.settings.backend).observe(s.quantum_ms / 1000)
        return body, s, ms, None

    async def _compute(self, request: Request, method: str, fn, *args):
        """Run fn in the compute pool under the concurrency bound; a JSONResponse when refused."""
        svc, endpoint = self.svc, _endpoint_of(request)
        if not svc.ready.is_set():
            svc.observe(endpoint, method, 503, request.state.t0)
            return None, _error(503, "The model is still loading; retry shortly.", headers={"Retry-After": "1"})
        svc.in_flight += 1
        svc.metrics.in_flight.inc()
        try:  # admission by queueing delay and cancellation on disconnect: see admission.py
            waited_s = time.perf_counter() - request.state.t0  # reading and parsing it on a busy loop
            return await svc.admission.run(svc.pool, fn, *args, receive=request.receive, waited_s=waited_s), None
        except Overloaded as exc:
            svc.metrics.rejected.inc()
            svc.observe(endpoint, method, 503, request.state.t0)
            return None, _error(503, str(exc), headers={"Retry-After": str(exc.retry_after_s)})
        except ClientGone:
            svc.observe(endpoint, method, 499, request.state.t0)
            return None, Response(status_code=499)
        finally:
            svc.in_flight -= 1
            svc.finished += 1
            svc.last_finished = time.monotonic()
            svc.metrics.in_flight.dec()

    def _shed_before_parsing(self, request: Request) -> JSONResponse | None:
        """503 at once, before the body is validated, for a request the admission would refuse anyway: under
        overload the refused majority then costs the event loop almost nothing. (A malformed body sent
        during overload is answered 503 too; its retry gets the 422.)"""
        svc = self.svc
        if not svc.ready.is_set():
            return None  # _compute() answers "still loading"
        overloaded = svc.admission.refusal(waited_s=time.perf_counter() - request.state.t0)
        if overloaded is None:
            return None
        svc.metrics.rejected.inc()
        svc.observe(_endpoint_of(request), "", 503, request.state.t0)
        return _error(503, str(overloaded), headers={"Retry-After": str(overloaded.retry_after_s)})

    def details(self, s: Scores) -> dict[str, Any]:
        settings = self.settings
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

    def answered(self, request: Request, method: str) -> None:
        self.svc.observe(_endpoint_of(request), method, 200, request.state.t0)


def _add_v1_routes(app: FastAPI, calls: _Calls) -> None:
    metrics = calls.svc.metrics

    @app.post(
        "/v1/similarity",
        response_model=SimilarityResponse,
        responses=_V1_ERRORS,
        openapi_extra=_body_doc(SimilarityRequest),
    )
    async def similarity(request: Request):
        body, s, ms, refused = await calls.score(request, SimilarityRequest, lambda b: (b.text1, [b.text2], b.method))
        if refused:
            return refused
        metrics.similarity_seconds.labels(body.method).observe(ms / 1000)
        calls.answered(request, body.method)
        return JSONResponse(_similarity_answer(calls.details(s), s, ms))

    @app.post("/v1/rerank", response_model=RerankResponse, responses=_V1_ERRORS, openapi_extra=_body_doc(RerankRequest))
    async def rerank(request: Request):
        body, s, ms, refused = await calls.score(request, RerankRequest, lambda b: (b.query, b.candidates, b.method))
        if refused:
            return refused
        metrics.batch_seconds.labels(body.method).observe(ms / 1000)
        calls.answered(request, body.method)
        return JSONResponse(_rerank_answer(body, calls.details(s), s, ms))

    @app.post(
        "/v1/batch-similarity",
        response_model=BatchSimilarityResponse,
        responses=_V1_ERRORS,
        openapi_extra=_body_doc(BatchSimilarityRequest),
    )
    async def batch_similarity(request: Request):
        body, s, ms, refused = await calls.score(
            request, BatchSimilarityRequest, lambda b: (b.query, b.candidates, b.method)
        )
        if refused:
            return refused
        metrics.batch_seconds.labels(body.method).observe(ms / 1000)
        calls.answered(request, body.method)
        return JSONResponse(_batch_similarity_answer(body, calls.details(s), s, ms))


def _similarity_answer(details: dict[str, Any], s: Scores, ms: float) -> dict[str, Any]:
    quantum = None if s.quantum is None else s.quantum[0]
    return {
        "similarity_score": float(s.scores[0]),
        "method_used": s.method_used,
        "computation_details": {**details, "classical_score": _num(s.classical[0]), "quantum_score": _num(quantum)},
        "computation_time_ms": round(ms, 3),
    }


def _rerank_answer(body: RerankRequest, details: dict[str, Any], s: Scores, ms: float) -> dict[str, Any]:
    top_k = min(body.top_k, len(body.candidates))
    # Stable ordering: ties keep the candidates' original order, so the ranking is deterministic.
    order = sorted(range(len(body.candidates)), key=lambda i: -s.scores[i])[:top_k]
    results = [
        {
            "text": body.candidates[i],
            "similarity_score": float(s.scores[i]),
            "rank": rank,
            "metadata": {
                "index": i,
                "classical_score": _num(s.classical[i]),
                "quantum_score": None if s.quantum is None else _num(s.quantum[i]),
            },
        }
        for rank, i in enumerate(order, start=1)
    ]
    return {
        "results": results,
        "query_metadata": {**details, "candidates": len(body.candidates), "top_k": top_k},
        "computation_time_ms": round(ms, 3),
        "method_used": s.method_used,
    }


def _batch_similarity_answer(
    body: BatchSimilarityRequest, details: dict[str, Any], s: Scores, ms: float
) -> dict[str, Any]:
    order = sorted(range(len(body.candidates)), key=lambda i: -s.scores[i])
    results = [
        {"text": body.candidates[i], "similarity_score": float(s.scores[i]), "index": i}
        for i in order
        if body.return_all or s.scores[i] >= body.threshold
    ]
    return {
        "results": results,
        "total_candidates": len(body.candidates),
        "returned": len(results),
        "threshold": body.threshold,
        "query_metadata": details,
        "computation_time_ms": round(ms, 3),
        "method_used": s.method_used,
    }


def _add_health_routes(app: FastAPI, svc: _Service) -> None:
    settings = svc.settings

    @app.get("/health", response_model=HealthResponse)
    async def health():
        ready = svc.ready.is_set()
        status = "draining" if svc.traffic.draining else "healthy" if ready else "starting"
        return JSONResponse(
            {
                "status": status,
                "ready": ready,
                "backend": settings.backend,
                "qubits": settings.qubits,
                "in_flight": svc.in_flight,
            },
            status_code=200,
        )

    @app.get("/health/live", response_model=StatusResponse)
    async def live():
        return {"status": "alive"}

    @app.get("/health/ready", response_model=StatusResponse, responses={503: {"model": NotReadyResponse}})
    async def ready():
        if svc.traffic.draining:
            return JSONResponse({"status": "draining"}, status_code=503, headers={"Retry-After": "1"})
        if svc.ready.is_set():
            return {"status": "ready"}
        if svc.load_error is not None:
            return JSONResponse({"status": "failed", "error": repr(svc.load_error)}, status_code=503)
        return JSONResponse({"status": "loading"}, status_code=503, headers={"Retry-After": "1"})


def _add_metrics_route(app: FastAPI, svc: _Service) -> None:
    @app.get(
        "/metrics",
        response_class=PlainTextResponse,
        responses={
            200: {"description": "Prometheus text exposition format."},
            401: {
                "description": _errors(401)[401]["description"],
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}},
            },
        },
    )
    async def metrics():
        # Off the event loop: a large registry must not stall the requests being answered meanwhile.
        text = await run_in_threadpool(generate_latest, svc.metrics.registry)
        return Response(text, media_type=CONTENT_TYPE_LATEST)


def _add_guard(app: FastAPI, svc: _Service) -> None:
    settings = svc.settings

    def protected(path: str) -> bool:
        return (
            path.startswith("/v1/")
            or (settings.metrics_need_key and path == "/metrics")
            or (settings.docs_need_key and path in _DOC_PATHS)
        )

    app.add_middleware(
        RequestGuard,
        endpoints={r.path for r in app.routes},
        api_key=settings.api_key,
        protected=protected,
        body_limits=MAX_BODY_BYTES,
        default_body_limit=JSON_ENVELOPE_BYTES,
        body_timeout_s=settings.body_timeout_s,
        traffic=svc.traffic,
        on_answer=lambda endpoint, status, t0: svc.observe(endpoint, "", status, t0),
    )


def _num(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return None if value != value else value
