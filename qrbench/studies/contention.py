"""Contention during a study: sampled while it runs (`contention_monitor`: contention.parquet, the samples, and
contention.json, the stage windows and judgement), judged again from the folder (`read_contention`), a failure
it could explain excused (`excuse_busy`) and the busy machine named first (`busy_first`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from .. import stats
from ..monitor import ContentionSampler, own_roots
from .folder import RunFolder

__all__ = [
    "CONTENTION_SAMPLES",
    "CONTENTION_FILE",
    "contention_monitor",
    "read_contention",
    "contention_summary",
    "excuse_busy",
    "busy_first",
]

CONTENTION_SAMPLES = "contention.parquet"
CONTENTION_FILE = "contention.json"
_SAMPLES_FRAME = Path(CONTENTION_SAMPLES).stem  # the name RunFolder.write_frame / read_frame know it by
BUSY = "machine busy"  # the qualifier of a verdict the busy machine made undecidable: "insufficient (machine busy)"

Window = tuple[str, float, float]


class ContentionMonitor:
    """The running sampler and the phases marked so far (`mark(name)` starts a phase, ending the previous)."""

    def __init__(self, sampler: ContentionSampler) -> None:
        self.sampler = sampler
        self._marks: list[tuple[str, float]] = []

    def mark(self, name: str) -> None:
        self._marks.append((name, time.time()))

    def windows(self, end: float) -> list[Window]:
        """The marked phases as windows, the last one ending at `end`."""
        ends = [t for _, t in self._marks[1:]] + [end]
        return [(name, start, stop) for (name, start), stop in zip(self._marks, ends, strict=True)]


@contextlib.contextmanager
def contention_monitor(
    folder: RunFolder,
    target_pid: int | None = None,
    *,
    windows: Callable[[], Sequence[Window]] | None = None,
    interval_s: float = 0.5,
) -> Iterator[ContentionMonitor]:
    """Sample contention while the block runs, then write the samples and the judgement of the stage windows
    (`windows()` at the end, else the phases the block marked). Never fails the study it watches."""
    sampler = ContentionSampler(own_roots(target_pid), interval_s=interval_s)
    monitor = ContentionMonitor(sampler)
    sampler.start()
    try:
        yield monitor
    finally:
        sampler.stop()
        with contextlib.suppress(Exception):  # noqa: BLE001 - contention is evidence about the run, not the run
            frame = sampler.frame()
            found = list(windows()) if windows is not None else monitor.windows(time.time())
            folder.write_frame(_SAMPLES_FRAME, frame)
            judged = _judge(frame, found, sampler.cores)
            folder.write_json(
                CONTENTION_FILE,
                {"windows": [list(w) for w in found], "cores": sampler.cores, **contention_summary(judged)},
            )


def _judge(frame: pd.DataFrame, windows: Sequence[Window], cores: int) -> stats.Contention:
    return stats.judge_contention(
        frame["t_unix"].to_numpy(float),
        frame["other_cores"].to_numpy(float),
        frame["own_cores"].to_numpy(float),
        frame["steal_cores"].to_numpy(float),
        frame["calibration_s"].to_numpy(float),
        cores=int(cores),
        windows=[(str(n), float(a), float(b)) for n, a, b in windows],
    )


def read_contention(run_dir: str | Path) -> stats.Contention | None:
    """The run's contention judged from its folder (None for a run without contention samples)."""
    folder = RunFolder(Path(run_dir))
    info = folder.read_json(CONTENTION_FILE)
    frame = folder.read_frame(_SAMPLES_FRAME, default=None) if info is not None else None
    if frame is None or frame.empty:
        return None
    return _judge(frame, [tuple(w) for w in info.get("windows") or ()], int(info.get("cores") or folder.cores))


def _number(x: float) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), 4)


def contention_summary(c: stats.Contention | None) -> dict[str, Any] | None:
    """The judgement as plain data for summary.json and the executive report (None stays None)."""
    if c is None:
        return None
    return {
        "contended": c.contended,
        "sentence": c.sentence,
        "stages": len(c.stages),
        "contended_stages": c.n_contended,
        "other_share": _number(c.other_share),
        "steal_share": _number(c.steal_share),
        "calibration_ratio": _number(c.calibration_ratio),
        "slowdown": _number(c.slowdown),
        "limits": dataclasses.asdict(c.limits),
        "per_stage": [
            {k: (_number(v) if isinstance(v, float) else v) for k, v in dataclasses.asdict(s).items()} for s in c.stages
        ],
    }


def excuse_busy(
    judgements: Mapping[str, stats.Judgement],
    contention: stats.Contention | None,
    stage_of: Mapping[str, str | None] | None = None,
) -> tuple[dict[str, stats.Judgement], frozenset[str]]:
    """Failed judgements that contention could explain become *insufficient (machine busy)*; returns the
    judgements and the excused names.

    stage_of: judgement name -> the stage that measured it (None, or no stage_of at all: the whole run); a name
    absent from it is never excused (what a busy machine does not slow: memory)."""
    out, excused = dict(judgements), set()
    if contention is None or not contention.contended:
        return out, frozenset()
    for name, j in judgements.items():
        if j.verdict != stats.Verdict.FAIL or (stage_of is not None and name not in stage_of):
            continue
        stage_name = stage_of.get(name) if stage_of is not None else None
        stage = contention.stage(stage_name) if stage_name else contention
        # A quiet or unsampled stage: nothing says the machine was busy then.
        if stage is None or not stage.contended:
            continue
        slowdown = stage.slowdown
        if not stats.explained_by_contention(j.estimate.low, j.estimate.high, j.threshold, j.direction, slowdown):
            continue
        out[name] = dataclasses.replace(
            j,
            verdict=stats.Verdict.INSUFFICIENT,
            reason=(
                f"{BUSY}: {j.metric} failed by less than the {slowdown:.2g}x slowdown other programs on the "
                f"machine could explain while it was measured, so it cannot be told from a busy machine "
                f"(rerun on an idle machine). {j.reason}"
            ),
        )
        excused.add(name)
    return out, frozenset(excused)


def busy_first(reasons: Sequence[str], contention: stats.Contention | None, excused: int = 0) -> tuple[str, ...]:
    """A study's reasons with the busy-machine sentence joined in front of the first (unchanged when the run
    was not contended), so a headline built from the first reason names the machine before any verdict."""
    if contention is None or not contention.contended:
        return tuple(reasons)
    sentence = contention.sentence
    if excused:
        sentence += f" {excused} failing target(s) within that slowdown read insufficient ({BUSY}), not fail."
    first, *rest = list(reasons) or [""]
    return (f"{sentence} {first}".strip(), *rest)
