"""The suite's scales and how long each study usually takes at each: stated once, here.

Light on purpose (no study is imported): the command line's help text reads it too.
"""

from __future__ import annotations

__all__ = ["SCALES", "EXPECTED_S", "expected_minutes"]

# quick: the README's first command (parameters/quick/); full: the shipped parameters/ files; smoke: the CI twins
# (parameters/smoke/), for tests and a first look.
SCALES = ("quick", "full", "smoke")

# Seconds each study takes on the reference machine (2 cores, otherwise idle), kernel start and rendering
# included; the progress lines count down from these. Measured on an idle machine: quick from a fresh clone in
# an unactivated venv on 2026-12-07 (suite 7 min 07 s, with 90 s stage budgets); on 2026-11-30 full (suite
# 90 min), except the scalability study, whose full parameters
# were shortened after that run (it took 44 min): `qrbench study scalability` alone then took 21 min 39 s.
EXPECTED_S: dict[str, dict[str, float]] = {
    "smoke": {"baseline": 120, "load": 60, "bottlenecks": 90, "scalability": 120},
    "quick": {"baseline": 160, "load": 110, "bottlenecks": 50, "scalability": 95},
    "full": {"baseline": 840, "load": 1525, "bottlenecks": 390, "scalability": 1300},
}


def expected_minutes(scale: str) -> int:
    """The whole suite's usual duration at `scale`, in whole minutes (at least 1)."""
    return max(1, round(sum(EXPECTED_S.get(scale, {}).values()) / 60))
