"""Contention on the machine during a run: what other programs, the hypervisor and a calibration loop say.

`ContentionSampler` samples, every `interval_s` in a process of its own, beside the other monitors:

- the machine's CPU time (/proc/stat through psutil.cpu_times): busy and stolen by the hypervisor;
- the CPU time of the run's own processes (psutil per process): the target's process tree, this process's tree
  (the study, its notebook kernel, the load generator's processes) and, when this process was started by a
  `qrbench` command, that command's tree (the suite's shared embedded service);
- every other process's CPU time, to name the busiest one;
- every `calibration_every` samples, a short fixed calibration loop (the noise.py matrix product, smaller),
  timed in a worker process of its own so that no lock of this process (the GIL) inflates it.

Columns of `frame()`: t_unix (end of the interval the row averages), interval_s, cores (logical cores of the
machine, /proc/stat's count), busy_cores, own_cores, other_cores (busy minus own, never below 0: kernel
work and short-lived processes included), steal_cores, calibration_s (NaN in rows without one), top_other
(the busiest other process: "name (pid)"), top_other_cores. The judgement is stats.judge_contention's.
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import subprocess
import sys
import time
from collections.abc import Iterable
from multiprocessing.connection import Connection
from typing import Any

import pandas as pd
import psutil

__all__ = ["ContentionSampler", "CONTENTION_COLUMNS", "own_roots"]

CONTENTION_COLUMNS = (
    "t_unix",
    "interval_s",
    "cores",
    "busy_cores",
    "own_cores",
    "other_cores",
    "steal_cores",
    "calibration_s",
    "top_other",
    "top_other_cores",
)

# The calibration worker: a fixed single-threaded matrix product, timed on request (one line: how many
# repeats), answered with the median time in seconds. BLAS is held to one thread so that the loop measures the
# machine, not how many cores BLAS found free.
_WORKER = """
import sys, time
import numpy as np
a = np.random.default_rng(0).normal(size=(160, 160))
for line in sys.stdin:
    times = []
    for _ in range(max(1, int(line))):
        t0 = time.perf_counter()
        for _ in range(20):
            a @ a
        times.append(time.perf_counter() - t0)
    times.sort()
    print(repr(times[len(times) // 2]), flush=True)
"""


def own_roots(target_pid: int | None = None) -> tuple[int, ...]:
    """The roots of the run's own process trees: the target's pid, this process, and this process's parent
    when it is a qrbench command (the suite or `qrbench study`, whose tree holds a shared embedded service)."""
    roots = [os.getpid()] + ([target_pid] if target_pid else [])
    try:
        parent = psutil.Process(os.getpid()).parent()
        if parent is not None and any("qrbench" in part for part in parent.cmdline()):
            roots.append(parent.pid)
    except (psutil.Error, OSError):
        pass
    return tuple(roots)


def _cpu_s(p: psutil.Process) -> float:
    t = p.cpu_times()
    return t.user + t.system


class _Probe:
    """One sample at a time: the machine's CPU times, every process's, the run's own trees, the calibration."""

    def __init__(self, roots: Iterable[int], calibration_every: int) -> None:
        self.roots = set(roots)
        self.calibration_every = int(calibration_every)
        self.cores = psutil.cpu_count() or 1
        self._procs: dict[int, psutil.Process] = {}
        self._cpu: dict[int, float] = {}
        self._last: tuple[float, Any] | None = None
        self._worker: subprocess.Popen | None = None
        self._n = 0

    def _own_pids(self) -> set[int]:
        own = set()
        for pid in list(self.roots):
            try:
                root = psutil.Process(pid)
                own.add(pid)
                own.update(c.pid for c in root.children(recursive=True))
            except psutil.Error:
                continue
        return own

    def _process_cpu(self) -> dict[int, float]:
        """Seconds of CPU each process used since the previous sample (new processes: since they started)."""
        now: dict[int, float] = {}
        for p in psutil.process_iter():
            proc = self._procs.setdefault(p.pid, p)
            try:
                now[p.pid] = _cpu_s(proc)
            except psutil.Error:
                continue
        delta = {pid: max(0.0, cpu - self._cpu.get(pid, 0.0)) for pid, cpu in now.items()}
        self._procs = {pid: self._procs[pid] for pid in now}
        self._cpu = now
        return delta

    def _calibrate(self) -> float:
        try:
            if self._worker is None:
                env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
                self._worker = subprocess.Popen(
                    [sys.executable, "-c", _WORKER],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                    env=env,
                )
            assert self._worker.stdin is not None and self._worker.stdout is not None
            self._worker.stdin.write("3\n")
            self._worker.stdin.flush()
            return float(self._worker.stdout.readline())
        except (OSError, ValueError):
            return math.nan  # a calibration that could not run is missing, never a failure of the run

    def sample(self) -> dict | None:
        """Take one sample and return its row (None for the first call, which only primes the counters)."""
        wall = time.time()
        machine = psutil.cpu_times()
        per_process = self._process_cpu()
        own = self._own_pids()
        last, self._last = self._last, (wall, machine)
        if last is None:
            return None
        dt = wall - last[0]
        if dt <= 0:
            return None

        def total(t) -> float:
            return sum(getattr(t, f, 0.0) for f in ("user", "nice", "system", "idle", "iowait", "irq", "softirq"))

        steal = max(0.0, getattr(machine, "steal", 0.0) - getattr(last[1], "steal", 0.0))
        elapsed = max(1e-9, total(machine) - total(last[1]) + steal)  # CPU seconds of all cores in the interval
        idle = (machine.idle + getattr(machine, "iowait", 0.0)) - (last[1].idle + getattr(last[1], "iowait", 0.0))
        scale = self.cores / elapsed  # CPU seconds -> cores
        busy = max(0.0, elapsed - idle - steal) * scale
        own_cores = sum(d for pid, d in per_process.items() if pid in own) / dt
        others = {pid: d for pid, d in per_process.items() if pid not in own and pid != 0}
        top = max(others, key=others.__getitem__, default=None)
        top_name = ""
        if top is not None:
            try:
                top_name = f"{self._procs[top].name()} ({top})"
            except (psutil.Error, KeyError):
                top_name = f"pid {top}"
        self._n += 1
        calibration = (
            self._calibrate() if self.calibration_every and (self._n - 1) % self.calibration_every == 0 else math.nan
        )
        row = {
            "t_unix": wall,
            "interval_s": dt,
            "cores": self.cores,
            "busy_cores": busy,
            "own_cores": own_cores,
            "other_cores": max(0.0, busy - own_cores),
            "steal_cores": steal * scale,
            "calibration_s": calibration,
            "top_other": top_name,
            "top_other_cores": others[top] / dt if top is not None else 0.0,
        }
        return row

    def close(self) -> None:
        """End the calibration worker."""
        if self._worker is not None:
            self._worker.kill()
            self._worker.wait(5)
            for stream in (self._worker.stdin, self._worker.stdout):
                if stream is not None:
                    stream.close()
            self._worker = None


def _sample_loop(conn: Connection, roots: list[int], interval_s: float, calibration_every: int) -> None:
    """The sampling process: a row every interval_s sent up `conn`; ("root", pid) adds a root, ("stop",) takes a
    last sample and answers ("done",). Ends when the parent goes away (its end of the pipe closes)."""
    probe = _Probe(roots, calibration_every)
    try:
        probe.sample()
        due = time.monotonic() + interval_s
        while True:
            if conn.poll(max(0.0, due - time.monotonic())):
                message = conn.recv()
                if message[0] == "root":
                    probe.roots.add(int(message[1]))
                    continue
                row = probe.sample()
                if row is not None:
                    conn.send(row)
                conn.send(("done",))
                return
            due = max(due + interval_s, time.monotonic())
            try:
                row = probe.sample()
            except psutil.Error:
                continue  # a process table that changed under the iteration: the next sample covers it
            if row is not None:
                conn.send(row)
    except (EOFError, BrokenPipeError, OSError):
        return
    finally:
        probe.close()


class ContentionSampler:
    """Samples contention every `interval_s` seconds while running (a context manager, like ProcessSampler).

    The sampling runs in a process of its own (spawned), so that reading every process's CPU time never holds
    this process's GIL while a load driver here times requests. roots: pids whose process trees are the run's
    own (default `own_roots()`); more may be added while it runs (`add_root`). calibration_every: run the
    calibration loop every that many samples (0: never). `sample()` samples once in this process instead.
    """

    def __init__(
        self, roots: Iterable[int] | None = None, *, interval_s: float = 0.5, calibration_every: int = 4
    ) -> None:
        if not (isinstance(interval_s, int | float) and interval_s > 0 and math.isfinite(interval_s)):
            raise ValueError(f"interval_s must be a positive number of seconds, not {interval_s!r}.")
        self.interval_s = float(interval_s)
        self.calibration_every = int(calibration_every)
        self.roots = set(own_roots() if roots is None else roots)
        self.rows: list[dict] = []
        self.cores = psutil.cpu_count() or 1
        self._probe: _Probe | None = None  # sample() in this process
        self._conn: Connection | None = None
        self._process: Any = None

    def add_root(self, pid: int) -> None:
        """Count `pid`'s process tree as the run's own from now on (e.g. a target started during the run)."""
        self.roots.add(pid)
        if self._probe is not None:
            self._probe.roots.add(pid)
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.send(("root", pid))

    def sample(self) -> dict | None:
        """Take one sample in this process; append and return its row (None for the first call, which only
        primes the counters)."""
        if self._probe is None:
            self._probe = _Probe(self.roots, self.calibration_every)
        row = self._probe.sample()
        if row is not None:
            self.rows.append(row)
        return row

    def _drain(self, until_done: bool = False, timeout_s: float = 30.0) -> None:
        if self._conn is None:
            return
        deadline = time.monotonic() + timeout_s
        try:
            while self._conn.poll(max(0.0, deadline - time.monotonic()) if until_done else 0):
                message = self._conn.recv()
                if isinstance(message, dict):
                    self.rows.append(message)
                elif until_done:
                    return
        except (EOFError, OSError):
            return

    def start(self) -> ContentionSampler:
        ctx = multiprocessing.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(
            target=_sample_loop,
            args=(child, sorted(self.roots), self.interval_s, self.calibration_every),
            name="contention-sampler",
            daemon=True,
        )
        self._process.start()
        child.close()
        return self

    def stop(self) -> None:
        """Take a last sample (the timeline covers the end of the run), collect every row, end the processes."""
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.send(("stop",))
            self._drain(until_done=True)
            self._conn.close()
            self._conn = None
        if self._process is not None:
            self._process.join(10)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(5)
            self._process = None
        if self._probe is not None:
            self._probe.close()

    def __enter__(self) -> ContentionSampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def frame(self) -> pd.DataFrame:
        """The samples so far, columns CONTENTION_COLUMNS."""
        self._drain()
        return pd.DataFrame(list(self.rows), columns=list(CONTENTION_COLUMNS))
