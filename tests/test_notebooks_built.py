"""The committed notebooks are exactly what their builders (notebooks/make_<name>.py) write, and carry no outputs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
BUILDERS = sorted(p for p in NOTEBOOKS.glob("make_*.py") if p.name != "make_notebooks.py")


def _build(path: Path) -> nbformat.NotebookNode:
    """What make_notebooks.py writes for this builder: its notebook, with the stable cell ids."""
    name = path.stem.removeprefix("make_")
    sys.path.insert(0, str(NOTEBOOKS))  # builders import each other as make_notebooks.py runs them
    try:
        spec = importlib.util.spec_from_file_location(f"_builder_{name}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(NOTEBOOKS))
    nb = getattr(module, name)()
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{name}-{i:02d}"
    return nb


def test_every_builder_has_its_notebook_and_every_notebook_its_builder():
    assert BUILDERS, "no notebook builders found"
    built = {p.stem.removeprefix("make_") for p in BUILDERS}
    committed = {p.stem for p in NOTEBOOKS.glob("*.ipynb")}
    assert built == committed


@pytest.mark.parametrize("builder", BUILDERS, ids=lambda p: p.stem)
def test_the_committed_notebook_is_what_its_builder_writes(builder):
    name = builder.stem.removeprefix("make_")
    committed = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    expected = _build(builder)
    assert not any(c.get("outputs") or c.get("execution_count") for c in committed.cells), "commit it clean"
    got = [(c.cell_type, c.id, c.source) for c in committed.cells]
    want = [(c.cell_type, c.id, c.source) for c in expected.cells]
    assert got == want, (
        f"notebooks/{name}.ipynb differs from what {builder.name} writes: run python notebooks/make_notebooks.py"
    )
    assert committed.metadata == expected.metadata
