"""Honest measurement: a target killed mid-run is recorded, the run goes on to its end, the outage shows.

Plus the pure outage_windows helper the report uses.
"""

from __future__ import annotations

import math
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from qrbench.cli import format_summary
from qrbench.load import load_records, load_run_info
from qrbench.load import stub_server as stub_module
from qrbench.stats import Outage, outage_windows
from qrbench.studies.load import LoadParams, analyse_load, run_load_study
from qrbench.studies.load.sections import screen

# ---------------------------------------------------------------------------------------- pure helper


def test_outage_windows_finds_runs_of_failures_with_the_successes_around_them():
    t = np.arange(10.0)
    ok = np.array([1, 1, 0, 0, 0, 1, 0, 1, 0, 0], dtype=bool)
    first, last = outage_windows(t, ok)
    assert first == Outage(start_s=2.0, end_s=4.0, failures=3, last_ok_s=1.0, next_ok_s=5.0)
    assert _same([last], [(8, 9, 2, 7, math.nan)])
    assert first.recovered and first.duration_s == 2 and not last.recovered
    assert _same(outage_windows(t, ok, min_failures=1), [(2, 4, 3, 1, 5), (6, 6, 1, 5, 7), (8, 9, 2, 7, math.nan)])
    assert _same(outage_windows(t, ok, min_duration_s=1.5), [(2, 4, 3, 1, 5)])


def _same(found, expected):
    got = [(o.start_s, o.end_s, o.failures, o.last_ok_s, o.next_ok_s) for o in found]
    return len(got) == len(expected) and all(
        np.allclose(g, e, equal_nan=True) for g, e in zip(got, expected, strict=True)
    )


def test_outage_windows_sorts_by_time_and_handles_degenerate_input():
    # Out of order (records of several workers): sorted by time first.
    assert _same(outage_windows([3.0, 1.0, 2.0, 0.0], [True, False, False, True]), [(1, 2, 2, 0, 3)])
    assert outage_windows([], []) == ()
    assert outage_windows([0.0, 1.0], [True, True]) == ()
    assert _same(outage_windows([0.0, 1.0, 2.0], [False, False, False]), [(0, 2, 3, math.nan, math.nan)])
    with pytest.raises(ValueError, match="one length"):
        outage_windows([0.0, 1.0], [True])
    with pytest.raises(ValueError, match="finite"):
        outage_windows([0.0, float("nan")], [True, False])
    with pytest.raises(ValueError, match="min_failures"):
        outage_windows([0.0], [True], min_failures=0)


# ---------------------------------------------------------------------------------------- killed target


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_stub(port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, stub_module.__file__, "--port", str(port)], stdout=subprocess.PIPE, text=True
    )
    line = proc.stdout.readline()  # type: ignore[union-attr]
    assert line.startswith("listening"), line
    return proc


def test_killing_the_target_mid_run_is_recorded_and_the_run_goes_on(tmp_path):
    port = _free_port()
    procs = [_start_stub(port)]
    events: dict[str, float] = {}

    def outage(run_dir, samplers) -> None:
        # Called before the driver starts (in its own process, a second or two later): kill the server at about
        # 4.5 s, start it again 2 s later. The times are wall-clock, turned into the run's clock below.
        def act() -> None:
            time.sleep(4.5)
            procs[0].kill()
            procs[0].wait()
            events["killed"] = time.time()
            time.sleep(2.0)
            procs.append(_start_stub(port))
            events["restarted"] = time.time()

        threading.Thread(target=act, daemon=True).start()

    params = LoadParams(
        name="outage",
        model="open",
        rate_rps=30.0,
        duration_s=10.0,
        arrivals="uniform",
        mix={"similarity": 1.0},
        pool_size=10,
        request_timeout_s=2.0,
        sample_interval_s=0.5,
    )
    try:
        run_dir = run_load_study(
            params, tmp_path / "study", url=f"http://127.0.0.1:{port}", progress=False, on_start=outage
        )
    finally:
        for p in procs:
            p.kill()
            p.wait()
            p.stdout.close()  # type: ignore[union-attr]
    df = load_records(run_dir / "load").sort_values("t_intended")
    t0_unix = load_run_info(run_dir / "load")["t0_unix"]
    killed, restarted = events["killed"] - t0_unix, events["restarted"] - t0_unix
    assert 1.3 < killed < 4.5, f"the kill fell at {killed:.2f} s of the run; the windows below need about 2 s"
    # The run went on to its planned end: every scheduled request was sent and recorded, none raised.
    assert len(df) == 300 and df["t_intended"].max() == pytest.approx(10.0 - 1 / 30, abs=1e-6)
    before = df[df["t_intended"] < killed - 0.3]
    during = df[(df["t_intended"] > killed + 0.3) & (df["t_intended"] < killed + 1.9)]  # restart begins at +2 s
    after = df[df["t_intended"] > restarted + 1.0]
    assert len(before) > 30 and before["ok"].all()
    assert len(during) > 30 and not during["ok"].any()
    assert set(during["error"]) <= {"connect", "reset"} and "connect" in set(during["error"])
    assert len(after) > 30 and after["ok"].all()
    # The outage window, from the records alone, brackets the kill and the restart.
    (found,) = outage_windows(df["t_intended"].to_numpy(), df["ok"].to_numpy(), min_failures=3)
    assert killed - 0.5 < found.start_s < killed + 0.5 and found.last_ok_s < found.start_s
    assert killed + 1.9 < found.end_s < restarted + 0.5 and found.recovered
    # And the summary shows it.
    summary = dict(screen(analyse_load(run_dir, params)).data)
    (shown,) = summary["outages"]
    assert shown["start_s"] == found.start_s and set(shown["errors"]) <= {"connect", "reset"}
    assert summary["errors"].get("connect", 0) > 0 and summary["ok"] + sum(summary["errors"].values()) == 300
    assert "outage: no request was answered from" in format_summary(summary)
