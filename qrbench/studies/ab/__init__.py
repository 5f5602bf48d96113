"""The A/B comparison (`qrbench ab`): two targets measured in one run, in alternating blocks, judged on the
paired block differences with the smallest detectable change stated (qrbench.stats.paired).

params.py: `ABParams` (parameters/ab.yaml), `with_targets`. run.py: `run_ab` measures into a run folder.
analysis.py: `analyse_ab` turns the folder into the verdict (regression / no regression of that size /
cannot tell) and its exit status; `summary`. sections.py: the report's ordered sections (`SECTIONS`).

Registered as a comparison (registry.COMPARISONS), not among the suite's studies: it needs two targets.
"""

from ..study import StudyDef
from .analysis import EXIT_STATUS, ABReport, analyse_ab, block_table, summary
from .params import ABParams, load_target_file, with_targets
from .run import request_pool, run_ab
from .sections import SECTIONS

__all__ = [
    "ABParams",
    "with_targets",
    "load_target_file",
    "run_ab",
    "request_pool",
    "ABReport",
    "analyse_ab",
    "block_table",
    "summary",
    "EXIT_STATUS",
    "STUDY",
]

STUDY = StudyDef(
    name="ab",
    params_type=ABParams,
    default_params="parameters/ab.yaml",
    run_fn=run_ab,
    analyse_fn=analyse_ab,
    summary_fn=summary,
    sections=SECTIONS,
)
