"""Ranking-quality runner on the labelled data: hard-negative cases and per-lever nDCG/MRR."""

from __future__ import annotations

import pytest

from qrbench.errors import ParameterError
from qrbench.load.data import DataManager
from qrbench.profile.quality import MAX_NDCG_LOSS, hard_negative_cases, lever_quality
from qrbench.target.settings import EngineSettings


def test_cases_hold_the_relevant_documents_and_same_topic_negatives():
    data = DataManager.from_dir()
    cases = hard_negative_cases(data, n_queries=5, n_candidates=12, seed=3)
    assert cases == hard_negative_cases(data, n_queries=5, n_candidates=12, seed=3)  # seeded
    for case in cases:
        query = data.query(case.query_id)
        assert len(case.candidates) == 12 and sum(case.relevant) == len(query.relevant)
        topics = {d.topic for d in data.documents if d.text in case.candidates}
        assert topics == {query.topic}  # every negative is from the query's own topic: hard
    with pytest.raises(ParameterError, match="n_queries"):
        hard_negative_cases(data, n_queries=0)


def test_lever_quality_reports_each_method_and_the_paired_difference(embedder):
    cases = hard_negative_cases(n_queries=4, n_candidates=8, seed=1)
    base = EngineSettings()
    frame = lever_quality(
        {"reference": base, "truncated": base.with_changes(max_seq_length=32)},
        cases,
        model=embedder.model,
        methods=("classical", "hybrid"),
        n_resamples=200,
    )
    assert list(frame["lever"]) == ["reference", "reference", "truncated", "truncated"]
    ref = frame[frame["lever"] == "reference"]
    assert (ref["delta_ndcg"] == 0).all() and ref["within_limit"].all()
    assert ((frame["ndcg"] > 0) & (frame["ndcg"] <= 1)).all()
    assert ((frame["ndcg_low"] <= frame["ndcg"]) & (frame["ndcg"] <= frame["ndcg_high"])).all()
    assert (frame["within_limit"] == (frame["delta_ndcg"] >= -MAX_NDCG_LOSS)).all()
