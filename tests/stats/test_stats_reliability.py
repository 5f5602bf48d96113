"""Reliability checks: each warning fires on its condition and stays quiet otherwise."""

import math

import numpy as np
import pytest

from qrbench.stats import Check, Estimate, noise_cv, percentile_ci, reliability_checks, trim_warmup


def _by_name(checks):
    return {c.name: c for c in checks}


def test_sample_count_checks():
    checks = _by_name(reliability_checks(n_samples={"normal/rerank": 50, "peak/rerank": 500, "stress": 5000}))
    assert not checks["samples:normal/rerank"].ok and "p95" in checks["samples:normal/rerank"].message
    assert not checks["samples:peak/rerank"].ok and "p99" in checks["samples:peak/rerank"].message
    assert checks["samples:stress"].ok and checks["samples:stress"].severity == "info"
    assert checks["samples:normal/rerank"].severity == "warning"


def test_estimate_checks():
    rng = np.random.default_rng(0)
    wide = Estimate(value=100.0, low=70.0, high=140.0, confidence=0.95, n=40, method="t")
    tight = Estimate(value=100.0, low=98.0, high=103.0, confidence=0.95, n=4000, method="t")
    zero = Estimate(value=0.0, low=0.0, high=0.003, confidence=0.95, n=1000, method="t")
    empty = percentile_ci([], 95)
    p99 = percentile_ci(rng.normal(size=50), 99)
    checks = _by_name(
        reliability_checks(estimates={"wide": wide, "tight": tight, "zero": zero, "empty": empty, "p99": p99})
    )
    assert not checks["interval:wide"].ok and "70%" in checks["interval:wide"].message
    assert checks["interval:tight"].ok
    assert checks["interval:zero"].ok
    assert not checks["interval:empty"].ok and "no samples" in checks["interval:empty"].message
    assert not checks["interval:p99"].ok and "cannot bound" in checks["interval:p99"].message


def test_generator_and_machine_checks():
    bad = _by_name(reliability_checks(generator_cpu=0.95, send_lag_p99_ms=40.0, machine_noise_cv=0.25))
    assert not bad["generator_cpu"].ok and "saturated" in bad["generator_cpu"].message
    assert not bad["send_lag"].ok and "40 ms" in bad["send_lag"].message
    assert not bad["machine_noise"].ok and "25.0%" in bad["machine_noise"].message
    assert all(c.severity == "warning" for c in bad.values())
    good = reliability_checks(generator_cpu=0.30, send_lag_p99_ms=2.0, machine_noise_cv=0.02)
    assert [c.ok for c in good] == [True, True, True]
    assert not _by_name(reliability_checks(machine_noise_cv=math.nan))["machine_noise"].ok


def test_unmeasured_inputs_give_no_checks():
    assert reliability_checks() == []


def test_limits_are_configurable():
    checks = reliability_checks(generator_cpu=0.85, max_generator_cpu=0.9, n_samples={"a": 150}, min_samples_p99=100)
    assert all(c.ok for c in checks)


def test_check_is_frozen():
    check = Check(name="x", ok=True, severity="info", message="Fine.")
    with pytest.raises(AttributeError):
        check.ok = False  # type: ignore[misc]


def test_noise_cv():
    timings = np.array([10.0, 11.0, 9.0, 10.5, 9.5])
    assert noise_cv(timings) == pytest.approx(np.std(timings, ddof=1) / np.mean(timings))
    assert math.isnan(noise_cv([1.0])) and math.isnan(noise_cv([])) and math.isnan(noise_cv([0.0, 0.0]))
    assert noise_cv([5.0, 5.0, 5.0]) == 0.0


def test_a_run_too_short_for_a_steady_state_is_warned():
    t = np.arange(500, dtype=float)
    y = 100.0 + 200.0 * np.exp(-t / 150.0)
    y[-40:] = 100.0
    (check,) = reliability_checks(warmup=trim_warmup(t, y))
    assert not check.ok and check.name == "warmup" and "too short" in check.message
    (fine,) = reliability_checks(warmup=trim_warmup(t, np.full(500, 100.0)))
    assert fine.ok


def test_the_p99_sample_rule_of_thumb_yields_to_a_decided_p99_interval():
    decided = Estimate(value=54.0, low=49.5, high=75.5, confidence=0.95, n=576, method="order statistics")
    undecided = Estimate(
        value=54.0, low=49.5, high=float("inf"), confidence=0.95, n=576, method="order statistics", decided=False
    )
    for p99, warned in ((decided, False), (undecided, True)):
        checks = reliability_checks(n_samples={"judged requests": 576}, estimates={"p99 latency of all requests": p99})
        sample = next(c for c in checks if c.name == "samples:judged requests")
        assert sample.ok is not warned, sample
        assert ("not for p99" in sample.message) is warned, sample.message
    # Without a p99 estimate the rule of thumb stands.
    alone = reliability_checks(n_samples={"judged requests": 576})
    assert not alone[0].ok and "not for p99, which needs at least 1000" in alone[0].message


def test_an_undecided_interval_names_its_own_cause_not_the_sample_count():
    open_ = Estimate(
        value=45.0,
        low=float("-inf"),
        high=float("inf"),
        confidence=0.95,
        n=118,
        method="order statistics; undecided: 118 requests, but only 4 separate episodes beyond this percentile",
        decided=False,
    )
    check = reliability_checks(estimates={"p95 of reranks": open_})[0]
    assert not check.ok and "only 4 separate episodes" in check.message
    assert "collect more samples" not in check.message
    plain = Estimate(value=45.0, low=40.0, high=float("inf"), confidence=0.95, n=5, method="order", decided=False)
    assert "5 samples cannot bound it" in reliability_checks(estimates={"p95": plain})[0].message
