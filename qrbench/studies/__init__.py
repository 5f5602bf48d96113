"""The studies: what each measures (through load/, monitor/ and deploy/) and how it is analysed (stats/).

Each study is a package (params.py, run.py, analysis.py) registered once in `registry.STUDIES`; the CLI,
the notebooks and the suite reach studies through it. `RunFolder` owns a run folder's layout and facts.
"""

from .analysis import compare_runs, load_thresholds, stage_table
from .folder import RunFolder
from .registry import COMPARISONS, STUDIES, get_study
from .stages import load_stages
from .study import Study, StudyDef

__all__ = [
    "Study",
    "StudyDef",
    "STUDIES",
    "COMPARISONS",
    "get_study",
    "RunFolder",
    "compare_runs",
    "load_thresholds",
    "stage_table",
    "load_stages",
]
