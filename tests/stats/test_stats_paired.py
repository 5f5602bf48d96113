"""The paired-block A/B comparison: against scipy, on degenerate input, and by seeded simulation of a
drifting machine (slow drift plus on/off contention hitting both arms) at the block counts of the default
parameters/ab.yaml."""

import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats as sps

from qrbench.stats import (
    DriftingMachine,
    block_pairs,
    detectable_change,
    judge_family,
    judge_simulated,
    overall_ab_verdict,
    pair_schedule,
    paired_comparison,
    simulate_ab,
)

ROOT = Path(__file__).resolve().parents[2]


def _defaults() -> tuple[int, int]:
    params = yaml.safe_load((ROOT / "parameters" / "ab.yaml").read_text())
    return int(params["pairs"]), int(params["requests_per_kind"])


def _sample(n=20, sigma=0.1, ratio=1.0, seed=1):
    rng = np.random.default_rng(seed)
    a = 100 * np.exp(rng.normal(0, 0.3, n))  # blocks differ a lot (drift); pairs share it
    b = a * ratio * np.exp(rng.normal(0, sigma, n))
    return a, b


def test_interval_and_p_value_agree_with_scipy_paired_t():
    a, b = _sample(ratio=1.05)
    row = paired_comparison(a, b, statistic="median")
    test = sps.ttest_rel(np.log(b), np.log(a), alternative="greater")
    assert row.p_value == pytest.approx(test.pvalue, rel=1e-9)
    ci = sps.ttest_rel(np.log(b), np.log(a)).confidence_interval(0.95)
    assert math.log(row.change.low) == pytest.approx(ci.low, rel=1e-9)
    assert math.log(row.change.high) == pytest.approx(ci.high, rel=1e-9)
    assert row.change.value == pytest.approx(math.exp(np.mean(np.log(b) - np.log(a))))
    assert row.n_pairs == 20


@pytest.mark.parametrize("n, m", [(8, 1), (20, 4), (40, 4)])
def test_detectable_change_has_the_stated_power_by_the_noncentral_t(n, m):
    se, alpha = 0.03, 0.05
    d = detectable_change(se, n, alpha=alpha, power=0.80, family_size=m)
    assert d == pytest.approx(math.expm1((sps.t.ppf(1 - alpha / m, n - 1) + sps.t.ppf(0.8, n - 1)) * se))
    # The exact power of the one-sided test at a true change of D (noncentral t): the usual approximation
    # is within a few points of 80 %.
    power = sps.nct.sf(sps.t.ppf(1 - alpha / m, n - 1), n - 1, math.log1p(d) / se)
    assert 0.77 <= power <= 0.83


def test_family_uses_holm_and_alpha_over_m():
    rows = [paired_comparison(*_sample(seed=s, ratio=r)) for s, r in ((1, 1.0), (2, 1.3), (3, 1.02))]
    family = judge_family(rows)
    raw = np.array([r.p_value for r in rows])
    order = np.argsort(raw)
    holm = np.minimum(np.maximum.accumulate((3 - np.arange(3)) * raw[order]), 1)
    adjusted = np.empty(3)
    adjusted[order] = holm
    assert [r.p_adjusted for r in family] == pytest.approx(adjusted)
    assert all(r.family_size == 3 for r in family)
    assert all(f.detectable > r.detectable for f, r in zip(family, rows, strict=True))
    assert family[1].verdict == "regression"
    assert overall_ab_verdict(family) == "regression"


def test_three_verdicts():
    quiet_same = paired_comparison(*_sample(n=30, sigma=0.02, ratio=1.0))
    assert quiet_same.verdict == "no regression of that size"
    assert quiet_same.detectable < 0.10
    noisy_same = paired_comparison(*_sample(n=5, sigma=0.3, ratio=1.0))
    assert noisy_same.verdict == "cannot tell"
    assert noisy_same.detectable > 0.10
    slower = paired_comparison(*_sample(n=30, sigma=0.05, ratio=1.2))
    assert slower.verdict == "regression"
    # A small, well measured slowdown (interval wholly below the threshold) is not a regression of that size.
    small = paired_comparison(*_sample(n=40, sigma=0.01, ratio=1.02))
    assert small.p_value < 0.05 and small.verdict == "no regression of that size"
    assert overall_ab_verdict([quiet_same, noisy_same]) == "cannot tell"
    assert overall_ab_verdict([quiet_same]) == "no regression of that size"
    assert overall_ab_verdict([]) == "cannot tell"


@pytest.mark.parametrize(
    "a, b",
    [
        ([100.0], [120.0]),  # one pair
        ([100.0, 100.0, 100.0], [110.0, 110.0, 110.0]),  # no spread between pairs
        ([], []),
        ([100.0, np.nan, 0.0], [110.0, 120.0, 130.0]),  # one usable pair after missing / zero values
    ],
)
def test_degenerate_input_cannot_tell(a, b):
    row = paired_comparison(a, b)
    assert row.verdict == "cannot tell"
    assert math.isinf(row.detectable)
    assert not row.change.decided
    assert "cannot tell" in row.summary
    family = judge_family([row, paired_comparison(*_sample())])
    assert family[0].verdict == "cannot tell" and family[1].family_size == 1


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="threshold"):
        paired_comparison([1.0, 2.0], [1.0, 2.0], threshold=0)
    with pytest.raises(ValueError, match="equal length"):
        paired_comparison([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="n_pairs"):
        pair_schedule(0)


def test_pair_schedule_pairs_one_a_with_one_b_in_random_order():
    arms = pair_schedule(200, seed=3)
    assert arms == pair_schedule(200, seed=3)
    pairs = block_pairs(arms)
    assert len(pairs) == 200
    assert all(arms[i] == "A" and arms[j] == "B" for i, j in pairs)
    a_first = sum(i < j for i, j in pairs)
    assert 70 < a_first < 130
    assert block_pairs(("A", "B", "B")) == ((0, 1),)  # a trailing block without its partner is left out
    with pytest.raises(ValueError, match="one 'A' and one 'B'"):
        block_pairs(("A", "A"))


# ---- seeded simulation of a drifting machine at the default block counts


def _rates(slowdown: float, runs: int, seed0: int) -> tuple[float, dict[tuple[str, str], float]]:
    pairs, per_kind = _defaults()
    machine = DriftingMachine()
    any_flag, flagged = 0, {}
    for s in range(runs):
        rows = judge_simulated(
            simulate_ab(machine, n_pairs=pairs, requests_per_kind=per_kind, slowdown=slowdown, seed=seed0 + s)
        )
        any_flag += overall_ab_verdict(rows) == "regression"
        for r in rows:
            flagged[(r.label, r.statistic)] = flagged.get((r.label, r.statistic), 0) + (r.verdict == "regression")
    return any_flag / runs, {k: v / runs for k, v in flagged.items()}


def test_identical_targets_flagged_at_most_5_percent_family_wise_on_a_drifting_machine():
    family_wise, _ = _rates(1.0, 300, 1000)
    assert family_wise <= 0.05


def test_a_ten_percent_slowdown_is_found_with_80_percent_power_on_a_drifting_machine():
    _, per_row = _rates(1.10, 150, 5000)
    assert set(per_row) == {(k, s) for k in ("similarity", "rerank_50") for s in ("median", "p95")}
    assert all(rate >= 0.80 for rate in per_row.values()), per_row


def test_contention_does_not_bias_identical_targets():
    """Strong contention (x2 while on) makes detection harder, never a false regression more likely."""
    pairs, per_kind = _defaults()
    machine = DriftingMachine(contention_factor=2.0, contention_on_s=10.0, contention_off_s=15.0)
    runs = [simulate_ab(machine, n_pairs=pairs, requests_per_kind=per_kind, seed=s) for s in range(100)]
    flagged = sum(overall_ab_verdict(judge_simulated(r)) == "regression" for r in runs)
    assert flagged <= 5
