"""The package works installed, outside the checkout: a wheel built from this tree, installed with --no-deps
into a fresh venv that borrows the dependencies from the system site-packages (nothing is downloaded), runs a
smoke load study from an empty folder, finding its parameters and data inside the wheel."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from qrbench.load import start_stub_server

ROOT = Path(__file__).resolve().parents[2]  # the checkout under test (the wheel is built from it)


def _copy_tree(dest: Path) -> None:
    """The checkout's sources without outputs/, caches and build leftovers."""
    shutil.copytree(
        ROOT,
        dest,
        ignore=shutil.ignore_patterns(
            ".git",
            "outputs",
            "build",
            "dist",
            "*.egg-info",
            "__pycache__",
            ".pytest_cache",
            ".ruff_cache",
            ".benchmarks",
            ".ipynb_checkpoints",
        ),
    )


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """bin/ of a venv holding the wheel built from this checkout."""
    work = tmp_path_factory.mktemp("wheel")
    _copy_tree(work / "src")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-q",
            "-w",
            str(work / "dist"),
            str(work / "src"),
        ],
        check=True,
        timeout=300,
    )
    (wheel,) = (work / "dist").glob("qrbench-*.whl")
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(work / "venv")
    bin_dir = work / "venv" / "bin"
    # The system's pip installs into the venv when run by the venv's python (no pip of its own needed).
    subprocess.run(
        [
            str(bin_dir / "python"),
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "--ignore-installed",
            "-q",
            str(wheel),
        ],
        check=True,
        timeout=300,
    )
    return bin_dir


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    return {**env, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def test_the_venv_imports_the_wheel_not_the_checkout(installed, tmp_path):
    out = subprocess.run(
        [
            str(installed / "python"),
            "-c",
            "import qrbench, qrbench.resources as r; "
            "print(qrbench.__file__); print(r.bundled('parameters')); print(r.bundled('data'))",
        ],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    package, parameters, data = out.stdout.split()
    venv_dir = str(installed.parent)
    assert package.startswith(venv_dir), package
    assert parameters.startswith(venv_dir) and data.startswith(venv_dir)
    assert (Path(parameters) / "smoke" / "load_normal.yaml").is_file()


def test_init_copies_the_notebooks_and_parameters(installed, tmp_path):
    subprocess.run(
        [str(installed / "qrbench"), "init", "work"],
        cwd=tmp_path,
        env=_env(),
        check=True,
        timeout=120,
        capture_output=True,
    )
    assert {p.name for p in (tmp_path / "work").glob("*.ipynb")} == {
        "baseline.ipynb",
        "load.ipynb",
        "bottlenecks.ipynb",
        "scalability.ipynb",
        "explore.ipynb",
        "ab.ipynb",
    }
    assert (tmp_path / "work" / "parameters" / "smoke" / "baseline.yaml").is_file()


def test_a_smoke_load_study_runs_from_an_empty_folder(installed, tmp_path):
    with start_stub_server(delay_s=0.005) as url:
        done = subprocess.run(
            [
                str(installed / "qrbench"),
                "load",
                "-p",
                "parameters/smoke/load_normal.yaml",
                "--url",
                url,
                "--time-scale",
                "0.1",
                "--no-progress",
            ],
            cwd=tmp_path,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=300,
        )
    assert done.returncode == 0, done.stderr[-2000:]
    (run_dir,) = (tmp_path / "outputs").iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    facts = json.loads((run_dir / "run.json").read_text())
    assert summary["requests"] > 0 and summary["ok"] == summary["requests"]
    assert facts["study"] == "load" and facts["versions"]["qrbench"] == "0.1.0" and facts["git_commit"] is None
    assert "scenario normal:" in done.stdout
