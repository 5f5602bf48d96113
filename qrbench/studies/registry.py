"""The one registry of studies: name -> `Study`. The CLI, the notebooks and the suite use it.

STUDIES are the suite's studies (one target each); COMPARISONS measure two targets (`qrbench ab`) and are
not part of the suite. `get_study` finds either.
"""

from __future__ import annotations

from ..errors import ParameterError
from . import ab, baseline, bottlenecks, load, scalability
from .study import Study

__all__ = ["STUDIES", "COMPARISONS", "get_study"]

STUDIES: dict[str, Study] = {s.name: s for s in (baseline.STUDY, load.STUDY, bottlenecks.STUDY, scalability.STUDY)}
COMPARISONS: dict[str, Study] = {ab.STUDY.name: ab.STUDY}


def get_study(name: str) -> Study:
    """The study called `name`; ParameterError naming the studies when there is none."""
    found = STUDIES.get(name) or COMPARISONS.get(name)
    if found is None:
        raise ParameterError(f"There is no study {name!r}; the studies are {', '.join([*STUDIES, *COMPARISONS])}.")
    return found
