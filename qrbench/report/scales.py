"""The suite's scales, and how long the suite usually takes at each (from the registry's entries, where each
study states its usual seconds per scale).

Light on purpose (no study is imported, only the registry's entries): the command line's help text reads it too.
"""

from __future__ import annotations

from ..studies import expected_seconds

__all__ = ["SCALES", "expected_seconds", "expected_minutes"]

# quick: the README's first command (parameters/quick/); full: the shipped parameters/ files; smoke: the CI twins
# (parameters/smoke/), for tests and a first look.
SCALES = ("quick", "full", "smoke")


def expected_minutes(scale: str) -> int:
    """The whole suite's usual duration at `scale`, in whole minutes (at least 1)."""
    return max(1, round(sum(expected_seconds(scale).values()) / 60))
