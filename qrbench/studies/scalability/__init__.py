"""The scalability study: how a QuantumRerank service scales, where it stops, and what a fitted model says
past this machine.

params.py: `ScalabilityParams` (parameters/scalability.yaml). run.py: `run_scalability` measures the vertical
sweeps and a step load per configuration (workers, instances behind nginx, deployed through qrbench.deploy)
into a run folder. analysis.py: `analyse_scalability` (capacity, USL fit, saturation, verdict); `summary`.
sections.py: the report's ordered sections (`SECTIONS`: the notebook's cells).
"""

from ..study import StudyDef
from .analysis import ScalabilityReport, analyse_scalability, summary
from .params import CONFIGS_DIR, VERTICAL_DIR, ScalabilityParams, SloParams, StepParams
from .run import run_scalability
from .sections import SECTIONS

__all__ = [
    "ScalabilityParams",
    "SloParams",
    "StepParams",
    "CONFIGS_DIR",
    "VERTICAL_DIR",
    "run_scalability",
    "ScalabilityReport",
    "analyse_scalability",
    "summary",
    "STUDY",
]

STUDY = StudyDef(
    name="scalability",
    params_type=ScalabilityParams,
    default_params="parameters/scalability.yaml",
    run_fn=run_scalability,
    analyse_fn=analyse_scalability,
    summary_fn=summary,
    sections=SECTIONS,
)
