"""The baseline study: single-user latency per method and batch size, memory per document count, cache
effectiveness, and how far the quantum and classical rankings agree, against the PRD targets.

params.py: `BaselineParams` (parameters/baseline.yaml). run.py: `run_baseline` measures into a run folder.
analysis.py: `analyse_baseline` turns the folder into tables, verdicts and reliability checks; `summary`.
sections.py: `SECTIONS`, the report's parts in order.
"""

from ..study import StudyDef
from .analysis import BaselineReport, analyse_baseline, summary
from .params import BaselineParams
from .run import run_baseline
from .sections import SECTIONS

__all__ = ["BaselineParams", "run_baseline", "BaselineReport", "analyse_baseline", "summary", "STUDY"]

STUDY = StudyDef(
    name="baseline",
    params_type=BaselineParams,
    default_params="parameters/baseline.yaml",
    run_fn=run_baseline,
    analyse_fn=analyse_baseline,
    summary_fn=summary,
    sections=SECTIONS,
)
