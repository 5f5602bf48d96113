"""Per-request records: the schema, the streaming writer, and the merge into one parquet file.

A run folder holds::

    run.json                      wall-clock anchor, settings, target (written at start, updated at the end)
    parts/records-w000.csv        one append-only stream per driver process, flushed every ~0.5 s
    records.parquet               all parts merged with the schema's dtypes (written by finalize_run)

Times are seconds relative to the run's monotonic start (t=0 is ``t0_unix`` in run.json); durations are
milliseconds. A record is a plain tuple in RECORD_COLUMNS order, so the hot path builds no objects; every
engine builds it with `request_record` / `dropped_record`, classifies an HTTP answer with `response_outcome`
and a failure without one with `classify_exception`.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import math
import os
import shutil
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import httpx
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from qrbench.errors import ParameterError, RunError

if TYPE_CHECKING:
    from qrbench.load.request import RequestSpec

__all__ = [
    "RECORD_SCHEMA",
    "RECORD_COLUMNS",
    "ERROR_KINDS",
    "RecordWriter",
    "finalize_run",
    "load_records",
    "load_run_info",
    "write_run_info",
    "response_outcome",
    "classify_exception",
    "request_record",
    "dropped_record",
]

RECORD_SCHEMA = pa.schema(
    [
        ("seq", pa.int64()),  # issue order within one driver process
        ("worker", pa.int64()),  # driver process index
        ("user", pa.int64()),  # virtual user (closed model); -1 in the open model
        ("stage", pa.string()),
        ("kind", pa.string()),
        ("endpoint", pa.string()),
        ("method", pa.string()),
        ("n_candidates", pa.int64()),
        ("t_intended", pa.float64()),  # s since t0: when the request was meant to be sent
        ("t_start", pa.float64()),  # s since t0: when sending began
        ("t_end", pa.float64()),  # s since t0: response read, or failure
        ("latency_ms", pa.float64()),  # t_end - t_intended (NaN when dropped)
        ("service_ms", pa.float64()),  # t_end - t_start (NaN when dropped)
        ("status", pa.int64()),  # HTTP status, 0 when there was no response
        ("ok", pa.bool_()),  # 2xx and the body parsed as a JSON object
        ("error", pa.string()),  # "" or one of ERROR_KINDS
        ("bytes_sent", pa.int64()),  # request body bytes
        ("bytes_received", pa.int64()),  # response body bytes
        ("server_ms", pa.float64()),  # the response's computation_time_ms, NaN if absent
        ("fallback", pa.bool_()),  # the service says a classical fallback answered
        ("late_ms", pa.float64()),  # t_start - t_intended: the generator's send lag
    ]
)
RECORD_COLUMNS: tuple[str, ...] = tuple(RECORD_SCHEMA.names)

ERROR_KINDS = (
    "timeout",
    "connect",
    "reset",
    "http_4xx",
    "http_5xx",
    "http_503",
    "bad_body",
    "dropped",
    "other",
)

_PARTS = "parts"
_PARQUET = "records.parquet"
_RUN_INFO = "run.json"


def _part_path(run_dir: Path, worker: int) -> Path:
    return run_dir / _PARTS / f"records-w{worker:03d}.csv"


class RecordWriter:
    """Buffers records in memory and appends them to this worker's part file on every flush().

    The driver calls flush() every ~0.5 s, so a crash or kill -9 loses at most that much. Each flush is
    one os.write of whole lines; a reader drops a torn last line. Not thread-safe: one writer per loop.
    """

    def __init__(self, run_dir: str | os.PathLike[str], *, worker: int, max_buffered: int = 100_000) -> None:
        if worker < 0:
            raise ParameterError(f"The worker index must be 0 or more, not {worker}.")
        path = _part_path(Path(run_dir), worker)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # Exclusive create: two runs (or two processes with one index) must never interleave in one file.
            self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        except FileExistsError as exc:
            raise ParameterError(
                f"The record file {path} already exists; give each run a new out_dir and each "
                "process a distinct worker index."
            ) from exc
        self.path = path
        self.n_written = 0
        self._buffer: list[tuple[Any, ...]] = []
        self._max_buffered = max_buffered
        self._text = io.StringIO()
        self._csv = csv.writer(self._text, lineterminator="\n")
        self._csv.writerow(RECORD_COLUMNS)
        self._write_text()

    def append(self, record: tuple[Any, ...]) -> None:
        """Add one record (a tuple in RECORD_COLUMNS order); it reaches disk at the next flush."""
        self._buffer.append(record)
        if len(self._buffer) >= self._max_buffered:
            self.flush()

    def flush(self) -> int:
        """Write the buffered records to disk; return how many were written."""
        if self._fd < 0 or not self._buffer:
            return 0
        rows = self._buffer
        self._buffer = []
        self._csv.writerows(rows)
        self._write_text()
        self.n_written += len(rows)
        return len(rows)

    def _write_text(self) -> None:
        data = self._text.getvalue().encode()
        self._text.seek(0)
        self._text.truncate()
        # No fsync: surviving a killed process needs only the page cache; a power cut is out of scope.
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]

    def close(self) -> None:
        """Flush and close the file; safe to call twice."""
        if self._fd < 0:
            return
        self.flush()
        os.close(self._fd)
        self._fd = -1

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _read_part(path: Path) -> pa.Table:
    data = path.read_bytes()
    # A kill can tear the last line mid-write; keep whole lines only.
    data = data[: data.rfind(b"\n") + 1]
    if data.count(b"\n") <= 1:
        return RECORD_SCHEMA.empty_table()
    table = pa_csv.read_csv(
        io.BytesIO(data),
        convert_options=pa_csv.ConvertOptions(
            column_types=RECORD_SCHEMA,
            null_values=[],  # "nan" must stay a float NaN and "" an empty error string
            strings_can_be_null=False,
            include_columns=list(RECORD_COLUMNS),
        ),
    )
    return table.cast(RECORD_SCHEMA)


def _read_parts(run_dir: Path) -> pa.Table:
    parts = sorted((run_dir / _PARTS).glob("records-w*.csv"))
    tables = [_read_part(p) for p in parts]
    if not tables:
        return RECORD_SCHEMA.empty_table()
    table = pa.concat_tables(tables)
    return table.sort_by([("t_intended", "ascending"), ("worker", "ascending"), ("seq", "ascending")])


def finalize_run(run_dir: str | os.PathLike[str], *, keep_parts: bool = False) -> Path:
    """Merge every worker's part file into ``records.parquet`` and return its path.

    Works on a killed run too (torn last lines are dropped). The part files are removed afterwards
    unless keep_parts; calling it again on a finalized run just returns the parquet path.
    """
    run_dir = Path(run_dir)
    out = run_dir / _PARQUET
    parts_dir = run_dir / _PARTS
    if not parts_dir.is_dir():
        if out.is_file():
            return out
        raise RunError(f"The run folder {run_dir} has neither {_PARTS}/ nor {_PARQUET}; is it a qrbench run?")
    table = _read_parts(run_dir)
    tmp = out.with_suffix(".parquet.tmp")
    pq.write_table(table, tmp)
    os.replace(tmp, out)
    if not keep_parts:
        shutil.rmtree(parts_dir)
    return out


def load_records(run_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """Load a run's records: the merged parquet if present, else the part files of an unfinished run."""
    run_dir = Path(run_dir)
    parquet = run_dir / _PARQUET
    if parquet.is_file():
        table = pq.read_table(parquet)
    elif (run_dir / _PARTS).is_dir():
        table = _read_parts(run_dir)
    else:
        raise RunError(f"The run folder {run_dir} holds no records ({_PARQUET} or {_PARTS}/ is missing).")
    return table.to_pandas()


def write_run_info(run_dir: str | os.PathLike[str], info: Mapping[str, Any]) -> Path:
    """Write ``run.json`` atomically (a reader never sees half a file); return its path."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / _RUN_INFO
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(info, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(tmp, path)
    return path


def load_run_info(run_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a run's ``run.json`` (wall-clock anchor, settings, target, and the summary once finished)."""
    path = Path(run_dir) / _RUN_INFO
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise RunError(f"The run folder {Path(run_dir)} has no {_RUN_INFO}; is it a qrbench run?") from exc
    except json.JSONDecodeError as exc:
        raise RunError(f"The run file {path} is not valid JSON ({exc}).") from exc


def _is_fallback(doc: Mapping[str, Any]) -> bool:
    for key in ("query_metadata", "computation_details"):
        meta = doc.get(key)
        if isinstance(meta, dict) and meta.get("classical_fallback") is True:
            return True
    return False


def response_outcome(status: int, body: bytes) -> tuple[bool, str, float, bool]:
    """(ok, error kind, server computation ms, classical fallback) of an HTTP answer, for every engine.

    ok means a 2xx whose body is a JSON object; server_ms is its "computation_time_ms" (NaN if absent).
    """
    if 200 <= status < 300:
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            return False, "bad_body", math.nan, False
        value = doc.get("computation_time_ms")
        server_ms = float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.nan
        return True, "", server_ms, _is_fallback(doc)
    if status == 503:
        return False, "http_503", math.nan, False
    if status >= 500:
        return False, "http_5xx", math.nan, False
    if status >= 400:
        return False, "http_4xx", math.nan, False
    return False, "other", math.nan, False


def _classify_low_level(exc: BaseException) -> str:
    # Order matters: aiohttp's timeout errors are also connection errors, and TimeoutError is an OSError.
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, aiohttp.ClientConnectorError | ConnectionRefusedError | socket.gaierror):
        return "connect"
    if isinstance(
        exc,
        aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError | aiohttp.ClientOSError | ConnectionError,
    ):
        return "reset"
    if isinstance(exc, OSError) and exc.errno is not None:
        # Unreachable network or host, refused: the request never reached the target.
        return "connect" if exc.errno in (101, 111, 113) else "reset"
    return "other"


def classify_exception(exc: BaseException | None) -> str:
    """The error kind (timeout, connect, reset or other) of a request that got no HTTP answer, for every engine.

    httpx-aiohttp re-raises aiohttp errors as httpx ones and maps a refused connection to
    httpx.ConnectTimeout, so the original aiohttp error in the cause chain is classified first. Locust's
    FastHttpSession (geventhttpclient) raises its own timeout and parse errors, recognised by name.
    """
    if exc is None:
        return "other"
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, aiohttp.ClientError | OSError | asyncio.TimeoutError):
            return _classify_low_level(seen)
        seen = seen.__cause__
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        return "connect"
    if isinstance(exc, httpx.ReadError | httpx.WriteError | httpx.RemoteProtocolError):
        return "reset"
    name = type(exc).__name__
    if "timeout" in name.lower():
        return "timeout"
    if isinstance(exc, EOFError) or name in ("HTTPParseError", "IncompleteRead"):
        return "reset"
    return "other"


def request_record(
    *,
    seq: int,
    worker: int,
    user: int,
    stage: str,
    spec: RequestSpec,
    t_intended: float,
    t_start: float,
    t_end: float,
    status: int,
    body: bytes,
    error: str = "",
    t0: float = 0.0,
) -> tuple[Any, ...]:
    """The record (RECORD_COLUMNS order) of one request that was sent, answered or not.

    Times in seconds on the caller's clock, stored relative to t0; latency_ms counts from t_intended,
    service_ms from t_start. error: the engine's error kind when no answer came (status 0); with an answer,
    `response_outcome` decides (ok means a 2xx whose body is a JSON object).
    """
    if error or not status:
        ok, error, server_ms, fallback = False, error or "other", math.nan, False
    else:
        ok, error, server_ms, fallback = response_outcome(status, body)
    return (
        seq,
        worker,
        user,
        stage,
        spec.kind,
        spec.endpoint,
        spec.method,
        spec.n_candidates,
        t_intended - t0,
        t_start - t0,
        t_end - t0,
        (t_end - t_intended) * 1000.0,
        (t_end - t_start) * 1000.0,
        status,
        ok,
        error,
        len(spec.body),
        len(body),
        server_ms,
        fallback,
        (t_start - t_intended) * 1000.0,
    )


def dropped_record(
    *, seq: int, worker: int, stage: str, spec: RequestSpec, t_intended: float, now: float, t0: float = 0.0
) -> tuple[Any, ...]:
    """The record of an open-model send refused at max_in_flight: never sent, so no latency."""
    return (
        seq,
        worker,
        -1,
        stage,
        spec.kind,
        spec.endpoint,
        spec.method,
        spec.n_candidates,
        t_intended - t0,
        now - t0,
        now - t0,
        math.nan,
        math.nan,
        0,
        False,
        "dropped",
        0,
        0,
        math.nan,
        False,
        (now - t_intended) * 1000.0,
    )
