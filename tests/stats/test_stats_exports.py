"""qrbench.stats exports every public name of its modules and imports nothing else of qrbench."""

import ast
import importlib
import pkgutil
from pathlib import Path

import qrbench.stats as package

PUBLIC_MODULES = [m.name for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_")]


def test_all_names_are_importable_and_unique():
    assert len(package.__all__) == len(set(package.__all__))
    for name in package.__all__:
        assert getattr(package, name) is not None


def test_package_all_covers_every_public_module():
    exported = set(package.__all__)
    assert PUBLIC_MODULES, "no public modules found"
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(f"qrbench.stats.{module_name}")
        for name in module.__all__:
            assert hasattr(module, name), f"{module_name}.__all__ lists missing {name}"
            assert name in exported, f"{module_name}.{name} is not re-exported by qrbench.stats"


def test_stats_imports_nothing_else_of_qrbench():
    for path in Path(package.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("qrbench"):
                assert node.module.startswith("qrbench.stats"), f"{path.name} imports {node.module}"
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith("qrbench") or alias.name.startswith("qrbench.stats")
