"""RecordWriter streams, finalize_run merges, load_records reads either (torn last lines included)."""

import math

import pandas as pd
import pytest

from qrbench.errors import ParameterError, RunError
from qrbench.load import (
    RECORD_COLUMNS,
    RecordWriter,
    finalize_run,
    load_records,
    load_run_info,
    write_run_info,
)


def record(seq, worker=0, *, error="", ok=True, server_ms=1.5, kind="rerank, small"):
    t = seq * 0.01
    return (
        seq,
        worker,
        3,
        "peak",
        kind,
        "/v1/rerank",
        "hybrid",
        25,
        t,
        t,
        t + 0.002,
        2.0,
        2.0,
        200 if ok else 0,
        ok,
        error,
        120,
        80,
        server_ms,
        not ok,
        0.0,
    )


EXPECTED_DTYPES = {
    "seq": "int64",
    "worker": "int64",
    "user": "int64",
    "n_candidates": "int64",
    "status": "int64",
    "bytes_sent": "int64",
    "bytes_received": "int64",
    "t_intended": "float64",
    "latency_ms": "float64",
    "server_ms": "float64",
    "late_ms": "float64",
    "ok": "bool",
    "fallback": "bool",
}


def test_record_tuples_match_the_columns():
    assert len(record(0)) == len(RECORD_COLUMNS)


def test_stream_then_finalize_round_trip(tmp_path):
    with RecordWriter(tmp_path, worker=0) as w0, RecordWriter(tmp_path, worker=1) as w1:
        for i in range(5):
            w0.append(record(i, 0))
            w1.append(record(i, 1, error="timeout", ok=False, server_ms=math.nan))
        assert w0.flush() == 5
        partial = load_records(tmp_path)  # before close: what a live notebook would see
        assert len(partial) == 5
    df = load_records(tmp_path)
    assert len(df) == 10 and list(df.columns) == list(RECORD_COLUMNS)
    for column, dtype in EXPECTED_DTYPES.items():
        assert str(df[column].dtype) == dtype, column
    assert df["kind"].iloc[0] == "rerank, small"  # a comma survives CSV quoting
    assert set(df["error"]) == {"", "timeout"}  # "" stays an empty string, not NaN
    assert df.loc[df.worker == 1, "server_ms"].isna().all()

    path = finalize_run(tmp_path)
    assert path.name == "records.parquet" and not (tmp_path / "parts").exists()
    merged = load_records(tmp_path)
    pd.testing.assert_frame_equal(merged, df.reset_index(drop=True))
    assert merged["t_intended"].is_monotonic_increasing
    assert finalize_run(tmp_path) == path  # idempotent


def test_torn_last_line_is_dropped(tmp_path):
    with RecordWriter(tmp_path, worker=0) as w:
        for i in range(3):
            w.append(record(i))
    with open(tmp_path / "parts" / "records-w000.csv", "a") as f:
        f.write("3,0,3,peak,rer")  # a kill mid-write
    assert len(load_records(tmp_path)) == 3
    finalize_run(tmp_path)
    assert len(load_records(tmp_path)) == 3


def test_buffer_flushes_itself_when_large(tmp_path):
    w = RecordWriter(tmp_path, worker=0, max_buffered=4)
    for i in range(9):
        w.append(record(i))
    assert w.n_written == 8
    w.close()
    w.close()
    assert w.n_written == 9


def test_empty_run_finalizes_to_an_empty_typed_table(tmp_path):
    RecordWriter(tmp_path, worker=0).close()
    finalize_run(tmp_path)
    df = load_records(tmp_path)
    assert len(df) == 0 and str(df["ok"].dtype) == "bool"


def test_a_worker_file_is_never_reused(tmp_path):
    RecordWriter(tmp_path, worker=2).close()
    with pytest.raises(ParameterError, match="already exists"):
        RecordWriter(tmp_path, worker=2)


def test_missing_run_is_a_run_error(tmp_path):
    with pytest.raises(RunError, match="holds no records"):
        load_records(tmp_path)
    with pytest.raises(RunError):
        finalize_run(tmp_path)
    with pytest.raises(RunError, match="run.json"):
        load_run_info(tmp_path)


def test_run_info_round_trip(tmp_path):
    write_run_info(tmp_path, {"t0_unix": 1.5, "target": "http://127.0.0.1:1"})
    assert load_run_info(tmp_path) == {"t0_unix": 1.5, "target": "http://127.0.0.1:1"}
