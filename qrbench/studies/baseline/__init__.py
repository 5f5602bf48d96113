"""The baseline study: single-user latency per method and batch size, memory per document count, cache
effectiveness and rank agreement, against the PRD targets (params.py, run.py, analysis.py, sections.py).
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
