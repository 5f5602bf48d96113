"""The Locust engine: records from Locust's request hook match the native driver's schema and analysis, and at
the same moderate load on the same target both measure the same median latency.

Tolerance of the cross-check: the p50s may differ by at most 5 ms or 25 % of the native p50, whichever is larger.
Both engines time each request with perf_counter around the same loopback exchange with a stub that holds every
answer 20 ms; what differs is the client (aiohttp on asyncio vs geventhttpclient on gevent), worth about a
millisecond here, plus scheduling noise on a busy 2-core machine.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from qrbench.cli import main
from qrbench.load import (
    RECORD_COLUMNS,
    RECORD_SCHEMA,
    ClosedModel,
    OpenModel,
    RequestSpec,
    cycle_source,
    load_records,
    load_run_info,
    run_load,
    start_stub_server,
)
from qrbench.load.locust_engine import remote_worker_command, run_locust, shift_times
from qrbench.load.records import classify_exception, dropped_record, request_record
from qrbench.studies import read_summary
from qrbench.studies.analysis import stage_table
from qrbench.studies.scalability import SloParams
from qrbench.studies.scalability.analysis import step_summary

SPECS = [
    RequestSpec(kind=f"k{i}", endpoint="/v1/similarity", method="classical", n_candidates=1, body=b"{}")
    for i in range(4)
]


@pytest.fixture(scope="module")
def url():
    with start_stub_server(delay_s=0.02) as u:
        yield u


def test_records_have_the_native_columns_and_error_kinds():
    spec = SPECS[0]
    common = dict(seq=3, worker=1, user=-1, stage="s", spec=spec, t_intended=1.0, t_start=1.5, t_end=2.0)
    ok = request_record(
        **common, status=200, body=b'{"computation_time_ms": 4.5, "query_metadata": {"classical_fallback": true}}'
    )
    assert len(ok) == len(RECORD_COLUMNS)
    row = dict(zip(RECORD_COLUMNS, ok, strict=True))
    assert row["ok"] and row["error"] == "" and row["server_ms"] == 4.5 and row["fallback"]
    assert row["latency_ms"] == 1000.0 and row["service_ms"] == 500.0 and row["late_ms"] == 500.0
    kinds = {
        status: dict(zip(RECORD_COLUMNS, request_record(**common, status=status, body=b"<html>"), strict=True))["error"]
        for status in (200, 404, 500, 503)
    }
    assert kinds == {200: "bad_body", 404: "http_4xx", 500: "http_5xx", 503: "http_503"}
    assert classify_exception(ConnectionRefusedError()) == "connect"
    assert classify_exception(ConnectionResetError()) == "reset"
    assert classify_exception(TimeoutError()) == "timeout"
    dropped = dict(
        zip(RECORD_COLUMNS, dropped_record(seq=0, worker=0, stage="", spec=spec, t_intended=1.0, now=1.2), strict=True)
    )
    assert dropped["error"] == "dropped" and math.isnan(dropped["latency_ms"])
    (moved,) = shift_times([ok], 10.0)
    assert moved[8:11] == (11.0, 11.5, 12.0)
    assert "--worker --master-host 10.1.2.3 --master-port 5557" in remote_worker_command("10.1.2.3", 5557)


def test_locust_and_native_agree_on_the_median(url, tmp_path):
    model = OpenModel(rate_rps=20, duration_s=5, arrivals="uniform")
    native = run_load(url, cycle_source(SPECS), model, out_dir=tmp_path / "native", progress=False)
    locust = run_locust(url, cycle_source(SPECS), model, workers=2, out_dir=tmp_path / "locust", progress=False)
    a, b = load_records(tmp_path / "native"), load_records(tmp_path / "locust")
    assert list(b.columns) == list(RECORD_COLUMNS) == list(a.columns)
    assert [str(t) for t in b.dtypes] == [str(t) for t in a.dtypes]
    assert native.n_ok == 100 and abs(locust.n_ok - 100) <= 2 and locust.n_errors == 0
    assert sorted(b["worker"].unique()) == [0, 1] and (b["user"] == -1).all()
    assert b["t_intended"].min() >= 0 and b["t_intended"].max() < 5.5
    p50_native, p50_locust = np.median(a["latency_ms"]), np.median(b["latency_ms"])
    tolerance = max(5.0, 0.25 * p50_native)
    assert abs(p50_locust - p50_native) <= tolerance, (p50_native, p50_locust)
    assert 20.0 <= p50_locust < 20.0 + 30.0  # the stub's 20 ms, measured, not a rounded figure
    assert not np.allclose(b["latency_ms"], b["latency_ms"].round())
    info = load_run_info(tmp_path / "locust")
    assert info["finished"] and info["settings"]["engine"] == "locust" and info["result"]["processes"] == 2
    # The same analysis reads either engine's records.
    for records in (a, b):
        summary = step_summary(records, duration_s=5.0, slo=SloParams())
        assert summary["meets"] and summary["ok"] == len(records)
        assert set(stage_table(records.assign(stage="x"))["stage"]) == {"x"}


def test_closed_model_with_iterations_ends_by_itself(url, tmp_path):
    model = ClosedModel(users=4, iterations=6, think_time_s=0.05)
    result = run_locust(url, cycle_source(SPECS), model, workers=2, out_dir=tmp_path / "run", progress=False)
    records = load_records(tmp_path / "run")
    assert result.n_requests == result.n_ok == len(records) == 24
    assert sorted(records.groupby("user").size().tolist()) == [6, 6, 6, 6]
    assert (records["t_intended"] == records["t_start"]).all()  # closed model: no intended time apart from sending
    assert list(records.columns) == RECORD_SCHEMA.names


def test_qrbench_load_engine_locust_writes_the_load_study_folder(url, tmp_path, capsys):
    code = main(
        [
            "load",
            "--url",
            url,
            "--mode",
            "open",
            "--rate",
            "10",
            "--duration",
            "3s",
            "--arrivals",
            "uniform",
            "--engine",
            "locust",
            "--workers",
            "1",
            "--out",
            str(tmp_path),
            "--no-progress",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    (run_dir,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert "30 requests" in out and "generator: 1 process(es)" in out
    assert read_summary(run_dir)["requests"] == 30
    assert (run_dir / "load" / "locust" / "master.log").is_file()


def test_workers_option_needs_the_locust_engine(url, tmp_path, capsys):
    code = main(
        [
            "load",
            "--url",
            url,
            "--mode",
            "open",
            "--rate",
            "10",
            "--duration",
            "1s",
            "--workers",
            "2",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 2 and "--engine locust" in capsys.readouterr().err
