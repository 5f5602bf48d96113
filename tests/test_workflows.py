"""The GitHub workflows validate against the GitHub workflow schema (check-jsonschema's vendored copy, offline)
and run the specification's schedule: what runs when, and that every job keeps its reports as artifacts."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytest.importorskip("check_jsonschema", reason="check-jsonschema is a dev extra")

GITHUB = Path(__file__).parents[1] / ".github"
WORKFLOWS = sorted((GITHUB / "workflows").glob("*.yml"))


def _check(schema: str, paths: list[Path]) -> subprocess.CompletedProcess:
    exe = shutil.which("check-jsonschema")
    cmd = [exe] if exe else [sys.executable, "-m", "check_jsonschema"]
    return subprocess.run(
        [*cmd, "--builtin-schema", schema, *map(str, paths)], capture_output=True, text=True, timeout=120
    )


def test_workflows_and_the_setup_action_validate_against_the_github_schemas(tmp_path):
    assert len(WORKFLOWS) == 3
    done = _check("vendor.github-workflows", WORKFLOWS)
    assert done.returncode == 0, done.stdout + done.stderr
    done = _check("vendor.github-actions", [GITHUB / "actions" / "setup-qrbench" / "action.yml"])
    assert done.returncode == 0, done.stdout + done.stderr
    broken = tmp_path / "broken.yml"
    broken.write_text("on: push\njobs:\n  x:\n    runs-on: ubuntu-24.04\n    stepz: []\n")
    assert _check("vendor.github-workflows", [broken]).returncode != 0  # the check does reject a bad file


def _load(name: str) -> dict:
    doc = yaml.safe_load((GITHUB / "workflows" / name).read_text())
    doc["on"] = doc.pop(True)  # YAML 1.1 reads the key `on` as true
    return doc


def _runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def test_the_schedule_is_the_specifications():
    schedule = _load("schedule.yml")
    crons = [c["cron"] for c in schedule["on"]["schedule"]]
    assert crons == ["0 2 * * *", "0 6 * * *", "0 1 * * 0", "0 3 * * 0"]
    jobs = schedule["jobs"]
    for job, cron, command in (
        ("baseline", "0 2 * * *", "qrbench study baseline"),
        ("regression", "0 6 * * *", "qrbench compare"),
        ("load", "0 1 * * 0", "qrbench study load"),
        ("scalability", "0 3 * * 0", "qrbench study scalability"),
    ):
        assert f"github.event.schedule == '{cron}'" in jobs[job]["if"]
        assert command in _runs(jobs[job])


def test_pull_requests_and_releases():
    pr = _load("pull-request.yml")
    assert "pull_request" in pr["on"] and pr["on"]["push"]["branches"] == ["main"]
    steps = _runs(pr["jobs"]["quick-suite"])
    assert "qrbench suite --scale quick" in steps and "--fail-on-violation" in steps
    # main and the pull request are measured in one job, in one interleaved run (qrbench ab), not against an artifact
    assert "qrbench ab --a http://127.0.0.1:8101 --b http://127.0.0.1:8102" in steps
    checkouts = [s for s in pr["jobs"]["quick-suite"]["steps"] if s.get("uses", "").startswith("actions/checkout")]
    assert any(s.get("with", {}).get("path") == "main-checkout" for s in checkouts)
    assert 'PYTHONPATH="$PWD/main-checkout"' in steps and '"$status" -eq 4' in steps
    release = _load("release.yml")
    assert release["on"]["release"]["types"] == ["published"]
    assert "qrbench suite --scale full" in _runs(release["jobs"]["full-suite"])
    assert "parameters/load_stress.yaml" in _runs(release["jobs"]["stress"])


def test_every_job_that_measures_uploads_its_reports():
    for path in WORKFLOWS:
        for name, job in _load(path.name)["jobs"].items():
            if name == "regression":
                continue  # compares two downloaded artifacts; its table goes to the step summary
            uses = [s.get("uses", "") for s in job["steps"]]
            assert any(u.startswith("actions/upload-artifact@") for u in uses), (path.name, name)
