"""A study's time budget shared out among its stages (studies/stages.py::StudyBudget), on a clock the test moves."""

from __future__ import annotations

from qrbench.studies.stages import StudyBudget


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_fast_service_gives_every_stage_its_cap():
    clock = Clock()
    budget = StudyBudget(240, 90, stages=8, clock=clock)
    shares = []
    for _ in range(8):
        shares.append(budget.next())
        clock.now += 5  # every stage done in 5 s
    assert shares == [90] * 8


def test_a_slow_service_ends_near_the_total_and_leaves_each_later_stage_its_reserve():
    clock = Clock()
    budget = StudyBudget(240, 90, stages=8, reserve_s=10, clock=clock)
    shares = []
    for _ in range(8):
        share = budget.next()
        shares.append(share)
        clock.now += share  # every stage uses all it is given
    assert shares[0] == 90  # 240 - 7 reserves of 10 = 170, capped at 90
    assert shares[1] == 240 - 90 - 6 * 10  # what is left after the reserves of the 6 stages still to come
    assert abs(sum(shares) - 240) < 1e-9
    assert all(s >= StudyBudget.MIN_S for s in shares)


def test_an_overrun_still_lets_each_stage_send_its_first_request():
    clock = Clock()
    budget = StudyBudget(60, 30, stages=4, clock=clock)
    budget.next()
    clock.now += 200  # one request far longer than the whole budget
    assert [budget.next() for _ in range(3)] == [StudyBudget.MIN_S] * 3


def test_without_a_total_each_stage_gets_its_cap_or_no_bound():
    assert StudyBudget(None, 30, stages=3).next() == 30
    assert StudyBudget(None, None, stages=3).next() is None


def test_the_first_cold_repetition_of_a_stage_may_use_what_the_later_ones_do_not_need():
    from qrbench.studies.baseline.run import _repetition_budget

    assert _repetition_budget(90.0, later=2) == 70.0  # 10 s kept for each later repetition
    assert _repetition_budget(90.0 - 40.0, later=1) == 40.0  # the first took 40 s
    assert _repetition_budget(5.0, later=1) == StudyBudget.MIN_S
    assert _repetition_budget(None, later=2) is None
