"""The shared analysis pieces the baseline and bottlenecks studies judge with: censored percentiles beside
success-only ones, targets judged on the statistic thresholds.yaml defines, warm-up trimmed per repetition."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qrbench import stats
from qrbench.errors import ParameterError
from qrbench.studies.analysis import latency_statistic, load_thresholds, stage_table, trim_stage_warmup


def records(n: int = 200, failed: int = 0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    lat = rng.lognormal(np.log(50), 0.2, n)
    ok = np.ones(n, dtype=bool)
    ok[rng.choice(n, failed, replace=False)] = False
    lat[~ok] = np.nan  # a timed-out request never answered
    return pd.DataFrame(
        {
            "stage": "rerank/classical/50",
            "kind": "rerank_50",
            "method": "classical",
            "n_candidates": 50,
            "ok": ok,
            "latency_ms": lat,
            "server_ms": np.nan,
            "t_start": np.arange(n) * 0.05,
            "repetition": np.arange(n) % 2,
        }
    )


def test_a_server_that_times_out_looks_slow_not_fast():
    """A fifth of the requests time out: the success-only p95 hides it, the censored one counts them at the
    timeout (and says it is only a lower bound)."""
    table = stage_table(records(failed=40), censor_ms=5000.0).iloc[0]
    assert table["failed"] == 40
    assert table["p95_ms"] < 100  # survivors only
    assert table["p95_all_ms"] == 5000.0 and table["p95_all_at_least"]
    assert table["p50_all_ms"] >= table["p50_ms"]


def test_without_failures_both_percentiles_agree():
    table = stage_table(records(), censor_ms=5000.0).iloc[0]
    assert table["p95_all_ms"] == pytest.approx(table["p95_ms"]) and not table["p95_all_at_least"]


def test_targets_are_judged_on_the_statistic_of_the_thresholds_file():
    thresholds = load_thresholds("parameters/thresholds.yaml", "baseline")
    target = thresholds["rerank_50_ms"]
    assert target.statistic == "p95"
    r = records(failed=40)
    e = latency_statistic(r["latency_ms"].to_numpy(), r["ok"].to_numpy(), target, censor_ms=60_000.0)
    judged = stats.judge(e, target, workload="single user, 50 documents")
    assert judged.verdict == "fail" and "single user, 50 documents" in judged.reason
    assert "inf " not in judged.reason and "not bounded" in judged.reason  # for people, never "inf"
    median = stats.Threshold(metric="x", target=500, threshold=500, direction="below", unit="ms", statistic="p50")
    assert latency_statistic(r["latency_ms"].to_numpy(), r["ok"].to_numpy(), median).value < 100
    with pytest.raises(ParameterError, match="rate"):
        latency_statistic(
            r["latency_ms"].to_numpy(),
            r["ok"].to_numpy(),
            stats.Threshold(metric="x", target=1, threshold=1, direction="above", unit="rps", statistic="rate"),
        )


def test_warmup_is_trimmed_per_repetition():
    kept, notes = trim_stage_warmup(records())
    assert set(notes["repetition"]) == {0, 1} and len(notes) == 2
    assert len(kept) == notes["kept"].sum()


def test_rerank_workload_says_how_many_documents_were_already_embedded():
    """From the embedding cache counters around each repetition of a stage (queries are new: one miss each)."""
    from qrbench.studies.baseline.analysis import _documents_cached

    def entry(name, hits, misses):
        before = {"qrbench_embedding_cache_hits_total{}": 100.0, "qrbench_embedding_cache_misses_total{}": 50.0}
        after = {
            "qrbench_embedding_cache_hits_total{}": 100.0 + hits,
            "qrbench_embedding_cache_misses_total{}": 50.0 + misses,
        }
        return {"name": name, "metrics_before": before, "metrics_after": after}

    # Two repetitions of 10 requests x 50 documents: 10 new queries each; 400 + 500 of 1000 documents found.
    index = [entry("rerank/hybrid/50", 400, 110), entry("similarity/hybrid", 0, 20), entry("rerank/hybrid/50", 500, 10)]
    assert _documents_cached(index, "rerank/hybrid/50", requests=20) == pytest.approx(0.9)
    foreign = [{"name": "rerank/hybrid/50", "metrics_before": {}, "metrics_after": {}}]
    assert np.isnan(_documents_cached(foreign, "rerank/hybrid/50", requests=20))  # no counters: unknown
