"""The same workloads on Artillery: a script exporter and a runner that records qrbench's records.

`artillery_script` turns a workload model and a request pool into an Artillery script (a mapping ready for
YAML) plus the rows of its CSV payload file; `write_artillery` writes both beside each other;
`run_artillery` runs the real ``artillery run`` (installed by ``npm ci --prefix integrations/artillery``)
and turns what its processor (``integrations/artillery/qrbench-recorder.js``) wrote into the run folder every
other engine writes (run.json, records.parquet in RECORD_SCHEMA), so the load analysis reads it unchanged.

How qrbench's models map onto Artillery's arrival phases:

- Open model: each (duration, start_rps, end_rps) segment is a phase ``{duration, arrivalRate, rampTo}``;
  each arrival is one virtual user sending one request, intended at its arrival. Artillery spaces arrivals
  evenly within each second (there is no Poisson option), as qrbench's ``arrivals: uniform`` does, and it
  does not cap requests in flight (qrbench's max_in_flight drops nothing here).
- Closed model: Artillery has no fixed user population, so each qrbench user is an *arrival* that loops
  (request, think, request, ...) while the users schedule is above its index: a rise by k users over d
  seconds is a phase ``{duration: d, arrivalCount: k}``, a flat or falling stretch is a pause
  (``arrivalRate: 0``), and users leave when the schedule falls below them (the processor evaluates the
  schedule). An instant step is a one-second phase taken from the next stretch. Think times are drawn by the
  processor from the same distribution (seeded per user; not the native driver's stream). Sessions and
  iteration-bounded runs have no Artillery counterpart and are refused.
- The request mix: open model, one scenario per request kind with the mix's weight (Artillery's weighted
  pick), each sending that kind's requests in pool order; closed model, one scenario whose users send the
  pool in order (the pool already holds the mix, as for the native driver). Payloads are the pool's own
  request bodies, in a CSV file beside the script (columns kind, endpoint, method, n_candidates, body).

Times: the processor stamps each request with the wall clock (performance.timeOrigin + now(), sub-ms);
t0 of the run is when Artillery's worker loaded the processor, just before its phases start (the schedule
the processor evaluates for the closed model counts from there too).
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import yaml

from qrbench.errors import ParameterError, RunError
from qrbench.load.data import RequestPool
from qrbench.load.driver import RunResult, WorkerStats, model_settings, new_run_dir, summarize_run
from qrbench.load.records import RecordWriter, finalize_run, response_outcome, write_run_info
from qrbench.load.safety import check_target
from qrbench.load.workload import ClosedModel, OpenModel

__all__ = [
    "ARTILLERY_DIR",
    "PAYLOAD_FIELDS",
    "artillery_script",
    "write_artillery",
    "find_artillery",
    "run_artillery",
    "records_from_raw",
    "script_text",
    "write_payload",
]

ARTILLERY_DIR = Path(__file__).resolve().parents[2] / "integrations" / "artillery"
PROCESSOR = ARTILLERY_DIR / "qrbench-recorder.js"
PAYLOAD_FIELDS = ("kind", "endpoint", "method", "n_candidates", "body")
_ERROR_KINDS = {
    "ETIMEDOUT": "timeout",
    "ESOCKETTIMEDOUT": "timeout",
    "TimeoutError": "timeout",
    "ECONNREFUSED": "connect",
    "EHOSTUNREACH": "connect",
    "ENETUNREACH": "connect",
    "ECONNRESET": "reset",
    "EPIPE": "reset",
    "ECONNABORTED": "reset",
}
_NAN = math.nan


def _closed_points(model: ClosedModel) -> list[tuple[float, float]]:
    if model.sessions is not None:
        raise ParameterError(
            "The closed model has sessions, which Artillery cannot express; run it on the "
            "native driver or Locust, or leave sessions out."
        )
    if model.duration_s is None:
        raise ParameterError(
            "The closed model is bounded by iterations, which Artillery cannot express; give "
            "it a duration_s (or stages) instead."
        )
    if model.stages is not None:
        points = [(0.0, 0.0)]
        for duration, users in model.stages:
            points.append((points[-1][0] + duration, float(users)))
    else:
        users = float(model.users)  # type: ignore[arg-type]
        points = [(0.0, 0.0), (float(model.ramp_up_s), users), (float(model.duration_s), users)]
    return [(t, v) for t, v in points if t <= model.duration_s]


def _closed_phases(points: Sequence[tuple[float, float]]) -> list[dict[str, Any]]:
    phases: list[dict[str, Any]] = []
    borrowed = 0.0  # seconds an instant step took from the stretch after it
    for (t1, v1), (t2, v2) in zip(points, points[1:], strict=False):
        arrivals = math.ceil(v2 - 1e-9) - math.ceil(v1 - 1e-9)
        duration = t2 - t1 - borrowed
        borrowed = 0.0
        if duration <= 1e-9:
            if arrivals > 0:  # an instant step: its users arrive within one second
                phases.append({"duration": 1, "arrivalCount": arrivals})
                borrowed = 1.0
            continue
        if arrivals > 0:
            phases.append({"duration": round(duration, 3), "arrivalCount": arrivals})
        else:
            phases.append({"duration": round(duration, 3), "arrivalRate": 0})
    return phases


def _open_phases(model: OpenModel) -> list[dict[str, Any]]:
    phases = []
    for duration, r0, r1 in model.segments:
        phase: dict[str, Any] = {"duration": round(duration, 3), "arrivalRate": r0}
        if r1 != r0:
            phase["rampTo"] = r1
        phases.append(phase)
    return phases


def _think(model: ClosedModel) -> dict[str, Any]:
    t = model.think_time_s
    return {
        "distribution": t.distribution,
        "mean_s": t.mean_s,
        "low_s": t.low_s,
        "high_s": t.high_s,  # type: ignore[union-attr]
        "median_s": t.median_s,
        "sigma": t.sigma,
    }  # type: ignore[union-attr]


def artillery_script(
    model: ClosedModel | OpenModel,
    pool: RequestPool,
    *,
    target: str,
    payload_path: str,
    processor_path: str | None = None,
    timeout_s: float = 30.0,
    headers: Mapping[str, str] | None = None,
    seed: int = 0,
) -> tuple[dict[str, Any], list[tuple[str, str, str, int, str]]]:
    """(script, payload rows): the Artillery script for `model` sending `pool`'s requests to `target`, and
    the rows of its CSV payload file (PAYLOAD_FIELDS; written to `payload_path`, as the script names it).

    processor_path: the recorder processor as the script names it (default: the repository's, absolute).
    timeout_s: seconds Artillery waits for an answer. The mapping is described in the module docstring.
    """
    closed = isinstance(model, ClosedModel)
    if closed:
        points = _closed_points(model)
        phases = _closed_phases(points)
        duration = float(model.duration_s)  # type: ignore[arg-type]
    else:
        points = []
        phases = _open_phases(model)
        duration = float(model.duration_s)  # type: ignore[arg-type]
    rows = [(s.kind, s.endpoint, s.method, s.n_candidates, s.body.decode()) for s in pool]
    plan = {
        "model": "closed" if closed else "open",
        "points": points,
        "duration_s": duration,
        "seed": seed,
        "think": _think(model) if closed else None,
        # The processor appends " [q<thread>.<n>]" to every query, as RequestPool does (no cached answers).
        "new_queries": bool(getattr(pool, "new_queries", False)),
    }
    request = {"post": {"url": "/", "beforeRequest": "qrbenchRequest", "afterResponse": "qrbenchRecord"}}
    if closed:
        scenarios = [
            {
                "name": "qrbench-user",
                "onError": ["qrbenchError"],
                "flow": [
                    {"function": "qrbenchUser"},
                    {"loop": [request, {"function": "qrbenchThink"}], "whileTrue": "qrbenchActive"},
                ],
            }
        ]
    else:
        present = {s.kind for s in pool}
        weights = {k: w for k, w in pool.kind_weights.items() if k in present and w > 0}
        # Artillery reads weights as integers: whole percentages of the mix (at least 1 for a kind present).
        total = sum(weights.values())
        scenarios = [
            {
                "name": kind,
                "weight": max(1, round(100 * w / total)),
                "onError": ["qrbenchError"],
                "flow": [{"function": "qrbenchUser"}, request],
            }
            for kind, w in weights.items()
        ]
    config: dict[str, Any] = {
        "target": target,
        "phases": phases,
        # One shared pool of keep-alive connections, as large as the model's concurrency (the native driver's
        # pool); without it Artillery opens a new connection for every virtual user.
        "http": {"timeout": timeout_s, "pool": int(model.concurrency)},
        "processor": processor_path or str(PROCESSOR),
        "payload": [
            {
                "path": payload_path,
                "fields": list(PAYLOAD_FIELDS),
                "loadAll": True,
                "name": "qrbenchPool",
                "skipHeader": True,
                "cast": False,
            }
        ],
        "variables": {"qrbenchPlan": json.dumps(plan, separators=(",", ":"))},
    }
    if headers:
        config["defaults"] = {"headers": dict(headers)}
    return {"config": config, "scenarios": scenarios}, rows


def write_artillery(
    model: ClosedModel | OpenModel,
    pool: RequestPool,
    script_path: str | os.PathLike[str],
    *,
    target: str,
    comment: str = "",
    **options: Any,
) -> tuple[Path, Path]:
    """Write the script to `script_path` and its payload CSV beside it (same name, .csv); return both paths.
    `options` go to `artillery_script` (timeout_s, headers, seed, processor_path)."""
    script_path = Path(script_path)
    payload = script_path.with_suffix(".csv")
    script, rows = artillery_script(model, pool, target=target, payload_path=payload.name, **options)
    script_path.parent.mkdir(parents=True, exist_ok=True)
    write_payload(payload, rows)
    script_path.write_text(script_text(script, comment))
    return script_path, payload


def script_text(script: Mapping[str, Any], comment: str) -> str:
    header = "".join(f"# {line}\n" for line in comment.splitlines())
    return header + yaml.safe_dump(dict(script), sort_keys=False, width=1000)


def write_payload(path: Path, rows: Sequence[Sequence[Any]]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(PAYLOAD_FIELDS)
        w.writerows(rows)


def find_artillery(folder: str | os.PathLike[str] | None = None) -> str:
    """The artillery executable installed under integrations/artillery; a clear error when it is missing."""
    path = Path(folder or ARTILLERY_DIR) / "node_modules" / ".bin" / "artillery"
    if not path.is_file():
        raise RunError(
            f"Artillery is not installed in {path.parents[2]}; install it with "
            f"`PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix {path.parents[2]}` (Node.js 20 or later)."
        )
    if shutil.which("node") is None:
        raise RunError("Artillery needs Node.js (`node` on PATH), which is not installed.")
    return str(path)


def records_from_raw(
    raw_dir: str | os.PathLike[str], run_dir: str | os.PathLike[str], *, t0_unix: float, stage: str = ""
) -> int:
    """Turn the processor's raw lines (raw-*.jsonl in raw_dir, one file per Artillery worker thread) into
    qrbench record parts in run_dir (one worker index per file); return the number of records written.

    Times become seconds since t0_unix; the outcome of every answer comes from records.response_outcome.
    """
    n = 0
    for worker, path in enumerate(sorted(Path(raw_dir).glob("raw-*.jsonl"))):
        with RecordWriter(run_dir, worker=worker) as writer:
            seq = 0
            for line in path.read_text(errors="replace").splitlines():
                try:
                    r = json.loads(line)
                except ValueError:
                    continue  # a torn last line of a killed run
                if "kind" not in r:
                    continue  # the file's header line (its start time)
                t_intended, t_start, t_end = (r[k] / 1000.0 - t0_unix for k in ("intended_ms", "start_ms", "end_ms"))
                status = int(r.get("status") or 0)
                body = r.get("body", "").encode()
                if status:
                    ok, error, server_ms, fallback = response_outcome(status, body)
                else:
                    ok, error, server_ms, fallback = False, _ERROR_KINDS.get(str(r.get("error")), "other"), _NAN, False
                writer.append(
                    (
                        seq,
                        worker,
                        int(r["user"]),
                        stage,
                        r["kind"],
                        r["endpoint"],
                        r["method"],
                        int(r["n_candidates"]),
                        t_intended,
                        t_start,
                        t_end,
                        (t_end - t_intended) * 1000.0,
                        (t_end - t_start) * 1000.0,
                        status,
                        ok,
                        error,
                        int(r["bytes_sent"]),
                        len(body),
                        server_ms,
                        fallback,
                        (t_start - t_intended) * 1000.0,
                    )
                )
                seq += 1
            n += seq
    return n


def run_artillery(
    url: str,
    pool: RequestPool,
    model: ClosedModel | OpenModel,
    *,
    out_dir: str | os.PathLike[str],
    stage: str = "",
    timeout_s: float = 30.0,
    allow_remote: bool = False,
    headers: Mapping[str, str] | None = None,
    seed: int = 0,
    artillery: str | os.PathLike[str] | None = None,
) -> RunResult:
    """Run `model` with `pool`'s requests on the real ``artillery run``; records go to a new run folder
    under out_dir (the layout of every engine, plus ``artillery/``: script, payload, raw lines, log).

    Bounded: Artillery is stopped if it outlives the model's duration by the timeout plus a minute.
    Returns the same RunResult as the native driver (generator CPU is Artillery's process tree).
    """
    base_url = check_target(url, allow_remote=allow_remote)
    executable = find_artillery(artillery)
    run_dir = new_run_dir(out_dir)
    folder = run_dir / "artillery"
    raw_dir = folder / "raw"
    raw_dir.mkdir(parents=True)
    script_path, _ = write_artillery(
        model, pool, folder / "script.yml", target=base_url, timeout_s=timeout_s, headers=headers, seed=seed
    )
    settings = dict(stage=stage, timeout_s=timeout_s, transport="artillery-http", processes=1, engine="artillery")
    t0_unix = time.time()
    info = {
        "schema": 1,
        "target": base_url,
        "t0_unix": t0_unix,
        "t0_utc": datetime.fromtimestamp(t0_unix, UTC).isoformat(),
        "model": model_settings(model),
        "settings": settings,
        "finished": False,
    }
    write_run_info(run_dir, info)
    env = {
        **os.environ,
        "QRBENCH_RAW_DIR": str(raw_dir),
        "ARTILLERY_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "1",
        # Artillery runs one worker thread per core but one; the processor interleaves user indexes over them.
        "QRBENCH_ARTILLERY_THREADS": str(max(1, (os.cpu_count() or 1) - 1)),
    }
    limit = float(model.duration_s or 0) + timeout_s + 60.0
    cpu_s, failure = 0.0, ""
    started = time.monotonic()
    with open(folder / "artillery.log", "ab") as log:
        process = subprocess.Popen(
            [executable, "run", "--quiet", script_path.name],
            cwd=folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        try:
            tree = psutil.Process(process.pid)
            while process.poll() is None and time.monotonic() - started < limit:
                cpu_s = max(cpu_s, _tree_cpu_s(tree))
                time.sleep(0.25)
            if process.poll() is None:
                failure = f"Artillery ran past its {limit:.0f}-s bound and was stopped."
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
    wall_s = time.monotonic() - started
    if process.returncode and not failure:
        failure = f"artillery run exited with code {process.returncode}; its log is {folder / 'artillery.log'}."
    # t0 is when Artillery's workers loaded the processor, just before their phases began (Node takes seconds
    # to start, which must not count as send lag); run.json gets that anchor.
    starts = _raw_starts(raw_dir)
    t0_unix = min(starts) if starts else t0_unix
    info.update(t0_unix=t0_unix, t0_utc=datetime.fromtimestamp(t0_unix, UTC).isoformat())
    records_from_raw(raw_dir, run_dir, t0_unix=t0_unix, stage=stage)
    if not (run_dir / "parts").is_dir():
        raise RunError(f"Artillery wrote no records in {raw_dir}; its log is {folder / 'artillery.log'}.")
    records_path = finalize_run(run_dir)
    stats = [WorkerStats(worker=0, cpu_s=cpu_s, wall_s=wall_s, interrupted=False)]
    result = summarize_run(run_dir, records_path, model, stats, transport="artillery-http")
    write_run_info(
        run_dir, {**info, "finished": True, "interrupted": False, "failure": failure, "result": result.to_dict()}
    )
    if failure:
        raise RunError(f"The Artillery run in {run_dir} did not end cleanly; its records were kept. {failure}")
    return result


def _raw_starts(raw_dir: Path) -> list[float]:
    """The start time (Unix seconds) each Artillery worker wrote at the head of its raw file."""
    out = []
    for path in raw_dir.glob("raw-*.jsonl"):
        with open(path) as f:
            head = json.loads(f.readline() or "{}")
        if "start_ms" in head:
            out.append(head["start_ms"] / 1000.0)
    return out


def _tree_cpu_s(process: psutil.Process) -> float:
    total = 0.0
    try:
        for p in [process, *process.children(recursive=True)]:
            t = p.cpu_times()
            total += t.user + t.system
    except psutil.Error:
        pass
    return total
