"""Load shapes are pure: ramps, spikes, bursts and the compressed day give the asked levels and phases."""

import math

import numpy as np
import pytest

import qrbench.load
from qrbench.errors import ParameterError
from qrbench.load import (
    ClosedModel,
    DayProfile,
    OpenModel,
    Shape,
    arrival_times,
    bursts,
    label_phases,
    ramp_steady,
    realistic_day,
    spike,
)

# data/user_behavior_patterns.json's day, written out so these tests need no files.
DAY = DayProfile(
    hourly_rate_per_min=(
        50,
        50,
        0,
        0,
        50,
        50,
        50,
        50,
        150,
        300,
        600,
        300,
        300,
        300,
        600,
        300,
        300,
        150,
        50,
        50,
        50,
        50,
        50,
        50,
    ),
    business_hours=(9, 17),
    peak_hours=(10, 14),
    maintenance_window=(2, 4),
)


def spans(shape):
    return [(p.name, p.kind, round(p.start_s, 6), round(p.end_s, 6)) for p in shape.phases]


def test_ramp_steady_levels_phases_and_stages():
    s = ramp_steady(50, ramp_up_s=300, steady_s=1500)
    assert s.duration_s == 1800 and s.unit == "users"
    assert s.level(0) == 0 and s.level(150) == 25 and s.level(300) == 50 and s.level(1799) == 50
    assert spans(s) == [("ramp_up", "ramp_up", 0, 300), ("steady", "steady", 300, 1800)]
    assert [p.offered for p in s.phases] == [25, 50]
    assert s.closed_stages() == ((300, 50), (1500, 50))
    with pytest.raises(ParameterError, match="rps"):
        s.open_stages()
    rate = ramp_steady(10, ramp_up_s=0, steady_s=5, ramp_down_s=5, unit="rps")
    assert rate.open_stages() == ((5, 10, 10), (5, 10, 0))
    assert rate.integral(0, 10) == pytest.approx(75) and rate.mean(5, 10) == pytest.approx(5)
    assert [p.kind for p in rate.phases] == ["steady", "ramp_down"]


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"level": -1, "ramp_up_s": 1, "steady_s": 1}, "level"),
        ({"level": 5, "ramp_up_s": -1, "steady_s": 1}, "ramp_up_s"),
        ({"level": 5, "ramp_up_s": 0, "steady_s": 0}, "more than 0"),
        ({"level": 5, "ramp_up_s": 0, "steady_s": float("nan")}, "steady_s"),
    ],
)
def test_ramp_steady_rejects_bad_numbers(kwargs, named):
    level = kwargs.pop("level")
    with pytest.raises(ParameterError, match=named):
        ramp_steady(level, **kwargs)


def test_spike_steps_up_and_back_and_cuts_the_phase_it_covers():
    s = spike(ramp_steady(8, ramp_up_s=4, steady_s=16), 3, 10, 5)
    assert s.left(10) == 8 and s.level(10) == 24 and s.level(14.99) == 24 and s.level(15) == 8
    assert spans(s) == [
        ("ramp_up", "ramp_up", 0, 4),
        ("steady", "steady", 4, 10),
        ("spike", "spike", 10, 15),
        ("steady after spike", "steady", 15, 20),
    ]
    assert s.phases[2].offered == 24
    assert s.closed_stages() == ((4, 8), (6, 8), (0, 24), (5, 24), (0, 8), (5, 8))
    model = ClosedModel(stages=s.closed_stages())
    assert model.users == 24 and model.duration_s == 20
    assert model.user_windows(0) == ((0.0, 20.0),)
    assert model.user_windows(7) == ((3.5, 20.0),)
    assert model.user_windows(8) == model.user_windows(23) == ((10.0, 15.0),)
    with pytest.raises(ParameterError, match="does not fit"):
        spike(ramp_steady(8, ramp_up_s=4, steady_s=16), 3, 18, 5)


def test_open_spike_sends_three_times_the_requests_in_its_window():
    s = spike(ramp_steady(20, ramp_up_s=0, steady_s=10, unit="rps"), 3.0, 4, 2)
    times = np.array(list(arrival_times(OpenModel(stages=s.open_stages(), arrivals="uniform"))))
    assert np.sum((times >= 4) & (times < 6)) == pytest.approx(120, abs=1)
    assert np.sum(times < 4) == pytest.approx(80, abs=1) and len(times) == pytest.approx(280, abs=1)


def test_bursts_are_seeded_separate_and_multiply_the_level():
    base = ramp_steady(10, ramp_up_s=0, steady_s=100, unit="rps")
    a = bursts(base, seed=4, count=3, intensity=5, length_s=5)
    assert a == bursts(base, seed=4, count=3, intensity=5, length_s=5)
    assert a != bursts(base, seed=5, count=3, intensity=5, length_s=5)
    found = [p for p in a.phases if p.kind == "burst"]
    assert [p.name for p in found] == ["burst 1", "burst 2", "burst 3"]
    for p in found:
        assert p.end_s - p.start_s == pytest.approx(5) and p.offered == pytest.approx(50)
        assert a.level(p.start_s + 1) == 50
    for p, q in zip(found, found[1:], strict=False):
        assert p.end_s <= q.start_s
    # Phases tile the run without overlap.
    edges = [(p.start_s, p.end_s) for p in a.phases]
    assert edges[0][0] == 0 and edges[-1][1] == 100
    assert all(math.isclose(e0[1], e1[0]) for e0, e1 in zip(edges, edges[1:], strict=False))
    assert a.integral(0, 100) == pytest.approx(1000 + 3 * 5 * 40)


def test_bursts_avoid_spikes_and_stretches_without_load():
    base = spike(ramp_steady(4, ramp_up_s=0, steady_s=60), 2, 20, 20)
    for seed in range(20):
        shape = bursts(base, seed=seed, count=2, length_s=5)
        for p in shape.phases:
            if p.kind == "burst":
                assert p.end_s <= 20 or p.start_s >= 40
    quiet = realistic_day(DAY, 1 / 60)
    for seed in range(20):
        for p in bursts(quiet, seed=seed, count=3, length_s=10).phases:
            if p.kind == "burst":
                assert not (120 < p.end_s and p.start_s < 240)  # not in the maintenance window


def test_bursts_count_rate_and_errors():
    base = ramp_steady(10, ramp_up_s=0, steady_s=3600, unit="rps")
    assert bursts(base, seed=1, count=0, length_s=5) is base
    n = [sum(p.kind == "burst" for p in bursts(base, seed=s, rate_per_h=4, length_s=5).phases) for s in range(40)]
    assert 2.5 < np.mean(n) < 5.5
    with pytest.raises(ParameterError, match="exactly one"):
        bursts(base, seed=1, length_s=5)
    with pytest.raises(ParameterError, match="Could not place 5 bursts"):
        bursts(ramp_steady(1, ramp_up_s=0, steady_s=20), seed=1, count=5, length_s=5)
    with pytest.raises(ParameterError, match="intensity"):
        bursts(base, seed=1, count=1, length_s=5, intensity=-5)


def test_realistic_day_compresses_hours_and_names_its_phases():
    day = realistic_day(DAY, 1 / 60)  # one day-hour per minute
    assert day.unit == "rps" and day.duration_s == pytest.approx(1440)
    kinds = [(p.name, p.kind) for p in day.phases]
    assert kinds == [
        ("off-hours 00:00-02:00", "off_hours"),
        ("maintenance 02:00-04:00", "maintenance"),
        ("off-hours 04:00-08:00", "off_hours"),
        ("shoulder 08:00-09:00", "shoulder"),
        ("business 09:00-10:00", "business"),
        ("peak 10:00-11:00", "peak"),
        ("business 11:00-14:00", "business"),
        ("peak 14:00-15:00", "peak"),
        ("business 15:00-17:00", "business"),
        ("shoulder 17:00-18:00", "shoulder"),
        ("off-hours 18:00-24:00", "off_hours"),
    ]
    offered = {p.kind: p.offered for p in day.phases}
    assert offered["business"] == pytest.approx(5.0) and offered["peak"] == pytest.approx(10.0)
    assert offered["off_hours"] == pytest.approx(50 / 60) and offered["maintenance"] == 0
    # Compression keeps the rates: the requests sent are the day's per-minute total / 60.
    assert day.integral(0, day.duration_s) == pytest.approx(sum(DAY.hourly_rate_per_min))
    times = np.array(list(arrival_times(OpenModel(stages=day.open_stages(), seed=2))))
    assert not np.any((times >= 120) & (times < 240))
    assert abs(len(times) - 3900) < 5 * math.sqrt(3900)
    half = realistic_day(DAY, 1 / 120, rate_scale=0.5)
    assert half.duration_s == pytest.approx(720) and half.level(630 / 2) == pytest.approx(5.0)
    with pytest.raises(ParameterError, match="DayProfile"):
        realistic_day({"hourly_rate_per_min": [1] * 24}, 1.0)  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="time_scale"):
        realistic_day(DAY, 0)


def test_label_phases_by_intended_time():
    shape = spike(ramp_steady(8, ramp_up_s=4, steady_s=16), 3, 10, 5)
    t = np.array([0.0, 3.99, 4.0, 10.5, 15.0, 19.99, 20.0, -1.0])
    expected = ["ramp_up", "ramp_up", "steady", "spike", "steady after spike", "steady after spike", "", ""]
    assert list(label_phases(t, shape.phases)) == expected
    assert list(label_phases(t, shape.phase_dicts())) == expected


def test_shape_build_checks_its_points():
    with pytest.raises(ParameterError, match="time order"):
        Shape.build([(0, 1), (2, 1), (1, 1)], "rps", [])
    with pytest.raises(ParameterError, match="unit"):
        Shape.build([(0, 1), (1, 1)], "qps", [])  # type: ignore[arg-type]


def test_shapes_are_exported_by_the_load_package():
    for name in (
        "Shape",
        "Phase",
        "PHASE_KINDS",
        "ramp_steady",
        "spike",
        "bursts",
        "realistic_day",
        "label_phases",
        "Sessions",
    ):
        assert name in qrbench.load.__all__ and hasattr(qrbench.load, name)
