"""A failure the busy machine could explain reads insufficient (machine busy); the busy machine comes first."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from qrbench import stats
from qrbench.monitor import CONTENTION_COLUMNS
from qrbench.studies import RunFolder
from qrbench.studies.contention import (
    CONTENTION_FILE,
    CONTENTION_SAMPLES,
    busy_first,
    contention_monitor,
    excuse_busy,
    read_contention,
)


def _judgement(low: float, high: float, *, metric: str = "similarity_ms", unit: str = "ms") -> stats.Judgement:
    e = stats.Estimate(value=(low + high) / 2, low=low, high=high, confidence=0.95, n=100, method="test")
    threshold = stats.Threshold(metric=metric, target=100.0, threshold=100.0, direction="below", unit=unit)
    return stats.judge(e, threshold)


def _contention() -> stats.Contention:
    """Stage "busy" with two cores of other programs on two cores (slowdown 2), stage "quiet" idle."""
    t = 1000.0 + 0.5 * pd.RangeIndex(1, 41).to_numpy()
    other = [0.0] * 20 + [2.0] * 20
    return stats.judge_contention(
        t, other, [0.5] * 40, [0.0] * 40, [float("nan")] * 40, cores=2,
        windows=[("quiet", 1000, 1010), ("busy", 1010, 1020)],
    )  # fmt: skip


@pytest.mark.parametrize(
    ("stage", "low", "excused"),
    [
        ("busy", 150.0, True),  # 150 / 2 = 75 meets 100: the busy machine could explain it
        ("busy", 250.0, False),  # fails by more than the machine explains
        ("quiet", 150.0, False),  # its stage was quiet
        ("missing", 150.0, False),  # its stage was not sampled
    ],
)
def test_excuse_busy_per_stage(stage, low, excused):
    judgements = {"sim": _judgement(low, low + 20)}
    out, names = excuse_busy(judgements, _contention(), {"sim": stage})
    assert (names == {"sim"}) is excused
    assert str(out["sim"].verdict) == ("insufficient" if excused else "fail")
    if excused:
        assert out["sim"].reason.startswith("machine busy: similarity_ms failed by less than the 2x slowdown")


def test_excuse_busy_leaves_what_a_busy_machine_does_not_slow_and_quiet_runs_alone():
    judgements = {"sim": _judgement(150, 170), "memory": _judgement(150, 170, metric="memory", unit="GB")}
    out, names = excuse_busy(judgements, _contention(), {"sim": None})  # None: judged on the whole run
    assert names == {"sim"} and str(out["memory"].verdict) == "fail"
    assert excuse_busy(judgements, None)[1] == frozenset()


def test_busy_first_puts_the_machine_before_the_first_reason():
    reasons = ("1 of 3 PRD targets fail; first: ...", "second")
    first, second = busy_first(reasons, _contention(), excused=1)
    assert first.startswith("The machine was busy: other programs used 100 % of the cores during 1 of 2 stages")
    assert first.endswith("1 of 3 PRD targets fail; first: ...") and "1 failing target(s)" in first
    assert second == "second"
    assert busy_first(reasons, None) == reasons


def test_contention_monitor_writes_the_folder_that_read_contention_judges(tmp_path):
    folder = RunFolder.create(tmp_path / "run", study="baseline", params={})
    with contention_monitor(folder, interval_s=0.2) as monitor:
        monitor.mark("a")
        deadline = time.monotonic() + 20
        while len(monitor.sampler.rows) < 3 and time.monotonic() < deadline:  # bounded: a few samples
            time.sleep(0.2)
        monitor.mark("b")
        time.sleep(0.5)
    samples = pd.read_parquet(folder.file(CONTENTION_SAMPLES))
    assert list(samples.columns) == list(CONTENTION_COLUMNS) and len(samples) >= 3
    info = folder.read_json(CONTENTION_FILE)
    assert [w[0] for w in info["windows"]] == ["a", "b"] and info["limits"]["other_share"] == 0.25
    judged = read_contention(folder.path)
    assert [s.name for s in judged.stages] == ["a", "b"] and judged.contended == info["contended"]
    assert read_contention(tmp_path) is None  # a folder without samples
