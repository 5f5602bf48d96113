"""No function over 100 lines in the checkout's studies/, report/, load/, target/, stats/, profile/, monitor/,
deploy/ and top-level modules (cli.py, params.py, ...).

The functions still over the ceiling are listed by name with their length today; the list may only shrink:
a listed function that grew fails, and one that fell under the ceiling (or was renamed or deleted) must
leave the list.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "qrbench"
FOLDERS = ("studies", "report", "load", "target", "stats", "profile", "monitor", "deploy")  # and qrbench/*.py
CEILING = 100

# "module:qualified name" -> lines today. Split these along their sections or steps, then delete the entry.
EXCEPTIONS: dict[str, int] = {}


def _function_lengths(tree: ast.AST, prefix: str = ""):
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            name = prefix + node.name
            if not isinstance(node, ast.ClassDef):
                yield name, node.end_lineno - node.lineno + 1
            yield from _function_lengths(node, name + ".")
        else:
            yield from _function_lengths(node, prefix)


def _lengths() -> dict[str, int]:
    found = {}
    paths = sorted(PACKAGE.glob("*.py")) + [p for folder in FOLDERS for p in sorted((PACKAGE / folder).rglob("*.py"))]
    for path in paths:
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts).removesuffix(".__init__")
        for name, lines in _function_lengths(ast.parse(path.read_text())):
            found[f"{module}:{name}"] = lines
    return found


def test_the_scan_sees_the_packages_functions():
    lengths = _lengths()
    assert len(lengths) > 500
    assert "qrbench.studies.registry:get_study" in lengths
    assert lengths["qrbench.studies.registry:get_study"] < 10
    for folder in FOLDERS:  # every folder listed, and the top-level modules, are scanned
        assert any(name.startswith(f"qrbench.{folder}.") for name in lengths), folder
    assert "qrbench.cli:main" in lengths


def test_no_new_function_over_the_ceiling():
    over = {name: n for name, n in _lengths().items() if n > CEILING and name not in EXCEPTIONS}
    assert not over, f"functions over {CEILING} lines (split them along their steps): {over}"


def test_the_exception_list_only_shrinks():
    lengths = _lengths()
    grown = {name: (lengths[name], n) for name, n in EXCEPTIONS.items() if lengths.get(name, 0) > n}
    assert not grown, f"listed functions that grew (now, listed): {grown}"
    done = [name for name, n in EXCEPTIONS.items() if lengths.get(name, 0) <= CEILING]
    assert not done, f"under the ceiling, renamed or deleted: remove from EXCEPTIONS: {done}"
