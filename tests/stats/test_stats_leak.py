"""Leak analysis on synthetic soak series: a planted leak is found, a flat series passes, a cache-fill
ramp is not called a leak, and runs whose caches never filled are not judged."""

import numpy as np
import pytest
from scipy.signal import lfilter

from qrbench.stats import LEAK_LIMIT_MB_PER_H, caches_full_at, leak_check
from qrbench.stats.processes import rss_soak

MB = 1e6
FILL_S = 300  # the caches fill over the first five minutes


def soak(
    slope_mb_per_h: float, *, seed: int, minutes: int = 40, steps: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """1-s samples: RSS rises 150 MB while the cache fills (misses grow), then drifts at slope_mb_per_h
    with autocorrelated noise (AR(1), phi 0.98, ~2.5 MB spread) and, if steps, 1-MB allocator steps up
    or down that stay (a random walk, about one step every 8 minutes)."""
    rng = np.random.default_rng(seed)
    t = np.arange(minutes * 60, dtype=float)
    fill = 150 * MB * np.minimum(t / FILL_S, 1.0)
    drift = slope_mb_per_h * MB * np.maximum(t - FILL_S, 0.0) / 3600.0
    noise = lfilter([1.0], [1.0, -0.98], rng.normal(0.0, 0.5 * MB, t.size))
    jumps = (rng.random(t.size) < 0.002) * rng.choice([-1.0, 1.0], t.size)
    rss = 600 * MB + fill + drift + noise + (np.cumsum(jumps) * MB if steps else 0.0)
    misses = np.floor(1500 * np.minimum(t / FILL_S, 1.0))
    return t, rss, misses


def test_flat_series_after_the_fill_passes():
    t, rss, misses = soak(0.0, seed=1)
    full = caches_full_at(t, misses=[misses])
    assert full == pytest.approx(FILL_S)
    check = leak_check(t, rss, full_at_s=full)
    assert check.verdict == "pass", check.reason
    assert check.slope.low <= 0.0 <= check.slope.high
    assert check.start_s == pytest.approx(FILL_S)


def test_cache_fill_ramp_is_not_called_a_leak():
    # 55 minutes after the fill: with persistent steps, 35 minutes bound a flat series below the limit in only
    # about 70 % of runs (the rest are undecided, never "fail").
    t, rss, misses = soak(0.0, seed=2, minutes=60)
    # Over the whole run the fill ramp reads as a steep "leak"; from when the caches are full, it does not.
    whole = leak_check(t, rss, full_at_s=0.0)
    assert whole.slope.value > LEAK_LIMIT_MB_PER_H
    check = leak_check(t, rss, full_at_s=caches_full_at(t, misses=[misses]))
    assert check.verdict == "pass", check.reason


def test_planted_leak_is_found():
    t, rss, misses = soak(120.0, seed=3)
    check = leak_check(t, rss, full_at_s=caches_full_at(t, misses=[misses]))
    assert check.verdict == "fail", check.reason
    assert check.slope.low > LEAK_LIMIT_MB_PER_H


def test_interval_covers_a_planted_leak_at_its_confidence():
    # 60 seeded series of AR(1) noise: a 95 % interval should miss about 3 of them (these miss 1); 9 or more
    # misses has probability 0.3 % for an honest interval, while an i.i.d. interval would miss most. None missed
    # (probability 4.6 %) would hint at an interval too wide to judge anything, so the band is [52, 59].
    covered = []
    for seed in range(60):
        t, rss, misses = soak(120.0, seed=100 + seed, steps=False)
        slope = leak_check(t, rss, full_at_s=FILL_S).slope
        covered.append(slope.low <= 120.0 <= slope.high)
    assert 52 <= sum(covered) <= 59


def test_leak_near_the_limit_is_undecided():
    t, rss, misses = soak(LEAK_LIMIT_MB_PER_H, seed=4)
    check = leak_check(t, rss, full_at_s=caches_full_at(t, misses=[misses]))
    assert check.verdict == "undecided", check.reason


def test_batch_interval_is_wider_than_an_iid_one_would_be():
    t, rss, misses = soak(0.0, seed=5)
    check = leak_check(t, rss, full_at_s=FILL_S)
    keep = t >= FILL_S
    x, y = t[keep] / 3600.0, rss[keep] / MB
    residuals = y - np.polyval(np.polyfit(x, y, 1), x)
    iid_se = residuals.std(ddof=2) / np.sqrt(((x - x.mean()) ** 2).sum())
    assert check.block_len > 1
    assert check.slope.width > 4 * 1.96 * iid_se


def test_caches_still_filling_give_insufficient():
    t, rss, _ = soak(0.0, seed=6)
    misses = np.arange(t.size, dtype=float)  # a miss every second up to the end
    assert caches_full_at(t, misses=[misses]) is None
    check = leak_check(t, rss, full_at_s=None)
    assert check.verdict == "insufficient"
    assert not check.slope.decided


def test_short_window_gives_insufficient():
    t, rss, misses = soak(0.0, seed=7, minutes=8)
    check = leak_check(t, rss, full_at_s=caches_full_at(t, misses=[misses]))
    assert check.verdict == "insufficient"
    assert "600 s" in check.reason


def test_full_from_size_series_and_the_latest_cache():
    t = np.arange(100, dtype=float)
    embedding = np.minimum(t, 40.0)  # at its capacity from t = 40
    similarity = np.minimum(2 * t, 120.0)  # from t = 60
    assert caches_full_at(t, sizes=[embedding, similarity]) == 60.0
    assert caches_full_at(t, sizes=[t]) is None  # still growing at the last sample
    misses = np.r_[np.arange(50.0), np.full(50, 49.0)]
    assert caches_full_at(t, misses=[misses], sizes=[embedding]) == 49.0


def test_invalid_arguments_are_named():
    with pytest.raises(ValueError, match="misses or sizes"):
        caches_full_at([0.0, 1.0])
    with pytest.raises(ValueError, match="one length"):
        leak_check([0.0, 1.0], [1.0], full_at_s=0.0)
    with pytest.raises(ValueError, match="limit_mb_per_h"):
        leak_check([0.0, 1.0], [1.0, 2.0], full_at_s=0.0, limit_mb_per_h=0.0)


# (sawtooth, steps) -> coverage band of the 95 % slope interval over 200 soaks (sd 0.015 at 0.95). Without steps
# the goal band [0.90, 0.99]; with persistent steps the interval still covers only ~0.83-0.90 (a known gap of
# issue 20, see qrbench/stats/leak.py): that band is asserted so that neither a regression nor a fix goes
# unnoticed.
LEAK_BANDS = {
    (False, False): (0.90, 0.99),
    (True, False): (0.90, 0.99),
    (True, True): (0.78, 0.90),
}


@pytest.mark.parametrize(("sawtooth", "steps"), list(LEAK_BANDS))
def test_slope_interval_coverage_band_and_wrong_verdicts(sawtooth, steps):
    rng = np.random.default_rng(2000 + 2 * sawtooth + steps)
    covered = wrong = 0
    for i in range(200):
        slope, minutes = (0.0, 40) if i % 2 == 0 else (30.0, 30)
        t, rss = rss_soak(rng, slope, minutes, sawtooth=sawtooth, steps=steps)
        check = leak_check(t, rss, full_at_s=0.0)
        covered += check.slope.low <= slope <= check.slope.high
        wrong += check.verdict == ("fail" if slope < LEAK_LIMIT_MB_PER_H else "pass")
    low, high = LEAK_BANDS[(sawtooth, steps)]
    assert low <= covered / 200 <= high
    assert wrong <= 2  # wrong verdicts <= 1 %
