"""ContentionSampler on the real machine: structure and accounting, never absolute CPU figures (the machine
running the tests may be busy with anything)."""

import contextlib
import subprocess
import sys
import time

import numpy as np
import psutil

from qrbench.monitor import CONTENTION_COLUMNS, ContentionSampler, own_roots


def test_a_process_counts_as_own_only_when_its_tree_is_a_root():
    loop = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        mine = ContentionSampler([loop.pid], interval_s=0.3, calibration_every=2)
        theirs = ContentionSampler([], interval_s=0.3, calibration_every=0)
        mine.sample(), theirs.sample()
        deadline = time.monotonic() + 20
        while len(mine.rows) < 4 and time.monotonic() < deadline:  # bounded: a few samples
            time.sleep(0.3)
            mine.sample(), theirs.sample()
        loop_cpu = sum(psutil.Process(loop.pid).cpu_times()[:2])
    finally:
        loop.kill()
        loop.wait()
        mine.stop()
        theirs.stop()
    a, b = mine.frame(), theirs.frame()
    assert list(a.columns) == list(CONTENTION_COLUMNS) and len(a) >= 4
    assert loop_cpu > 0
    # The loop is the only process of `mine`'s roots: its own CPU is the loop's; `theirs` has none.
    assert (a["own_cores"].iloc[:4] > 0).all() and (b["own_cores"] == 0).all()  # the last row: after the kill
    assert np.allclose(a["other_cores"], np.clip(a["busy_cores"] - a["own_cores"], 0, None))
    assert (a["busy_cores"] <= a["cores"] + 1e-6).all() and (a["steal_cores"] >= 0).all()
    # The calibration worker answers every second sample, in seconds; never here: calibration_every=0.
    assert a["calibration_s"].notna().sum() >= 2 and (a["calibration_s"].dropna() > 0).all()
    assert b["calibration_s"].isna().all()


def test_own_roots_hold_this_process_and_the_target():
    roots = own_roots(12345)
    assert roots[0] == psutil.Process().pid and 12345 in roots


def test_a_sampler_stops_and_ends_its_processes():
    def children() -> list[psutil.Process]:
        """This process's sampling process and calibration worker (not multiprocessing's resource tracker)."""
        mine = []
        for p in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if any(word in " ".join(p.cmdline()) for word in ("spawn_main", "a @ a")):
                    mine.append(p)
        return mine

    before = {p.pid for p in children()}
    with ContentionSampler(interval_s=0.2, calibration_every=1) as sampler:
        deadline = time.monotonic() + 60
        while sampler.frame()["calibration_s"].notna().sum() < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        # Sampling runs in a process of its own (never holding this process's GIL), calibrating in another.
        assert len({p.pid for p in children()} - before) == 2
    assert {p.pid for p in children()} - before == set()
    frame = sampler.frame()
    assert len(frame) >= 3 and frame["calibration_s"].notna().all()  # calibration_every=1: every sample
    assert (frame["own_cores"] > 0).any()  # the sampling process itself is one of this process's tree


def test_the_sampling_processes_end_when_their_parent_is_killed():
    # A study's kernel killed by the suite (Ctrl-C, SIGTERM) leaves no sampler or calibration worker behind.
    script = (
        "import time; from qrbench.monitor import ContentionSampler\n"
        "s = ContentionSampler(interval_s=0.2, calibration_every=1).start()\n"
        "while len(s.frame()) < 2: time.sleep(0.2)\n"
        "print('sampling', flush=True); time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout.readline().strip() == "sampling"
        tree = psutil.Process(parent.pid).children(recursive=True)
        assert len(tree) >= 2  # the sampling process and its calibration worker (and multiprocessing's tracker)
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()
    _, alive = psutil.wait_procs(tree, timeout=30)
    assert alive == []
