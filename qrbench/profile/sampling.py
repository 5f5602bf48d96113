"""Sampling a running service from outside (py-spy), to see what its threads do under load.

py-spy attaches to a process by id, samples every Python thread's stack `rate_hz` times a second and,
with `idle`, keeps the samples of waiting threads too: that is how waits (locks, the thread-pool queue,
the event loop's select) show up next to work. A second sampler with `gil` keeps only the samples of the
thread holding the GIL, so the two together tell computing-without-the-GIL (torch, Aer) from waiting for
it. py-spy is a separate program (`pip install py-spy`), looked up next to the running interpreter first, then
on PATH (`resources.console_script`); `py_spy_available` says whether it is here.

Stacks come back as a tidy frame (thread, stack, samples); `classify_stacks` names what each sample was
doing from its innermost recognisable frame.
"""

from __future__ import annotations

import linecache
import re
import signal
import subprocess
import tempfile
from pathlib import Path

import pandas as pd

from ..errors import ParameterError, TargetError
from ..resources import console_script

__all__ = ["py_spy_available", "PySpySampler", "parse_raw", "classify_stacks", "thread_role", "ACTIVITIES"]

_THREAD = re.compile(r"^thread \((?P<tid>\d+|0x[0-9a-fA-F]+)\)(?::\s*(?P<name>.*))?$")

# (activity, pattern on one frame "function (file:line)"), tried from the innermost frame outwards.
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (a, re.compile(p))
    for a, p in (
        ("idle: event loop select", r"\(selectors\.py:"),
        ("aer simulation", r"\(qiskit_aer/"),
        ("qiskit", r"\(qiskit/"),
        ("tokenizer", r"tokeniz"),
        ("torch forward", r"\((torch|transformers|sentence_transformers)/"),
        ("request validation", r"\((pydantic|pydantic_core|fastapi/_compat|fastapi/dependencies)"),
        ("json", r"\(json/"),
        ("metrics", r"\(prometheus_client/"),
        ("http and framework", r"\((uvicorn|starlette|fastapi|h11|httptools|anyio|asyncio)/"),
        ("numpy", r"\(numpy/"),
        ("engine (qrbench)", r"\(qrbench/"),
    )
)
_WAIT = re.compile(r"\((threading|queue)\.py:|\(concurrent/futures/")
_FRAME = re.compile(r"\((?P<file>[^()]+):(?P<line>\d+)\)$")
_PACKAGE_ROOT = Path(__file__).resolve().parents[2]
ACTIVITIES = (
    ("idle: thread-pool worker", "waiting: future result", "waiting: lock or condition")
    + tuple(a for a, _ in _RULES)
    + ("other",)
)


def _waits_on_lock(frame: str) -> bool:
    """A qrbench frame whose line takes a lock: where a thread blocked in C on the lock shows up."""
    m = _FRAME.search(frame)
    if not m or not m.group("file").startswith("qrbench/"):
        return False
    return "lock" in linecache.getline(str(_PACKAGE_ROOT / m.group("file")), int(m.group("line"))).lower()


def py_spy_available() -> bool:
    return console_script("py-spy") is not None


def thread_role(name: str) -> str:
    """The service's thread by its name: event loop, compute pool, quantum, embed batcher, a library's unnamed
    pool (Aer runs its jobs in one), or other (tqdm's monitors, the model loader)."""
    if name == "MainThread":
        return "event loop"
    for prefix, role in (
        ("compute", "compute pool"),
        ("quantum", "quantum"),
        ("embed", "embed batcher"),
        ("ThreadPoolExecutor", "library pool (Aer jobs)"),
    ):
        if name.startswith(prefix):
            return role
    return "other"


def parse_raw(text: str) -> pd.DataFrame:
    """py-spy's raw (collapsed) output with --threads: rows of thread_id, thread, stack (outermost first,
    frames joined by ";"), leaf (innermost frame), samples."""
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        tid, name = "", ""
        m = _THREAD.match(frames[0])
        if m:
            tid, name = m.group("tid"), (m.group("name") or "").strip()
            frames = frames[1:]
            if frames and not name and not frames[0].endswith(")"):
                name, frames = frames[0], frames[1:]
        rows.append(
            {
                "thread_id": tid,
                "thread": name,
                "stack": ";".join(frames),
                "leaf": frames[-1] if frames else "",
                "samples": int(count),
            }
        )
    return pd.DataFrame(rows, columns=["thread_id", "thread", "stack", "leaf", "samples"])


def _activity(stack: str) -> str:
    frames = stack.split(";")
    for i in range(len(frames) - 1, -1, -1):
        frame = frames[i]
        if _WAIT.search(frame):
            if i == len(frames) - 1 and frame.startswith("_worker (concurrent/futures/thread.py"):
                return "idle: thread-pool worker"
            if any("concurrent/futures/_base.py" in f for f in frames[max(0, i - 2) : i + 1]):
                return "waiting: future result"
            return "waiting: lock or condition"
        if i == len(frames) - 1 and _waits_on_lock(frame):
            return "waiting: lock or condition"
        for activity, pattern in _RULES:
            if pattern.search(frame):
                return activity
    return "other"


def classify_stacks(stacks: pd.DataFrame) -> pd.DataFrame:
    """The stacks with `activity` (see ACTIVITIES) and `role` (thread_role) columns added."""
    out = stacks.copy()
    out["activity"] = [_activity(s) for s in out["stack"]]
    out["role"] = [thread_role(t) for t in out["thread"]]
    return out


class PySpySampler:
    """`py-spy record` attached to `pid` from start() to stop(); stop() returns parse_raw's frame.

    rate_hz: samples per second per thread. idle: keep waiting threads' samples. gil: keep only samples
    of the thread holding the GIL. nonblocking: never pause the target (its stacks may then be slightly
    torn, but its latency is not disturbed).
    """

    def __init__(
        self,
        pid: int,
        *,
        rate_hz: int = 100,
        idle: bool = True,
        gil: bool = False,
        nonblocking: bool = True,
        out_dir: str | Path | None = None,
    ) -> None:
        if not py_spy_available():
            raise ParameterError(
                "py-spy is not installed; install it with `pip install py-spy` to sample a running service."
            )
        if not 1 <= rate_hz <= 1000:
            raise ParameterError(f"rate_hz is {rate_hz!r}; it must be 1 to 1000 samples per second.")
        self.pid = pid
        self.rate_hz = rate_hz
        self.idle = idle
        self.gil = gil
        self.nonblocking = nonblocking
        folder = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="qrbench-pyspy-"))
        folder.mkdir(parents=True, exist_ok=True)
        self.output = folder / f"pyspy-{pid}{'-gil' if gil else ''}.txt"
        self._process: subprocess.Popen | None = None

    def start(self) -> PySpySampler:
        args = [
            console_script("py-spy") or "py-spy",
            "record",
            "--pid",
            str(self.pid),
            "--rate",
            str(self.rate_hz),
            "--format",
            "raw",
            "--output",
            str(self.output),
            "--threads",
        ]
        args += ["--idle"] if self.idle else []
        args += ["--gil"] if self.gil else []
        args += ["--nonblocking"] if self.nonblocking else []
        self._process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        return self

    def stop(self, timeout_s: float = 30.0) -> pd.DataFrame:
        """Stop sampling (py-spy writes its output on SIGINT) and return the stacks."""
        if self._process is None:
            raise TargetError("The sampler was never started.")
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)
        try:
            _, err = self._process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self._process.kill()
            _, err = self._process.communicate()
        if not self.output.is_file():
            raise TargetError(
                f"py-spy wrote no samples for process {self.pid}: "
                f"{(err or b'').decode(errors='replace').strip()[-300:]}"
            )
        return parse_raw(self.output.read_text())

    def __enter__(self) -> PySpySampler:
        return self.start()

    def __exit__(self, *exc) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)
            self._process.wait(30)
