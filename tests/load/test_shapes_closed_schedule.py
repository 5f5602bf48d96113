"""The closed model's users schedule, lognormal think times and sessions (pure, no clock)."""

import math
import random

import numpy as np
import pytest

from qrbench.errors import ParameterError
from qrbench.load import ClosedModel, Sessions, ThinkTime


def test_ramp_up_is_one_window_per_user():
    model = ClosedModel(users=4, ramp_up_s=2.0, duration_s=5)
    assert [model.user_windows(i) for i in range(4)] == [
        ((0.0, math.inf),),
        ((0.5, math.inf),),
        ((1.0, math.inf),),
        ((1.5, math.inf),),
    ]


def test_stages_give_each_user_the_time_the_target_exceeds_it():
    # 0 -> 6 users over 1 s, hold 2 s, drop to 2 at once, hold 2 s, back up to 5 at once, hold 1.5 s.
    model = ClosedModel(stages=[(1, 6), (2, 6), (0, 2), (2, 2), (0, 5), (1.5, 5)])
    assert model.users == 6 and model.duration_s == 6.5
    assert model.stages == ((1.0, 6.0), (2.0, 6.0), (0.0, 2.0), (2.0, 2.0), (0.0, 5.0), (1.5, 5.0))
    assert model.user_windows(0) == ((0.0, 6.5),)
    assert model.user_windows(1) == ((1 / 6, 6.5),)
    assert np.allclose(model.user_windows(3), ((0.5, 3.0), (5.0, 6.5)))
    assert np.allclose(model.user_windows(5), ((5 / 6, 3.0),))
    assert [model.target_users(t) for t in (0.5, 2, 4, 6, 99)] == [3, 6, 2, 5, 5]


def test_linear_ramp_down_releases_users_from_the_top():
    model = ClosedModel(stages=[(0, 4), (2, 4), (4, 0)])
    for i in range(4):
        ((start, end),) = model.user_windows(i)
        assert start == 0 and end == pytest.approx(2 + 4 * (4 - i) / 4)


def test_duration_cuts_the_schedule_short_and_users_must_cover_the_peak():
    model = ClosedModel(stages=[(10, 10)], duration_s=4)
    assert model.duration_s == 4 and model.user_windows(9) == ()
    assert np.allclose(model.user_windows(2), ((2.0, 4.0),))
    assert ClosedModel(stages=[(1, 2.5)]).users == 3  # user 2 runs while the target is above 2
    assert ClosedModel(users=10, stages=[(1, 3)]).users == 10


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"stages": [(1, 5)], "ramp_up_s": 2}, "not both"),
        ({"stages": [(1, 5)], "users": 3}, "up to 5 users"),
        ({"stages": []}, "at least one"),
        ({"stages": [(0, 5)]}, "more than 0 s"),
        ({"stages": [(1, 0.5)]}, "never asks"),
        ({"stages": [(1, -2)]}, r"stages\[0\] target_users"),
        ({"stages": [(-1, 2)]}, r"stages\[0\] duration_s"),
        ({"stages": [(1, 2, 3)]}, r"stages\[0\]"),
        ({"users": 2, "duration_s": 1, "sessions": {"mean": 3}}, "mean"),
        ({"users": 2, "duration_s": 1, "sessions": {"mean_requests": 0}}, "mean_requests"),
    ],
)
def test_bad_schedules_are_refused(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        ClosedModel(**kwargs)


def test_lognormal_think_time_has_the_asked_median():
    think = ThinkTime.from_spec({"distribution": "lognormal", "median_s": 2.0, "sigma": 0.8})
    draw = think.sampler(random.Random(3))
    draws = np.array([draw() for _ in range(20_000)])
    assert np.median(draws) == pytest.approx(2.0, rel=0.05)
    assert draws.mean() == pytest.approx(think.mean, rel=0.05) and think.mean == pytest.approx(2.754, abs=1e-3)
    assert ThinkTime(distribution="lognormal").sampler(random.Random(1)) is None
    with pytest.raises(ParameterError, match="sigma"):
        ThinkTime(distribution="lognormal", median_s=1, sigma=-1)


def test_sessions_lengths_and_pause():
    geometric = Sessions(mean_requests=12).length_sampler(random.Random(5))
    lengths = np.array([geometric() for _ in range(20_000)])
    assert lengths.min() >= 1 and lengths.mean() == pytest.approx(12, rel=0.05)
    constant = Sessions(mean_requests=4, distribution="constant").length_sampler(random.Random(5))
    assert {constant() for _ in range(10)} == {4}
    assert Sessions(mean_requests=1).length_sampler(random.Random(1))() == 1
    s = Sessions(mean_requests=3, pause_s={"distribution": "lognormal", "median_s": 5, "sigma": 0.5})
    assert s.pause_s == ThinkTime(distribution="lognormal", median_s=5, sigma=0.5)
    assert ClosedModel(users=1, duration_s=1, sessions={"mean_requests": 3}).sessions == Sessions(mean_requests=3)
