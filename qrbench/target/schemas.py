"""Request and response bodies of the HTTP contract, with the limits of the anchor's API.

The limits are constants here, and the largest legal body of each endpoint is derived from them
(`MAX_BODY_BYTES`), so the service can refuse an oversize body before reading it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError

__all__ = [
    "RerankRequest",
    "SimilarityRequest",
    "BatchSimilarityRequest",
    "MAX_BODY_BYTES",
    "SimilarityResponse",
    "RerankResponse",
    "BatchSimilarityResponse",
    "ErrorResponse",
    "HealthResponse",
    "StatusResponse",
    "NotReadyResponse",
    "validate_body",
]

Method = Literal["classical", "quantum", "hybrid"]

RERANK_QUERY_MAX_CHARS = 10_000
RERANK_MAX_CANDIDATES = 1000
RERANK_MAX_TOP_K = 100
CANDIDATE_MAX_CHARS = 50_000
SIMILARITY_TEXT_MAX_CHARS = 5000
BATCH_QUERY_MAX_CHARS = 5000
BATCH_MAX_CANDIDATES = 100

# Bytes one character can take in a JSON body: "\uXXXX" is the longest form of any character of the
# Basic Multilingual Plane, so no legal body is refused however its client escapes (characters beyond
# it, sent as two escapes, take 12 and could exceed the limit only in texts made mostly of them).
JSON_BYTES_PER_CHAR = 6
# Quotes, comma and indentation around one string of a list.
JSON_BYTES_PER_ITEM = 16
# Everything but the texts: field names, method, top_k, threshold, user_context, whitespace.
JSON_ENVELOPE_BYTES = 64 * 1024

# A string of 1..n characters with non-whitespace text: in the published schema too, so that a
# client generating from it never sends what the service refuses.
_NOT_BLANK = r"\S"


def _integral(value):
    # JSON Schema counts 73.0 as an integer, so a client generating from the schema may send it.
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _text(max_chars: int):
    return Annotated[str, StringConstraints(min_length=1, max_length=max_chars, pattern=_NOT_BLANK)]


class _Strict(BaseModel):
    # Unknown fields are refused, so a misspelt "metod" is an error rather than a silent default.
    # Patterns are matched by Python's re, as schema-driven clients written in Python do: Rust's regex
    # disagrees on what \S is for a few control characters.
    model_config = ConfigDict(extra="forbid", strict=True, regex_engine="python-re")


class RerankRequest(_Strict):
    query: _text(RERANK_QUERY_MAX_CHARS)
    candidates: list[_text(CANDIDATE_MAX_CHARS)] = Field(min_length=1, max_length=RERANK_MAX_CANDIDATES)
    top_k: Annotated[int, BeforeValidator(_integral)] = Field(default=10, ge=1, le=RERANK_MAX_TOP_K)
    method: Method = "hybrid"
    user_context: dict[str, Any] | None = None


class SimilarityRequest(_Strict):
    text1: _text(SIMILARITY_TEXT_MAX_CHARS)
    text2: _text(SIMILARITY_TEXT_MAX_CHARS)
    method: Method = "hybrid"


class BatchSimilarityRequest(_Strict):
    query: _text(BATCH_QUERY_MAX_CHARS)
    candidates: list[_text(CANDIDATE_MAX_CHARS)] = Field(min_length=1, max_length=BATCH_MAX_CANDIDATES)
    method: Method = "hybrid"
    return_all: bool = False
    threshold: float = Field(default=0.0, ge=0.0, le=1.0)


def _max_body(texts_chars: int, items: int) -> int:
    return texts_chars * JSON_BYTES_PER_CHAR + items * JSON_BYTES_PER_ITEM + JSON_ENVELOPE_BYTES


# The largest legal body of each endpoint, in bytes (rerank: about 300 MB, similarity: about 124 KB).
MAX_BODY_BYTES: dict[str, int] = {
    "/v1/rerank": _max_body(
        RERANK_QUERY_MAX_CHARS + RERANK_MAX_CANDIDATES * CANDIDATE_MAX_CHARS, RERANK_MAX_CANDIDATES
    ),
    "/v1/similarity": _max_body(2 * SIMILARITY_TEXT_MAX_CHARS, 2),
    "/v1/batch-similarity": _max_body(
        BATCH_QUERY_MAX_CHARS + BATCH_MAX_CANDIDATES * CANDIDATE_MAX_CHARS, BATCH_MAX_CANDIDATES
    ),
}


def validate_body(model: type[BaseModel], body: bytes) -> BaseModel | list[dict[str, Any]]:
    """The JSON body validated by model, or its validation errors (picklable: run in another process)."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        return exc.errors(include_url=False, include_input=False, include_context=False)


# -- responses --------------------------------------------------------------------------------
# Scores are in [0, 1]; a score the engine did not compute (quantum of the classical method, or after
# a classical fallback) is null. Times are milliseconds.


class ComputationDetails(BaseModel):
    backend: Literal["exact", "aer"]
    qubits: int
    shots: int | None = Field(description="SWAP-test shots (aer backend only)")
    classical_fallback: bool
    fallback_reason: str | None
    embedding_cache_hits: int
    similarity_cache_hits: int
    embedding_ms: float
    quantum_ms: float


class SimilarityDetails(ComputationDetails):
    classical_score: float | None
    quantum_score: float | None


class SimilarityResponse(BaseModel):
    similarity_score: float
    method_used: Method
    computation_details: SimilarityDetails
    computation_time_ms: float


class RerankMetadata(BaseModel):
    index: int = Field(description="position of the candidate in the request")
    classical_score: float | None
    quantum_score: float | None


class RerankResult(BaseModel):
    text: str
    similarity_score: float
    rank: int
    metadata: RerankMetadata


class RerankQueryMetadata(ComputationDetails):
    candidates: int
    top_k: int


class RerankResponse(BaseModel):
    results: list[RerankResult]
    query_metadata: RerankQueryMetadata
    computation_time_ms: float
    method_used: Method


class BatchSimilarityResult(BaseModel):
    text: str
    similarity_score: float
    index: int


class BatchSimilarityResponse(BaseModel):
    results: list[BatchSimilarityResult]
    total_candidates: int
    returned: int
    threshold: float
    query_metadata: ComputationDetails
    computation_time_ms: float
    method_used: Method


class ErrorResponse(BaseModel):
    error: str = Field(description="what was wrong, naming the field and the limit")
    detail: list[dict[str, Any]] | None = Field(default=None, description="validation errors (422 only)")


class HealthResponse(BaseModel):
    status: Literal["healthy", "starting", "draining"]
    ready: bool
    backend: Literal["exact", "aer"]
    qubits: int
    in_flight: int


class StatusResponse(BaseModel):
    status: Literal["alive", "ready"]


class NotReadyResponse(BaseModel):
    status: Literal["loading", "failed", "draining"]
    error: str | None = Field(default=None, description="why the model failed to load (status failed only)")
