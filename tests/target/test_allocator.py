"""The embedded service's malloc: jemalloc when installed (it returns memory after bursts), else the system's."""

from __future__ import annotations

from pathlib import Path

import pytest

from qrbench.errors import TargetError
from qrbench.target import EngineSettings
from qrbench.target.server import EmbeddedTarget, find_jemalloc

SMALL = EngineSettings(embedding_cache_size=10, similarity_cache_size=10)


def mapped_libraries(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text()


@pytest.mark.skipif(find_jemalloc() is None, reason="libjemalloc is not installed (apt-get install libjemalloc2)")
@pytest.mark.parametrize(("asked", "expected"), [("auto", "jemalloc"), ("system", "system")])
def test_the_service_runs_on_the_allocator_asked(asked, expected):
    with EmbeddedTarget(SMALL, allocator=asked) as target:
        assert target.allocator == expected
        assert ("libjemalloc" in mapped_libraries(target.pid)) == (expected == "jemalloc")


def test_an_unknown_allocator_is_refused_before_anything_starts():
    with pytest.raises(TargetError, match="auto, jemalloc, system"):
        EmbeddedTarget(SMALL, allocator="tcmalloc")
