"""The load study: production-like traffic against the service, as one continuous run of a load engine.

Scenarios (parameters/load_*.yaml) are closed (virtual users) or open (arrival rate), shaped by a ramp, a
spike, random bursts or a compressed business day (qrbench.load.shapes), with a request mix by kind and by
method. params.py: `LoadParams` validates a scenario before anything is sent, `plan_load` turns it into the
engine's model. run.py: `run_load_study` measures it into a run folder (native or Locust engine).
analysis.py: `analyse_load` (the study's report, computed once), `summary`. sections.py: the report's ordered
sections (`SECTIONS`: the notebook's cells, and `qrbench load`'s screen).
"""

from ..study import StudyDef
from .analysis import LoadReport, analyse_load, summary
from .params import (
    LOAD_DIR,
    WARMUP_DIR,
    BurstParams,
    DayParams,
    LoadParams,
    LoadPlan,
    ShapeParams,
    SpikeParams,
    adhoc_params,
    plan_load,
)
from .run import run_load_study
from .sections import SECTIONS

__all__ = [
    "LoadParams",
    "ShapeParams",
    "SpikeParams",
    "BurstParams",
    "DayParams",
    "LoadPlan",
    "plan_load",
    "adhoc_params",
    "run_load_study",
    "LoadReport",
    "analyse_load",
    "summary",
    "LOAD_DIR",
    "WARMUP_DIR",
    "STUDY",
]

STUDY = StudyDef(
    name="load",
    params_type=LoadParams,
    default_params="parameters/load_normal.yaml",
    run_fn=run_load_study,
    analyse_fn=analyse_load,
    summary_fn=summary,
    sections=SECTIONS,
)
