"""`qrbench load` exits non-zero when its run failed (qrbench.load.outcome), and a refused target from a
scenario file leaves no run folder behind. The CLI runs for real, in a subprocess, against loopback."""

import socket
import subprocess
import sys

import pytest

from qrbench.errors import UnsafeTargetError
from qrbench.load import start_stub_server
from qrbench.load.outcome import FAILURE_THRESHOLD, NOTHING_SUCCEEDED, OK, run_outcome
from qrbench.studies import get_study

# A clean run exits 0: tests/studies/test_load_cli.py asserts it on its runs against a healthy stub.
from qrbench.studies.load import run_load_study

SCENARIO = """\
name: exit
model: open
rate_rps: 20
arrivals: uniform
duration_s: 2
request_timeout_s: {timeout}
failure_threshold: 0.05
pool_size: 5
sample_interval_s: 0.5
target: {{url: {url}}}
"""


def qrbench_load(tmp_path, url, *, timeout=5.0):
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO.format(url=url, timeout=timeout))
    argv = [sys.executable, "-m", "qrbench", "load", "-p", str(scenario), "--out", str(tmp_path / "out")]
    argv.append("--no-progress")
    return subprocess.run(argv, capture_output=True, text=True, timeout=300)


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_nothing_succeeded_exits_3(tmp_path):
    done = qrbench_load(tmp_path, f"http://127.0.0.1:{closed_port()}")
    assert done.returncode == NOTHING_SUCCEEDED, done.stderr
    assert "none of its 40 requests succeeded" in done.stderr


def test_failure_threshold_exceeded_exits_1(tmp_path):
    # The stub holds every request arriving in the first half of each second until that half ends, so
    # those sent in its first 0.3 s wait longer than the 0.2 s timeout: about 30 % fail, over the 5 % threshold.
    with start_stub_server(stall_every_s=1.0, stall_s=0.5) as url:
        done = qrbench_load(tmp_path, url, timeout=0.2)
    assert done.returncode == FAILURE_THRESHOLD, done.stderr
    assert "exceeds its failure threshold 5.0%" in done.stderr


def test_refused_scenario_target_leaves_no_run_folder(tmp_path):
    done = qrbench_load(tmp_path, "http://10.1.2.3:8000")
    assert done.returncode == 2 and "not loopback" in done.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    params = get_study("load").load_params(tmp_path / "scenario.yaml")
    with pytest.raises(UnsafeTargetError):
        run_load_study(params, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("requests", "ok", "code"),
    [(100, 95, OK), (100, 94, FAILURE_THRESHOLD), (10, 0, NOTHING_SUCCEEDED), (0, 0, NOTHING_SUCCEEDED)],
)
def test_run_outcome_codes(requests, ok, code):
    assert run_outcome(requests=requests, ok=ok, failure_threshold=0.05).code == code


def test_run_outcome_refuses_impossible_counts():
    with pytest.raises(ValueError, match="ok"):
        run_outcome(requests=5, ok=6, failure_threshold=0.05)
    with pytest.raises(ValueError, match="failure_threshold"):
        run_outcome(requests=5, ok=5, failure_threshold=1.5)
