"""The Artillery engine: the exported script keeps the scenario's phases, mix and payloads; a real `artillery run`
writes records in the native schema, and at the same moderate load on the same stub both measure the same median.

Tolerance of the cross-check, as for Locust: the p50s may differ by at most 5 ms or 25 % of the native p50,
whichever is larger. Both engines time each request around the same loopback exchange with a stub that holds
every answer 20 ms; what differs is the client (aiohttp vs Node's http through got) and scheduling noise.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from qrbench.cli import main as qrbench_main
from qrbench.load import (
    RECORD_COLUMNS,
    ClosedModel,
    OpenModel,
    RequestSpec,
    load_records,
    load_run_info,
    run_load,
    start_stub_server,
)
from qrbench.load.artillery import ARTILLERY_DIR, PAYLOAD_FIELDS, artillery_script, run_artillery
from qrbench.load.data import RequestPool

ROOT = Path(__file__).parents[2]
installed = (ARTILLERY_DIR / "node_modules" / ".bin" / "artillery").is_file() and shutil.which("node") is not None
# Fail, never skip, without it: .ci/run installs it (node, and `npm ci --prefix integrations/artillery`).
needs_artillery = pytest.mark.usefixtures("artillery_installed")


@pytest.fixture
def artillery_installed():
    assert installed, "Artillery is not installed: run `npm ci --prefix integrations/artillery` (.ci/run does)."


SPECS = [
    RequestSpec(
        kind=f"k{i % 2}",
        endpoint="/v1/similarity",
        method="classical",
        n_candidates=1,
        body=json.dumps({"text1": f"a {i}", "text2": 'b, "quoted"', "method": "classical"}).encode(),
    )
    for i in range(6)
]
POOL = RequestPool(SPECS, kind_weights={"k0": 0.5, "k1": 0.5}, method_weights={"classical": 1.0}, seed=0)


@pytest.fixture(scope="module")
def url():
    with start_stub_server(delay_s=0.02) as u:
        yield u


def test_open_model_maps_segments_to_arrival_phases_and_kinds_to_weighted_scenarios():
    model = OpenModel(stages=[(10, 0, 20), (30, 20, 20), (5, 20, 60)])
    script, rows = artillery_script(model, POOL, target="http://127.0.0.1:1", payload_path="p.csv")
    assert script["config"]["phases"] == [
        {"duration": 10, "arrivalRate": 0.0, "rampTo": 20.0},
        {"duration": 30, "arrivalRate": 20.0},
        {"duration": 5, "arrivalRate": 20.0, "rampTo": 60.0},
    ]
    assert [(s["name"], s["weight"]) for s in script["scenarios"]] == [("k0", 50), ("k1", 50)]
    assert rows[0] == ("k0", "/v1/similarity", "classical", 1, SPECS[0].body.decode())
    assert script["config"]["payload"][0]["fields"] == list(PAYLOAD_FIELDS)


def test_closed_model_maps_user_rises_to_arrival_counts_and_refuses_sessions():
    model = ClosedModel(stages=[(60, 10), (0, 30), (30, 30), (20, 10)], think_time_s=1.0)
    script, _ = artillery_script(model, POOL, target="http://127.0.0.1:1", payload_path="p.csv")
    # Ramp to 10 users over 60 s; a step to 30 (its 20 users arrive in one second taken from the next 30 s);
    # then the fall to 10 is a pause: the processor makes the users above the schedule leave.
    assert script["config"]["phases"] == [
        {"duration": 60.0, "arrivalCount": 10},
        {"duration": 1, "arrivalCount": 20},
        {"duration": 29.0, "arrivalRate": 0},
        {"duration": 20.0, "arrivalRate": 0},
    ]
    plan = json.loads(script["config"]["variables"]["qrbenchPlan"])
    assert plan["model"] == "closed" and plan["points"][-1] == [110.0, 10.0] and plan["think"]["mean_s"] == 1.0
    assert [s["name"] for s in script["scenarios"]] == ["qrbench-user"]
    with pytest.raises(ValueError, match="sessions"):
        artillery_script(
            ClosedModel(users=2, duration_s=5, sessions={"mean_requests": 3, "pause_s": 1}),
            POOL,
            target="http://127.0.0.1:1",
            payload_path="p.csv",
        )


def test_export_cli_writes_the_peak_scenario_with_its_payload(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    out = tmp_path / "peak.yml"
    assert qrbench_main(["export", "artillery", "-p", "parameters/load_peak.yaml", "-o", str(out)]) == 0
    script = yaml.safe_load(out.read_text())
    phases = script["config"]["phases"]
    # 200 users over 180 s, the spike's 400 more within a second at 480 s, back to 200 at 600 s, end at 900 s.
    assert phases[0] == {"duration": 180.0, "arrivalCount": 200}
    assert {"duration": 1, "arrivalCount": 400} in phases
    assert sum(p["duration"] for p in phases) == pytest.approx(900.0)
    old_limit = csv.field_size_limit(1 << 24)  # a rerank_large body is ~120 KB, past the csv module's default
    try:
        with open(out.with_suffix(".csv"), newline="") as f:
            rows = list(csv.DictReader(f))
    finally:
        csv.field_size_limit(old_limit)
    assert len(rows) == 2000 and set(rows[0]) == set(PAYLOAD_FIELDS)
    shares = {k: sum(r["kind"] == k for r in rows) / len(rows) for k in ("similarity", "rerank_small")}
    assert shares == {"similarity": 0.3, "rerank_small": 0.4}  # the pool holds the mix exactly
    assert "payload" in capsys.readouterr().err


@needs_artillery
def test_artillery_and_native_agree_on_the_median(url, tmp_path):
    model = OpenModel(rate_rps=20, duration_s=5, arrivals="uniform")
    run_load(url, POOL, model, out_dir=tmp_path / "native", progress=False)
    result = run_artillery(url, POOL, model, out_dir=tmp_path / "artillery")
    a, b = load_records(tmp_path / "native"), load_records(result.run_dir)
    assert list(b.columns) == list(RECORD_COLUMNS) == list(a.columns)
    assert [str(t) for t in b.dtypes] == [str(t) for t in a.dtypes]
    assert abs(len(b) - 100) <= 2 and result.n_errors == 0 and b["ok"].all()
    assert set(b["kind"]) == {"k0", "k1"} and (b["user"] == -1).all()
    assert b["t_intended"].min() >= 0 and b["t_intended"].max() < 6.0  # t0 is Artillery's start, not Node's boot
    p50_native, p50_artillery = np.median(a["latency_ms"]), np.median(b["latency_ms"])
    tolerance = max(5.0, 0.25 * p50_native)
    assert abs(p50_artillery - p50_native) <= tolerance, (p50_native, p50_artillery)
    assert 20.0 <= p50_artillery < 20.0 + 30.0
    info = load_run_info(result.run_dir)
    assert info["finished"] and info["settings"]["engine"] == "artillery" and info["result"]["n_ok"] == len(b)


@needs_artillery
def test_closed_model_users_follow_the_schedule(url, tmp_path):
    # Two users, then a third from 1.5 s, who leaves at 3 s; think 0.1 s.
    model = ClosedModel(stages=[(0, 2), (1.5, 2), (0, 3), (1.5, 3), (0, 2), (1.0, 2)], think_time_s=0.1)
    result = run_artillery(url, POOL, model, out_dir=tmp_path / "closed")
    records = load_records(result.run_dir)
    assert result.n_errors == 0 and sorted(records["user"].unique()) == [0, 1, 2]
    third = records[records["user"] == 2]
    assert third["t_start"].min() >= 1.0 and third["t_start"].max() < 3.5
    assert (records["t_intended"] == records["t_start"]).all()


def test_raw_lines_become_records_with_the_shared_outcome_classifier(tmp_path):
    from qrbench.load.artillery import records_from_raw
    from qrbench.load.records import finalize_run

    raw = tmp_path / "raw"
    raw.mkdir()
    sent = dict(kind="k0", endpoint="/v1/rerank", method="hybrid", n_candidates=3, bytes_sent=50, user=-1)
    lines = [
        {"start_ms": 1_000_000.0},
        {
            **sent,
            "intended_ms": 1_000_100.0,
            "start_ms": 1_000_101.0,
            "end_ms": 1_000_130.0,
            "status": 200,
            "body": '{"computation_time_ms": 4.5, "query_metadata": {"classical_fallback": true}}',
        },
        {
            **sent,
            "intended_ms": 1_000_200.0,
            "start_ms": 1_000_200.0,
            "end_ms": 1_000_201.0,
            "status": 503,
            "body": "{}",
        },
        {
            **sent,
            "intended_ms": 1_000_300.0,
            "start_ms": 1_000_300.0,
            "end_ms": 1_000_302.0,
            "status": 0,
            "error": "ECONNREFUSED",
        },
    ]
    (raw / "raw-1-1.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines) + '{"torn')
    assert records_from_raw(raw, tmp_path / "run", t0_unix=1000.0) == 3
    finalize_run(tmp_path / "run")
    r = load_records(tmp_path / "run")
    assert list(r["error"]) == ["", "http_503", "connect"] and list(r["ok"]) == [True, False, False]
    first = r.iloc[0]
    assert first["t_intended"] == pytest.approx(0.1) and first["latency_ms"] == pytest.approx(30.0)
    assert first["late_ms"] == pytest.approx(1.0) and first["server_ms"] == 4.5 and first["fallback"]
