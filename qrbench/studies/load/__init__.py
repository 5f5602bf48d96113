"""The load study: production-like traffic against the service, as one continuous run of a load engine.

params.py validates a scenario (parameters/load_*.yaml: closed or open model, shaped by a ramp, a spike, bursts
or a compressed business day) and plans it; run.py measures it into a run folder; analysis.py computes the
report once; sections.py orders its sections (the notebook's cells, and `qrbench load`'s screen).
"""

from ..study import StudyDef
from .analysis import analyse_load, summary
from .params import LOAD_DIR, LoadParams, ShapeParams, SpikeParams, adhoc_params, plan_load
from .run import run_load_study
from .sections import SECTIONS

__all__ = [
    "LoadParams",
    "ShapeParams",
    "SpikeParams",
    "plan_load",
    "adhoc_params",
    "run_load_study",
    "analyse_load",
    "summary",
    "LOAD_DIR",
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
