"""Child processes that die with their parent, even when the parent is killed with SIGKILL.

A parent killed with `kill -9` runs no cleanup, so its children must notice by themselves:

- driver processes (spawned by run_load_processes) call `die_with_parent` first thing: on Linux the
  kernel then SIGKILLs them when the parent dies (PR_SET_PDEATHSIG), and `parent_alive` is the portable
  check they also make on every tick (their parent changes when it dies);
- a child that cannot be changed (the embedded service, a separate program in its own session) is
  watched by a small reaper process (`reaper`): it holds the read end of a pipe whose write end only
  the parent holds, so the pipe reaches end-of-file when the parent dies by any means, and the reaper
  then stops the child's process group (SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence

__all__ = ["die_with_parent", "parent_alive", "reaper", "stop_session", "wait_until_ready"]

_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
# The reaper's "stand down" byte: the parent stopped the child itself and exits normally.
_DISARM = b"x"


def die_with_parent(parent_pid: int) -> None:
    """Make this (child) process die when its parent, `parent_pid`, dies; exit now if it already has.

    Linux only for the kernel part: PR_SET_PDEATHSIG fires when the *thread* that started this process
    ends, so start children from a thread that outlives them (run_load_processes blocks its caller
    until they end, so any thread does). Elsewhere, poll `parent_alive`.
    """
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"prctl(PR_SET_PDEATHSIG) failed: {os.strerror(errno)}")
    # The parent may have died before the line above; it was then already reparented.
    if not parent_alive(parent_pid):
        os._exit(1)


def parent_alive(parent_pid: int) -> bool:
    """Whether this process's parent is still `parent_pid` (an orphan is adopted by init or a subreaper)."""
    return os.getppid() == parent_pid


@contextlib.contextmanager
def reaper(child_pid: int, *, grace_s: float = 5.0) -> Iterator[None]:
    """While inside, a watcher process stops process group `child_pid` if this process dies.

    The child must lead its own process group (started with start_new_session=True, as the embedded
    service is). On a normal exit from the block the watcher stands down and leaves the child alone
    (its owner stops it); if this process dies instead (SIGKILL, an unhandled SIGTERM), the watcher
    sends SIGTERM to the group, then SIGKILL after grace_s seconds. The watcher runs in its own session,
    so a Ctrl-C reaching the terminal's process group leaves the stopping to this process's cleanup.
    """
    # Run as a script: the standard library only, so it starts fast and small.
    argv = [sys.executable, os.path.abspath(__file__), "--pgid", str(child_pid), "--grace-s", str(grace_s)]
    # stdin is the pipe; close_fds (the default) keeps its write end out of every other child. Its own
    # session keeps signals sent to this process group (Ctrl-C, kill -TERM -PGID) from stopping it.
    watcher = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, start_new_session=True)
    assert watcher.stdin is not None
    try:
        yield
    finally:
        with contextlib.suppress(BrokenPipeError):
            watcher.stdin.write(_DISARM)
            watcher.stdin.flush()
        with contextlib.suppress(BrokenPipeError):
            watcher.stdin.close()
        try:
            watcher.wait(timeout=10)
        except subprocess.TimeoutExpired:
            watcher.kill()
            watcher.wait()


def stop_session(process: subprocess.Popen | None, timeout_s: float) -> None:
    """Stop a child started with start_new_session=True and everything in its session; safe to call twice.

    SIGTERM to the session's process group, SIGKILL after timeout_s seconds, then SIGKILL to whatever of
    the group is left (an nginx worker outlives a killed master briefly). The child is reaped.
    """
    if process is None:
        return
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def wait_until_ready(
    process: subprocess.Popen, ready_url: str, *, name: str, timeout_s: float, detail: Callable[[], str]
) -> None:
    """Poll ready_url (a new connection each time) until it answers 200; TargetError if `process` exits
    first or timeout_s seconds pass. name: the program, for messages; detail(): what to add to an error
    (the tail of its log, where its configuration is)."""
    import httpx  # here, not at the top: the reaper runs this file as a script with the standard library

    from qrbench.errors import TargetError

    deadline = time.monotonic() + timeout_s
    last = "no answer yet"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise TargetError(f"{name} exited with code {process.returncode} before it was ready ({detail()}).")
        try:
            r = httpx.get(ready_url, timeout=2.0)
            if r.status_code == 200:
                return
            last = f"HTTP {r.status_code}"
        except httpx.TransportError as exc:
            last = type(exc).__name__
        time.sleep(0.1)
    raise TargetError(f"{name} did not answer {ready_url} with 200 within {timeout_s:g} s (last: {last}; {detail()}).")


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop_group(pgid: int, grace_s: float) -> None:
    """SIGTERM to the group, then SIGKILL if it is still there after grace_s seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while _group_alive(pgid) and time.monotonic() < deadline:
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def _watch(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Stop a process group when stdin reaches end-of-file.")
    parser.add_argument("--pgid", type=int, required=True)
    parser.add_argument("--grace-s", type=float, default=5.0)
    args = parser.parse_args(argv)
    data = sys.stdin.buffer.read()  # blocks until the parent closes the pipe or dies
    if _DISARM not in data:
        _stop_group(args.pgid, args.grace_s)


if __name__ == "__main__":
    _watch()
