"""Workload models validate themselves; arrival_times follows the asked rate (pure, no clock)."""

import random

import numpy as np
import pytest

from qrbench.errors import ParameterError
from qrbench.load import ClosedModel, OpenModel, ThinkTime, arrival_times


def test_uniform_arrivals_are_evenly_spaced():
    times = list(arrival_times(OpenModel(rate_rps=200, duration_s=2, arrivals="uniform")))
    assert len(times) == 400
    np.testing.assert_allclose(np.diff(times), 0.005, atol=1e-9)


def test_uniform_streams_with_phases_interleave_into_one_even_stream():
    model = OpenModel(rate_rps=300, duration_s=1, arrivals="uniform")
    merged = sorted(t for w in range(3) for t in arrival_times(model, share=1 / 3, phase=w / 3))
    assert len(merged) == 300
    np.testing.assert_allclose(np.diff(merged), 1 / 300, atol=1e-9)


def test_poisson_arrivals_have_exponential_gaps():
    times = np.array(list(arrival_times(OpenModel(rate_rps=1000, duration_s=20, seed=7))))
    assert abs(len(times) - 20_000) < 5 * np.sqrt(20_000)
    gaps = np.diff(times)
    assert gaps.mean() == pytest.approx(0.001, rel=0.05)
    assert gaps.std() / gaps.mean() == pytest.approx(1.0, abs=0.05)  # exponential: CV 1
    # Same seed, same schedule; another seed, another one.
    assert list(arrival_times(OpenModel(rate_rps=1000, duration_s=1, seed=7))) == list(times[times < 1])
    assert list(arrival_times(OpenModel(rate_rps=1000, duration_s=1, seed=8)))[:5] != list(times[:5])


def test_ramped_stages_follow_the_integral_of_the_rate():
    model = OpenModel(stages=[(2.0, 0.0, 100.0), (1.0, 100.0, 100.0), (2.0, 100.0, 0.0)], arrivals="uniform")
    times = np.array(list(arrival_times(model)))
    assert model.duration_s == 5.0 and model.expected_requests == 300
    assert len(times) == 300
    assert np.sum(times < 1.0) == pytest.approx(25, abs=1)  # integral of a 0..50 rps ramp over 1 s
    assert np.sum((times >= 2) & (times < 3)) == pytest.approx(100, abs=1)
    assert np.all(np.diff(times) > 0) and times[-1] < 5.0


def test_duration_cuts_stages_short():
    model = OpenModel(stages=[(10.0, 50.0, 50.0)], duration_s=2, arrivals="uniform")
    assert model.segments == ((2.0, 50.0, 50.0),)
    assert len(list(arrival_times(model))) == 100


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"users": 0, "duration_s": 1}, "users"),
        ({"users": 2}, "needs duration_s"),
        ({"users": 2, "duration_s": -1}, "duration_s"),
        ({"users": 2, "iterations": 0}, "iterations"),
        ({"users": 2, "iterations": 1, "think_time_s": {"distribution": "gamma"}}, "gamma"),
        ({"users": 2, "iterations": 1, "think_time_s": {"mean": 1}}, "mean"),
    ],
)
def test_closed_model_rejects_bad_settings(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        ClosedModel(**kwargs)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"rate_rps": 10}, "duration_s"),
        ({"duration_s": 1}, "exactly one"),
        ({"rate_rps": 10, "duration_s": 1, "stages": [(1, 1, 1)]}, "exactly one"),
        ({"stages": [(1, 1)]}, "stages\\[0\\]"),
        ({"stages": []}, "empty"),
        ({"rate_rps": 10, "duration_s": 1, "arrivals": "bursty"}, "bursty"),
        ({"rate_rps": 10, "duration_s": 1, "max_in_flight": 0}, "max_in_flight"),
    ],
)
def test_open_model_rejects_bad_settings(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        OpenModel(**kwargs)


def test_think_time_specs():
    assert ClosedModel(users=1, iterations=1, think_time_s=0.5).think_time_s == ThinkTime(mean_s=0.5)
    assert ThinkTime.from_spec({"distribution": "uniform", "low_s": 1, "high_s": 2}).high_s == 2
    draw = ThinkTime(distribution="uniform", low_s=0.1, high_s=0.2).sampler(random.Random(1))
    assert all(0.1 <= draw() <= 0.2 for _ in range(100))
    expo = ThinkTime(distribution="exponential", mean_s=0.5).sampler(random.Random(1))
    assert np.mean([expo() for _ in range(5000)]) == pytest.approx(0.5, rel=0.1)
    assert ThinkTime().sampler(random.Random(1)) is None


def test_expected_requests():
    assert ClosedModel(users=4, iterations=10).expected_requests == 40
    assert ClosedModel(users=4, iterations=10, max_requests=7).expected_requests == 7
    assert ClosedModel(users=4, duration_s=1).expected_requests is None
    assert OpenModel(rate_rps=100, duration_s=3).expected_requests == 300
