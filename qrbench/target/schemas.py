"""Request bodies of the HTTP contract, with the limits of the anchor's API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["RerankRequest", "SimilarityRequest", "BatchSimilarityRequest"]

Method = Literal["classical", "quantum", "hybrid"]


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must contain non-whitespace text")
    return value


def _check_candidates(values: list[str]) -> list[str]:
    for i, text in enumerate(values):
        if not 1 <= len(text) <= 50_000:
            raise ValueError(f"candidate {i} has {len(text)} characters; each must have 1 to 50000")
        if not text.strip():
            raise ValueError(f"candidate {i} must contain non-whitespace text")
    return values


class _Strict(BaseModel):
    # Unknown fields are refused, so a misspelt "metod" is an error rather than a silent default.
    model_config = ConfigDict(extra="forbid", strict=True)


class RerankRequest(_Strict):
    query: str = Field(min_length=1, max_length=10_000)
    candidates: list[str] = Field(min_length=1, max_length=1000)
    top_k: int = Field(default=10, ge=1, le=100)
    method: Method = "hybrid"
    user_context: dict[str, Any] | None = None

    _query_not_blank = field_validator("query")(_not_blank)
    _candidates_valid = field_validator("candidates")(_check_candidates)


class SimilarityRequest(_Strict):
    text1: str = Field(min_length=1, max_length=5000)
    text2: str = Field(min_length=1, max_length=5000)
    method: Method = "hybrid"

    _texts_not_blank = field_validator("text1", "text2")(_not_blank)


class BatchSimilarityRequest(_Strict):
    query: str = Field(min_length=1, max_length=5000)
    candidates: list[str] = Field(min_length=1, max_length=100)
    method: Method = "hybrid"
    return_all: bool = False
    threshold: float = Field(default=0.0, ge=0.0, le=1.0)

    _query_not_blank = field_validator("query")(_not_blank)
    _candidates_valid = field_validator("candidates")(_check_candidates)
