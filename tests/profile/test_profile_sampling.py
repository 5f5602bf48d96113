"""py-spy sampling of a real process, and the classification of its stacks."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from qrbench.profile import PySpySampler, classify_stacks, parse_raw, py_spy_available

_T = "_bootstrap (threading.py:1002);_worker (concurrent/futures/thread.py:83)"
RAW = "\n".join(
    [
        "thread (101): MainThread;_run_module_as_main (<frozen runpy>:198);run (asyncio/runners.py:118);"
        "select (selectors.py:468) 40",
        f"thread (102): compute_0;{_T};score (qrbench/target/engine.py:130);"
        "encode (sentence_transformers/SentenceTransformer.py:1);forward (torch/nn/modules/module.py:1) 25",
        "thread (103): compute_1;_bootstrap (threading.py:1002);_worker (concurrent/futures/thread.py:81) 30",
        f"thread (104): quantum_0;{_T};fidelity (qrbench/target/fidelity.py:129);"
        "result (qiskit_aer/jobs/aerjob.py:1) 5",
        f"thread (102): compute_0;{_T};score (qrbench/target/engine.py:150);_quantum (qrbench/target/engine.py:190);"
        "result (concurrent/futures/_base.py:451);wait (threading.py:331) 7",
    ]
)


def test_parse_and_classify_raw_stacks():
    stacks = parse_raw(RAW)
    assert list(stacks["samples"]) == [40, 25, 30, 5, 7]
    assert list(stacks["thread"]) == ["MainThread", "compute_0", "compute_1", "quantum_0", "compute_0"]
    c = classify_stacks(stacks)
    assert list(c["activity"]) == [
        "idle: event loop select",
        "torch forward",
        "idle: thread-pool worker",
        "aer simulation",
        "waiting: future result",
    ]
    assert list(c["role"]) == ["event loop", "compute pool", "compute pool", "quantum", "compute pool"]


SPIN = """
import threading, time
def spin():
    x = 0
    while True:
        x += 1
t = threading.Thread(target=spin, name="compute_0", daemon=True)
t.start()
print("ready", flush=True)
time.sleep(60)
"""


@pytest.mark.skipif(not py_spy_available(), reason="py-spy is not installed")
def test_py_spy_samples_a_running_process(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", SPIN], stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline().strip() == b"ready"
        sampler = PySpySampler(child.pid, rate_hz=50, out_dir=tmp_path).start()
        time.sleep(1.5)
        stacks = sampler.stop()
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
    assert stacks["samples"].sum() > 20
    spin = stacks[stacks["thread"] == "compute_0"]
    assert spin["samples"].sum() > 10
    assert spin["leaf"].str.startswith("spin").all()
