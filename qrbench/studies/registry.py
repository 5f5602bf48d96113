"""The one registry of studies. The CLI, the notebooks and the suite use it.

Each study has one light `StudyEntry`: its name, the package that defines its `STUDY` (a `StudyDef`, imported on
first use, so parsing a command line imports no study), how long it usually takes at each scale of the suite
(`qrbench suite`'s progress and the help text read these), whether it starts the targets it compares, and its
notebook. STUDIES are the suite's studies (one target each); COMPARISONS measure two targets (`qrbench ab`) and
are not part of the suite. `get_study` finds either.

Studies of your own: a module that defines `ENTRY` (a `StudyEntry`), named in the environment variable
`QRBENCH_STUDIES` (comma-separated module names, importable from the current folder or PYTHONPATH), joins the
registry after the shipped ones (README, "Adding a study").
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from ..errors import ParameterError

if TYPE_CHECKING:
    from .study import Study

__all__ = [
    "StudyEntry",
    "STUDIES",
    "COMPARISONS",
    "ENV_VAR",
    "entries",
    "get_entry",
    "get_study",
    "study_names",
    "expected_seconds",
]

ENV_VAR = "QRBENCH_STUDIES"


@dataclass(frozen=True, slots=True, kw_only=True)
class StudyEntry:
    """A registered study, light: nothing of the study is imported until `study` or `package` is read.

    module: the package (or module) whose `STUDY` is the study's `StudyDef`. expected_s: the seconds it usually
    takes at each scale of the suite ("smoke", "quick", "full") on the reference machine (2 idle cores), kernel
    start and rendering included. own_targets: it starts the targets it compares (the suite's shared service is
    not given to it). comparison: it measures two targets, so it is not one of the suite's studies. notebook: its
    notebook's path; None for the shipped notebooks/<name>.ipynb.
    """

    name: str
    module: str
    expected_s: Mapping[str, float] = field(default_factory=dict)
    own_targets: bool = False
    comparison: bool = False
    notebook: str | Path | None = None

    @property
    def package(self) -> ModuleType:
        return importlib.import_module(self.module)

    @property
    def study(self) -> Study:
        return self.package.STUDY


# Seconds each shipped study takes on the reference machine (2 cores, otherwise idle), kernel start and rendering
# included; the progress lines count down from these. Measured on an idle machine: quick from a fresh clone in
# an unactivated venv on 2026-12-07 (suite 7 min 07 s, with 90 s stage budgets; 6 min 34 s with the baseline's
# whole-study budget: 146, 105, 45, 85 s); on 2026-11-30 full (suite
# 90 min), except the scalability study, whose full parameters were shortened after that run (it took 44 min):
# `qrbench study scalability` alone then took 21 min 39 s.
_SHIPPED = (
    StudyEntry(
        name="baseline", module="qrbench.studies.baseline", expected_s={"smoke": 120, "quick": 160, "full": 840}
    ),
    StudyEntry(name="load", module="qrbench.studies.load", expected_s={"smoke": 60, "quick": 110, "full": 1525}),
    StudyEntry(
        name="bottlenecks", module="qrbench.studies.bottlenecks", expected_s={"smoke": 90, "quick": 50, "full": 390}
    ),
    StudyEntry(
        name="scalability",
        module="qrbench.studies.scalability",
        expected_s={"smoke": 120, "quick": 95, "full": 1300},
        own_targets=True,  # 1..N workers, N instances behind nginx
    ),
    StudyEntry(name="ab", module="qrbench.studies.ab", comparison=True),
)


def entries() -> dict[str, StudyEntry]:
    """name -> entry: the shipped studies, then those of the modules named in $QRBENCH_STUDIES."""
    found = {e.name: e for e in _SHIPPED}
    for module in filter(None, (m.strip() for m in os.environ.get(ENV_VAR, "").split(","))):
        try:
            entry = importlib.import_module(module).ENTRY
        except (ImportError, AttributeError) as exc:
            raise ParameterError(
                f"{ENV_VAR} names {module!r}, which is not a module defining ENTRY (a StudyEntry): {exc}."
            ) from exc
        if entry.name in found:
            raise ParameterError(f"{ENV_VAR}: {module} registers {entry.name!r}, which is already a study.")
        found[entry.name] = entry
    return found


def study_names(*, comparisons: bool = False) -> tuple[str, ...]:
    """The suite's studies in order (with comparisons: the comparisons instead)."""
    return tuple(name for name, e in entries().items() if e.comparison == comparisons)


def expected_seconds(scale: str) -> dict[str, float]:
    """study -> its usual seconds at `scale`, for the suite's studies that state one."""
    return {n: float(e.expected_s[scale]) for n, e in entries().items() if not e.comparison and scale in e.expected_s}


def get_entry(name: str) -> StudyEntry:
    """The entry of study `name`; ParameterError naming the studies when there is none."""
    found = entries()
    if name not in found:
        raise ParameterError(f"There is no study {name!r}; the studies are {', '.join(found)}.")
    return found[name]


def get_study(name: str) -> Study:
    """The study called `name`; ParameterError naming the studies when there is none."""
    return get_entry(name).study


class _Studies(Mapping):
    """name -> Study over the registry's entries (comparisons or not), importing a study when it is read."""

    def __init__(self, comparisons: bool) -> None:
        self._comparisons = comparisons

    def __getitem__(self, name: str) -> Study:
        entry = entries().get(name)
        if entry is None or entry.comparison != self._comparisons:
            raise KeyError(name)
        return entry.study

    def __iter__(self) -> Iterator[str]:
        return iter(study_names(comparisons=self._comparisons))

    def __len__(self) -> int:
        return len(study_names(comparisons=self._comparisons))


STUDIES: Mapping[str, Study] = _Studies(comparisons=False)
COMPARISONS: Mapping[str, Study] = _Studies(comparisons=True)
