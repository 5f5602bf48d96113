"""The one registry of studies: name -> `Study`. The CLI, the notebooks and the suite use it."""

from __future__ import annotations

from ..errors import ParameterError
from . import baseline, bottlenecks, load, scalability
from .study import Study

__all__ = ["STUDIES", "get_study"]

STUDIES: dict[str, Study] = {s.name: s for s in (baseline.STUDY, load.STUDY, bottlenecks.STUDY, scalability.STUDY)}


def get_study(name: str) -> Study:
    """The study called `name`; ParameterError naming the studies when there is none."""
    if name not in STUDIES:
        raise ParameterError(f"There is no study {name!r}; the studies are {', '.join(STUDIES)}.")
    return STUDIES[name]
