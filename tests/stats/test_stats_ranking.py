"""nDCG@k, reciprocal rank and their bootstrap over queries, against hand-computed values."""

import math

import numpy as np
import pytest

from qrbench.stats import ndcg_at_k, paired_difference, ranked_relevance, ranking_quality, reciprocal_rank


def test_ranked_relevance_is_descending_score_with_stable_ties():
    ranked = ranked_relevance([0.2, 0.9, 0.9, 0.1], [True, False, True, False])
    # 0.9 (index 1, not relevant) before 0.9 (index 2, relevant): ties keep the given order.
    assert ranked.tolist() == [False, True, True, False]


def test_ndcg_hand_computed():
    # Ranked relevance [0, 1, 1, 0]: DCG = 1/log2(3) + 1/log2(4); ideal = 1 + 1/log2(3).
    scores, relevant = [0.2, 0.9, 0.8, 0.1], [True, False, True, False]
    expected = (1 / math.log2(3) + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(scores, relevant, k=10) == pytest.approx(expected, rel=1e-12)
    assert ndcg_at_k([3, 2, 1], [True, True, False]) == 1.0
    assert ndcg_at_k([1, 2, 3], [True, False, False], k=2) == 0.0  # the relevant one is third


def test_ndcg_cuts_the_ideal_at_k():
    # 3 relevant, k=2, both top slots relevant: perfect.
    assert ndcg_at_k([5, 4, 3, 2], [True, True, False, True], k=2) == 1.0


def test_reciprocal_rank():
    assert reciprocal_rank([0.1, 0.5, 0.3], [True, False, False]) == pytest.approx(1 / 3)
    assert reciprocal_rank([0.9, 0.5], [True, True]) == 1.0


def test_ndcg_matches_a_brute_force_definition_on_random_data():
    rng = np.random.default_rng(7)
    for _ in range(50):
        m = int(rng.integers(2, 40))
        scores = rng.normal(size=m)
        relevant = rng.random(m) < 0.3
        relevant[rng.integers(m)] = True
        k = int(rng.integers(1, 15))
        order = sorted(range(m), key=lambda i: -scores[i])
        dcg = sum(1 / math.log2(r + 2) for r, i in enumerate(order[:k]) if relevant[i])
        ideal = sum(1 / math.log2(r + 2) for r in range(min(k, int(relevant.sum()))))
        assert ndcg_at_k(scores, relevant, k) == pytest.approx(dcg / ideal, rel=1e-12)


def test_invalid_inputs_are_refused_with_sentences():
    with pytest.raises(ValueError, match="no candidate"):
        ndcg_at_k([1.0, 2.0], [False, False])
    with pytest.raises(ValueError, match="one length"):
        reciprocal_rank([1.0, 2.0], [True])
    with pytest.raises(ValueError, match="k must be"):
        ndcg_at_k([1.0], [True], k=0)
    with pytest.raises(ValueError, match="NaN"):
        ndcg_at_k([math.nan, 1.0], [True, False])


def test_ranking_quality_means_and_intervals_over_queries():
    scores = [[0.9, 0.1, 0.5], [0.1, 0.9, 0.5], [0.3, 0.2, 0.1]]
    relevant = [[True, False, False], [True, False, False], [False, False, True]]
    q = ranking_quality(scores, relevant, k=10, n_resamples=500, seed=1)
    rr = [1.0, 1 / 3, 1 / 3]
    assert q.mrr.value == pytest.approx(np.mean(rr))
    assert q.per_query_rr == pytest.approx(rr)
    assert q.n_queries == 3
    assert q.ndcg.low <= q.ndcg.value <= q.ndcg.high
    assert 0.0 <= q.ndcg.low and q.ndcg.high <= 1.0
    # Seeded: the same call gives the same interval.
    assert ranking_quality(scores, relevant, n_resamples=500, seed=1).ndcg == q.ndcg


def test_one_query_gives_an_undecided_interval():
    q = ranking_quality([[0.2, 0.1]], [[True, False]])
    assert q.ndcg.value == 1.0 and not q.ndcg.decided


def test_paired_difference_centres_on_the_mean_difference():
    before = np.array([0.5, 0.7, 0.9, 0.6])
    after = before - 0.02
    d = paired_difference(after, before, n_resamples=500)
    assert d.value == pytest.approx(-0.02)
    assert d.low == pytest.approx(-0.02) and d.high == pytest.approx(-0.02)
    with pytest.raises(ValueError, match="one length"):
        paired_difference([0.1], [0.1, 0.2])
