"""The load driver: run a closed or open workload against a target and record every request.

One asyncio event loop per process, running in a helper thread so that the calling thread stays free
for Ctrl-C, the progress bar, and notebooks (whose own loop forbids asyncio.run in the cell's thread).
run_load_processes() fans the same workload out over K spawned processes, each with its own loop;
they die with the calling process, even when it is killed with SIGKILL (see lifeline).

Every loop is bounded in time and count and stops by itself. Failures are records, never exceptions;
Ctrl-C (or KeyboardInterrupt in a notebook) stops the run, keeps every record, merges them, and then
re-raises KeyboardInterrupt. Requests cut short by the interrupt are not recorded.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing as mp
import os
import pickle
import queue
import random
import threading
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from qrbench.errors import ParameterError, RunError
from qrbench.load.lifeline import die_with_parent, parent_alive
from qrbench.load.records import (
    RECORD_COLUMNS,
    RecordWriter,
    dropped_record,
    finalize_run,
    load_records,
    request_record,
    write_run_info,
)
from qrbench.load.request import RequestSpec
from qrbench.load.safety import check_target
from qrbench.load.transport import TRANSPORTS, make_transport
from qrbench.load.workload import ClosedModel, OpenModel, Sessions, arrival_times

__all__ = [
    "RunResult",
    "CycleSource",
    "cycle_source",
    "run_load",
    "run_load_processes",
    "DEFAULT_TRANSPORT",
    "CPU_SATURATION_PERCENT",
]
# Not in __all__ but public to the other load engines (engine.py, locust_engine.py, artillery.py), which build
# on them: check_run_args, split_count, new_run_dir, model_settings, WorkerStats, summarize_run, progress_bar,
# progress_label.

# Measured faster here (benchmarks/generator_speed.py): raw aiohttp.
DEFAULT_TRANSPORT = "aiohttp"
# A generator process busier than this share of one core is probably the bottleneck, not the server.
CPU_SATURATION_PERCENT = 90.0
# Records reach disk at least this often (seconds), so a kill loses at most about this much.
FLUSH_INTERVAL_S = 0.5
# How often the calling thread checks for stop requests and refreshes progress (seconds).
_TICK_S = 0.25
# A driver process still running this long after its model's duration and timeout stops itself (seconds).
_STOP_MARGIN_S = 30.0

_NAN = float("nan")
_OK = RECORD_COLUMNS.index("ok")


# ----------------------------------------------------------------------------------------- sources


class CycleSource:
    """A request source that cycles through a fixed list of RequestSpecs (picklable, for processes)."""

    def __init__(self, specs: Sequence[RequestSpec], *, start: int = 0) -> None:
        if not specs:
            raise ParameterError("cycle_source needs at least one RequestSpec; the list given is empty.")
        self._specs = tuple(specs)
        self._i = start % len(self._specs)

    def __call__(self) -> RequestSpec:
        spec = self._specs[self._i]
        self._i = (self._i + 1) % len(self._specs)
        return spec

    def for_worker(self, worker: int, n_workers: int) -> CycleSource:
        """The copy driver process `worker` of `n_workers` uses: same list, staggered start."""
        return CycleSource(self._specs, start=self._i + worker * len(self._specs) // n_workers)


def cycle_source(specs: Sequence[RequestSpec]) -> CycleSource:
    """A request source that returns the given specs in order, forever."""
    return CycleSource(specs)


# ----------------------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True, kw_only=True)
class RunResult:
    """What a run did, and whether its numbers describe the server or the generator.

    n_requests counts every record (dropped ones included); n_errors every record that is not ok.
    duration_s: seconds from t0 to the end of the last request. achieved_rps: sent (not dropped)
    requests per second. generator_cpu_s: CPU seconds of all driver processes; generator_cpu_percent:
    the busiest driver process, in percent of one core. send_lag_*_ms: lateness of sends against their
    intended time (0 in the closed model). saturated: the asked load was not delivered as asked (see
    saturation_reasons).
    """

    run_dir: Path
    records_path: Path
    transport: str
    processes: int
    n_requests: int
    n_ok: int
    n_errors: int
    n_late: int
    n_dropped: int
    error_counts: tuple[tuple[str, int], ...]
    duration_s: float
    achieved_rps: float
    generator_cpu_s: float
    generator_cpu_percent: float
    send_lag_p50_ms: float
    send_lag_p99_ms: float
    saturated: bool
    saturation_reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly copy (paths as text, NaN as None)."""
        out = asdict(self)
        for key, value in out.items():
            if isinstance(value, Path):
                out[key] = str(value)
            elif isinstance(value, float) and math.isnan(value):
                out[key] = None
        out["error_counts"] = dict(self.error_counts)
        out["saturation_reasons"] = list(self.saturation_reasons)
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerStats:
    worker: int
    cpu_s: float
    wall_s: float  # t0 to the end of this worker's last request
    interrupted: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class _Plan:
    """Everything one driver process needs (picklable)."""

    base_url: str
    model: ClosedModel | OpenModel
    run_dir: Path
    worker: int
    n_workers: int
    stage: str
    timeout_s: float
    transport: str
    headers: tuple[tuple[str, str], ...]


# ----------------------------------------------------------------------------------------- engine


def split_count(total: int, parts: int, index: int) -> int:
    return total // parts + (1 if index < total % parts else 0)


class _Engine:
    """One process's request loop. Counters are plain ints: only the loop thread writes them."""

    def __init__(self, plan: _Plan, source: Callable[[], RequestSpec], writer: RecordWriter, t0: float) -> None:
        self.plan = plan
        self.source = source
        self.writer = writer
        self.t0 = t0
        self.seq = 0
        self.issued = 0
        self.n_done = 0
        self.n_errors = 0
        self.in_flight = 0
        self.tasks: set[asyncio.Task[Any]] = set()
        self.stop_requested = False
        self.interrupted = False
        self.main_task: asyncio.Task[Any] | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stats: WorkerStats | None = None
        self._post: Callable[[str, bytes], Any] | None = None

    async def _exchange(self, spec: RequestSpec, t_intended: float | None, user: int) -> None:
        # The hot path: two clock reads, one send, a JSON parse, one tuple appended.
        seq = self.seq
        self.seq = seq + 1
        t_start = time.perf_counter()
        if t_intended is None:
            t_intended = t_start
        status, payload, error = await self._post(spec.endpoint, spec.body)  # type: ignore[misc]
        t_end = time.perf_counter()
        self.in_flight -= 1
        record = request_record(
            seq=seq,
            worker=self.plan.worker,
            user=user,
            stage=self.plan.stage,
            spec=spec,
            t_intended=t_intended,
            t_start=t_start,
            t_end=t_end,
            status=status,
            body=payload,
            error=error,
            t0=self.t0,
        )
        self.n_done += 1
        if not record[_OK]:
            self.n_errors += 1
        self.writer.append(record)

    def _drop(self, spec: RequestSpec, t_intended: float) -> None:
        seq = self.seq
        self.seq = seq + 1
        now = time.perf_counter()
        self.n_done += 1
        self.n_errors += 1
        self.writer.append(
            dropped_record(
                seq=seq,
                worker=self.plan.worker,
                stage=self.plan.stage,
                spec=spec,
                t_intended=t_intended,
                now=now,
                t0=self.t0,
            )
        )

    # ---- closed model

    async def _user(self, uid: int, deadline: float, iterations: int, limit: int) -> None:
        model = self.plan.model
        assert isinstance(model, ClosedModel)
        rng = random.Random(model.seed * 1_000_003 + uid)
        think = model.think_time_s.sampler(rng)  # type: ignore[union-attr]
        sessions = model.sessions
        session_length = sessions.length_sampler(rng) if isinstance(sessions, Sessions) else None
        pause = sessions.pause_s.sampler(rng) if isinstance(sessions, Sessions) else None  # type: ignore[union-attr]
        left = session_length() if session_length is not None else -1
        exchange, source, t0 = self._exchange, self.source, self.t0
        sent = 0
        for start_s, end_s in model.user_windows(uid):
            # A window ends the user's sending, not its request: one in flight at the end completes.
            start_at, end_at = t0 + start_s, min(t0 + end_s, deadline)
            if start_at >= end_at:
                continue
            delay = start_at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            while sent < iterations and self.issued < limit and not self.stop_requested:
                if time.perf_counter() >= end_at:
                    break
                self.issued += 1
                sent += 1
                self.in_flight += 1
                await exchange(source(), None, uid)
                wait = think
                if session_length is not None:
                    left -= 1
                    if left <= 0:
                        left = session_length()
                        wait = pause
                if wait is not None:
                    # Never sleep past the run's end: a long pause must not hold the run open.
                    await asyncio.sleep(max(0.0, min(wait(), deadline - time.perf_counter())))
            if sent >= iterations or self.issued >= limit or self.stop_requested:
                break

    async def _run_closed(self, model: ClosedModel) -> None:
        w, k = self.plan.worker, self.plan.n_workers
        deadline = self.t0 + model.duration_s if model.duration_s is not None else math.inf
        iterations = model.iterations if model.iterations is not None else 2**62
        limit = split_count(model.max_requests, k, w)
        users = [
            asyncio.create_task(self._user(uid, deadline, iterations, limit))
            for uid in range(w, model.users, k)  # type: ignore[arg-type]
        ]
        self.tasks.update(users)
        await asyncio.gather(*users)

    # ---- open model

    async def _run_open(self, model: OpenModel) -> None:
        w, k = self.plan.worker, self.plan.n_workers
        seed = model.seed if k == 1 else model.seed * 1_000_003 + w
        times = arrival_times(model, share=1.0 / k, phase=w / k, seed=seed)
        limit = split_count(model.max_requests, k, w)
        max_in_flight = math.ceil(model.max_in_flight / k)
        loop = asyncio.get_running_loop()
        tasks, source, t0 = self.tasks, self.source, self.t0
        for t_rel in times:
            if self.issued >= limit or self.stop_requested:
                break
            t_intended = t0 + t_rel
            delay = t_intended - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            self.issued += 1
            spec = source()
            if self.in_flight >= max_in_flight:
                self._drop(spec, t_intended)
                continue
            self.in_flight += 1
            task = loop.create_task(self._exchange(spec, t_intended, -1))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            # In-flight requests finish (each bounded by the timeout): a stall at the end must be counted.
            await asyncio.wait(set(tasks))

    # ---- the process's main coroutine

    async def main(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.main_task = asyncio.current_task()
        plan = self.plan
        transport = make_transport(
            plan.transport,
            plan.base_url,
            connections=_connections(plan),
            timeout_s=plan.timeout_s,
            headers=dict(plan.headers),
        )
        self._post = transport.post
        flusher = asyncio.create_task(self._flush_every(FLUSH_INTERVAL_S))
        cpu0 = time.process_time()
        try:
            delay = self.t0 - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if self.stop_requested:
                raise asyncio.CancelledError
            if isinstance(plan.model, ClosedModel):
                await self._run_closed(plan.model)
            else:
                await self._run_open(plan.model)
        except asyncio.CancelledError:
            self.interrupted = True
        finally:
            end = time.perf_counter()
            cpu = time.process_time() - cpu0
            flusher.cancel()
            for task in self.tasks:
                task.cancel()
            await asyncio.gather(flusher, *self.tasks, return_exceptions=True)
            await transport.aclose()
            self.stats = WorkerStats(
                worker=plan.worker, cpu_s=cpu, wall_s=end - self.t0, interrupted=self.interrupted or self.stop_requested
            )

    async def _flush_every(self, interval_s: float) -> None:
        while True:
            await asyncio.sleep(interval_s)
            self.writer.flush()

    def request_stop(self) -> None:
        """Called from another thread: cancel the run (records so far are kept)."""
        self.stop_requested = True
        loop, task = self.loop, self.main_task
        if loop is not None and task is not None and not loop.is_closed():
            loop.call_soon_threadsafe(task.cancel)


def _connections(plan: _Plan) -> int:
    model = plan.model
    if isinstance(model, ClosedModel):
        return max(1, len(range(plan.worker, model.users, plan.n_workers)))
    return math.ceil(model.max_in_flight / plan.n_workers)


def _drive(
    plan: _Plan,
    source: Callable[[], RequestSpec],
    t0: float,
    on_tick: Callable[[_Engine], bool],
) -> WorkerStats:
    """Run one process's workload in a loop thread; call on_tick(engine) every ~0.25 s from this thread.

    on_tick returning True, or KeyboardInterrupt in this thread, stops the run. Records are flushed and
    the file closed before returning.
    """
    writer = RecordWriter(plan.run_dir, worker=plan.worker)
    engine = _Engine(plan, source, writer, t0)
    failure: list[BaseException] = []
    finished = threading.Event()

    def target() -> None:
        try:
            asyncio.run(engine.main())
        except BaseException as exc:  # noqa: BLE001 - handed to the calling thread, which re-raises it
            failure.append(exc)
        finally:
            finished.set()

    thread = threading.Thread(target=target, name=f"qrbench-driver-{plan.worker}", daemon=True)
    try:
        thread.start()
        # Wait on an Event, not Thread.join(timeout): in Python 3.11 a KeyboardInterrupt inside join()
        # can mark a still-running thread as stopped.
        while not finished.is_set():
            try:
                finished.wait(_TICK_S)
                if on_tick(engine):
                    engine.request_stop()
            except KeyboardInterrupt:
                engine.request_stop()
        thread.join()
        on_tick(engine)
    finally:
        writer.close()
    if failure:
        raise failure[0]
    assert engine.stats is not None
    return engine.stats


# ----------------------------------------------------------------------------------------- public API


def check_run_args(model: object, timeout_s: float, transport: str, request_source: object) -> None:
    if not isinstance(model, ClosedModel | OpenModel):
        raise ParameterError(f"model must be a ClosedModel or an OpenModel, not {type(model).__name__}.")
    if not (isinstance(timeout_s, int | float) and math.isfinite(timeout_s) and timeout_s > 0):
        raise ParameterError(f"timeout_s must be a positive number of seconds, not {timeout_s!r}.")
    if transport not in TRANSPORTS:
        raise ParameterError(f"Transport {transport!r} is unknown; use one of {', '.join(TRANSPORTS)}.")
    if not callable(request_source):
        raise ParameterError(
            f"request_source must be a callable returning a RequestSpec, not {type(request_source).__name__}."
        )


def new_run_dir(out_dir: str | os.PathLike[str]) -> Path:
    run_dir = Path(out_dir)
    if run_dir.is_file() or (run_dir.is_dir() and any(run_dir.iterdir())):
        raise ParameterError(
            f"The out_dir {run_dir} already exists and is not an empty folder; a run folder holds one run, "
            "so give each run a new out_dir."
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def _settings_dict(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in obj.__dataclass_fields__:
        value = getattr(obj, name)
        if name.startswith("_"):
            continue
        out[name] = _settings_dict(value) if hasattr(value, "__dataclass_fields__") else value
    return out


def model_settings(model: ClosedModel | OpenModel) -> dict[str, Any]:
    return {"type": type(model).__name__, **_settings_dict(model)}


def _anchor() -> tuple[float, dict[str, Any]]:
    # t0 is a perf_counter() value; on Linux that is CLOCK_MONOTONIC, shared by every process, so
    # spawned workers can use the parent's t0 directly.
    t0 = time.perf_counter()
    unix = time.time()
    return t0, {"t0_unix": unix, "t0_utc": datetime.fromtimestamp(unix, UTC).isoformat()}


def _run_info(
    base_url: str, model: ClosedModel | OpenModel, anchor: Mapping[str, Any], **settings: Any
) -> dict[str, Any]:
    return {
        "schema": 1,
        "target": base_url,
        **anchor,
        "model": model_settings(model),
        "settings": settings,
        "finished": False,
    }


def summarize_run(
    run_dir: Path,
    records_path: Path,
    model: ClosedModel | OpenModel,
    stats: Sequence[WorkerStats],
    *,
    transport: str,
) -> RunResult:
    df = load_records(run_dir)
    dropped = (df["error"] == "dropped").to_numpy()
    sent_lag = df["late_ms"].to_numpy()[~dropped]
    threshold = model.late_threshold_ms if isinstance(model, OpenModel) else math.inf
    n_late = int((sent_lag > threshold).sum())
    p50, p99 = np.percentile(sent_lag, [50, 99]) if sent_lag.size else (_NAN, _NAN)
    errors = df.loc[df["error"] != "", "error"].value_counts()
    duration = max((s.wall_s for s in stats), default=0.0)
    n_dropped = int(dropped.sum())
    cpu_s = sum(s.cpu_s for s in stats)
    cpu_pct = max((100.0 * s.cpu_s / s.wall_s for s in stats if s.wall_s > 0), default=0.0)
    reasons = []
    if cpu_pct >= CPU_SATURATION_PERCENT:
        reasons.append(f"a generator process used {cpu_pct:.0f} % of a core (limit {CPU_SATURATION_PERCENT:.0f} %)")
    if isinstance(model, OpenModel):
        if p99 > model.late_threshold_ms:
            reasons.append(f"send lag p99 was {p99:.1f} ms (limit {model.late_threshold_ms:g} ms)")
        if n_dropped:
            reasons.append(f"{n_dropped} sends were dropped at max_in_flight={model.max_in_flight}")
    return RunResult(
        run_dir=run_dir,
        records_path=records_path,
        transport=transport,
        processes=len(stats),
        n_requests=len(df),
        n_ok=int(df["ok"].sum()),
        n_errors=int((~df["ok"]).sum()),
        n_late=n_late,
        n_dropped=n_dropped,
        error_counts=tuple(sorted((str(k), int(v)) for k, v in errors.items())),
        duration_s=duration,
        achieved_rps=(len(df) - n_dropped) / duration if duration > 0 else 0.0,
        generator_cpu_s=cpu_s,
        generator_cpu_percent=cpu_pct,
        send_lag_p50_ms=float(p50),
        send_lag_p99_ms=float(p99),
        saturated=bool(reasons),
        saturation_reasons=tuple(reasons),
    )


def progress_label(stage: str) -> str:
    """The progress bar's name for a run's stage label: "load" for the main run, "warm-up" for the warm-up."""
    return {"": "load", "warmup": "warm-up"}.get(stage, stage)


def progress_bar(model: ClosedModel | OpenModel, stage: str, enabled: bool, *, label: str | None = None) -> Any:
    """A tqdm bar counting requests against the model's planned total, read as "load: 19 of ~40 requests, 0 errors".

    A closed model's total is an estimate (its users wait for answers), hence the "~"; an open model's
    schedule gives it exactly. label: the bar's name (default: progress_label(stage)).
    """
    approximate = isinstance(model, ClosedModel) and model.expected_requests is None
    return tqdm(
        total=model.approximate_requests(),
        unit="req",
        desc=label or progress_label(stage),
        disable=not enabled,
        mininterval=0.5,
        dynamic_ncols=True,
        postfix="0 errors",
        bar_format="{desc}: {n_fmt} of " + ("~" if approximate else "") + "{total_fmt} requests{postfix} "
        "{bar} {elapsed}",
    )


def _update_bar(bar: Any, done: int, errors: int) -> None:
    if bar.disable:
        return
    bar.update(done - bar.n)
    bar.set_postfix_str(f"{errors} error{'' if errors == 1 else 's'}", refresh=False)


def run_load(
    url: str,
    request_source: Callable[[], RequestSpec],
    model: ClosedModel | OpenModel,
    *,
    out_dir: str | os.PathLike[str],
    worker: int = 0,
    stage: str = "",
    timeout_s: float = 30.0,
    allow_remote: bool = False,
    progress: bool = True,
    headers: Mapping[str, str] | None = None,
    transport: str = DEFAULT_TRANSPORT,
) -> RunResult:
    """Run a workload from this process and return its summary; records go to out_dir.

    url: the service's base URL (loopback only unless allow_remote). request_source: a callable
    returning the next RequestSpec. timeout_s: total seconds per request. stage: a label copied into
    every record. transport: "aiohttp" (default, fastest) or "httpx". Blocks until the run ends;
    on Ctrl-C keeps and merges the records so far, then re-raises KeyboardInterrupt.
    """
    base_url = check_target(url, allow_remote=allow_remote)
    check_run_args(model, timeout_s, transport, request_source)
    if not isinstance(worker, int) or worker < 0:
        raise ParameterError(f"worker must be an integer of at least 0, not {worker!r}.")
    run_dir = new_run_dir(out_dir)
    plan = _Plan(
        base_url=base_url,
        model=model,
        run_dir=run_dir,
        worker=worker,
        n_workers=1,
        stage=stage,
        timeout_s=float(timeout_s),
        transport=transport,
        headers=tuple((headers or {}).items()),
    )
    t0, anchor = _anchor()
    info = _run_info(
        base_url, model, anchor, stage=stage, timeout_s=timeout_s, transport=transport, processes=1, cpus=None
    )
    write_run_info(run_dir, info)
    bar = progress_bar(model, stage, progress)

    def tick(engine: _Engine) -> bool:
        _update_bar(bar, engine.n_done, engine.n_errors)
        return False

    try:
        stats = _drive(plan, request_source, t0, tick)
    finally:
        bar.close()
    return _finish(run_dir, info, model, [stats], transport=transport)


def _finish(
    run_dir: Path,
    info: dict[str, Any],
    model: ClosedModel | OpenModel,
    stats: Sequence[WorkerStats],
    *,
    transport: str,
    failure: str = "",
) -> RunResult:
    records_path = finalize_run(run_dir)
    result = summarize_run(run_dir, records_path, model, stats, transport=transport)
    interrupted = any(s.interrupted for s in stats)
    write_run_info(
        run_dir, {**info, "finished": True, "interrupted": interrupted, "failure": failure, "result": result.to_dict()}
    )
    if failure:
        raise RunError(f"A driver process failed during the run in {run_dir}; its records were kept:\n{failure}")
    if interrupted:
        raise KeyboardInterrupt
    return result


# ----------------------------------------------------------------------------------------- processes


def _time_bound_s(plan: _Plan) -> float | None:
    """Seconds after go within which a driver process must have ended, or None for a count-bounded run:
    the model's duration, the last requests' timeout, and a margin for starting and closing."""
    duration = plan.model.duration_s
    return None if duration is None else duration + plan.timeout_s + _STOP_MARGIN_S


def _process_main(
    plan: _Plan,
    source: Callable[[], RequestSpec],
    cpus: tuple[int, ...] | None,
    messages: Any,
    go: Any,
    t0_value: Any,
    stop: Any,
    counters: Any,
    parent_pid: int,
) -> None:
    """Entry point of a spawned driver process; talks to the parent only through `messages`.

    It dies with its parent (see lifeline), stops by itself if its parent is gone (portable fallback)
    and once its run overstays its bound (_time_bound_s), so no load outlives the run it belongs to.
    """
    try:
        die_with_parent(parent_pid)
        if cpus:
            os.sched_setaffinity(0, set(cpus))
        messages.put(("ready", plan.worker, None))
        while not go.wait(_TICK_S):
            if not parent_alive(parent_pid):
                return  # nobody is left to report to
            if stop.is_set():
                messages.put(
                    ("done", plan.worker, WorkerStats(worker=plan.worker, cpu_s=0.0, wall_s=0.0, interrupted=True))
                )
                return
        i = 2 * plan.worker
        bound_s = _time_bound_s(plan)
        hard_stop = time.perf_counter() + bound_s if bound_s is not None else math.inf

        def tick(engine: _Engine) -> bool:
            counters[i] = engine.n_done
            counters[i + 1] = engine.n_errors
            return stop.is_set() or not parent_alive(parent_pid) or time.perf_counter() > hard_stop

        stats = _drive(plan, source, t0_value.value, tick)
        messages.put(("done", plan.worker, stats))
    except KeyboardInterrupt:
        messages.put(("done", plan.worker, WorkerStats(worker=plan.worker, cpu_s=0.0, wall_s=0.0, interrupted=True)))
    except BaseException:  # noqa: BLE001 - a child's failure of any kind is reported to the parent, with its traceback
        messages.put(("failed", plan.worker, traceback.format_exc()))


def run_load_processes(
    url: str,
    request_source: Callable[[], RequestSpec],
    model: ClosedModel | OpenModel,
    *,
    processes: int,
    out_dir: str | os.PathLike[str],
    cpus: Sequence[int] | None = None,
    stage: str = "",
    timeout_s: float = 30.0,
    allow_remote: bool = False,
    progress: bool = True,
    headers: Mapping[str, str] | None = None,
    transport: str = DEFAULT_TRANSPORT,
    start_timeout_s: float = 60.0,
) -> RunResult:
    """Run one workload from `processes` spawned driver processes and merge their records.

    Users (closed) or rate, max_in_flight and max_requests (open) are split evenly; a closed model
    uses at most `users` processes. request_source must be picklable; if it has
    ``for_worker(worker, n_workers)``, each process uses what that returns (e.g. a differently seeded
    sampler). cpus: CPU indices to pin the driver processes to, process i on cpus[i % len(cpus)].
    start_timeout_s: seconds allowed for the processes to start (import and connect nothing yet).
    Processes are spawned, so a calling script needs an ``if __name__ == "__main__":`` guard.
    """
    base_url = check_target(url, allow_remote=allow_remote)
    check_run_args(model, timeout_s, transport, request_source)
    if not isinstance(processes, int) or processes < 1:
        raise ParameterError(f"processes must be an integer of at least 1, not {processes!r}.")
    k = min(processes, model.users) if isinstance(model, ClosedModel) else processes
    pinned = _pinned_cpus(cpus, k)
    sources = _worker_sources(request_source, k)
    run_dir = new_run_dir(out_dir)
    fleet = _Fleet(k)
    for i in range(k):
        plan = _Plan(
            base_url=base_url,
            model=model,
            run_dir=run_dir,
            worker=i,
            n_workers=k,
            stage=stage,
            timeout_s=float(timeout_s),
            transport=transport,
            headers=tuple((headers or {}).items()),
        )
        fleet.add(plan, sources[i], pinned[i])
    bar = progress_bar(model, stage, progress)
    info: dict[str, Any] = {}
    interrupted = False
    try:
        fleet.start(start_timeout_s)
        t0, anchor = _anchor()
        t0 += 0.05  # let every process get from go.wait() into its loop before t=0
        anchor["t0_unix"] += 0.05
        anchor["t0_utc"] = datetime.fromtimestamp(anchor["t0_unix"], UTC).isoformat()
        info = _run_info(
            base_url,
            model,
            anchor,
            stage=stage,
            timeout_s=timeout_s,
            transport=transport,
            processes=k,
            cpus=list(cpus) if cpus else None,
        )
        write_run_info(run_dir, info)
        fleet.go(t0)
        interrupted = fleet.collect(bar)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
        fleet.stop(join_timeout_s=timeout_s + 10)
    if not info:
        if interrupted:
            raise KeyboardInterrupt
        raise RunError(f"The run in {run_dir} never started.")
    stats = fleet.stats
    if interrupted:
        stats.update(
            {i: WorkerStats(worker=i, cpu_s=0.0, wall_s=0.0, interrupted=True) for i in range(k) if i not in stats}
        )
    return _finish(run_dir, info, model, list(stats.values()), transport=transport, failure="\n".join(fleet.failures))


def _pinned_cpus(cpus: Sequence[int] | None, k: int) -> list[tuple[int, ...] | None]:
    """Driver process i's CPU (cpus[i % len(cpus)]), or None for each when not pinned."""
    if not cpus:
        return [None] * k
    allowed = os.sched_getaffinity(0)
    bad = [c for c in cpus if c not in allowed]
    if bad:
        raise ParameterError(f"cpus {bad} are not available to this process; choose from {sorted(allowed)}.")
    return [(cpus[i % len(cpus)],) for i in range(k)]


def _worker_sources(request_source: Callable[[], RequestSpec], k: int) -> list[Callable[[], RequestSpec]]:
    sources = []
    for i in range(k):
        src = request_source.for_worker(i, k) if hasattr(request_source, "for_worker") else request_source
        try:
            pickle.dumps(src)
        except Exception as exc:
            raise ParameterError(
                f"request_source ({type(request_source).__name__}) cannot be pickled for a spawned process "
                f"({exc}); use a picklable source such as cycle_source(specs) or run_load() in one process."
            ) from exc
        sources.append(src)
    return sources


class _Fleet:
    """The spawned driver processes of one run: started together, released at one t0, their reports collected."""

    def __init__(self, k: int) -> None:
        ctx = mp.get_context("spawn")
        self.k, self._ctx = k, ctx
        self.messages = ctx.Queue()
        self.go_event, self.stop_event = ctx.Event(), ctx.Event()
        self.t0_value = ctx.Value("d", 0.0, lock=False)
        self.counters = ctx.Array("q", 2 * k, lock=False)
        self.procs: list[Any] = []
        self.stats: dict[int, WorkerStats] = {}
        self.failures: list[str] = []

    def add(self, plan: _Plan, source: Callable[[], RequestSpec], cpus: tuple[int, ...] | None) -> None:
        args = (plan, source, cpus, self.messages, self.go_event, self.t0_value, self.stop_event, self.counters)
        name = f"qrbench-driver-{len(self.procs)}"
        self.procs.append(self._ctx.Process(target=_process_main, args=(*args, os.getpid()), name=name, daemon=True))

    def _receive(self) -> tuple[str, int, Any] | None:
        try:
            return self.messages.get(timeout=_TICK_S)
        except queue.Empty:
            return None

    def start(self, start_timeout_s: float) -> None:
        """Start every process and wait until each reports ready; RunError when one fails or time runs out."""
        for p in self.procs:
            p.start()
        ready = 0
        deadline = time.monotonic() + start_timeout_s
        while ready < self.k:
            if time.monotonic() > deadline or any(p.exitcode is not None for p in self.procs):
                raise RunError(
                    f"Only {ready} of {self.k} driver processes started within {start_timeout_s} s "
                    f"(exit codes {[p.exitcode for p in self.procs]}); see their messages above. A script that "
                    "calls run_load_processes needs an `if __name__ == '__main__':` guard, as spawn re-imports it."
                )
            message = self._receive()
            if message is None:
                continue
            if message[0] == "failed":
                raise RunError(f"Driver process {message[1]} failed to start:\n{message[2]}")
            ready += 1

    def go(self, t0: float) -> None:
        self.t0_value.value = t0
        self.go_event.set()

    def collect(self, bar) -> bool:
        """Gather every process's report (stats or failure), updating the bar; True when interrupted."""
        interrupted = False
        while len(self.stats) + len(self.failures) < self.k:
            try:
                message = self._receive()
            except KeyboardInterrupt:
                interrupted = True
                self.stop_event.set()
                continue
            if message is None:
                self._update(bar)
                if not all(p.exitcode is not None for p in self.procs):
                    continue
                message = self._receive()  # a process's last message is in the pipe before it exits
                if message is None:
                    missing = sorted(set(range(self.k)) - set(self.stats))
                    self.failures.append(f"driver processes {missing} exited without reporting.")
                    break
            kind, worker, payload = message
            if kind == "done":
                self.stats[worker] = payload
            else:
                self.failures.append(f"worker {worker}:\n{payload}")
        self._update(bar)
        return interrupted

    def _update(self, bar) -> None:
        _update_bar(bar, sum(self.counters[0::2]), sum(self.counters[1::2]))

    def stop(self, join_timeout_s: float) -> None:
        self.stop_event.set()
        self.go_event.set()
        for p in self.procs:
            if p.pid is None:
                continue
            p.join(timeout=join_timeout_s)
            if p.exitcode is None:
                p.kill()
                p.join()
            p.close()
        self.messages.close()
        self.messages.join_thread()
