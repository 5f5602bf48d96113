"""The Locust side of qrbench's Locust engine: run by ``locust -f`` as master or worker, never imported by qrbench.

Importing locust monkey-patches the standard library with gevent, so only Locust processes load this file;
`qrbench.load.locust_engine` starts them and holds everything that can be tested without Locust (records,
plans, error kinds). The flow is described there. Here:

- master: reads the plan (``--qrbench-plan``), hands each worker its part when it says hello, writes run.json
  at the test's start, receives records into one part file per worker (``--qrbench-out``), drives the load
  shape, and at the end stops the workers' sending and waits for their last records;
- worker: asks for its plan, sends (closed-model users, or one open-model arrival scheduler), turns Locust's
  request events into qrbench records, and ships them to the master every ~0.5 s.

A worker on another machine joins with ``locust -f <this file> --worker --master-host HOST --master-port PORT``.
"""

from __future__ import annotations

import json
import logging
import math
import pickle
import random
import time
from pathlib import Path
from typing import Any

import gevent
from gevent.event import Event
from gevent.pool import Group
from locust import FastHttpUser, LoadTestShape, events, task
from locust.runners import MasterRunner, WorkerRunner

from qrbench.load.locust_engine import (
    END_GRACE_S,
    LOCUST_DIR,
    SEND_INTERVAL_S,
    SPAWN_RATE,
    LocustPlan,
    WorkerPlan,
    shift_times,
)
from qrbench.load.records import RecordWriter, classify_exception, dropped_record, request_record, write_run_info
from qrbench.load.workload import ClosedModel, Sessions, arrival_times

_MASTER: _Master | None = None
_WORKER: _Worker | None = None


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument(
        "--qrbench-plan", default="", include_in_web_ui=False, help="qrbench: the run's plan.pkl (master only)"
    )
    parser.add_argument(
        "--qrbench-out",
        default="",
        include_in_web_ui=False,
        help="qrbench: the run folder the records go to (master only)",
    )


@events.init.add_listener
def _init(environment: Any, runner: Any, **_: Any) -> None:
    global _MASTER, _WORKER
    if isinstance(runner, MasterRunner):
        _MASTER = _Master(environment, runner)
    elif isinstance(runner, WorkerRunner):
        _WORKER = _Worker(environment, runner)


# ----------------------------------------------------------------------------------------- master


class _Master:
    def __init__(self, environment: Any, runner: MasterRunner) -> None:
        options = environment.parsed_options
        if not options.qrbench_plan or not options.qrbench_out:
            raise SystemExit("qrbench's locustfile needs --qrbench-plan and --qrbench-out on the master.")
        self.runner = runner
        self.plan: LocustPlan = pickle.loads(Path(options.qrbench_plan).read_bytes())
        self.out = Path(options.qrbench_out)
        self.t0_unix: float | None = None
        self.writers: dict[int, RecordWriter] = {}
        self.last_end: dict[int, float] = {}
        self.stats: dict[int, dict[str, Any]] = {}
        self.greeted: set[int] = set()
        self.finished: set[int] = set()
        self.stopping = False
        for name, listener in (
            ("qrbench_hello", self.on_hello),
            ("qrbench_records", self.on_records),
            ("qrbench_finished", self.on_finished),
            ("qrbench_done", self.on_done),
        ):
            runner.register_message(name, listener)
        environment.events.test_start.add_listener(self.on_test_start)
        environment.events.test_stopping.add_listener(self.on_test_stopping)
        environment.events.quit.add_listener(self.on_quit)

    def on_hello(self, environment: Any, msg: Any, **_: Any) -> None:
        index = self.runner.get_worker_index(msg.node_id)
        plan = self.plan.for_worker(index) if index < self.plan.n_workers else None
        self.greeted.add(index)
        self.runner.send_message("qrbench_plan", {"index": index, "plan": pickle.dumps(plan)}, client_id=msg.node_id)

    def on_test_start(self, environment: Any, **_: Any) -> None:
        self.t0_unix = time.time()
        utc = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(self.t0_unix))
        write_run_info(self.out, {**self.plan.run_info, "t0_unix": self.t0_unix, "t0_utc": f"{utc}+00:00"})

    def on_records(self, environment: Any, msg: Any, **_: Any) -> None:
        data = msg.data
        index = int(data["index"])
        if self.t0_unix is None or not data["rows"]:
            return
        writer = self.writers.get(index)
        if writer is None:
            writer = self.writers[index] = RecordWriter(self.out, worker=index)
        rows = shift_times(data["rows"], float(data["anchor_unix"]) - self.t0_unix)
        for row in rows:
            writer.append(row)
        writer.flush()
        self.last_end[index] = max(self.last_end.get(index, 0.0), max(r[10] for r in rows))

    def on_finished(self, environment: Any, msg: Any, **_: Any) -> None:
        self.finished.add(int(msg.data["index"]))

    def on_done(self, environment: Any, msg: Any, **_: Any) -> None:
        index = int(msg.data["index"])
        self.stats[index] = {"cpu_s": float(msg.data["cpu_s"]), "finished": True}
        writer = self.writers.pop(index, None)
        if writer is not None:
            writer.close()

    def all_finished(self) -> bool:
        return len(self.finished) >= self.plan.n_workers

    def on_test_stopping(self, environment: Any, **_: Any) -> None:
        """Before Locust stops the users: stop every worker's sending and wait for its last records."""
        if self.stopping:
            return
        self.stopping = True
        self.runner.send_message("qrbench_stop", {})
        deadline = time.monotonic() + self.plan.timeout_s + 10.0
        while self.greeted - set(self.stats) and time.monotonic() < deadline:
            gevent.sleep(0.1)

    def on_quit(self, **_: Any) -> None:
        for writer in self.writers.values():
            writer.close()
        self.writers.clear()
        report = {str(i): {**s, "wall_s": self.last_end.get(i, 0.0)} for i, s in self.stats.items()}
        for i in self.last_end:
            report.setdefault(str(i), {"cpu_s": 0.0, "finished": False, "wall_s": self.last_end[i]})
        folder = self.out / LOCUST_DIR
        folder.mkdir(exist_ok=True)
        (folder / "workers.json").write_text(json.dumps(report, indent=1))


class QrbenchShape(LoadTestShape):
    """The model's schedule, ticked once a second: a closed model's users, or one arrival scheduler per worker."""

    def tick(self) -> tuple | None:
        master = _MASTER
        if master is None:
            return None
        model = master.plan.model
        t = self.get_run_time()
        if (model.duration_s is not None and t >= model.duration_s + END_GRACE_S) or master.all_finished():
            return None
        rate = SPAWN_RATE * master.plan.n_workers
        if isinstance(model, ClosedModel):
            # Virtual user i is active while the target exceeds i (as in the native driver).
            return (math.ceil(model.target_users(min(t, model.duration_s or t)) - 1e-9), rate, [ClosedUser])
        return (master.plan.n_workers, rate, [OpenUser])


# ----------------------------------------------------------------------------------------- worker


class _Worker:
    def __init__(self, environment: Any, runner: WorkerRunner) -> None:
        self.runner = runner
        self.plan: WorkerPlan | None = None
        self.ready = Event()
        self.stop = False
        self.rows: list[list[Any]] = []
        self.seq = 0
        self.issued = 0
        self.in_flight = 0
        self.next_user = 0
        self.exhausted_users = 0
        self.reported_finished = False
        self.perf0 = time.perf_counter()
        self.unix0 = time.time()
        self.cpu0 = time.process_time()
        self.headers: dict[str, str] = {}
        self.group = Group()
        runner.register_message("qrbench_plan", self.on_plan)
        runner.register_message("qrbench_stop", self.on_stop)
        environment.events.test_start.add_listener(self.on_test_start)
        environment.events.request.add_listener(self.on_request)
        environment.events.quit.add_listener(lambda **_: self.group.kill(block=False))
        gevent.spawn(self.sender)
        runner.send_message("qrbench_hello", {})

    @property
    def index(self) -> int:
        return self.plan.index if self.plan is not None else max(self.runner.worker_index, 0)

    def on_plan(self, environment: Any, msg: Any, **_: Any) -> None:
        plan: WorkerPlan | None = pickle.loads(msg.data["plan"])
        if plan is not None:
            for cls in (ClosedUser, OpenUser):
                cls.network_timeout = cls.connection_timeout = plan.timeout_s
            OpenUser.concurrency = max(1, plan.max_in_flight)
            self.headers = {"Content-Type": "application/json", **dict(plan.headers)}
        self.plan = plan
        self.ready.set()

    def on_test_start(self, environment: Any, **_: Any) -> None:
        # This worker's clock origin; the master maps it onto its own t0 through the wall clock.
        self.perf0, self.unix0, self.cpu0 = time.perf_counter(), time.time(), time.process_time()

    def past_end(self) -> bool:
        plan = self.plan
        if plan is None or self.stop or self.issued >= plan.limit:
            return True
        duration = plan.model.duration_s
        return duration is not None and time.perf_counter() - self.perf0 >= duration

    def report_finished(self) -> None:
        if self.plan is not None and self.plan.count_bounded and not self.reported_finished:
            self.reported_finished = True
            self.runner.send_message("qrbench_finished", {"index": self.index})

    def send(self, client: Any, spec: Any, t_intended: float | None, user: int, *, counted: bool = False) -> None:
        """One request; its record is made by on_request from Locust's request event.

        counted: the caller already added it to in_flight (the open model counts before it spawns the send).
        """
        seq = self.seq
        self.seq = seq + 1
        if not counted:
            self.in_flight += 1
        try:
            client.request(
                "POST",
                spec.endpoint,
                data=spec.body,
                headers=self.headers,
                name=spec.kind,
                context={"qrbench": (seq, spec, t_intended, user)},
            )
        finally:
            self.in_flight -= 1

    def drop(self, spec: Any, t_intended: float) -> None:
        seq = self.seq
        self.seq = seq + 1
        p0 = self.perf0
        self.rows.append(
            dropped_record(
                seq=seq,
                worker=self.index,
                stage=self.plan.stage,
                spec=spec,
                t_intended=t_intended,
                now=time.perf_counter(),
                t0=p0,
            )
        )

    def on_request(self, response_time: float, response: Any, context: Any, exception: Any, **_: Any) -> None:
        info = context.get("qrbench") if isinstance(context, dict) else None
        if info is None or self.plan is None:
            return
        t_end = time.perf_counter()
        seq, spec, t_intended, user = info
        # Locust's response time is perf_counter milliseconds, unrounded: the send began this long ago.
        t_start = t_end - response_time / 1000.0
        if t_intended is None:
            t_intended = t_start
        status = int(getattr(response, "status_code", 0) or 0)
        try:
            body = response.content if status else None
        except Exception:  # noqa: BLE001 - a body that failed to arrive counts as a reset connection
            body, status, exception = None, 0, ConnectionResetError("the body could not be read")
        p0 = self.perf0
        self.rows.append(
            request_record(
                seq=seq,
                worker=self.index,
                user=user,
                stage=self.plan.stage,
                spec=spec,
                t_intended=t_intended,
                t_start=t_start,
                t_end=t_end,
                status=status,
                body=body or b"",
                error="" if status else classify_exception(exception),
                t0=p0,
            )
        )

    def ship(self) -> None:
        if self.rows:
            rows, self.rows = self.rows, []
            self.runner.send_message("qrbench_records", {"index": self.index, "anchor_unix": self.unix0, "rows": rows})

    def sender(self) -> None:
        while True:
            gevent.sleep(SEND_INTERVAL_S)
            try:
                self.ship()
            except Exception:  # the master is unreachable for now: these rows are lost, the next batch may pass
                logging.exception("qrbench: sending records to the Locust master failed")

    def on_stop(self, environment: Any, msg: Any, **_: Any) -> None:
        self.stop = True
        gevent.spawn(self.finish)

    def finish(self) -> None:
        """Wait for the requests in flight (each bounded by the timeout), then ship the last records."""
        timeout = self.plan.timeout_s if self.plan is not None else 0.0
        deadline = time.monotonic() + timeout + 2.0
        while self.in_flight > 0 and time.monotonic() < deadline:
            gevent.sleep(0.05)
        self.ship()
        self.runner.send_message("qrbench_done", {"index": self.index, "cpu_s": time.process_time() - self.cpu0})


def _idle() -> None:
    """A user with nothing left to send waits here until the master ends the run."""
    gevent.sleep(0.5)


class _QrbenchUser(FastHttpUser):
    abstract = True
    network_timeout = 30.0
    connection_timeout = 30.0

    def on_start(self) -> None:
        worker = _WORKER
        if worker is not None:
            worker.ready.wait(60.0)


class ClosedUser(_QrbenchUser):
    """A virtual user of a closed model: sends, waits for the answer, thinks, sends again."""

    def on_start(self) -> None:
        super().on_start()
        worker = _WORKER
        self.active = worker is not None and worker.plan is not None
        if not self.active:
            return
        plan = worker.plan
        model = plan.model
        assert isinstance(model, ClosedModel)
        self.uid = worker.next_user * plan.n_workers + plan.index
        worker.next_user += 1
        self.sent = 0
        self.exhausted = False
        self.iterations = model.iterations if model.iterations is not None else 2**62
        rng = random.Random(model.seed * 1_000_003 + self.uid)
        self.think = model.think_time_s.sampler(rng)  # type: ignore[union-attr]
        sessions = model.sessions
        self.session_length = sessions.length_sampler(rng) if isinstance(sessions, Sessions) else None
        self.pause = sessions.pause_s.sampler(rng) if isinstance(sessions, Sessions) else None  # type: ignore
        self.left = self.session_length() if self.session_length is not None else -1
        self.next_wait = self.think

    def wait_time(self) -> float:
        wait = getattr(self, "next_wait", None)
        return wait() if wait is not None else 0.0

    @task
    def send(self) -> None:
        worker = _WORKER
        if not self.active or worker is None or worker.past_end():
            if worker is not None and worker.plan is not None and worker.issued >= worker.plan.limit:
                worker.report_finished()
            self.next_wait = None
            _idle()
            return
        if self.sent >= self.iterations:
            if not self.exhausted:
                self.exhausted = True
                worker.exhausted_users += 1
                if worker.exhausted_users >= worker.runner.user_count:
                    worker.report_finished()  # every user of this worker has sent its iterations
            self.next_wait = None
            _idle()
            return
        worker.issued += 1
        self.sent += 1
        self.next_wait = self.think
        if self.session_length is not None:
            self.left -= 1
            if self.left <= 0:
                self.left = self.session_length()
                self.next_wait = self.pause
        worker.send(self.client, worker.plan.source(), None, self.uid)


class OpenUser(_QrbenchUser):
    """One per worker: sends this worker's share of the open model's arrivals without waiting for answers."""

    concurrency = 1000

    def wait_time(self) -> float:
        return 0.0

    @task
    def schedule(self) -> None:
        worker = _WORKER
        if worker is None or worker.plan is None or getattr(self, "done", False):
            _idle()
            return
        plan = worker.plan
        model = plan.model
        k, i = plan.n_workers, plan.index
        seed = model.seed if k == 1 else model.seed * 1_000_003 + i
        origin = worker.perf0
        for t_rel in arrival_times(model, share=1.0 / k, phase=i / k, seed=seed):
            if worker.stop or worker.issued >= plan.limit:
                break
            t_intended = origin + t_rel
            delay = t_intended - time.perf_counter()
            if delay > 0:
                gevent.sleep(delay)
            if worker.stop:
                break
            worker.issued += 1
            spec = plan.source()
            if worker.in_flight >= plan.max_in_flight:
                worker.drop(spec, t_intended)
                continue
            worker.in_flight += 1
            worker.group.spawn(worker.send, self.client, spec, t_intended, -1, counted=True)
        self.done = True
        worker.report_finished()
