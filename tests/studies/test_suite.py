"""`qrbench suite` and the newcomer path, as a user runs them: the real command in a fresh folder, real kernels,
the real embedded service; report.html checked in headless Chromium."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from qrbench.report.suite import plan_suite
from qrbench.studies import interactive_run_dir

REPO = Path(__file__).resolve().parents[2]
needs_chromium = pytest.mark.skipif(
    shutil.which("chromium") is None, reason="Debian's chromium is not installed (.ci/run installs it)"
)


def test_every_scale_has_a_valid_parameter_file_per_study():
    for scale in ("quick", "full", "smoke"):
        plan = plan_suite(scale)
        assert [name for name, _ in plan.studies] == ["baseline", "load", "bottlenecks", "scalability"]
        assert all(path.is_file() for _, path in plan.studies)
        assert plan.expected_s > 0


def test_the_quick_scale_fits_ten_minutes_and_full_studies_thirty():
    from qrbench.report.suite import expected_seconds

    studies = {name for name, _ in plan_suite("quick").studies}
    assert set(expected_seconds("quick")) == set(expected_seconds("full")) == studies
    assert sum(expected_seconds("quick").values()) <= 600
    assert max(expected_seconds("full").values()) <= 1800


@pytest.mark.parametrize(
    "args",
    [
        ("study", "baseline", "-p", "parameters/nope.yaml"),
        ("study", "baseline", "-p", "bad.yaml"),
        ("suite", "--params-dir", "badparams"),
        ("suite", "--baseline", "not-a-suite"),
        ("study", "load", "-p", "parameters/smoke/load_normal.yaml", "--baseline", "."),
    ],
)
def test_a_bad_parameter_file_fails_before_a_kernel_and_leaves_no_run_folder(tmp_path, args, qrbench):
    (tmp_path / "bad.yaml").write_text("seed: 0\nsimilarity: {iterations: 0}\n")
    (tmp_path / "badparams").mkdir()
    for name in ("baseline", "load_normal", "bottlenecks", "scalability"):
        shutil.copy(REPO / "parameters" / "smoke" / f"{name}.yaml", tmp_path / "badparams")
    (tmp_path / "badparams" / "load_normal.yaml").write_text("users: -3\n")
    (tmp_path / "not-a-suite").mkdir()
    done = qrbench(*args, cwd=tmp_path, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("qrbench: ") and "Traceback" not in done.stderr
    assert not (tmp_path / "outputs").exists()


def test_help_describes_every_option():
    import argparse

    from qrbench.cli import build_parser

    parser = build_parser()
    assert "PRD targets" in parser.description
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name in ("suite", "study", "init"):
        for action in subparsers.choices[name]._actions:
            assert action.help, f"qrbench {name} {action.option_strings or action.dest} has no help"


def test_a_notebook_run_by_hand_writes_beside_parameters_not_into_notebooks(tmp_path):
    (tmp_path / "parameters").mkdir()
    (tmp_path / "notebooks").mkdir()
    run = interactive_run_dir("baseline", start=tmp_path / "notebooks")
    assert run.parent == tmp_path / "outputs" and run.name.endswith("-baseline")


def _service_tree(root: psutil.Process, timeout_s: float = 300) -> list[psutil.Process]:
    """The descendants of `root` once the embedded service (`qrbench serve`) is among them."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        kids = root.children(recursive=True)
        if any("serve" in " ".join(k.cmdline()) for k in kids if k.is_running()):
            return kids
        time.sleep(0.5)
    raise AssertionError("the embedded service did not start")


@pytest.mark.parametrize(
    ("args", "sig", "code"),
    [
        (("suite", "--params-dir", "smoke"), signal.SIGTERM, 143),
        (("study", "load", "-p", "parameters/smoke/load_normal.yaml"), signal.SIGINT, 130),
    ],
)
def test_stopping_stops_the_service_and_every_child(tmp_path, args, sig, code, checkout_env):
    proc = subprocess.Popen(
        [sys.executable, "-m", "qrbench", *args, "--no-progress"],
        cwd=tmp_path,
        env=checkout_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        tree = _service_tree(psutil.Process(proc.pid))
        time.sleep(2)  # let the study get going
        tree = {p.pid: p for p in tree + psutil.Process(proc.pid).children(recursive=True)}.values()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == code, err
        gone, alive = psutil.wait_procs(list(tree), timeout=30)
        assert alive == [], [p.cmdline() for p in alive if p.is_running()]
    finally:
        if proc.poll() is None:
            proc.kill()


@needs_chromium
def test_the_smoke_suite_with_the_default_out_answers_on_its_first_screen(smoke_suite, tmp_path):
    from qrbench.report.browser import check_report

    done, suite = smoke_suite.done, smoke_suite.folder  # `qrbench suite --params-dir smoke` (tests/conftest.py)
    assert "expected about" in done.stderr and "[4/4] scalability:" in done.stderr
    assert "without encryption" not in done.stderr and "unknown parameter" not in done.stderr
    assert suite.parent == smoke_suite.cwd / "outputs"
    summary = json.loads((suite / "summary.json").read_text())
    assert summary["study"] == "suite" and summary["scale"] == "smoke"
    assert set(summary["studies"]) == {"baseline", "load", "bottlenecks", "scalability"}
    for study in summary["studies"]:
        assert (suite / study / f"{study}.html").is_file()
    check = check_report(suite / "report.html", screenshot_to=tmp_path / "first-screen.png")
    assert check.problems == []
    assert check.verdict_in_first_viewport
    index = (suite.parent / "index.html").read_text()
    assert f"{suite.name}/report.html" in index


def test_a_smoke_study_with_a_relative_out(tmp_path, qrbench):
    done = qrbench(
        "study", "load", "-p", "parameters/smoke/load_normal.yaml", "--out", "runs/here", "--no-progress", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (run,) = (tmp_path / "runs" / "here").glob("*-load")
    assert (run / "summary.json").is_file() and (run / "load.html").is_file()
    assert json.loads((run / "summary.json").read_text())["scale"] == "smoke"
    assert not list(run.glob("runs")) and not list(run.glob("outputs"))
    assert (tmp_path / "runs" / "here" / "index.html").is_file()
    assert "without encryption" not in done.stderr and "unknown parameter" not in done.stderr
