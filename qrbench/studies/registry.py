"""The one registry of studies, used by the CLI, the notebooks and the suite.

Each study has one light `StudyEntry` (its package is imported on first use, so parsing a command line imports
no study). STUDIES are the suite's studies (one target each); comparisons (`qrbench ab`) measure two targets and
are not part of the suite; `get_study` finds either. A module that defines `ENTRY`, named in the environment
variable `QRBENCH_STUDIES` (comma-separated), joins the registry after the shipped ones (README, "Adding a study").
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
    """A registered study. module: the package whose `STUDY` is its `StudyDef`. expected_s: its usual seconds at
    each scale of the suite. own_targets: it starts its own targets (the suite's shared service is not given to
    it). comparison: it measures two targets (not a suite study). notebook: None for notebooks/<name>.ipynb.
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


# Seconds on the reference machine (2 idle cores), kernel start and rendering included; the progress lines count
# down from these. quick: from a fresh clone on 2026-12-07 (suite 7 min 07 s); full: on 2026-11-30 (suite 90 min),
# scalability after its full parameters were shortened (21 min 39 s alone).
_SHIPPED = (
    StudyEntry(
        name="baseline", module="qrbench.studies.baseline", expected_s={"smoke": 120, "quick": 160, "full": 840}
    ),
    StudyEntry(name="load", module="qrbench.studies.load", expected_s={"smoke": 60, "quick": 205, "full": 1525}),
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


def study_names() -> tuple[str, ...]:
    """The suite's studies in order."""
    return tuple(name for name, e in entries().items() if not e.comparison)


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
    """The suite's studies, name -> Study, each imported when it is read."""

    def __getitem__(self, name: str) -> Study:
        if name not in study_names():
            raise KeyError(name)
        return get_study(name)

    def __iter__(self) -> Iterator[str]:
        return iter(study_names())

    def __len__(self) -> int:
        return len(study_names())


STUDIES: Mapping[str, Study] = _Studies()
