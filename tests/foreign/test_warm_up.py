"""The scalability study's cache warm-up against a service that answers a share of its requests with a fast 500:
a 5xx is retried, so one injected error cannot lose the study (it once failed CI's foreign suite that way)."""

from __future__ import annotations

import pytest

from qrbench.errors import QrbenchError
from qrbench.studies.scalability.run import warm_caches

TEXTS = [f"document {i} about retrieval" for i in range(500)]  # three requests of at most 200 candidates


def test_a_warm_up_retries_the_injected_500s_and_counts_them(start_foreign_service):
    # Seed 3 at an error share of 0.5 fails the 1st and 3rd rerank the service answers, then lets the next through.
    with start_foreign_service("--error-share", "0.5", "--seed", "3", "--rerank-per-doc-ms", "0") as url:
        done = warm_caches(url, TEXTS)
    assert done["requests"] == 5 and done["failed"] == 2 and done["texts"] == 500


def test_a_service_that_keeps_failing_stops_the_warm_up_with_the_status_and_the_attempts(start_foreign_service):
    with start_foreign_service("--error-share", "1.0", "--rerank-per-doc-ms", "0") as url:
        with pytest.raises(QrbenchError, match=r"HTTP 500 \(attempt 3 of 3\)"):
            warm_caches(url, TEXTS)
