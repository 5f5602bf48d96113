"""The exit status of a load run, so that CI and scripts can trust `qrbench load`.

Exit codes of the `qrbench` command:

    0    the run finished and its error ratio is within the scenario's failure_threshold
    1    FAILURE_THRESHOLD: the error ratio (errors and dropped sends over all requests) exceeded it
    2    a library error (bad parameters, a refused target, ...): printed by qrbench.cli, no run
    3    NOTHING_SUCCEEDED: not one request succeeded (e.g. the target's port is closed), or none was made
    130  interrupted (Ctrl-C)

When both 1 and 3 apply, 3 wins: it says more (the target did not work at all).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["OK", "FAILURE_THRESHOLD", "NOTHING_SUCCEEDED", "RunOutcome", "run_outcome", "summary_outcome"]

OK = 0
FAILURE_THRESHOLD = 1
NOTHING_SUCCEEDED = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class RunOutcome:
    """code: the exit status (module docstring); message: one sentence saying why, with the counts."""

    code: int
    message: str


def run_outcome(*, requests: int, ok: int, failure_threshold: float) -> RunOutcome:
    """The outcome of a run of `requests` records of which `ok` succeeded, judged by failure_threshold
    (the error ratio, a fraction from 0 to 1, above which the run fails)."""
    if requests < 0 or not 0 <= ok <= requests:
        raise ValueError(f"ok ({ok}) must be between 0 and requests ({requests}), and requests at least 0.")
    if not (isinstance(failure_threshold, int | float) and 0 <= failure_threshold <= 1):
        raise ValueError(f"failure_threshold must be a fraction from 0 to 1; got {failure_threshold!r}.")
    if ok == 0:
        return RunOutcome(
            code=NOTHING_SUCCEEDED,
            message=f"the run failed: none of its {requests} requests succeeded (exit status {NOTHING_SUCCEEDED}).",
        )
    ratio = (requests - ok) / requests
    if ratio > failure_threshold:
        return RunOutcome(
            code=FAILURE_THRESHOLD,
            message=(
                f"the run failed: error ratio {ratio:.1%} ({requests - ok} of {requests}) exceeds its failure "
                f"threshold {failure_threshold:.1%} (exit status {FAILURE_THRESHOLD})."
            ),
        )
    return RunOutcome(
        code=OK, message=f"the run passed its failure threshold {failure_threshold:.1%} (error ratio {ratio:.1%})."
    )


def summary_outcome(summary: Mapping[str, Any]) -> RunOutcome:
    """run_outcome of a `qrbench load` summary (its requests, ok and failure_threshold keys)."""
    return run_outcome(
        requests=int(summary["requests"]), ok=int(summary["ok"]), failure_threshold=summary["failure_threshold"]
    )
