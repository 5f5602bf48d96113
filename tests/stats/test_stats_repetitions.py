"""Regression across repetitions: false alarms under between-run drift, power, single runs, tails, corrections."""

import math

import numpy as np
import pytest
from scipy import stats

from qrbench.stats import adjust_family, adjust_p_values, compare_repetitions

STAGES, STATISTICS, REQUESTS = 10, ("median", "p95"), 120


def _ar1(rng, shape, phi=0.5):
    e = rng.standard_normal(shape)
    x = np.empty(shape)
    x[..., 0] = e[..., 0]
    for i in range(1, shape[-1]):
        x[..., i] = phi * x[..., i - 1] + math.sqrt(1 - phi**2) * e[..., i]
    return x


def _runs(rng, k, slowdown=1.0, machine_sd=0.07, noise_sd=0.03):
    """Latencies (ms) [side, repetition, stage, request]: a multiplicative machine factor per run
    (sd 7 %, i.e. runs drifting 10-20 % apart), per-repetition stage noise, AR(1) requests."""
    base = np.log(np.linspace(20.0, 400.0, STAGES))[None, None, :, None]
    machine = rng.normal(0.0, machine_sd, (2, k, 1, 1))
    noise = rng.normal(0.0, noise_sd, (2, k, STAGES, 1))
    lat = np.exp(base + machine + noise + 0.3 * _ar1(rng, (2, k, STAGES, REQUESTS)))
    lat[1] *= slowdown
    return lat


def _table(lat, method="holm"):
    rows = [
        compare_repetitions(list(lat[0, :, s]), list(lat[1, :, s]), statistic=st, label=f"stage {s}")
        for s in range(STAGES)
        for st in STATISTICS
    ]
    return adjust_family(rows, method=method)


@pytest.mark.parametrize("method", ["holm", "benjamini-hochberg"])
def test_identical_code_under_drift_is_rarely_flagged_family_wise(method):
    rng = np.random.default_rng(11)
    families = 150
    flagged = sum(any(r.regressed for r in _table(_runs(rng, 3), method)) for _ in range(families))
    assert flagged / families <= 0.05


@pytest.mark.parametrize(("k", "power"), [(3, 0.75), (5, 0.95)])
def test_real_slowdown_is_flagged(k, power):
    rng = np.random.default_rng(13)
    families = 60
    flagged = 0
    for _ in range(families):
        rows = _table(_runs(rng, k, slowdown=1.5))
        flagged += any(r.regressed for r in rows)
        assert not any(r.improved for r in rows)
    assert flagged / families >= power


def test_the_result_names_its_correction_and_basis():
    rows = _table(_runs(np.random.default_rng(14), 5, slowdown=1.5))
    assert all("Holm (family-wise error) over 20 comparisons" == r.correction for r in rows)
    flagged = [r for r in rows if r.regressed]
    assert flagged and all(r.separable and r.p_adjusted >= r.p_value for r in flagged)
    assert "repetitions" in flagged[0].summary and "worse" in flagged[0].summary


def test_single_runs_say_drift_cannot_be_separated_and_widen():
    rng = np.random.default_rng(15)
    base = rng.lognormal(np.log(100), 0.3, 2000)
    cur = rng.lognormal(np.log(100 * 1.12), 0.3, 2000)
    # a 12 % shift, as a busy machine produces between runs
    calm = [1.00, 1.01, 0.99, 1.00, 1.02]
    busy = [1.14, 1.12, 1.16, 1.13, 1.15]  # the calibration loop slowed by the same 14 %
    r = compare_repetitions([base], [cur], calibration_baseline=calm, calibration_current=busy)
    # No change beyond the drift was found, but with a drift allowance of 12 %+ a 10 % change could not be seen.
    assert not r.separable and r.drift > 1.12 and r.verdict == "cannot tell"
    assert r.detectable > 0.12 and "cannot tell" in r.summary.lower()
    assert "cannot separate machine drift" in r.summary
    assert r.ratio.low < 1.0 < r.ratio.high
    slow = compare_repetitions([base], [cur * 1.5 / 1.12], calibration_baseline=calm, calibration_current=busy)
    assert slow.regressed and not slow.separable
    no_cal = compare_repetitions([base], [cur])
    assert "default allowance 10%" in no_cal.ratio.method


def test_p95_is_compared_only_when_decided_on_both_sides():
    rng = np.random.default_rng(16)
    small = [rng.lognormal(4, 0.3, 50) for _ in range(3)]
    large = [rng.lognormal(4, 0.3, 200) for _ in range(3)]
    assert compare_repetitions(small, large, statistic="p95").verdict == "undecided"
    assert compare_repetitions(large, large, statistic="p95").verdict == "unchanged"
    assert compare_repetitions(small, small, statistic="median").verdict in ("unchanged", "cannot tell")
    # Undecided rows keep their verdict and stay out of the family size.
    rows = adjust_family(
        [compare_repetitions(small, large, statistic="p95"), compare_repetitions(large, large, statistic="p95")]
    )
    assert rows[0].verdict == "undecided" and rows[1].correction.endswith("over 1 comparisons")


def test_adjusted_p_values_match_hand_computation():
    p = [0.01, 0.04, 0.03, 0.005, math.nan]
    np.testing.assert_allclose(adjust_p_values(p)[:4], [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(adjust_p_values(p, method="benjamini-hochberg")[:4], [0.02, 0.04, 0.04, 0.02])
    assert math.isnan(adjust_p_values(p)[4])
    with pytest.raises(ValueError, match="holm"):
        adjust_p_values(p, method="bonferroni")


def test_degenerate_inputs_give_verdicts_not_exceptions():
    assert compare_repetitions([], [[1.0, 2.0]]).verdict == "insufficient data"
    same = compare_repetitions([[1.0, 2.0, 3.0]] * 3, [[1.0, 2.0, 3.0]] * 3)
    assert same.verdict == "unchanged" and same.p_value == 1.0
    with pytest.raises(ValueError, match="statistic"):
        compare_repetitions([[1.0, 2.0]], [[1.0, 2.0]], statistic="mode")


def test_detectable_change_of_welch_rows_from_t_quantiles_and_family_size():
    rng = np.random.default_rng(21)
    base = [rng.lognormal(np.log(100 * f), 0.2, 300) for f in (1.0, 1.04, 0.97)]
    cur = [rng.lognormal(np.log(100 * f), 0.2, 300) for f in (1.02, 0.99, 1.05)]
    r = compare_repetitions(base, cur)
    assert math.isfinite(r.dof) and r.log_se > 0
    k = stats.t.ppf(1 - 0.05 / 2, r.dof) + stats.t.ppf(0.8, r.dof)
    assert r.detectable == pytest.approx(math.expm1(k * r.log_se))
    # Three repetitions a side on a machine that drifts by a few percent cannot see 10 %: "cannot tell".
    assert r.detectable > 0.10 and r.verdict == "cannot tell"
    family = adjust_family([r, compare_repetitions(cur, base)])
    k2 = stats.t.ppf(1 - 0.05 / 4, r.dof) + stats.t.ppf(0.8, r.dof)
    assert family[0].detectable == pytest.approx(math.expm1(k2 * r.log_se))
    assert family[0].family_size == 2


def test_tight_repetitions_say_unchanged_with_a_small_detectable_change():
    rng = np.random.default_rng(22)
    base = [rng.lognormal(np.log(100), 0.05, 400) for _ in range(6)]
    cur = [rng.lognormal(np.log(100), 0.05, 400) for _ in range(6)]
    r = compare_repetitions(base, cur)
    assert r.detectable < 0.10 and r.verdict == "unchanged"
