"""Server-side sampling: CPU and memory of the target's process tree, once per interval, in a thread."""

from __future__ import annotations

import threading
import time

import pandas as pd
import psutil

__all__ = ["ProcessSampler", "pid_listening_on"]


def pid_listening_on(port: int) -> int | None:
    """The pid of the local process listening on TCP `port`, or None (not local, or not permitted)."""
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
                return conn.pid
    except psutil.AccessDenied:
        return None
    return None


class ProcessSampler:
    """Samples a process and its children every `interval_s` seconds while running (a context manager).

    Columns of `frame()`: t (s, on the same monotonic clock as time.perf_counter, relative to `t0`), t_unix,
    cpu_percent (of one core, summed over the tree), rss_bytes (summed), threads, open_files,
    processes, machine_cpu_percent (all cores, 0-100).
    """

    def __init__(self, pid: int, *, interval_s: float = 1.0, t0: float | None = None) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.t0 = time.perf_counter() if t0 is None else t0
        self.rows: list[dict] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="process-sampler", daemon=True)
        self._procs: dict[int, psutil.Process] = {}

    def _tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.pid)
            found = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []
        # Keep the same Process objects between samples: cpu_percent measures since the previous call.
        for p in found:
            self._procs.setdefault(p.pid, p)
        alive = {p.pid for p in found}
        return [p for pid, p in self._procs.items() if pid in alive]

    def sample(self) -> dict:
        cpu = rss = threads = files = 0.0
        procs = self._tree()
        for p in procs:
            try:
                with p.oneshot():
                    cpu += p.cpu_percent(None)
                    rss += p.memory_info().rss
                    threads += p.num_threads()
                    files += len(p.open_files())
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        row = {
            "t": time.perf_counter() - self.t0,
            "t_unix": time.time(),
            "cpu_percent": cpu,
            "rss_bytes": rss,
            "threads": threads,
            "open_files": files,
            "processes": len(procs),
            "machine_cpu_percent": psutil.cpu_percent(None),
        }
        self.rows.append(row)
        return row

    def _run(self) -> None:
        self.sample()  # primes cpu_percent; its CPU figures are meaningless and dropped in frame()
        while not self._stop.wait(self.interval_s):
            self.sample()

    def start(self) -> ProcessSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sample()

    def __enter__(self) -> ProcessSampler:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def frame(self) -> pd.DataFrame:
        df = pd.DataFrame(self.rows[1:] if len(self.rows) > 1 else self.rows)
        return df
