"""The studies: what each measures (through load/, monitor/ and target/) and how it is analysed (stats/).

The notebooks call these; they hold no logic of their own.
"""

from .analysis import compare_runs, load_thresholds, stage_table
from .baseline import BaselineParams, run_baseline
from .baseline_analysis import BaselineReport, analyse_baseline, summary
from .stages import load_stages
from .target import TargetParams, open_target

__all__ = ["BaselineParams", "run_baseline", "BaselineReport", "analyse_baseline", "summary", "compare_runs",
           "load_thresholds", "stage_table", "load_stages", "TargetParams", "open_target"]
