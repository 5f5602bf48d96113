"""No load outlives its driver: `kill -9` of `qrbench load --processes 2` takes its driver processes with
it (Linux parent-death signal, else their parent watch), and a reaper stops a child in its own session
(the embedded service) when its parent dies by SIGKILL or SIGTERM, but not when it exits normally."""

import signal
import subprocess
import sys
import textwrap
import time

import psutil
import pytest


def wait_for(condition, timeout_s=60.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def driver_processes(parent):
    """Live spawned driver processes under parent (multiprocessing's spawn children run spawn_main)."""
    count = 0
    for child in parent.children(recursive=True):
        try:
            count += "spawn_main" in " ".join(child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            continue
    return count


def test_kill_9_of_qrbench_load_leaves_no_driver_process_sending(server, tmp_path):
    url = f"http://127.0.0.1:{server.server_address[1]}"
    argv = [
        sys.executable,
        "-m",
        "qrbench",
        "load",
        "--mode",
        "open",
        "--rate",
        "20",
        "--duration",
        "120s",
        "--processes",
        "2",
        "--url",
        url,
        "--out",
        str(tmp_path),
        "--no-progress",
    ]
    with subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as proc:
        parent = psutil.Process(proc.pid)
        try:
            # Two driver processes, and the contention sampler and its calibration worker beside them.
            assert wait_for(lambda: driver_processes(parent) >= 2 and server.posts >= 40), "the run never got going"
            children = parent.children(recursive=True)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.returncode is None:
                proc.kill()
        _, alive = psutil.wait_procs(children, timeout=15)
        for child in alive:
            child.kill()
        assert not alive, f"children outlived the killed driver: {[c.cmdline() for c in alive]}"
        posts = server.posts
        time.sleep(1.0)
        assert server.posts == posts, "load still reached the server after the driver died"


PARENT = textwrap.dedent(
    """
    import subprocess, sys, time
    from qrbench.load.lifeline import reaper
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True)
    with reaper(child.pid, grace_s=2.0):
        print(child.pid, flush=True)
        time.sleep(float(sys.argv[1]))
    print("done", flush=True)
    """
)


def start_parent(hold_s):
    proc = subprocess.Popen([sys.executable, "-c", PARENT, str(hold_s)], stdout=subprocess.PIPE, text=True)
    child = psutil.Process(int(proc.stdout.readline()))
    # The watcher is up once it is a child of the parent besides the service stand-in.
    assert wait_for(lambda: len(psutil.Process(proc.pid).children()) == 2)
    return proc, child


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_reaper_stops_the_child_when_its_parent_dies(sig):
    proc, child = start_parent(300)
    with proc:
        proc.send_signal(sig)
        proc.wait(timeout=30)
    _, alive = psutil.wait_procs([child], timeout=15)
    if alive:
        child.kill()
    assert not alive, f"the child outlived its parent killed by {sig!r}"


def test_reaper_stands_down_when_its_parent_exits_normally():
    proc, child = start_parent(0.2)
    with proc:
        assert proc.stdout.readline().strip() == "done"
        proc.wait(timeout=30)
    try:
        time.sleep(0.5)  # the watcher has gone (the parent waited for it): nothing can stop the child now
        assert child.is_running() and child.status() != psutil.STATUS_ZOMBIE
    finally:
        child.kill()
        child.wait(timeout=10)


def test_stop_session_takes_every_process_of_the_session_with_it():
    """A child that ignores SIGTERM and a grandchild it started: both gone, the child reaped, twice is safe."""
    from qrbench.load.lifeline import stop_session

    script = "trap '' TERM; sleep 60 & echo $!; wait"
    child = subprocess.Popen(["sh", "-c", script], stdout=subprocess.PIPE, text=True, start_new_session=True)
    grandchild = int(child.stdout.readline())
    assert psutil.pid_exists(grandchild)
    started = time.monotonic()
    stop_session(child, timeout_s=0.5)
    assert child.returncode is not None, "the child was not reaped"
    assert time.monotonic() - started < 10

    def running(pid: int) -> bool:
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    deadline = time.monotonic() + 5
    while running(grandchild):
        assert time.monotonic() < deadline, "the grandchild outlived stop_session"
        time.sleep(0.05)
    stop_session(child, timeout_s=0.5)  # a second call is harmless
    child.stdout.close()
