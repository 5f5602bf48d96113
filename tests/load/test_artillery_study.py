"""Artillery as the load study's third engine: `qrbench load -p FILE --engine artillery` runs the real
`artillery run` into a study run folder that the load analysis reads unchanged, and its median agrees with the
native driver's on the same scenario and stub (within max(5 ms, 25 %), the tolerance of the Locust and
engine-level Artillery checks; the stub holds every answer 20 ms)."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest
import yaml

from qrbench.cli import main as qrbench_main
from qrbench.errors import ParameterError
from qrbench.load import load_run_info, start_stub_server
from qrbench.load.artillery import ARTILLERY_DIR
from qrbench.load.engine import ArtilleryEngine, make_engine
from qrbench.studies import get_study
from qrbench.studies.load import analyse_load, run_load_study

installed = (ARTILLERY_DIR / "node_modules" / ".bin" / "artillery").is_file() and shutil.which("node") is not None
SCENARIO = {
    "name": "artillery-smoke",
    "model": "open",
    "rate_rps": 20,
    "arrivals": "uniform",
    "duration_s": 10,
    "mix": {"similarity": 0.5, "rerank_small": 0.5},
    "pool_size": 20,
    "sample_interval_s": 0.5,
    "request_timeout_s": 5,
}


def test_the_engine_is_registered_and_refuses_a_plain_callable():
    assert isinstance(make_engine("artillery", seed=3), ArtilleryEngine)
    with pytest.raises(ParameterError, match="RequestPool"):
        ArtilleryEngine().run(
            "http://127.0.0.1:1",
            lambda: None,
            None,
            out_dir=None,
            stage="",
            timeout_s=1.0,
            progress=False,
            headers=None,
            allow_remote=False,
        )


def test_artillery_study_run_is_analysed_like_a_native_one_and_agrees_on_the_median(tmp_path):
    assert installed, "Artillery is not installed: run `npm ci --prefix integrations/artillery` (.ci/run does)."
    scenario = tmp_path / "load_artillery.yaml"
    scenario.write_text(yaml.safe_dump(SCENARIO))
    params = get_study("load").load_params(scenario)
    with start_stub_server(delay_s=0.02) as url:
        code = qrbench_main(
            [
                "load",
                "-p",
                str(scenario),
                "--engine",
                "artillery",
                "--url",
                url,
                "--out",
                str(tmp_path / "out"),
                "--time-scale",
                "0.5",
                "--no-progress",
            ]
        )
        native = run_load_study(
            dataclasses.replace(params, time_scale=0.5), tmp_path / "native", url=url, progress=False
        )
    assert code == 0
    (run_dir,) = (tmp_path / "out").glob("*-load-artillery-smoke")
    facts = json.loads((run_dir / "run.json").read_text())
    assert facts["engine"]["name"] == "artillery"
    assert load_run_info(run_dir / "load")["settings"]["engine"] == "artillery"
    assert (run_dir / "load" / "artillery" / "script.yml").is_file()
    a, n = analyse_load(run_dir, params), analyse_load(native, params)
    assert abs(len(a.records) - 100) <= 3 and a.records["ok"].all()
    assert set(a.records["kind"]) == {"similarity", "rerank_small"}
    p50_artillery = float(np.median(a.records["latency_ms"]))
    p50_native = float(np.median(n.records["latency_ms"]))
    assert abs(p50_artillery - p50_native) <= max(5.0, 0.25 * p50_native), (p50_native, p50_artillery)
    assert a.verdict in ("pass", "warn", "fail", "insufficient")
