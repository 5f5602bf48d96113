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

# module of this package -> the names it defines that are imported on first use
_LAZY_MODULES = {
    "study": ("Study", "StudyDef"),
    "registry": ("STUDIES", "get_study", "get_entry", "StudyEntry", "study_names", "expected_seconds"),
    "analysis": ("compare_runs", "Section", "Table", "Figure", "load_thresholds", "stage_table"),
    "stages": ("load_stages",),
    "compliance": ("metric_label",),
}
_LAZY = {name: module for module, names in _LAZY_MODULES.items() for name in names}

__all__ = [
    "RunFolder",
    "RUN_FILE",
    "SUMMARY_FILE",
    "new_run_dir",
    "interactive_run_dir",
    "outputs_root",
    "read_summary",
    "write_summary",
    "jsonable",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
