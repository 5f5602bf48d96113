"""Ranking quality against labelled relevance: nDCG@k and reciprocal rank per query, bootstrap over queries.

Gains are binary (a candidate is relevant or not). Candidates are ranked by descending score; ties keep
the candidates' given order (a stable sort), as the reference service does, so a ranking is a function
of the scores alone. A query with no relevant candidate has no defined nDCG or reciprocal rank and is
refused rather than counted as 0 or 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qrbench.stats.estimate import Estimate
from qrbench.stats.percentiles import bootstrap_ci

__all__ = ["ranked_relevance", "ndcg_at_k", "reciprocal_rank", "RankingQuality", "ranking_quality", "paired_difference"]


def ranked_relevance(scores: Sequence[float] | np.ndarray, relevant: Sequence[bool] | np.ndarray) -> np.ndarray:
    """Relevance labels (bool) in ranked order: descending score, ties in the given order."""
    s = np.asarray(scores, dtype=float)
    r = np.asarray(relevant, dtype=bool)
    if s.ndim != 1 or s.shape != r.shape:
        raise ValueError(f"scores and relevant must be 1-d arrays of one length; got shapes {s.shape} and {r.shape}.")
    if np.any(np.isnan(s)):
        raise ValueError("scores contain NaN; every candidate needs a score to be ranked.")
    if not r.any():
        raise ValueError("relevant marks no candidate; nDCG and reciprocal rank need at least one relevant one.")
    return r[np.argsort(-s, kind="stable")]


def ndcg_at_k(scores: Sequence[float] | np.ndarray, relevant: Sequence[bool] | np.ndarray, k: int = 10) -> float:
    """Normalised discounted cumulative gain of the top k (binary gains, log2 discount), in [0, 1]."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k must be a positive integer (e.g. 10); got {k!r}.")
    ranked = ranked_relevance(scores, relevant)
    discounts = 1.0 / np.log2(np.arange(2, min(k, ranked.size) + 2))
    dcg = float(np.sum(discounts[: ranked.size] * ranked[:k]))
    ideal = float(np.sum(discounts[: min(int(ranked.sum()), k)]))
    return dcg / ideal


def reciprocal_rank(scores: Sequence[float] | np.ndarray, relevant: Sequence[bool] | np.ndarray) -> float:
    """1 / (rank of the first relevant candidate), ranks counted from 1."""
    ranked = ranked_relevance(scores, relevant)
    return 1.0 / (int(np.argmax(ranked)) + 1)


@dataclass(frozen=True, kw_only=True)
class RankingQuality:
    """Mean nDCG@k and mean reciprocal rank (MRR) over queries, each with a bootstrap interval over queries.

    per_query_ndcg / per_query_rr keep the per-query values (in query order) for paired comparisons.
    """

    ndcg: Estimate
    mrr: Estimate
    k: int
    per_query_ndcg: tuple[float, ...]
    per_query_rr: tuple[float, ...]

    @property
    def n_queries(self) -> int:
        return len(self.per_query_ndcg)


def ranking_quality(
    scores: Sequence[Sequence[float] | np.ndarray],
    relevant: Sequence[Sequence[bool] | np.ndarray],
    *,
    k: int = 10,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> RankingQuality:
    """nDCG@k and MRR of one ranking method over queries (one scores/relevant pair per query).

    The intervals resample queries (percentile bootstrap of the mean), the unit a user experiences.
    """
    if len(scores) != len(relevant):
        raise ValueError(f"scores has {len(scores)} queries but relevant has {len(relevant)}; give one each.")
    ndcg = [ndcg_at_k(s, r, k) for s, r in zip(scores, relevant, strict=True)]
    rr = [reciprocal_rank(s, r) for s, r in zip(scores, relevant, strict=True)]
    options = {"confidence": confidence, "n_resamples": n_resamples, "seed": seed}
    return RankingQuality(
        ndcg=bootstrap_ci(ndcg, np.mean, **options),
        mrr=bootstrap_ci(rr, np.mean, **options),
        k=int(k),
        per_query_ndcg=tuple(ndcg),
        per_query_rr=tuple(rr),
    )


def paired_difference(
    after: Sequence[float] | np.ndarray,
    before: Sequence[float] | np.ndarray,
    *,
    confidence: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> Estimate:
    """Mean of after - before over the same queries (e.g. per-query nDCG of a lever vs the reference).

    Pairing by query removes the between-query spread that two separate intervals would carry.
    """
    a = np.asarray(after, dtype=float)
    b = np.asarray(before, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(
            f"after and before must be 1-d and of one length (one value per query); got shapes {a.shape} and {b.shape}."
        )
    if a.size and not math.isfinite(float(np.sum(a - b))):
        raise ValueError("after and before must be finite per-query values.")
    return bootstrap_ci(a - b, np.mean, confidence=confidence, n_resamples=n_resamples, seed=seed)
