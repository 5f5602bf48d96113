"""The studies: what each measures (through load/, monitor/ and deploy/) and how it is analysed (stats/).

Each study is a package (params.py, run.py, analysis.py, sections.py) registered in registry.py. Importing this
package is light (run folders only): the other names are imported on first use, so the command line stays fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from .folder import (
    RUN_FILE,
    SUMMARY_FILE,
    RunFolder,
    interactive_run_dir,
    jsonable,
    new_run_dir,
    outputs_root,
    read_summary,
    write_summary,
)

__all__ = [
    "Study",
    "StudyDef",
    "STUDIES",
    "get_study",
    "get_entry",
    "StudyEntry",
    "study_names",
    "expected_seconds",
    "RunFolder",
    "RUN_FILE",
    "SUMMARY_FILE",
    "new_run_dir",
    "interactive_run_dir",
    "outputs_root",
    "read_summary",
    "write_summary",
    "jsonable",
    "compare_runs",
    "Section",
    "Table",
    "Figure",
    "load_thresholds",
    "stage_table",
    "load_stages",
    "metric_label",
]

# name -> the module of this package that defines it, imported on first use
_LAZY = {
    "Study": "study",
    "StudyDef": "study",
    "STUDIES": "registry",
    "get_study": "registry",
    "get_entry": "registry",
    "StudyEntry": "registry",
    "study_names": "registry",
    "expected_seconds": "registry",
    "compare_runs": "analysis",
    "Section": "analysis",
    "Table": "analysis",
    "Figure": "analysis",
    "load_thresholds": "analysis",
    "stage_table": "analysis",
    "load_stages": "stages",
    "metric_label": "compliance",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
