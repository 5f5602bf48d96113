"""The import rules of the README's architecture section, checked over the whole package with `ast`.

Every `import` and `from ... import` of every module counts, also those inside functions (a lazy import is
still a dependency), except those under `if TYPE_CHECKING:`. An edge goes to the module named, or to the
submodule when `from package import name` names one.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

import qrbench

PACKAGE = Path(qrbench.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py")) if "_bundled" not in p.parts}


def _is_package(name: str) -> bool:
    return _modules()[name].name == "__init__.py"


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


@cache
def _imports(name: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(module imported, names taken from it) for every import of module `name` (qrbench modules only)."""
    tree = ast.parse(_modules()[name].read_text())
    skip = _type_checking_lines(tree)
    base = name if _is_package(name) else name.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            found += [(a.name, ()) for a in node.names if a.name.split(".")[0] == "qrbench"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = base.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                target = f"{anchor}.{node.module}" if node.module else anchor
            else:
                target = node.module or ""
            if target.split(".")[0] == "qrbench":
                found.append((target, tuple(a.name for a in node.names)))
    return tuple(found)


def _edges(name: str) -> set[str]:
    """The qrbench modules `name` depends on."""
    out = set()
    for target, names in _imports(name):
        subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in _modules()]
        out.update(subs)
        if len(subs) < len(names) or not names:
            out.add(target)
    return out - {name}


def test_every_import_resolves_to_a_module_of_the_package():
    missing = {(name, t) for name in _modules() for t in _edges(name) if t not in _modules()}
    assert not missing, f"imports of modules that do not exist: {sorted(missing)}"


def test_no_import_cycles():
    graph = {name: _edges(name) for name in _modules()}
    cycles, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(path[path.index(nxt) :] + [nxt])
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def _package_of(name: str) -> str:
    return name if _is_package(name) else name.rpartition(".")[0]


def test_no_module_imports_another_modules_private_names():
    bad = []
    for name in _modules():
        for target, names in _imports(name):
            private_names = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private_names and target != name:
                bad.append(f"{name} imports {', '.join(private_names)} from {target}")
            # A private module (_x.py) is its package's business: only modules of that package import it.
            for i, part in enumerate(target.split(".")):
                if part.startswith("_") and not part.startswith("__"):
                    owner = ".".join(target.split(".")[:i])
                    if not (name == owner or name.startswith(owner + ".")):
                        bad.append(f"{name} imports the private module {target}")
    assert not bad, "\n".join(bad)


def _external(prefix: str) -> dict[str, set[str]]:
    """For each module under `prefix`, the qrbench modules it imports from outside `prefix`."""
    return {
        name: {t for t in _edges(name) if not (t == prefix or t.startswith(prefix + "."))}
        for name in _modules()
        if name == prefix or name.startswith(prefix + ".")
    }


def test_stats_imports_nothing_of_qrbench():
    bad = {name: deps for name, deps in _external("qrbench.stats").items() if deps}
    assert not bad, bad


def test_target_imports_only_errors():
    bad = {
        name: deps - {"qrbench.errors"}
        for name, deps in _external("qrbench.target").items()
        if deps - {"qrbench.errors"}
    }
    assert not bad, bad


def test_report_imports_no_study_internals():
    bad = {
        name: {d for d in deps if d.startswith("qrbench.studies.")}
        for name, deps in _external("qrbench.report").items()
    }
    assert not {k: v for k, v in bad.items() if v}, bad


def test_deploy_and_the_layers_below_know_nothing_of_studies_or_the_cli():
    for layer in (
        "qrbench.deploy",
        "qrbench.load",
        "qrbench.monitor",
        "qrbench.profile",
        "qrbench.stats",
        "qrbench.target",
    ):
        bad = {
            name: {d for d in deps if d.startswith(("qrbench.studies", "qrbench.cli", "qrbench.report"))}
            for name, deps in _external(layer).items()
        }
        assert not {k: v for k, v in bad.items() if v}, bad


def test_a_study_analysis_reads_the_folder_not_the_run_code():
    """studies/<study>/analysis.py may import its params.py, never its run.py (nor deploy/ or target/): what it
    knows of the run comes from the run folder."""
    bad = {}
    for name in _modules():
        parts = name.split(".")
        if len(parts) == 4 and parts[1] == "studies" and parts[3] == "analysis":
            deps = {d for d in _edges(name) if d.endswith(".run") or d.startswith(("qrbench.deploy", "qrbench.target"))}
            if deps:
                bad[name] = deps
    assert not bad, bad


def test_every_study_package_has_params_run_and_analysis():
    from qrbench.studies import STUDIES

    for study in STUDIES.values():
        for part in ("params", "run", "analysis"):
            assert f"qrbench.studies.{study.name}.{part}" in _modules(), (study.name, part)
