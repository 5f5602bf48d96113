"""A study as a sequence of stages: each stage one bounded closed-model run with its own records folder,
plus the target's /metrics before and after it. Stages are read back as one table on a shared clock."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..deploy import Target
from ..errors import RunError
from ..load import ClosedModel, RequestSpec, cycle_source, load_records, load_run_info, run_load
from ..monitor import scrape
from .folder import RunFolder

__all__ = ["StageRunner", "StudyBudget", "load_stages", "stage_windows", "STAGES_DIR", "STAGES_FILE"]

STAGES_DIR = "stages"
STAGES_FILE = "stages.json"  # the stage index: one entry per finished stage, in order


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


class StudyBudget:
    """A study's time budget shared out among its stages as they start: each gets at most `stage_cap_s`, and
    never so much that the stages still to come would have less than `reserve_s` each, so on a slow service the
    study ends near `total_s` instead of stages × cap. `total_s` None: each stage gets its cap (None: unbounded).
    """

    MIN_S = 2.0  # a stage always gets this much: it sends at least its first request

    def __init__(
        self, total_s: float | None, stage_cap_s: float | None, stages: int, *, reserve_s: float = 10.0, clock=None
    ):
        self.total_s, self.cap_s, self.left, self.reserve_s = total_s, stage_cap_s, max(1, stages), reserve_s
        self._clock = clock or time.monotonic
        self._t0 = self._clock()

    def elapsed_s(self) -> float:
        return self._clock() - self._t0

    def next(self) -> float | None:
        """The budget (seconds) of the stage starting now."""
        self.left = after = max(0, self.left - 1)  # stages still to come after this one
        if self.total_s is None:
            return self.cap_s
        share = self.total_s - self.elapsed_s() - self.reserve_s * after
        share = max(self.MIN_S, share)
        return share if self.cap_s is None else min(self.cap_s, share)


@dataclass(slots=True)
class StageRunner:
    """Runs stages against one target into run_dir/stages/, and keeps stages.json up to date."""

    target: Target
    run_dir: Path
    timeout_s: float = 60.0
    progress: bool = True

    def run(
        self,
        name: str,
        specs: list[RequestSpec],
        *,
        users: int = 1,
        duration_s: float | None = None,
        repetition: int = 0,
        budget_s: float | None = None,
    ) -> dict:
        """Send `specs` in order by `users` closed-model users (each its share, or cycling for duration_s).

        `repetition` numbers the repeats of one stage (own records folder; `load_stages` carries it). budget_s: the
        stage stops sending after this many seconds and keeps what it measured (its entry says `cut`).
        """
        if not specs:
            raise RunError(f"Stage {name!r} has no requests to send.")
        asked = users * max(1, len(specs) // users)
        if duration_s is None:
            model = ClosedModel(users=users, iterations=asked // users, duration_s=budget_s)
        else:
            limit = duration_s if budget_s is None else min(duration_s, budget_s)
            model = ClosedModel(users=users, duration_s=limit, max_requests=1_000_000)
        folder = Path(STAGES_DIR) / (_slug(name) + (f".r{repetition}" if repetition else ""))
        # A target whose probe found no /metrics is not scraped (each scrape would be a 404 in its log).
        scraped = self.target.probe is None or self.target.probe.metrics_status == 200
        before = scrape(self.target.url, headers=self.target.headers) if scraped else {}
        result = run_load(
            self.target.url,
            cycle_source(specs),
            model,
            out_dir=self.run_dir / folder,
            stage=name,
            timeout_s=self.timeout_s,
            progress=self.progress,
            headers=self.target.headers,
            allow_remote=True,
        )  # the target was checked when it was opened
        after = scrape(self.target.url, headers=self.target.headers) if scraped else {}
        entry = {
            "name": name,
            "repetition": repetition,
            "dir": str(folder),
            "result": result.to_dict(),
            "metrics_before": before,
            "metrics_after": after,
            "budget_s": budget_s,
            "cut": budget_s is not None and duration_s is None and result.n_requests < asked,
        }
        folder = RunFolder(self.run_dir)
        folder.write_json(STAGES_FILE, [*folder.read_json(STAGES_FILE, []), entry])
        return entry


def load_stages(run_dir: str | Path) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """All stages' records in one frame (t_unix: wall-clock end of each request; `repetition`) and the index."""
    run_dir = Path(run_dir)
    stages = RunFolder(run_dir).read_json(STAGES_FILE)
    if stages is None:
        raise RunError(f"{run_dir} holds no {STAGES_FILE}: no stage of the study finished.")
    frames = []
    for stage in stages:
        folder = run_dir / stage["dir"]
        records = load_records(folder)
        records["t_unix"] = load_run_info(folder)["t0_unix"] + records["t_end"]
        records["repetition"] = int(stage.get("repetition", 0))
        frames.append(records)
    return pd.concat(frames, ignore_index=True), stages


def stage_windows(run_dir: str | Path, *, skip: tuple[str, ...] = ("warmup",)) -> list[tuple[str, float, float]]:
    """(stage name, start, end) in Unix seconds of every finished stage (each repetition), but those in `skip`."""
    run_dir = Path(run_dir)
    windows = []
    for stage in RunFolder(run_dir).read_json(STAGES_FILE, []):
        if stage["name"] in skip:
            continue
        t0 = float(load_run_info(run_dir / stage["dir"])["t0_unix"])
        windows.append((stage["name"], t0, t0 + float(stage["result"]["duration_s"])))
    return windows
