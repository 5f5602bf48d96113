"""The A/B comparison (`qrbench ab`): two targets measured in one run, in alternating blocks, judged on the
paired block differences with the smallest detectable change stated (qrbench.stats.paired).

Registered as a comparison (registry.COMPARISONS), not among the suite's studies: it needs two targets.
"""

from ..study import StudyDef
from .analysis import EXIT_STATUS, analyse_ab, summary
from .params import ABParams, load_target_file, with_targets
from .run import run_ab
from .sections import SECTIONS

__all__ = ["ABParams", "with_targets", "load_target_file", "EXIT_STATUS", "STUDY"]

STUDY = StudyDef(
    name="ab",
    params_type=ABParams,
    default_params="parameters/ab.yaml",
    run_fn=run_ab,
    analyse_fn=analyse_ab,
    summary_fn=summary,
    sections=SECTIONS,
)
