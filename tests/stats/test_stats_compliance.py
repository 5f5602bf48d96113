"""Verdicts on constructed intervals for every branch, overall verdicts, threshold validation."""

import math
from pathlib import Path

import pytest
import yaml

from qrbench.stats import Estimate, Threshold, Verdict, judge, overall, thresholds_from_mapping

P95 = Threshold(metric="p95_ms", target=500.0, threshold=750.0, direction="below", unit="ms")
THROUGHPUT = Threshold(metric="throughput_rps", target=100.0, threshold=50.0, direction="above", unit="rps")
GOOD = {"target": 500, "direction": "below"}
THRESHOLDS_FILE = Path(__file__).resolve().parents[2] / "parameters" / "thresholds.yaml"


def est(low, value, high, *, n=1000, decided=None):
    if decided is None:
        decided = all(math.isfinite(v) for v in (low, value, high))
    return Estimate(value=value, low=low, high=high, confidence=0.95, n=n, method="test", decided=decided)


@pytest.mark.parametrize(
    ("interval", "verdict"),
    [
        ((400, 450, 499), Verdict.PASS),
        ((400, 480, 500), Verdict.WARN),  # touches the target: not wholly below it
        ((450, 500, 600), Verdict.WARN),  # straddles the target
        ((600, 650, 700), Verdict.WARN),  # between target and threshold
        ((700, 760, 800), Verdict.WARN),  # straddles the threshold
        ((751, 800, 900), Verdict.FAIL),
        ((800, 900, math.inf), Verdict.FAIL),  # undecided, but its finite low bound already fails
        ((300, 400, math.inf), Verdict.INSUFFICIENT),
        ((-math.inf, 400, math.inf), Verdict.INSUFFICIENT),
    ],
)
def test_below_metric_branches(interval, verdict):
    j = judge(est(*interval), P95)
    assert j.verdict is verdict
    assert j.reason.startswith("p95_ms: ") and j.reason.endswith(".")
    assert (j.metric, j.target, j.threshold, j.unit) == ("p95_ms", 500.0, 750.0, "ms")


@pytest.mark.parametrize(
    ("interval", "verdict"),
    [
        ((101, 120, 140), Verdict.PASS),
        ((90, 110, 130), Verdict.WARN),
        ((60, 70, 80), Verdict.WARN),
        ((40, 55, 70), Verdict.WARN),
        ((10, 30, 49.9), Verdict.FAIL),
        ((0.0, 30, 45), Verdict.FAIL),
        ((0.0, 200, math.inf), Verdict.INSUFFICIENT),
    ],
)
def test_above_metric_branches(interval, verdict):
    assert judge(est(*interval), THROUGHPUT).verdict is verdict


def test_undecided_with_finite_bounds_is_insufficient():
    # e.g. an interval clipped to the sample range: finite, but flagged as not a real bound.
    j = judge(est(100, 200, 300, n=5, decided=False), P95)
    assert j.verdict is Verdict.INSUFFICIENT and "undecided (5 samples)" in j.reason


def test_an_undecided_estimate_gives_its_own_reason():
    # A time-ordered percentile kept open by correlation says so, not "too few samples".
    open_ = Estimate(
        value=45.0,
        low=-math.inf,
        high=math.inf,
        confidence=0.95,
        n=118,
        method="order statistics; undecided: 118 requests, but strongly correlated: about 40 independent",
        decided=False,
    )
    j = judge(open_, P95)
    assert j.verdict is Verdict.INSUFFICIENT
    assert "undecided (118 requests, but strongly correlated: about 40 independent)" in j.reason


def test_no_samples_is_insufficient():
    empty = Estimate(value=math.nan, low=-math.inf, high=math.inf, confidence=0.95, n=0, method="t", decided=False)
    assert judge(empty, P95).verdict is Verdict.INSUFFICIENT
    assert "no samples" in judge(empty, THROUGHPUT).reason
    one = Estimate(value=math.nan, low=0.0, high=math.inf, confidence=0.95, n=1, method="t", decided=False)
    assert judge(one, THROUGHPUT).verdict is Verdict.INSUFFICIENT
    assert "1 sample(s) do not define" in judge(one, THROUGHPUT).reason


def test_reason_sentences_name_the_numbers():
    assert judge(est(400, 450, 490), P95).reason == (
        "p95_ms: the 95% interval [400 ms, 490 ms] lies entirely below the target 500 ms (point estimate 450 ms)."
    )
    ratio = Threshold(metric="success_ratio", target=0.99, threshold=0.95, direction="above", unit="fraction")
    assert "[99.5 %, 100 %]" in judge(est(0.995, 0.999, 1.0), ratio).reason


def test_target_equal_to_threshold():
    single = Threshold(metric="rerank_50_ms", target=500.0, threshold=500.0, direction="below", unit="ms")
    assert judge(est(300, 400, 499), single).verdict is Verdict.PASS
    assert judge(est(450, 500, 550), single).verdict is Verdict.WARN
    assert judge(est(501, 550, 600), single).verdict is Verdict.FAIL


def _judgement(verdict):
    intervals = {
        Verdict.PASS: (1, 2, 3),
        Verdict.WARN: (450, 500, 600),
        Verdict.FAIL: (800, 900, 1000),
        Verdict.INSUFFICIENT: (1, 2, math.inf),
    }
    j = judge(est(*intervals[verdict]), P95)
    assert j.verdict is verdict
    return j


@pytest.mark.parametrize(
    ("verdicts", "expected"),
    [
        ([], Verdict.INSUFFICIENT),
        ([Verdict.PASS, Verdict.PASS], Verdict.PASS),
        ([Verdict.PASS, Verdict.WARN], Verdict.WARN),
        ([Verdict.PASS, Verdict.INSUFFICIENT], Verdict.WARN),
        ([Verdict.WARN, Verdict.FAIL, Verdict.INSUFFICIENT], Verdict.FAIL),
    ],
)
def test_overall(verdicts, expected):
    assert overall(_judgement(v) for v in verdicts) is expected


def test_verdict_is_a_string():
    assert Verdict.FAIL == "fail" and f"{Verdict.PASS}" == "pass"


def test_thresholds_file_holds_the_prd_targets():
    document = yaml.safe_load(THRESHOLDS_FILE.read_text())
    baseline = thresholds_from_mapping(document["baseline"], where="baseline")
    load = thresholds_from_mapping(document["load"], where="load")
    assert {k: (t.target, t.threshold, t.direction) for k, t in baseline.items()} == {
        "similarity_ms": (100.0, 100.0, "below"),
        "rerank_50_ms": (500.0, 500.0, "below"),
        "memory_100_docs_gb": (2.0, 2.0, "below"),
    }
    assert {k: (t.target, t.threshold, t.direction) for k, t in load.items()} == {
        "p50_ms": (200.0, 300.0, "below"),
        "p95_ms": (500.0, 750.0, "below"),
        "p99_ms": (1000.0, 1500.0, "below"),
        "similarity_ms": (100.0, 100.0, "below"),
        "rerank_50_ms": (500.0, 500.0, "below"),
        "kept_up": (0.95, 0.90, "above"),
        "throughput_rps": (100.0, 50.0, "above"),
        "success_ratio": (0.99, 0.95, "above"),
        "cpu_utilization": (0.70, 0.90, "below"),
        "memory_gb": (1.5, 2.0, "below"),
        "quantum_time_ms": (85.0, 100.0, "below"),
        "classical_fallback_rate": (0.01, 0.05, "below"),
        "cache_hit_rate": (0.20, 0.10, "above"),
    }
    assert load["p95_ms"].unit == "ms" and load["success_ratio"].unit == "fraction"


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"p95_ms": {**GOOD, "limit": 750}}, r"load\.p95_ms has unknown key\(s\) limit"),
        ({"p95_ms": {"direction": "below"}}, r"load\.p95_ms is missing 'target'"),
        ({"p95_ms": {"target": 500}}, r"load\.p95_ms is missing 'direction'"),
        ({"p95_ms": {**GOOD, "target": "fast"}}, r"load\.p95_ms\.target must be a finite number"),
        ({"p95_ms": {**GOOD, "target": True}}, r"load\.p95_ms\.target must be a finite number"),
        ({"p95_ms": {**GOOD, "threshold": math.nan}}, r"load\.p95_ms\.threshold must be a finite number"),
        ({"p95_ms": {**GOOD, "direction": "under"}}, r"load\.p95_ms\.direction must be 'below' or 'above'"),
        ({"p95_ms": {**GOOD, "threshold": 400}}, r"load\.p95_ms: .* at least the target"),
        ({"rps": {**GOOD, "threshold": 600, "direction": "above"}}, r"load\.rps: .* at most the target"),
        ({"p95_ms": {**GOOD, "unit": 3}}, r"load\.p95_ms\.unit must be a string"),
        ({"p95_ms": 500}, r"load\.p95_ms must be a mapping"),
        ([1, 2], r"load must be a mapping"),
    ],
)
def test_thresholds_from_mapping_names_the_bad_key(section, message):
    with pytest.raises(ValueError, match=message):
        thresholds_from_mapping(section, where="load")


def test_threshold_defaults():
    parsed = thresholds_from_mapping({"x_ms": {"target": 5, "direction": "below"}})
    assert parsed["x_ms"] == Threshold(metric="x_ms", target=5.0, threshold=5.0, direction="below", unit="")


def test_each_target_says_how_it_is_judged():
    data = yaml.safe_load(THRESHOLDS_FILE.read_text())
    baseline = thresholds_from_mapping(data["baseline"])
    load = thresholds_from_mapping(data["load"])
    # One definition per target: rerank-50 and similarity judged on p95 of their own kind everywhere.
    for section in (baseline, load):
        assert (section["rerank_50_ms"].statistic, section["rerank_50_ms"].kind) == ("p95", "rerank-50")
        assert (section["similarity_ms"].statistic, section["similarity_ms"].kind) == ("p95", "similarity")
    assert not load["throughput_rps"].can_be_judged_by("closed") and load["throughput_rps"].can_be_judged_by("step")
    assert load["kept_up"].can_be_judged_by("closed")


def test_a_judgement_names_its_workload():
    t = thresholds_from_mapping(
        {
            "p95_ms": {
                "target": 500,
                "direction": "below",
                "unit": "ms",
                "statistic": "p95",
                "judged_by": ["open", "step"],
            }
        }
    )["p95_ms"]
    j = judge(Estimate(value=1.0, low=0.5, high=2.0, confidence=0.95, n=10, method="x"), t, workload="stage open-100")
    assert j.workload == "stage open-100" and j.statistic == "p95" and "[judged by stage open-100]" in j.reason
    with pytest.raises(ValueError, match="judged_by"):
        thresholds_from_mapping({"x": {"target": 1, "direction": "below", "judged_by": 3}})


def test_an_unbounded_interval_is_said_in_words_not_inf():
    from qrbench.stats import Estimate, Threshold, judge

    est = Estimate(value=15_530.0, low=14_940.0, high=float("inf"), confidence=0.95, n=12, method="x", decided=False)
    reason = judge(est, Threshold(metric="p95_ms", target=500, threshold=750, direction="below", unit="ms")).reason
    assert "inf" not in reason and "e+" not in reason
    assert "[14,940 ms, not bounded]" in reason


@pytest.mark.parametrize(
    ("previous", "current", "direction", "change"),
    [
        ((100, 90, 110), (150, 130, 170), "below", "worse"),  # latency up beyond both intervals
        ((150, 130, 170), (100, 90, 110), "below", "better"),
        ((100, 90, 110), (150, 130, 170), "above", "better"),  # throughput up
        ((100, 90, 120), (115, 105, 130), "below", "unresolved"),  # intervals overlap
        ((100, 90, 110), (150, 130, math.inf), "below", "worse"),  # unbounded on the side that does not matter
        ((100, 90, math.inf), (150, 130, 170), "below", "unresolved"),  # previous high unbounded: cannot tell
        ((100, math.nan, math.nan), (150, 130, 170), "below", "unresolved"),
    ],
)
def test_interval_change_needs_disjoint_intervals(previous, current, direction, change):
    from qrbench.stats import interval_change

    assert interval_change(previous, current, direction) == change


def test_interval_change_refuses_an_unknown_direction():
    from qrbench.stats import interval_change

    with pytest.raises(ValueError, match="'below' or 'above'"):
        interval_change((1, 0, 2), (1, 0, 2), "sideways")
