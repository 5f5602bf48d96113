"""The embedded target starts, serves, and is stopped even when the study fails; remote URLs are refused."""

from __future__ import annotations

import httpx
import psutil
import pytest

from qrbench.deploy import TargetParams, open_target
from qrbench.errors import UnsafeTargetError


def test_embedded_target_is_stopped_when_the_study_fails(tmp_path):
    pid = None
    with pytest.raises(RuntimeError, match="study failed"), open_target(TargetParams(), log_dir=tmp_path) as target:
        pid = target.pid
        assert target.embedded
        assert httpx.get(target.url + "/health/ready").status_code == 200
        raise RuntimeError("the study failed half-way")
    assert pid is not None
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    assert "ready on http://127.0.0.1" in (tmp_path / "target.log").read_text()


def test_a_remote_target_is_refused_unless_allowed():
    with pytest.raises(UnsafeTargetError, match="10.1.2.3"), open_target(TargetParams(url="http://10.1.2.3:8000")):
        pass
