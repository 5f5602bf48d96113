"""LiveView.watch around real run_load calls: it redraws while the run streams records, and returns or raises."""

import _thread
import os
import threading
import time

import matplotlib.pyplot as plt
import pytest

import qrbench.report.live as live
from qrbench.load import ClosedModel, RequestSpec, RunResult, cycle_source, load_run_info, run_load, start_stub_server
from qrbench.report.live import LiveView, live_records

SPECS = [
    RequestSpec.from_payload(
        kind="similarity",
        endpoint="/v1/similarity",
        payload={"text1": "a red fox", "text2": "a brown dog", "method": "classical"},
    ),
    RequestSpec.from_payload(
        kind="rerank_small",
        endpoint="/v1/rerank",
        payload={"query": "fox", "candidates": ["fox den", "tax law", "dog park"], "method": "hybrid"},
    ),
]
THRESHOLDS = {"p50_ms": 200, "p95_ms": 500, "p99_ms": 1000}


class FakeHandle:
    """Stands in for IPython's DisplayHandle: counts the pictures shown in place."""

    def __init__(self):
        self.updates = 0
        self.sizes = []

    def update(self, fig):
        self.updates += 1
        self.sizes.append(len(fig.axes))


@pytest.fixture(scope="module")
def slow_stub():
    with start_stub_server(delay_s=0.01) as url:
        yield url


@pytest.fixture()
def handle(monkeypatch):
    fake = FakeHandle()
    shown = []

    def display(fig):
        shown.append(fig)
        return fake

    monkeypatch.setattr(live, "_kernel_display", display)
    fake.shown = shown
    return fake


@pytest.fixture(autouse=True)
def no_figure_leaks():
    before = set(plt.get_fignums())
    yield
    assert set(plt.get_fignums()) == before, "the live view left figures open"


def load(url, run_dir, model):
    return run_load(url, cycle_source(SPECS), model, out_dir=run_dir, progress=False, stage="normal")


def test_watch_redraws_a_real_run_and_returns_its_result(slow_stub, tmp_path, handle):
    run_dir = tmp_path / "run"
    view = LiveView(run_dir, thresholds=THRESHOLDS, refresh_s=0.5)
    started = time.monotonic()
    result = view.watch(load, slow_stub, run_dir, ClosedModel(users=4, duration_s=3.0))
    assert isinstance(result, RunResult) and result.n_requests > 20 and result.n_errors == 0
    assert time.monotonic() - started >= 3.0
    # about six live pictures and the final one; a loaded machine may draw fewer, never just the last
    assert view.redraws >= 3 and not view.draw_errors
    assert len(handle.shown) == 1 and handle.updates == view.redraws - 1  # one display, updated in place
    assert view.figure is not None and len(view.figure.axes) == 3
    assert f"{result.n_requests} requests" in view.figure._suptitle.get_text()
    assert "finished" in view.figure._suptitle.get_text()
    assert view.server_frame() is None and view.metrics_frame() is None


def test_watch_outside_a_kernel_just_waits_and_returns(slow_stub, tmp_path):
    run_dir = tmp_path / "run"
    view = LiveView(run_dir, refresh_s=0.3)
    result = view.watch(load, slow_stub, run_dir, model=ClosedModel(users=2, duration_s=1.0))
    assert isinstance(result, RunResult) and result.n_ok == result.n_requests > 0
    assert view.redraws >= 2 and view._handle is None


def test_an_exception_of_the_call_propagates_after_the_view_stops(tmp_path, handle):
    failure = ValueError("the study broke")

    def broken(seconds):
        time.sleep(seconds)
        raise failure

    view = LiveView(tmp_path / "never-written", refresh_s=0.3)
    with pytest.raises(ValueError) as caught:
        view.watch(broken, 1.0)
    assert caught.value is failure
    assert view.redraws >= 2 and "waiting for the first records" in view.figure._suptitle.get_text()
    assert not [t for t in threading.enumerate() if t.name == "qrbench-live-call"]
    assert handle.updates == view.redraws - 1


def test_run_load_refusing_its_arguments_propagates(slow_stub, tmp_path):
    run_dir = tmp_path / "used"
    run_dir.mkdir()
    (run_dir / "something").write_text("x")
    with pytest.raises(Exception, match="already exists"):
        LiveView(run_dir, refresh_s=0.2).watch(load, slow_stub, run_dir, ClosedModel(users=1, iterations=1))


def test_ctrl_c_stops_the_run_keeps_its_records_and_is_re_raised(slow_stub, tmp_path):
    run_dir = tmp_path / "run"
    view = LiveView(run_dir, refresh_s=0.4)
    stop = threading.Event()

    def ctrl_c_once_requests_are_recorded():
        # Ctrl-C once the run has written records (a fixed delay raced a slow start on a busy machine).
        while not stop.wait(0.1):
            if not live_records(run_dir).empty:
                _thread.interrupt_main()
                return

    pressing = threading.Thread(target=ctrl_c_once_requests_are_recorded, daemon=True)
    pressing.start()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            view.watch(load, slow_stub, run_dir, ClosedModel(users=2, duration_s=30.0))
    finally:
        stop.set()
        pressing.join()
    assert time.monotonic() - started < 25  # well before the 30-s run would have ended by itself
    info = load_run_info(run_dir)
    assert info["finished"] and info["interrupted"] and info["result"]["n_requests"] > 0
    assert "interrupted" in view.figure._suptitle.get_text()


def test_live_records_puts_a_studys_runs_on_one_clock(slow_stub, tmp_path):
    study = tmp_path / "study"
    assert live_records(study).empty
    study.mkdir()
    (study / "run.json").write_text('{"study": "load"}')  # a study's own facts, with no load clock of their own
    first = load(slow_stub, study / "stages" / "a", ClosedModel(users=1, iterations=5))
    time.sleep(0.3)
    second = run_load(
        slow_stub,
        cycle_source(SPECS),
        ClosedModel(users=1, iterations=5),
        out_dir=study / "stages" / "b",
        progress=False,
        stage="peak",
    )
    records = live_records(study)
    t0a, t0b = (load_run_info(r.run_dir)["t0_unix"] for r in (first, second))
    assert len(records) == 10 and records.attrs["t0_unix"] == t0a
    peak = records[records["stage"] == "peak"]
    assert peak["t_intended"].min() >= t0b - t0a > 0.3
    phases = live._stage_phases(records)
    assert [p["name"] for p in phases] == ["normal", "peak"] and phases[0]["end_s"] <= phases[1]["start_s"]
    view = LiveView(study)
    view.redraw()
    assert [t.get_text() for t in view.figure.axes[0].texts] == ["normal", "peak"]


def test_watch_samples_the_real_service_and_its_metrics(make_service, tmp_path, handle):
    url, _app = make_service()
    run_dir = tmp_path / "run"
    view = LiveView(run_dir, thresholds=THRESHOLDS, refresh_s=0.5, server_pid=os.getpid(), metrics_url=url)
    result = view.watch(load, url, run_dir, ClosedModel(users=2, duration_s=2.5))
    assert result.n_ok == result.n_requests > 0
    metrics, server = view.metrics_frame(), view.server_frame()
    assert len(metrics) >= 2 and metrics["requests_total"].iloc[-1] == result.n_requests
    assert len(server) >= 1 and (server["rss_bytes"] > 0).all()
    assert len(view.figure.axes) == 7 and not view.draw_errors  # 5 panels, two with a second y axis
    assert max(handle.sizes) == 7
