"""Schemathesis against the real service on loopback: the published schema is the enforced one (issue 12)."""

from __future__ import annotations

import subprocess
import sys

from qrbench.target import EmbeddedTarget


def test_schemathesis_finds_no_contract_violation(tmp_path):
    # The service in a process of its own: an in-process one shares the GIL with whatever other tests left
    # running (an abandoned Aer job holds it for seconds), which schemathesis would see as a timeout.
    with EmbeddedTarget(log_path=tmp_path / "serve.log") as target:
        # Positive and negative cases, every check, a fixed seed and a small number of examples per
        # operation: about 20 s on an idle machine.
        args = [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "run",
            target.url + "/openapi.json",
            "--checks",
            "all",
            "--mode",
            "all",
            "--max-examples",
            "15",
            "--seed",
            "12",
            "--phases",
            "examples,coverage,fuzzing",
            "--workers",
            "1",
            "--request-timeout",
            "60",
            "--no-color",
            "--report-dir",
            str(tmp_path),
        ]
        done = subprocess.run(args, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
