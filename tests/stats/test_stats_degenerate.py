"""Degenerate input gets a clear error or an undecided result, never a silent number (issue 20, item 4)."""

import numpy as np
import pytest

from qrbench.stats import caches_full_at, fit_usl, leak_check, throughput


def test_leak_check_refuses_times_in_milliseconds():
    t_ms = np.arange(0.0, 1800 * 1000.0, 1000.0)
    rss = 1e9 + 30e6 * t_ms / 1000 / 3600
    with pytest.raises(ValueError, match="t_s looks like milliseconds.*Pass seconds"):
        leak_check(t_ms, rss, full_at_s=0.0)
    # The same soak in seconds is judged: 30 MB/h is over the 20 MB/h limit.
    assert leak_check(t_ms / 1000, rss, full_at_s=0.0).verdict == "fail"


def test_caches_full_at_skips_a_missed_scrape():
    t = np.arange(100.0)
    misses = np.r_[np.arange(51.0), np.full(49, 50.0)]  # the last miss is at t = 50
    misses[50] = np.nan  # ... and that scrape was lost: the rise shows between t = 49 and t = 51
    assert caches_full_at(t, misses=[misses]) == 51.0
    still = np.arange(100.0)
    still[-1] = np.nan  # rising up to the last scrape that arrived
    assert caches_full_at(t, misses=[still]) is None
    assert caches_full_at(t, misses=[np.full(100, np.nan)]) is None


def test_fit_usl_refuses_a_level_that_completed_nothing():
    with pytest.raises(ValueError, match=r"throughput is 0 at concurrency level\(s\) 8"):
        fit_usl([1, 2, 4, 8, 16], [100.0, 190.0, 350.0, 0.0, 500.0])


def test_a_completion_on_the_last_window_edge_is_not_counted_twice():
    t_end = np.r_[np.arange(100) * 0.1 + 0.05, 10.0]  # 10 per second for 10 s, one more exactly at 10 s
    est = throughput(t_end, window_s=1.0, start_s=0.0, end_s=10.0)
    assert est.value == pytest.approx(10.0) and est.n == 100


def test_fit_usl_keeps_a_zero_window_inside_a_level_that_completed_work():
    levels = [1, 1, 2, 2, 4, 4, 8, 8, 16, 16]
    x = [100.0, 100.0, 190.0, 190.0, 350.0, 350.0, 0.0, 1200.0, 520.0, 520.0]  # one empty window at n = 8
    assert fit_usl(levels, x).n_points == 5
