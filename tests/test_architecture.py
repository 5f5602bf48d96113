"""The architecture rules of the README, checked with `ast` over the checkout's package (never an installed copy).

Every `import` and `from ... import` of every module counts, also those inside functions (a lazy import is
still a dependency), except those under `if TYPE_CHECKING:`. An edge goes to the module named, or to the
submodule when `from package import name` names one.

Each rule is a function from a `Codebase` to its violations. The tests run every rule on the checkout (no
violations) and on the checkout plus one planted module that breaks it (the rule must name that module), so
a rule that cannot fail — a wrong path, an empty module list, a typo in a prefix — fails its positive control.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "qrbench"

# Folder -> the qrbench folders (or modules) it may import, besides itself. The README's table states these.
ALLOWED: dict[str, frozenset[str]] = {
    "qrbench": frozenset({"report.explore"}),  # qrbench.open_run, imported on first use
    "stats": frozenset(),
    "errors": frozenset(),
    "params": frozenset({"errors"}),
    "resources": frozenset({"errors"}),
    "target": frozenset({"errors"}),
    "load": frozenset({"errors", "resources", "params", "stats"}),
    "monitor": frozenset({"errors", "params", "resources", "stats", "load", "target"}),
    "profile": frozenset({"errors", "params", "resources", "stats", "load", "target"}),
    "deploy": frozenset({"errors", "params", "stats", "load", "monitor", "target"}),
    "studies": frozenset({"errors", "params", "resources", "stats", "load", "monitor", "profile", "deploy", "target"}),
    "report": frozenset({"errors", "params", "resources", "stats", "load", "monitor", "deploy", "studies"}),
    "cli": frozenset({"*"}),
    "__main__": frozenset({"cli"}),
}

# The only modules that print to the terminal or parse arguments: the CLI, and programs started as processes of
# their own (`python -m ...`), whose output is how their parent learns they are ready.
PROGRAMS: dict[str, str] = {
    "qrbench.cli": "the qrbench command",
    "qrbench.target.server": "the reference service's process prints its ready line",
    "qrbench.target.fit_projection": "the maintainer script that fits the shipped projection",
    "qrbench.load.lifeline": "the watchdog process that stops a process group when its parent dies",
    "qrbench.load.stub_server": "the stub service the driver tests start as a process",
    "qrbench.load.delay_proxy": "the proxy that slows a target by a known factor (qrbench ab's checks)",
}


@dataclass(frozen=True)
class Codebase:
    """The modules of a package folder, plus `planted` ones {module name: source} (positive controls)."""

    package: Path
    planted: dict[str, str] = field(default_factory=dict)

    @cached_property
    def sources(self) -> dict[str, str]:
        found = {}
        for path in sorted(self.package.rglob("*.py")):
            if "_bundled" in path.parts:
                continue
            parts = list(path.relative_to(self.package.parent).with_suffix("").parts)
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path.read_text()
        return found | self.planted

    @cached_property
    def trees(self) -> dict[str, ast.Module]:
        return {name: _parse(source) for name, source in self.sources.items()}

    def is_package(self, name: str) -> bool:
        return name in self.sources and any(other.startswith(name + ".") for other in self.sources)

    def imports(self, name: str) -> list[tuple[str, tuple[str, ...]]]:
        """(module imported, names taken from it) for every qrbench import of module `name`."""
        tree = self.trees[name]
        skip = _type_checking_lines(tree)
        base = name if self.is_package(name) else name.rpartition(".")[0]
        found = []
        for node in ast.walk(tree):
            if getattr(node, "lineno", None) in skip:
                continue
            if isinstance(node, ast.Import):
                found += [(a.name, ()) for a in node.names if a.name.split(".")[0] == "qrbench"]
            elif isinstance(node, ast.ImportFrom):
                target = _absolute(base, node)
                if target.split(".")[0] == "qrbench":
                    found.append((target, tuple(a.name for a in node.names)))
        return found

    def edges(self, name: str) -> set[str]:
        """The qrbench modules `name` depends on."""
        out = set()
        for target, names in self.imports(name):
            subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in self.sources]
            out.update(subs)
            if len(subs) < len(names) or not names:
                out.add(target)
        return out - {name}


@cache
def _parse(source: str) -> ast.Module:
    return ast.parse(source)


def _absolute(base: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    parts = base.split(".")
    anchor = ".".join(parts[: len(parts) - node.level + 1])
    return f"{anchor}.{node.module}" if node.module else anchor


def _type_checking_lines(tree: ast.Module) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _folder(name: str) -> str:
    """The folder (or top-level module) a module belongs to: qrbench.load.driver -> load."""
    return name.split(".")[1] if "." in name else name


def _allowed(importer: str, imported: str) -> bool:
    mine, theirs = _folder(importer), _folder(imported)
    if mine == theirs:
        return True
    allowed = ALLOWED.get(mine, frozenset())
    rest = imported.removeprefix("qrbench.")
    return "*" in allowed or theirs in allowed or any(rest == a or rest.startswith(a + ".") for a in allowed)


# ---- the rules ---------------------------------------------------------------------------------------------


def imports_that_resolve_nowhere(code: Codebase) -> list[str]:
    return [
        f"{name} imports {t}, which does not exist"
        for name in code.sources
        for t in code.edges(name)
        if t not in code.sources
    ]


def import_cycles(code: Codebase) -> list[str]:
    graph = {name: code.edges(name) for name in code.sources}
    cycles, state = [], {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(" -> ".join(path[path.index(nxt) :] + [nxt]))
            elif nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
    return cycles


def private_imports(code: Codebase) -> list[str]:
    """Another module's `_name`, or a private module (`_x.py`) of another package."""
    bad = []
    for name in code.sources:
        for target, names in code.imports(name):
            private_names = [n for n in names if n.startswith("_") and not n.startswith("__")]
            if private_names and target != name:
                bad.append(f"{name} imports {', '.join(private_names)} from {target}")
            for i, part in enumerate(target.split(".")):
                if part.startswith("_") and not part.startswith("__"):
                    owner = ".".join(target.split(".")[:i])
                    if not (name == owner or name.startswith(owner + ".")):
                        bad.append(f"{name} imports the private module {target}")
    return bad


def imports_outside_the_folders_allow_list(code: Codebase) -> list[str]:
    return [
        f"{name} ({_folder(name)}/) imports {t}"
        for name in code.sources
        for t in sorted(code.edges(name))
        if t in code.sources and not _allowed(name, t)
    ]


def report_imports_of_study_internals(code: Codebase) -> list[str]:
    """report/ may use the `qrbench.studies` package's public names, never a study's modules."""
    return [
        f"{name} imports {t}"
        for name in code.sources
        if _folder(name) == "report"
        for t in code.edges(name)
        if t.startswith("qrbench.studies.")
    ]


def analysis_imports_of_the_run(code: Codebase) -> list[str]:
    """studies/<study>/analysis.py knows the run from its folder: never its run.py, deploy/ or target/."""
    bad = []
    for name in code.sources:
        parts = name.split(".")
        if len(parts) == 4 and parts[1] == "studies" and parts[3] == "analysis":
            for t in code.edges(name):
                if t.endswith(".run") or t.startswith(("qrbench.deploy", "qrbench.target")):
                    bad.append(f"{name} imports {t}")
    return bad


def printing_or_argument_parsing_outside_programs(code: Codebase) -> list[str]:
    bad = []
    for name, tree in code.trees.items():
        if name in PROGRAMS:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                bad.append(f"{name} prints (line {node.lineno})")
            elif isinstance(node, ast.Import | ast.ImportFrom):
                modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                if "argparse" in modules:
                    bad.append(f"{name} parses arguments (imports argparse, line {node.lineno})")
    return bad


# Calls that open a file (read or write its contents); listing a folder, testing a path or making a folder do not.
OPENERS = frozenset({"open", "read_text", "write_text", "read_bytes", "write_bytes", "savefig"})  # any `x.f(...)`
MODULE_OPENERS = {  # `module.f(...)`; pandas: every `pd.read_*`
    "json": frozenset({"load", "dump"}),
    "pickle": frozenset({"load", "dump"}),
    "np": frozenset({"load", "save", "savez", "savez_compressed", "loadtxt", "savetxt", "genfromtxt"}),
    "nbformat": frozenset({"read", "write"}),
}
FRAME_WRITERS = frozenset({"to_parquet", "to_csv", "to_json", "to_feather", "to_pickle", "to_excel", "to_hdf"})
NOT_RUN_DATA = "# not run data:"  # on a call's lines: it opens no run folder's data (the renderer's own page, ...)
OPENING_FOLDERS = ("studies", "report")
THE_FOLDER_MODULE = "qrbench.studies.folder"  # RunFolder: the one reader and writer of a run folder


def _opens_a_file(call: ast.Call) -> bool:
    f = call.func
    if isinstance(f, ast.Name):
        return f.id == "open"
    if not isinstance(f, ast.Attribute):
        return False
    module = f.value.id if isinstance(f.value, ast.Name) else None
    if module in ("pd", "pandas") and f.attr.startswith("read_"):
        return True
    if f.attr in MODULE_OPENERS.get("np" if module == "numpy" else module or "", ()):
        return True
    given_a_file = bool(call.args) or any(k.arg in ("path", "path_or_buf", "excel_writer") for k in call.keywords)
    return f.attr in OPENERS or (f.attr in FRAME_WRITERS and given_a_file)


def file_opening_outside_the_run_folder(code: Codebase) -> list[str]:
    """In studies/ and report/, only studies/folder.py opens files, unless the call says it is no run data."""
    bad = []
    for name, tree in code.trees.items():
        if _folder(name) not in OPENING_FOLDERS or name == THE_FOLDER_MODULE:
            continue
        lines = code.sources[name].splitlines()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _opens_a_file(node):
                said = lines[node.lineno - 1 : node.end_lineno]
                if not any(NOT_RUN_DATA in line for line in said):
                    bad.append(f"{name} opens a file (line {node.lineno}: {ast.unparse(node.func)})")
    return bad


RULES: dict[str, Callable[[Codebase], list[str]]] = {
    "resolve": imports_that_resolve_nowhere,
    "cycles": import_cycles,
    "private": private_imports,
    "allow-list": imports_outside_the_folders_allow_list,
    "study internals": report_imports_of_study_internals,
    "analysis": analysis_imports_of_the_run,
    "programs": printing_or_argument_parsing_outside_programs,
    "run folder": file_opening_outside_the_run_folder,
}

# One planted module per rule: the rule must report it (by module name) on the checkout plus that module.
# The first module is the one the rule must name; the others complete the scene.
PLANTED: dict[str, dict[str, str]] = {
    "resolve": {"qrbench.load.planted": "import qrbench.load.no_such_module\n"},
    "cycles": {
        "qrbench.load.planted_a": "from . import planted_b\n",
        "qrbench.load.planted_b": "from . import planted_a\n",
    },
    "private": {"qrbench.report.planted": "from qrbench.load.driver import _no_such_private\n"},
    "allow-list": {"qrbench.stats.planted": "from qrbench.report import html\n"},
    "study internals": {"qrbench.report.planted": "from qrbench.studies.load import analysis\n"},
    "analysis": {
        "qrbench.studies.planted.analysis": "from . import run\n",
        "qrbench.studies.planted": "",
        "qrbench.studies.planted.run": "",
    },
    "programs": {"qrbench.monitor.planted": "import argparse\n\n\ndef f():\n    print('hello')\n"},
    "run folder": {
        "qrbench.studies.planted": (
            "import json\n\n\ndef f(run_dir):\n"
            "    return json.loads((run_dir / 'run.json').read_text())  # a comment, not the marker\n"
        )
    },
}


@pytest.fixture(scope="module")
def checkout() -> Codebase:
    return Codebase(PACKAGE)


def test_the_rules_read_the_checkout_and_its_whole_package(checkout):
    import qrbench

    assert (PACKAGE.parent / "pyproject.toml").is_file(), "the tests must check the checkout they sit in"
    assert len(checkout.sources) > 100
    assert {"qrbench.cli", "qrbench.stats", "qrbench.load.driver"} <= set(checkout.sources)
    assert set(ALLOWED) >= {_folder(n) for n in checkout.sources}, "a folder without an allow-list entry"
    assert Path(qrbench.__file__).resolve().parent == PACKAGE, "pytest imported a qrbench other than the checkout's"


@pytest.mark.parametrize("rule", RULES)
def test_the_checkout_keeps_the_rule(checkout, rule):
    bad = RULES[rule](checkout)
    assert not bad, f"{rule}:\n" + "\n".join(bad)


@pytest.mark.parametrize("rule", RULES)
def test_a_planted_violation_is_caught(rule):
    """Positive control: the rule fails on the checkout plus one module that breaks it."""
    planted = PLANTED[rule]
    module = next(iter(planted))
    bad = RULES[rule](Codebase(PACKAGE, planted=planted))
    assert any(module in line for line in bad), f"{rule} did not catch {module}: {bad}"


def test_every_study_package_has_params_run_and_analysis(checkout):
    from qrbench.studies import STUDIES

    assert STUDIES
    for study in STUDIES.values():
        for part in ("params", "run", "analysis"):
            assert f"qrbench.studies.{study.name}.{part}" in checkout.sources, (study.name, part)


def test_each_kind_of_opening_is_caught_and_the_marker_excuses_it():
    """Every opener the rule lists is seen (in any module of studies/ or report/ but folder.py), and only the
    lines of a call marked `# not run data:` are excused."""
    calls = [
        "open(p)",
        "p.open()",
        "p.read_text()",
        "p.write_text(s)",
        "p.read_bytes()",
        "p.write_bytes(b)",
        "fig.savefig(p)",
        "pd.read_parquet(p)",
        "pandas.read_csv(p)",
        "json.load(f)",
        "json.dump(v, f)",
        "pickle.load(f)",
        "np.load(p)",
        "numpy.save(p, a)",
        "nbformat.read(p, 4)",
        "frame.to_parquet(p)",
        "frame.to_csv(path_or_buf=p)",
    ]
    fine = ["json.loads(s)", "json.dumps(v)", "frame.to_csv()", "p.is_file()", "p.mkdir()", "folder.read_json(n)"]
    source = "".join(f"{c}\n" for c in calls + fine)
    source += "p.write_text(  # not run data: the renderer's own page\n    s\n)\nopen(\n    p  # not run data: x\n)\n"
    for module, caught in (("qrbench.report.planted", len(calls)), ("qrbench.studies.folder", 0)):
        bad = file_opening_outside_the_run_folder(Codebase(PACKAGE, planted={module: source}))
        assert len([line for line in bad if line.startswith(module + " ")]) == caught, (module, bad)
    outside = Codebase(PACKAGE, planted={"qrbench.load.planted": source})
    assert not [line for line in file_opening_outside_the_run_folder(outside) if "planted" in line]
