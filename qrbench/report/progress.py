"""Progress of a notebook being executed, read from the notebook papermill saves after every cell.

papermill's own bar counts cells, whose durations differ by orders of magnitude, so its ETA is meaningless.
`NotebookWatch` pairs the section running with the study's usual duration instead.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from ..studies import RunFolder

__all__ = ["NotebookWatch", "clock", "notebook_position", "latest_output", "cut_stages"]


def clock(seconds: float) -> str:
    """12:05 (minutes:seconds), or 1:02:05 past an hour."""
    s = max(0, int(round(seconds)))
    h, rest = divmod(s, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def notebook_position(path: Path) -> tuple[str, int, int] | None:
    """(## section of the running cell, or "starting"; code cells done; code cells in all) of an executing
    notebook, or None before papermill first saves it (or while it writes it)."""
    try:
        cells = RunFolder(path.parent).read_json(path.name)["cells"]
    except (OSError, ValueError, KeyError, TypeError):  # TypeError: not written yet (None)
        return None
    section, running_section, done, total = "starting", None, 0, 0
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            lines = "".join(cell.get("source", "")).splitlines()
            # The notebook's title (#) is not a section.
            section = next((line.lstrip("#").strip() for line in lines if line.startswith("##")), section)
            continue
        if cell.get("cell_type") != "code":
            continue
        total += 1
        status = (cell.get("metadata", {}).get("papermill") or {}).get("status")
        if status == "completed":
            done += 1
        elif status == "running" and running_section is None:
            running_section = section
    return running_section or section, done, total


def latest_output(run_dir: Path) -> str | None:
    """What the study wrote last (e.g. stages/rerank_hybrid_50), by modification time in the run folder and one
    level below; None when it wrote nothing yet."""
    found: list[tuple[float, str]] = []
    try:
        for entry in run_dir.iterdir():
            if entry.suffix in (".ipynb", ".html") or entry.name in ("run.json", "summary.json"):
                continue
            inner = list(entry.iterdir()) if entry.is_dir() else []
            for path in inner or [entry]:
                found.append((path.stat().st_mtime, str(path.relative_to(run_dir).with_suffix(""))))
    except OSError:  # the study is writing or moving it right now
        return None
    return max(found)[1] if found else None


def cut_stages(run_dir: Path) -> list[str]:
    """The stages of a running study cut by their time budget so far (stages.json's `cut`, and the bottleneck
    study's cost stage); [] when none or not readable."""
    cut: list[str] = []
    folder = RunFolder(run_dir)
    try:
        cut += [str(s["name"]) for s in folder.read_json("stages.json", []) if s.get("cut")]
        if (folder.read_json("info.json", {}).get("costs") or {}).get("cut_by_budget"):
            cut.append("cost by request kind and size")
    except (OSError, ValueError, TypeError, KeyError):  # being written right now: said on the next line
        return []
    return list(dict.fromkeys(cut))


class NotebookWatch:
    """While inside, calls `say(line)` every `every_s` seconds with the study's section, elapsed time and the
    time left from expected_s (None: unknown, and the line says so)."""

    def __init__(
        self, name: str, notebook: Path, say: Callable[[str], None], *, expected_s: float | None, every_s: float = 30.0
    ) -> None:
        self.name, self.notebook, self.say = name, notebook, say
        self.expected_s, self.every_s = expected_s, every_s
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"watch-{name}", daemon=True)

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        where = notebook_position(self.notebook)
        section, done, total = where if where else ("starting the kernel", 0, 0)
        if self.expected_s is not None:
            left = self.expected_s - elapsed
            eta = f"about {clock(left)} left" if left > 0 else f"running past its usual {clock(self.expected_s)}"
        else:
            # Not extrapolated from the cells: a study measures in one or two of them, so cells done say
            # nothing of the time left (one such guess grew from 30 minutes to 70 while the study took 22).
            eta = "time left not known (no usual duration for these parameters)"
        cells = f", cell {done}/{total}" if total else ""
        latest = latest_output(self.notebook.parent)
        if section == "starting" and latest:
            section = "measuring"  # the studies measure in one cell under the title, writing stage after stage
        wrote = f" (last wrote {latest})" if latest else ""
        cut = cut_stages(self.notebook.parent)
        said = f" · cut by their time budget: {', '.join(cut)}" if cut else ""
        return f"  {self.name}: {section}{cells}{wrote} · {clock(elapsed)} elapsed · {eta}{said}"

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            self.say(self.line())

    def __enter__(self) -> NotebookWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
