"""The same workloads on Locust's distributed mode: a master and K workers, recording qrbench's records.

`run_locust` is the counterpart of `run_load_processes`: the same model (closed or open), the same request
source, the same run folder (run.json, parts/, records.parquet), the same `RunResult`. It starts
``locust --master --headless`` and K ``locust --worker`` processes on this machine running
`qrbench.load.locustfile`, and waits for them, bounded in time. This module itself never imports locust
(which monkey-patches the standard library with gevent on import); only the Locust processes do.

How a run flows:

- The parent pickles a `LocustPlan` (model, request source, timeout, headers) into ``<run>/locust/plan.pkl``
  and names it to the master. Each worker, when it connects, asks the master for its `WorkerPlan` (its
  share of the source, `source.for_worker(i, K)`) over Locust's message channel, so a worker on another
  machine needs only qrbench installed and the master's address.
- The load shape on the master follows the model: a closed model's users schedule (`ClosedModel.target_users`,
  Locust's users ramp up and down with it), or, for an open model, one arrival scheduler per worker that sends
  its 1/K share of `arrival_times` without waiting for answers (latency counted from the intended send time,
  as the native driver does; sends beyond max_in_flight are recorded as dropped).
- Locust's ``request`` event hook turns every request into a record (RECORD_SCHEMA) from perf_counter
  timestamps: Locust's own unrounded response time, not its rounded statistics. Workers batch records to
  the master every ~0.5 s; the master writes one part file per worker. Each worker's times are shifted onto
  the master's t0 through the wall clock (exact on one machine; as good as clock sync across machines).
- At the end the master tells every worker to stop issuing, waits for their in-flight requests (each
  bounded by the timeout) and their last records, then quits; the parent merges the parts.

Workers on other machines: ``qrbench load -p FILE --engine locust --workers K --remote-workers M
--master-bind 0.0.0.0 [--master-port 5557]`` (or run_locust's extra_workers, bind_host, master_port) makes the
master listen where they reach it and wait for K + M workers; on each other machine, with qrbench installed,
run `remote_worker_command` (``locust -f <qrbench>/load/locustfile.py --worker --master-host HOST
--master-port PORT``). The workers send to the target URL as given: a loopback URL is each worker's *own*
loopback, so with remote workers the target must be an address they all reach (and --allow-remote).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qrbench.errors import ParameterError, RunError
from qrbench.load.driver import (
    RunResult,
    WorkerStats,
    check_run_args,
    model_settings,
    new_run_dir,
    progress_bar,
    progress_label,
    split_count,
    summarize_run,
)
from qrbench.load.records import finalize_run, load_run_info, write_run_info
from qrbench.load.request import RequestSpec
from qrbench.load.safety import check_target
from qrbench.load.workload import ClosedModel, OpenModel

__all__ = [
    "run_locust",
    "LocustPlan",
    "WorkerPlan",
    "LOCUSTFILE",
    "shift_times",
    "remote_worker_command",
]

LOCUSTFILE = Path(__file__).resolve().with_name("locustfile.py")
LOCUST_DIR = "locust"  # inside the run folder: plan.pkl, workers.json, master.log, worker-<i>.log
# How often workers send their records to the master (seconds): a crash loses at most about this much.
SEND_INTERVAL_S = 0.5
# Users a closed model's shape adds or removes per second and worker: effectively at once, like the native
# driver (Locust warns above 100 per worker).
SPAWN_RATE = 100.0
# The master's shape ends this long after the model's duration: the workers, whose clocks start a little
# after the master's, stop sending at the duration by their own clocks.
END_GRACE_S = 1.0

# Record fields holding times in seconds since t0 (shifted from a worker's clock onto the master's).
_TIME_FIELDS = (8, 9, 10)


@dataclass(frozen=True, slots=True, kw_only=True)
class LocustPlan:
    """What the master needs (picklable): the workload, its source, and how to send it.

    n_workers: workers the run waits for (local and remote); the open model's rate is split over them.
    timeout_s: seconds per request (Locust's connection and network timeouts). run_info: run.json fields.
    """

    base_url: str
    model: ClosedModel | OpenModel
    source: Callable[[], RequestSpec]
    stage: str
    timeout_s: float
    headers: tuple[tuple[str, str], ...]
    n_workers: int
    run_info: dict[str, Any]

    def for_worker(self, index: int) -> WorkerPlan:
        """Worker `index`'s part: its copy of the source (staggered), its share of the request bound."""
        k = self.n_workers
        source = self.source.for_worker(index, k) if hasattr(self.source, "for_worker") else self.source
        # Only a closed model with iterations and no duration is bounded by count (an open model's count is random).
        expected = self.model.expected_requests if isinstance(self.model, ClosedModel) else None
        share = split_count(self.model.max_requests, k, index)
        limit = min(share, split_count(expected, k, index)) if expected is not None else share
        in_flight = math.ceil(self.model.max_in_flight / k) if isinstance(self.model, OpenModel) else 0
        return WorkerPlan(
            model=self.model,
            source=source,
            index=index,
            n_workers=k,
            stage=self.stage,
            timeout_s=self.timeout_s,
            headers=self.headers,
            limit=limit,
            count_bounded=expected is not None,
            max_in_flight=in_flight,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerPlan:
    """One worker's part of a LocustPlan (sent to it by the master).

    limit: requests this worker may issue in total. count_bounded: the run ends when every worker has
    issued its limit (a closed model with iterations and no duration). max_in_flight: the open model's
    bound on this worker's requests in flight (0 for a closed model).
    """

    model: ClosedModel | OpenModel
    source: Callable[[], RequestSpec]
    index: int
    n_workers: int
    stage: str
    timeout_s: float
    headers: tuple[tuple[str, str], ...]
    limit: int
    count_bounded: bool
    max_in_flight: int


# ----------------------------------------------------------------------------------------- records


def shift_times(rows: Sequence[Sequence[Any]], offset_s: float) -> list[tuple[Any, ...]]:
    """Rows with their t_intended, t_start and t_end moved by offset_s seconds (worker clock -> master t0)."""
    out = []
    for row in rows:
        row = list(row)
        for i in _TIME_FIELDS:
            row[i] = row[i] + offset_s
        out.append(tuple(row))
    return out


# ----------------------------------------------------------------------------------------- processes


def remote_worker_command(master_host: str, master_port: int) -> str:
    """The command that joins a worker on another machine (with qrbench installed) to a running master."""
    return f"locust -f {LOCUSTFILE} --worker --master-host {master_host} --master-port {master_port}"


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _tail(path: Path, lines: int = 12) -> str:
    if not path.is_file():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").strip().splitlines()[-lines:])


class _PartCounter:
    """Counts records in the part files as they grow (for the progress bar), reading only new bytes."""

    def __init__(self, parts: Path) -> None:
        self.parts = parts
        self.offsets: dict[Path, int] = {}
        self.lines = 0

    def count(self) -> int:
        if not self.parts.is_dir():
            return 0
        for path in self.parts.glob("records-w*.csv"):
            offset = self.offsets.get(path, 0)
            with open(path, "rb") as f:
                f.seek(offset)
                data = f.read()
            self.offsets[path] = offset + len(data)
            self.lines += data.count(b"\n") - (1 if offset == 0 and data else 0)  # the header line
        return self.lines


def _terminate(process: subprocess.Popen, grace_s: float) -> None:
    """SIGINT (Locust's clean stop), then SIGTERM, then SIGKILL of the process's session."""
    for sig, wait in ((signal.SIGINT, grace_s), (signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        if process.poll() is not None:
            break
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(wait)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # anything the process left behind in its session


def run_locust(
    url: str,
    request_source: Callable[[], RequestSpec],
    model: ClosedModel | OpenModel,
    *,
    workers: int,
    out_dir: str | os.PathLike[str],
    stage: str = "",
    timeout_s: float = 30.0,
    allow_remote: bool = False,
    progress: bool = True,
    headers: Mapping[str, str] | None = None,
    cpus: Sequence[int] | None = None,
    extra_workers: int = 0,
    bind_host: str = "127.0.0.1",
    master_port: int | None = None,
    start_timeout_s: float = 90.0,
) -> RunResult:
    """Run a workload on Locust: a master and `workers` local worker processes; records go to out_dir.

    Same arguments and result as run_load_processes (request_source must be picklable). extra_workers: more
    workers the master waits for, started by hand on other machines with `remote_worker_command` (then
    bind_host must be an address they reach). start_timeout_s: seconds allowed for every worker to connect.
    The run is bounded: it ends at the model's duration (or when a count-bounded model has sent its
    requests), and the master is stopped if it outlives that by the timeout plus a minute. Ctrl-C stops it
    cleanly, merges the records and re-raises KeyboardInterrupt.
    """
    base_url = check_target(url, allow_remote=allow_remote)
    n_workers = _check_locust_args(model, timeout_s, request_source, workers, extra_workers)
    run_dir = new_run_dir(out_dir)
    folder = run_dir / LOCUST_DIR
    folder.mkdir()
    settings = dict(
        stage=stage,
        timeout_s=timeout_s,
        transport="locust-fasthttp",
        processes=n_workers,
        cpus=list(cpus) if cpus else None,
        engine="locust",
    )
    plan = LocustPlan(
        base_url=base_url,
        model=model,
        source=request_source,
        stage=stage,
        timeout_s=float(timeout_s),
        headers=tuple((headers or {}).items()),
        n_workers=n_workers,
        run_info={
            "schema": 1,
            "target": base_url,
            "model": model_settings(model),
            "settings": settings,
            "finished": False,
        },
    )
    (folder / "plan.pkl").write_bytes(pickle.dumps(plan))
    port = master_port or _free_port(bind_host)
    duration = model.duration_s if model.duration_s is not None else 24 * 3600.0
    hard_limit = duration + timeout_s + 60.0
    master_args = _master_args(
        base_url,
        folder,
        run_dir,
        n_workers,
        bind_host,
        port,
        start_timeout_s=start_timeout_s,
        run_time_s=hard_limit,
        timeout_s=timeout_s,
    )
    worker_host = "127.0.0.1" if bind_host in ("0.0.0.0", "") else bind_host
    commands = [("master", master_args)] + [(f"worker-{i}", _worker_args(worker_host, port)) for i in range(workers)]
    bar = progress_bar(model, stage, progress, label=f"{progress_label(stage)} (locust x{n_workers})")
    counter = _PartCounter(run_dir / "parts")
    interrupted = False
    processes: list[subprocess.Popen] = []
    logs: list[Any] = []
    try:
        _start_locust(commands, folder, cpus, processes, logs)
        deadline = time.monotonic() + start_timeout_s + hard_limit + 30.0
        interrupted = _wait_for_master(processes[0], deadline, timeout_s, bar, counter)
    finally:
        bar.close()
        _stop_locust(processes, logs)
    return _finish(run_dir, model, n_workers, interrupted=interrupted)


def _check_locust_args(model, timeout_s: float, request_source, workers: int, extra_workers: int) -> int:
    """The number of workers in all, after checking the arguments (ParameterError naming the wrong one)."""
    check_run_args(model, timeout_s, "aiohttp", request_source)
    if not isinstance(workers, int) or workers < 0 or not isinstance(extra_workers, int) or extra_workers < 0:
        raise ParameterError(
            f"workers and extra_workers must be whole numbers of at least 0, not {workers!r} and {extra_workers!r}."
        )
    n_workers = workers + extra_workers
    if n_workers < 1:
        raise ParameterError("A Locust run needs at least one worker (workers + extra_workers >= 1).")
    if isinstance(model, ClosedModel) and model.users < n_workers:
        raise ParameterError(
            f"The closed model has {model.users} users for {n_workers} Locust workers; "
            "give at least one user per worker."
        )
    try:
        pickle.dumps(request_source)
    except Exception as exc:
        raise ParameterError(
            f"request_source ({type(request_source).__name__}) cannot be pickled for the Locust "
            f"workers ({exc}); use a picklable source such as a RequestPool."
        ) from exc
    return n_workers


def _master_args(
    base_url: str,
    folder: Path,
    run_dir: Path,
    n_workers: int,
    bind_host: str,
    port: int,
    *,
    start_timeout_s: float,
    run_time_s: float,
    timeout_s: float,
) -> list[str]:
    return [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--master",
        "--headless",
        "--only-summary",
        "--expect-workers",
        str(n_workers),
        "--expect-workers-max-wait",
        str(int(start_timeout_s)),
        "--master-bind-host",
        bind_host,
        "--master-bind-port",
        str(port),
        "--host",
        base_url,
        "--run-time",
        f"{math.ceil(run_time_s)}s",
        "--stop-timeout",
        str(math.ceil(timeout_s)),
        "--loglevel",
        "WARNING",
        "--qrbench-plan",
        str(folder / "plan.pkl"),
        "--qrbench-out",
        str(run_dir),
    ]


def _worker_args(master_host: str, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--worker",
        "--master-host",
        master_host,
        "--master-port",
        str(port),
        "--loglevel",
        "WARNING",
    ]


def _start_locust(
    commands: list[tuple[str, list[str]]],
    folder: Path,
    cpus: Sequence[int] | None,
    processes: list[subprocess.Popen],
    logs: list[Any],
) -> None:
    """Start the master and the workers (each in its own session, logging to folder/<name>.log); appends to
    `processes` and `logs` as it goes, so the caller stops whatever started even when a later one fails."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    env.pop("PYTHONWARNINGS", None)
    for name, args in commands:
        log = open(folder / f"{name}.log", "ab")  # noqa: SIM115 - closed by _stop_locust
        logs.append(log)
        p = subprocess.Popen(
            args, cwd=folder, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )
        processes.append(p)
        if cpus and name != "master":
            os.sched_setaffinity(p.pid, {cpus[(len(processes) - 2) % len(cpus)]})


def _wait_for_master(master: subprocess.Popen, deadline: float, timeout_s: float, bar, counter) -> bool:
    """Wait for the master to finish (or stop it at the deadline), updating the bar; True when interrupted."""
    interrupted = False
    while master.poll() is None:
        try:
            if time.monotonic() > deadline:
                _terminate(master, timeout_s + 15.0)
                break
            master.wait(0.5)
        except subprocess.TimeoutExpired:
            pass
        except KeyboardInterrupt:
            interrupted = True
            _terminate(master, timeout_s + 15.0)  # SIGINT: the master stops the workers and collects
            break
        if not bar.disable:
            bar.update(counter.count() - bar.n)
    if not bar.disable:
        bar.update(counter.count() - bar.n)
    return interrupted


def _stop_locust(processes: list[subprocess.Popen], logs: list[Any]) -> None:
    for p in processes[1:]:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(10.0)  # a worker leaves by itself once the master quits
        _terminate(p, 2.0)
    if processes:
        _terminate(processes[0], 2.0)
    for log in logs:
        log.close()


def _finish(run_dir: Path, model: ClosedModel | OpenModel, n_workers: int, *, interrupted: bool) -> RunResult:
    folder = run_dir / LOCUST_DIR
    try:
        info = load_run_info(run_dir)
    except RunError:
        raise RunError(
            f"The Locust run in {run_dir} never started (the master wrote no run.json). Master log:\n"
            f"{_tail(folder / 'master.log')}\nFirst worker's log:\n{_tail(folder / 'worker-0.log')}"
        ) from None
    report = folder / "workers.json"
    reported = json.loads(report.read_text()) if report.is_file() else {}
    stats = [
        WorkerStats(
            worker=int(i),
            cpu_s=float(s.get("cpu_s", 0.0)),
            wall_s=float(s.get("wall_s", 0.0)),
            interrupted=interrupted or not s.get("finished", False),
        )
        for i, s in sorted(reported.items(), key=lambda kv: int(kv[0]))
    ]
    missing = sorted(set(range(n_workers)) - {s.worker for s in stats if not s.interrupted})
    failure = ""
    if missing and not interrupted:
        failure = (
            f"Locust workers {missing} never reported their end; their last records may be missing. "
            f"Master log:\n{_tail(folder / 'master.log')}"
        )
    records_path = finalize_run(run_dir)
    result = summarize_run(
        run_dir,
        records_path,
        model,
        stats or [WorkerStats(worker=0, cpu_s=0.0, wall_s=0.0, interrupted=interrupted)],
        transport="locust-fasthttp",
    )
    write_run_info(
        run_dir, {**info, "finished": True, "interrupted": interrupted, "failure": failure, "result": result.to_dict()}
    )
    if failure:
        raise RunError(f"The Locust run in {run_dir} did not end cleanly; its records were kept:\n{failure}")
    if interrupted:
        raise KeyboardInterrupt
    return result
