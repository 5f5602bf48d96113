"""The bottlenecks study: where the time and the memory of a rerank go, and what fixing each part would gain.

params.py: `BottlenecksParams` (parameters/bottlenecks.yaml). run.py:
`run_bottlenecks` profiles in this process and against the running service. analysis.py:
`analyse_bottlenecks` turns the folder into tables, ranked opportunities and a verdict; `summary`. sections.py:
the report's ordered sections (`SECTIONS`: the notebook's cells).
"""

from ..study import StudyDef
from .analysis import BottlenecksReport, analyse_bottlenecks, summary
from .params import BottlenecksParams
from .run import run_bottlenecks
from .sections import SECTIONS

__all__ = [
    "BottlenecksParams",
    "run_bottlenecks",
    "BottlenecksReport",
    "analyse_bottlenecks",
    "summary",
    "STUDY",
]

STUDY = StudyDef(
    name="bottlenecks",
    params_type=BottlenecksParams,
    default_params="parameters/bottlenecks.yaml",
    run_fn=run_bottlenecks,
    analyse_fn=analyse_bottlenecks,
    summary_fn=summary,
    sections=SECTIONS,
)
