"""A live view of a run in JupyterLab: the load call runs in a background thread while the calling thread
redraws the timeline from the part files on disk (flushed by the driver every 0.5 s) into one IPython display
updated in place. Outside a Jupyter kernel nothing is displayed, but the call runs and returns all the same.
"""

from __future__ import annotations

import ctypes
import html
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd

from ..errors import RunError
from ..load.records import load_records, load_run_info
from ..monitor import MetricsSampler, ProcessSampler
from ..monitor.prometheus_server import AlertPoller, PrometheusAPI, alert_intervals
from ..studies import RunFolder
from .plots_alerts import overlay_alerts
from .plots_load import timeline

__all__ = ["LiveView", "live_records", "live_title", "split_warmup", "counts_sentence", "WARMUP_STAGE"]

_TIME_COLUMNS = ("t_intended", "t_start", "t_end")


def _run_folders(run_dir: Path) -> list[Path]:
    """The folders with a run.json at or up to two levels below run_dir, e.g. a study's load/ or stages/*."""
    return sorted(p.parent for pattern in ("run.json", "*/run.json", "*/*/run.json") for p in run_dir.glob(pattern))


WARMUP_STAGE = "warmup"  # the stage label of a study's cache warm-up (studies/load/run.py), shown apart


def _is_warmup(folder: Path, info: Mapping[str, Any]) -> bool:
    return (info.get("settings") or {}).get("stage") == WARMUP_STAGE or folder.name == WARMUP_STAGE


def live_records(run_dir: str | os.PathLike[str]) -> pd.DataFrame:
    """Every record written so far under run_dir, on one clock: seconds since the t0 of the earliest run that
    is not a warm-up (the clock of phases.json; ``attrs["t0_unix"]``), else of the warm-up. Folders without a
    t0 (a study's own run.json) or being merged are skipped."""
    frames, anchors, warm = [], [], []
    for folder in _run_folders(Path(run_dir)):
        try:
            info = load_run_info(folder)
            t0_unix = float(info["t0_unix"])
            records = load_records(folder)
        except (RunError, OSError, ValueError, KeyError):
            continue  # not started, or its part files are being merged into parquet right now
        frames.append(records)
        anchors.append(t0_unix)
        warm.append(_is_warmup(folder, info))
    if not anchors:
        return pd.DataFrame()
    t0 = min((a for a, w in zip(anchors, warm, strict=True) if not w), default=min(anchors))
    for records, anchor in zip(frames, anchors, strict=True):
        for column in _TIME_COLUMNS:
            records[column] += anchor - t0
    out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    out.attrs["t0_unix"] = t0
    return out


def split_warmup(records: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the run's records, the warm-up's records): the warm-up is counted and shown apart, never judged."""
    if records.empty or "stage" not in records.columns:
        return records, records.iloc[0:0]
    warm = records["stage"] == WARMUP_STAGE
    run, warmup = records[~warm], records[warm]
    run.attrs, warmup.attrs = dict(records.attrs), dict(records.attrs)
    return run, warmup


def live_title(
    name: str,
    records: pd.DataFrame,
    warmup: pd.DataFrame,
    *,
    elapsed_s: float,
    state: str,
    waiting: str = "waiting for the first records",
) -> str:
    """E.g. "load: 21 requests, 0 errors (26 s, live) · warm-up apart: 7 requests"; `waiting` before any record."""
    warm = f" · warm-up apart: {len(warmup)} request{'' if len(warmup) == 1 else 's'}" if len(warmup) else ""
    when = f"({elapsed_s:.0f} s, {state})"
    if records.empty:
        doing = "warming up" if len(warmup) and state == "live" else waiting
        return f"{name}: {doing} {when}{warm}"
    errors = int((~records["ok"]).sum())
    return (
        f"{name}: {len(records)} request{'' if len(records) == 1 else 's'}, {errors} error{'' if errors == 1 else 's'} "
        f"{when}{warm}"
    )


def _stage_phases(records: pd.DataFrame) -> list[dict[str, Any]]:
    """One phase per stage label, spanning its requests, when the records hold more than one stage."""
    if records.empty or records["stage"].nunique() < 2:
        return []
    spans = records.groupby("stage", sort=False).agg(start_s=("t_intended", "min"), end_s=("t_end", "max"))
    return [{"name": name, "start_s": row.start_s, "end_s": row.end_s} for name, row in spans.iterrows()]


def _interrupt(thread: threading.Thread) -> None:
    """Raise KeyboardInterrupt inside `thread`, as Ctrl-C would in the thread that started the run."""
    if thread.ident is not None and thread.is_alive():
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(KeyboardInterrupt))


def _kernel_show(obj) -> Any:
    """A display handle showing `obj` in a Jupyter kernel, or None elsewhere (a terminal, a script)."""
    from IPython import get_ipython
    from IPython.display import display

    shell = get_ipython()
    return None if shell is None or getattr(shell, "kernel", None) is None else display(obj, display_id=True)


_kernel_display = _kernel_show  # shows the figure (the tests replace it to count the pictures)


def counts_sentence(run_dir: str | os.PathLike[str], judged: int) -> str:
    """The run's request counts in words, from live_records, so the report and the live title give one number."""
    records, warmup = split_warmup(live_records(run_dir))
    n = len(records)
    sentence = (
        f"{n} request{'' if n == 1 else 's'} in the run, {judged} of them judged "
        "(the others fell in a ramp or in the start-up transient the analysis trims)"
    )
    if len(warmup):
        sentence += f"; the cache warm-up's {len(warmup)} requests before the run are counted apart and not analysed"
    return sentence + "."


def _status_html(text: str):
    from IPython.display import HTML

    return HTML(f'<p class="qrbench-live-status" style="font-weight:600">{html.escape(text)}</p>')


class LiveView:
    """Watches `run_dir` while a load call runs, redrawing its timeline every refresh_s seconds.

    server_pid, metrics_url: sample that process tree (CPU, RSS) and that /metrics during the call. phases:
    spans to shade, [{name, start_s, end_s}]; default phases.json, else one per stage label. After watch():
    `redraws`, the last `figure`, and `draw_errors` (drawing failures never stop the run).
    """

    def __init__(
        self,
        run_dir: str | os.PathLike[str],
        *,
        thresholds: Mapping[str, Any] | None = None,
        refresh_s: float = 1.5,
        window_s: float = 1.0,
        server_pid: int | None = None,
        metrics_url: str | None = None,
        metrics_headers: Mapping[str, str] | None = None,
        phases: Sequence[Mapping[str, Any]] | None = None,
    ) -> None:
        if not (isinstance(refresh_s, int | float) and refresh_s > 0):
            raise ValueError(f"refresh_s must be a positive number of seconds, not {refresh_s!r}.")
        self.run_dir = Path(run_dir)
        self.thresholds = thresholds
        self.refresh_s = float(refresh_s)
        self.window_s = window_s
        self.server_pid = server_pid
        self.metrics_url = metrics_url
        self.metrics_headers = metrics_headers
        self.phases = list(phases) if phases is not None else None
        self.redraws = 0
        self.figure = None
        self.draw_errors: list[str] = []
        self._handle: Any = None
        self._status: Any = None
        self._server: ProcessSampler | None = None
        self._metrics: MetricsSampler | None = None
        self._alerts: AlertPoller | None = None
        self._borrowed: tuple[Any, ...] = ()  # samplers a study lent (follow_target): it stops them, not the view
        self._started = time.monotonic()

    # ---- what is drawn

    def server_frame(self) -> pd.DataFrame | None:
        return self._server.frame() if self._server else None

    def metrics_frame(self) -> pd.DataFrame | None:
        return self._metrics.frame() if self._metrics else None

    def _phases(self, records: pd.DataFrame) -> list[Mapping[str, Any]]:
        if self.phases is not None:
            return self.phases
        try:
            phases = RunFolder(self.run_dir).read_json("phases.json")
        except ValueError:
            return []  # being written right now
        return _stage_phases(records) if phases is None else phases

    def _facts(self) -> dict[str, Any] | None:
        """run.json; None before it is written, or while it is."""
        try:
            return RunFolder(self.run_dir).facts
        except (RunError, OSError, ValueError):
            return None

    def _waiting(self) -> str:
        """Before the first record: run.json names a study's target once it answers (a model takes a while)."""
        facts = self._facts()
        if facts is not None and "study" in facts and not facts.get("target"):
            return "starting the service under test"
        if facts is not None and (self.run_dir / WARMUP_STAGE).is_dir():
            return "warming up: the first requests are in flight"  # a cold service's first answers take long
        return "waiting for the first records"

    def _cores(self) -> int | None:
        """The cores run.json recorded (as RunFolder.cores), None before it does."""
        machine = (self._facts() or {}).get("machine", {})
        cores = machine.get("usable_cores") or machine.get("cores")
        return int(cores) if cores else None

    def draw(self, state: str = "live"):
        """The timeline of everything on disk now (the caller closes it); the warm-up is only counted in the title."""
        records, warmup = split_warmup(live_records(self.run_dir))
        title = live_title(
            self.run_dir.name,
            records,
            warmup,
            elapsed_s=time.monotonic() - self._started,
            state=state,
            waiting=self._waiting(),
        )
        server, metrics = self.server_frame(), self.metrics_frame()
        fig = timeline(
            records,
            server=server,
            metrics=metrics,
            phases=self._phases(records),
            thresholds=self.thresholds,
            window_s=self.window_s,
            title=title,
            cores=self._cores(),
        )
        overlay_alerts(fig, records, self.thresholds, self.alert_intervals(records), window_s=self.window_s)
        return fig

    def alert_intervals(self, records: pd.DataFrame):
        """The alert poller's pending and firing spans on the records' clock; None without a poller or a t0."""
        t0 = records.attrs.get("t0_unix")
        if self._alerts is None or t0 is None:
            return None
        frame = self._alerts.frame()
        return alert_intervals(
            frame.assign(t_run=frame["t_unix"] - t0), step_s=self._alerts.period_s, time_column="t_run"
        )

    def redraw(self, state: str = "live") -> None:
        """Draw now and show it in the view's one display (created on the first call)."""
        before = set(plt.get_fignums())
        try:
            try:
                fig = self.draw(state)
            except Exception as exc:  # noqa: BLE001 - a drawing bug must not stop or hide the run; it is kept and shown
                self.draw_errors.append(f"{type(exc).__name__}: {exc}")
                fig = plt.figure(figsize=(11, 1.5))
                fig.text(0.02, 0.5, f"The live view could not draw: {type(exc).__name__}: {exc}", va="center")
            title = fig._suptitle.get_text() if fig._suptitle is not None else ""
            if self._handle is None:
                # The title as text above the picture too: readable by a screen reader, a search, a browser test.
                self._status = _kernel_show(_status_html(title))
                self._handle = _kernel_display(fig)
            else:
                self._handle.update(fig)  # the picture first: rendering it takes a while, the text does not
                if self._status is not None:
                    self._status.update(_status_html(title))
        finally:
            # The display keeps its image; pyplot must keep no figure of ours, not even one a Ctrl-C
            # interrupted half-way through drawing.
            for number in set(plt.get_fignums()) - before:
                plt.close(number)
        self.figure = fig
        self.redraws += 1

    # ---- running a call under the view

    def _start_samplers(self) -> None:
        self._server = ProcessSampler(self.server_pid).start() if self.server_pid else None
        self._metrics = (
            MetricsSampler(self.metrics_url, headers=self.metrics_headers).start() if self.metrics_url else None
        )

    def follow_target(self, run_dir: str | os.PathLike[str], samplers: Mapping[str, Any] | None = None) -> None:
        """An `on_start` callback for run_load_study: show the target it opened. samplers: the study's own running
        samplers ("server", "metrics"), which it stops; without them, sample the pid and URL run.json names."""
        self._stop_samplers()
        if samplers is None:
            info = RunFolder(run_dir).facts["target"]
            self.server_pid, self.metrics_url = info.get("pid"), info.get("url")
            self._start_samplers()
        else:
            self._server, self._metrics = samplers.get("server"), samplers.get("metrics")
            self._borrowed = tuple(x for x in (self._server, self._metrics) if x is not None)
        self.follow_alerts(run_dir)

    def follow_alerts(self, run_dir: str | os.PathLike[str]) -> None:
        """Poll the alerts of the Prometheus a run started (run.json's prometheus.url), to mark them on the panels."""
        url = RunFolder(run_dir).facts.get("prometheus", {}).get("url")
        if url:
            if self._alerts is not None:
                self._alerts.stop()
            self._alerts = AlertPoller(PrometheusAPI(url), period_s=0.5, max_duration_s=48 * 3600.0).start()

    def _stop_samplers(self) -> None:
        for sampler in (self._server, self._metrics, self._alerts):
            if sampler is not None and not any(sampler is b for b in self._borrowed):
                sampler.stop()

    def watch(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run fn(*args, **kwargs) in a background thread, redrawing until it ends; return its result or raise
        its exception after the last picture. Ctrl-C is passed on to the call's thread (run_load stops and keeps
        its records); a second Ctrl-C stops watching at once."""
        outcome: dict[str, Any] = {}
        done = threading.Event()

        def call() -> None:
            try:
                outcome["result"] = fn(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the calling thread after the last redraw
                outcome["error"] = exc
            finally:
                done.set()

        self._started = time.monotonic()
        self._start_samplers()
        thread = threading.Thread(target=call, name="qrbench-live-call", daemon=True)
        interrupted = False
        try:
            thread.start()
            next_draw = time.monotonic() + self.refresh_s
            while not done.is_set():
                try:
                    if done.wait(max(0.0, next_draw - time.monotonic())):
                        break
                    next_draw = time.monotonic() + self.refresh_s
                    self.redraw()
                except KeyboardInterrupt:
                    if interrupted:
                        raise
                    interrupted = True
                    _interrupt(thread)
        finally:
            self._stop_samplers()
        self.redraw("interrupted" if interrupted else "finished")
        if "error" in outcome:
            raise outcome["error"]
        if interrupted:
            raise KeyboardInterrupt  # the call stopped and kept its records, but returned (the Ctrl-C came late)
        return outcome.get("result")
