"""Writes the study notebooks (clean, no outputs): python notebooks/make_notebooks.py

One builder per study (make_<study>.py, its function <study>()) holds its cells; edit them there, then run this
file. The studies are the registry's shipped ones (qrbench/studies/registry.py), plus the explore notebook (no
study). The notebooks hold calls and plots only; anything with a loop or a function belongs in qrbench.

Each notebook carries the kernel metadata JupyterLab would write on opening it (the python3 kernel's display
name, and ipykernel's language_info for this Python): with anything else, JupyterLab marks the notebook
modified as soon as its kernel connects. Regenerate with the Python the notebooks run on (CI's).
"""

import importlib
import os
from collections.abc import Callable
from pathlib import Path

import nbformat

from qrbench.studies.registry import ENV_VAR, entries

HERE = Path(__file__).parent


def kernel_metadata() -> dict:
    """The notebook metadata the python3 kernel of this installation reports (kernelspec, language_info)."""
    from ipykernel.ipkernel import IPythonKernel
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    return {
        "kernelspec": {"name": "python3", "display_name": spec.display_name, "language": spec.language},
        "language_info": dict(IPythonKernel.language_info),
    }


def section_cells(
    study: str, *, extra: dict[str, str] | None = None, code_only: frozenset[str] = frozenset()
) -> list[nbformat.NotebookNode]:
    """The report's cells: one per section of the registry's `study` (its `StudyDef.sections`, in order), each
    showing it with `show_section`, after a cell computing them all from `report`. extra: code appended to a
    section's cell; code_only: sections only the code version of the report shows."""
    from nbformat.v4 import new_code_cell

    from qrbench.studies import get_study

    hidden = {"tags": ["code-only"]}
    cells = [
        new_code_cell("sections = study.sections_of(report)  # computed from the one analysis above", metadata=hidden)
    ]
    for name in get_study(study).sections:
        source = f'show_section(sections["{name}"], save_in=run_dir)' + (extra or {}).get(name, "")
        cells.append(new_code_cell(source, metadata=hidden if name in code_only else {}))
    return cells


def builders() -> list[tuple[str, Callable[[], nbformat.NotebookNode]]]:
    """(name, builder) for each notebook: each shipped study's in the registry's order, then explore (no study).

    A study's builder is `<name>()` in notebooks/make_<name>.py; a shipped study without one is an error. Studies
    of $QRBENCH_STUDIES and entries naming a notebook of their own have their notebooks elsewhere.
    """
    os.environ.pop(ENV_VAR, None)  # the shipped studies only
    names = [name for name, entry in entries().items() if entry.notebook is None]
    found = []
    for name in [*names, "explore"]:
        try:
            module = importlib.import_module(f"make_{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"make_{name}":
                raise
            raise SystemExit(
                f"The registry's study {name!r} has no notebook builder: write {HERE / f'make_{name}.py'}, "
                f"with a function {name}() returning its notebook."
            ) from exc
        build = getattr(module, name, None)
        if build is None:
            raise SystemExit(f"{HERE / f'make_{name}.py'} defines no function {name}() returning its notebook.")
        found.append((name, build))
    return found


if __name__ == "__main__":
    # This folder is on sys.path when the file runs as a script.
    for name, build in builders():
        nb = build()
        for i, cell in enumerate(nb.cells):
            cell["id"] = f"{name}-{i:02d}"  # stable ids: regenerating leaves unchanged cells unchanged in git
        nbformat.write(nb, HERE / f"{name}.ipynb")
        print("wrote", HERE / f"{name}.ipynb")
