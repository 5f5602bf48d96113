"""Warm-up trimming: planted warm-ups are found, stationary runs are left alone, caps hold."""

import numpy as np
import pytest

from qrbench.stats import trim_first_steady_phase, trim_warmup


def _run(seed, n=2000, slow_fraction=0.0, factor=3.0):
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0.0, 60.0, n))
    y = rng.lognormal(np.log(50.0), 0.4, n)
    y[: int(slow_fraction * n)] *= factor
    return t, y


@pytest.mark.parametrize("seed", range(8))
def test_planted_slow_first_tenth_is_trimmed_about_there(seed):
    t, y = _run(seed, slow_fraction=0.10)
    trim = trim_warmup(t, y)
    assert 190 <= trim.n_trimmed <= 260
    assert trim.n_kept == 2000 - trim.n_trimmed and trim.kept.sum() == trim.n_kept
    assert trim.seconds_trimmed == pytest.approx(t[trim.n_trimmed] - t[0])
    assert trim.method == "MSER-5" and f"{trim.n_trimmed} of 2000" in trim.reason


def test_gradual_warmup_is_trimmed():
    rng = np.random.default_rng(1)
    t = np.arange(3000) * 0.02
    y = 40.0 * (1 + 4.0 * np.exp(-t / 3.0)) * rng.lognormal(0.0, 0.2, 3000)
    trim = trim_warmup(t, y)
    # The excess decays with a 3 s time constant: it is ~10 % of the steady value at 8 s.
    assert 4.0 <= trim.seconds_trimmed <= 20.0


def test_stationary_runs_trim_almost_nothing():
    trimmed = [trim_warmup(*_run(seed)).n_trimmed for seed in range(40)]
    assert max(trimmed) <= 100  # at most 5 %
    assert np.mean(np.array(trimmed) == 0) >= 0.6


def test_mask_follows_the_callers_order():
    t, y = _run(3, slow_fraction=0.10)
    perm = np.random.default_rng(0).permutation(t.size)
    shuffled = trim_warmup(t[perm], y[perm])
    ordered = trim_warmup(t, y)
    assert shuffled.n_trimmed == ordered.n_trimmed
    np.testing.assert_array_equal(shuffled.kept, ordered.kept[perm])
    assert not shuffled.kept.flags.writeable


def test_fixed_seconds_and_count():
    t = np.arange(100) * 0.1
    y = np.ones(100)
    by_time = trim_warmup(t, y, method="seconds", seconds=2.0)
    assert by_time.n_trimmed == 20 and by_time.seconds_trimmed == pytest.approx(2.0)
    assert "first 2 s" in by_time.reason and not by_time.kept[:20].any() and by_time.kept[20:].all()
    by_count = trim_warmup(t, y, method="count", count=7)
    assert by_count.n_trimmed == 7 and by_count.method == "fixed 7 requests"


def test_fixed_trims_are_capped_at_half():
    t = np.arange(10) * 1.0
    trim = trim_warmup(t, np.ones(10), method="seconds", seconds=100.0)
    assert trim.n_trimmed == 5 and "capped at half" in trim.reason
    assert trim_warmup(t, np.ones(10), method="count", count=9).n_trimmed == 5


def test_mser_never_trims_more_than_half():
    t = np.arange(1000.0)
    y = np.linspace(1000.0, 1.0, 1000)  # still "warming up" throughout
    trim = trim_warmup(t, y)
    assert trim.n_trimmed <= 500 and "run it longer" in trim.reason


def test_small_empty_and_switched_off():
    few = trim_warmup(np.arange(30.0), np.arange(30.0)[::-1])
    assert few.n_trimmed == 0 and "too few" in few.reason
    empty = trim_warmup([], [])
    assert empty.n_trimmed == 0 and empty.n_kept == 0 and empty.kept.size == 0
    off = trim_warmup(*_run(0, slow_fraction=0.2), method="none")
    assert off.n_trimmed == 0 and off.kept.all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "auto"}, "'mser5'"),
        ({"method": "seconds"}, "needs seconds"),
        ({"method": "count", "count": 2.5}, "whole number"),
        ({"method": "seconds", "seconds": -1.0}, "non-negative"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_invalid_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        trim_warmup(np.arange(100.0), np.ones(100), **kwargs)


def test_length_mismatch():
    with pytest.raises(ValueError, match="same length"):
        trim_warmup([1.0, 2.0], [1.0])


def test_a_run_still_warming_up_is_called_too_short():
    # Latency falls through the whole run: no steady state; MSER's minimum lies in the second half.
    rng = np.random.default_rng(21)
    n = 500
    t = np.arange(n, dtype=float)
    y = 100.0 + 200.0 * np.exp(-t / 150.0) + rng.normal(0, 1.0, n)
    y[-40:] = 100.0 + rng.normal(0, 0.2, 40)  # settles only at the very end
    trim = trim_warmup(t, y)
    assert trim.too_short and "too short to have reached a steady state" in trim.reason
    assert trim.n_trimmed == 250  # still never more than half


def test_a_settled_run_is_not_too_short():
    rng = np.random.default_rng(22)
    t = np.arange(1000, dtype=float)
    y = np.where(t < 100, 300.0, 100.0) + rng.normal(0, 5.0, 1000)
    trim = trim_warmup(t, y)
    assert not trim.too_short and 90 <= trim.n_trimmed <= 110


def test_multi_phase_runs_trim_only_the_first_steady_phase():
    rng = np.random.default_rng(23)
    phases = np.array(["ramp"] * 100 + ["steady"] * 600 + ["spike"] * 200 + ["steady2"] * 300, dtype=object)
    t = np.arange(phases.size, dtype=float)
    y = np.concatenate(
        [
            np.linspace(50, 100, 100),  # ramp: load building up, deliberate
            np.where(np.arange(600) < 60, 250.0, 100.0),  # warm-up inside the first steady phase
            np.full(200, 400.0),  # spike: deliberate, must not be trimmed
            np.full(300, 100.0),
        ]
    ) + rng.normal(0, 3.0, phases.size)
    plain = trim_warmup(t, y)
    trim = trim_first_steady_phase(t, y, phases, steady={"steady", "steady2"})
    assert 50 <= trim.n_trimmed <= 70 and "steady" in trim.method
    kept = np.asarray(trim.kept)
    assert kept[phases == "ramp"].all() and kept[phases == "spike"].all() and kept[phases == "steady2"].all()
    assert not kept[100:150].any() and kept[200:700].all()
    assert plain.n_trimmed != trim.n_trimmed  # the single-series rule trims by the wrong yardstick
    none = trim_first_steady_phase(t, y, phases, steady=set())
    assert none.n_trimmed == 0 and np.asarray(none.kept).all()


def _step_run(seed, before_ms, after_ms, n=2400, duration_s=40.0):
    """A closed run whose latency level changes at its midpoint (e.g. documents stop being cached)."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, duration_s, n)
    level = np.where(t < duration_s / 2, before_ms, after_ms)
    return t, level * rng.lognormal(0.0, 0.3, n)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(("before", "after"), [(4.0, 25.0), (25.0, 4.0)])
def test_level_shift_mid_run_is_reported_not_trimmed(seed, before, after):
    t, y = _step_run(seed, before, after)
    trim = trim_warmup(t, y)
    assert trim.n_trimmed == 0 and trim.n_kept == y.size
    shift = trim.level_shift
    assert shift is not None and not trim.steady
    assert 18.0 <= shift.at_s <= 22.0
    assert shift.before_median == pytest.approx(before, rel=0.1) and shift.after_median == pytest.approx(after, rel=0.1)
    assert shift.before["p50"].high < shift.after["p50"].low or shift.after["p50"].high < shift.before["p50"].low
    assert "Not a steady run" in trim.reason and "not trimmed" in trim.reason


def test_genuine_warmup_is_trimmed_and_the_run_is_steady():
    rng = np.random.default_rng(4)
    t = np.arange(3000) * 0.02
    y = 40.0 * (1 + 4.0 * np.exp(-t / 3.0)) * rng.lognormal(0.0, 0.2, 3000)
    trim = trim_warmup(t, y)
    assert trim.n_trimmed > 0 and trim.steady


def test_stationary_runs_are_steady():
    assert all(trim_warmup(*_run(seed)).steady for seed in range(20))


def test_step_after_a_warmup_is_still_reported():
    rng = np.random.default_rng(5)
    t = np.arange(3000) * 0.02
    y = 40.0 * (1 + 4.0 * np.exp(-t / 3.0)) * np.where(t > 40.0, 3.0, 1.0) * rng.lognormal(0.0, 0.2, 3000)
    trim = trim_warmup(t, y)
    assert trim.level_shift is not None and trim.level_shift.factor == pytest.approx(3.0, rel=0.15)
