"""A study of one's own, registered the way the README's "Adding a study" says: a module defining `STUDY` (a
`StudyDef`) and `ENTRY` (a `StudyEntry`), named in $QRBENCH_STUDIES, with its parameter files under parameters/
and a notebook. It runs through `qrbench study toy` and `qrbench suite --studies toy` like a shipped study."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from qrbench.load import start_stub_server

REPO = Path(__file__).resolve().parents[2]
SENTENCE = "The toy counted its 7 rows and found them all."

TOY_MODULE = '''
"""The toy study: counts the rows of a small frame it writes into its run folder."""

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from qrbench.studies import RunFolder, StudyDef, StudyEntry


@dataclass(frozen=True, slots=True, kw_only=True)
class ToyParams:
    rows: int = 3
    sentence: str = ""


@dataclass(frozen=True, slots=True)
class ToyReport:
    rows: int
    sentence: str


def run_toy(params, run_dir, *, url=None, progress=True):
    folder = RunFolder.create(run_dir, study="toy", params={"rows": params.rows, "sentence": params.sentence})
    folder.update(target={"url": url})
    folder.write_frame("counts", pd.DataFrame({"i": range(params.rows)}))
    folder.finish()


def analyse_toy(run_dir, params):
    return ToyReport(rows=len(RunFolder(run_dir).read_frame("counts")), sentence=params.sentence)


def summary(report):
    return {
        "study": "toy",
        "verdict": "pass" if report.rows > 0 else "fail",
        "verdict_reasons": [report.sentence],
        "rows": report.rows,
    }


STUDY = StudyDef(
    name="toy",
    params_type=ToyParams,
    default_params="parameters/toy.yaml",
    run_fn=run_toy,
    analyse_fn=analyse_toy,
    summary_fn=summary,
)
ENTRY = StudyEntry(
    name="toy",
    module=__name__,
    expected_s={"smoke": 10, "quick": 10, "full": 10},
    notebook=Path(__file__).with_name("toy.ipynb"),
)
'''


def _toy_notebook(path: Path) -> None:
    parameters = new_code_cell(
        'params_file = "parameters/toy.yaml"\nurl = None\nprogress = True\nrun_dir = None\nbaseline_run = None'
    )
    parameters.metadata["tags"] = ["parameters"]
    nb = new_notebook(
        cells=[
            new_markdown_cell("# Toy study"),
            parameters,
            new_code_cell(
                "from IPython.display import Markdown, display\n\n"
                "from qrbench.studies import get_study, write_summary\n\n"
                'study = get_study("toy")\n'
                "study.run(study.load_params(params_file), run_dir, url, progress=progress)\n"
                "report = study.analyse(run_dir)\n"
                "display(Markdown(report.sentence))\n"
                "summary_path = write_summary(run_dir, study.summary(report))"
            ),
        ],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    nbformat.write(nb, path)


@pytest.fixture
def toy(tmp_path):
    """A folder holding the toy study (toy_study.py, toy.ipynb) and its parameter files, and the environment that
    registers it: $QRBENCH_STUDIES names the module, PYTHONPATH finds it (also in the papermill kernels)."""
    code = tmp_path / "toy_pkg"
    code.mkdir()
    (code / "toy_study.py").write_text(TOY_MODULE)
    _toy_notebook(code / "toy.ipynb")
    work = tmp_path / "work"
    for folder in ("parameters", "parameters/quick", "parameters/smoke"):
        (work / folder).mkdir(parents=True)
        (work / folder / "toy.yaml").write_text(f"rows: 7\nsentence: {SENTENCE}\n")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, (str(code), str(REPO), os.environ.get("PYTHONPATH")))),
        "QRBENCH_STUDIES": "toy_study",
        "HF_HUB_OFFLINE": "1",
    }
    return work, env


def _qrbench(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "qrbench", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_a_registered_study_runs_through_qrbench_study(toy):
    work, env = toy
    listed = _qrbench("study", "--help", cwd=work, env=env)
    assert "toy" in listed.stdout.split("{", 1)[1].split("}", 1)[0].split(",")
    with start_stub_server() as url:
        done = _qrbench("study", "toy", "--url", url, "--no-progress", cwd=work, env=env)
    assert "toy: verdict pass" in done.stdout
    (run_dir,) = (work / "outputs").glob("*-toy")
    facts = json.loads((run_dir / "run.json").read_text())
    assert facts["study"] == "toy" and facts["params"] == {"rows": 7, "sentence": SENTENCE}
    assert facts["target"] == {"url": url} and facts["ended_unix"] >= facts["started_unix"]
    assert (run_dir / "counts.parquet").is_file()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["rows"] == 7 and summary["verdict"] == "pass" and summary["scale"] == "full"
    assert SENTENCE in (run_dir / "toy.html").read_text()
    assert "get_study" in (run_dir / "toy-code.html").read_text()  # with code
    assert "get_study" not in (run_dir / "toy.html").read_text()  # for stakeholders: no code
    assert run_dir.name in (work / "outputs" / "index.html").read_text()


def test_a_registered_study_runs_in_the_suite_with_its_stated_duration(toy):
    work, env = toy
    with start_stub_server() as url:
        done = _qrbench("suite", "--studies", "toy", "--url", url, "--out", "out", cwd=work, env=env)
    assert "toy: pass" in done.stdout and "suite: verdict pass" in done.stdout
    assert "1 studies at quick scale" in done.stderr
    assert "[1/1] toy: started (toy.yaml); " in done.stderr and "about 0:10 left" in done.stderr  # its entry's 10 s
    (suite_dir,) = (work / "out").glob("*-suite")
    summary = json.loads((suite_dir / "summary.json").read_text())
    assert summary["verdict"] == "pass" and set(summary["durations_s"]) == {"toy"}
    study = json.loads((suite_dir / "toy" / "summary.json").read_text())
    assert study["rows"] == 7 and study["scale"] == "quick"
    assert SENTENCE in (suite_dir / "toy" / "toy.html").read_text()
    assert SENTENCE in (suite_dir / "report.html").read_text()


def test_a_module_without_an_entry_is_named(toy):
    work, env = toy
    done = subprocess.run(
        [sys.executable, "-m", "qrbench", "study", "--help"],
        cwd=work,
        env={**env, "QRBENCH_STUDIES": "json"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "QRBENCH_STUDIES names 'json'" in done.stderr
