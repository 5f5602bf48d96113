"""Opening a run folder for exploration (qrbench.open_run), its slices, and the live view's counts on it."""

import json
import time

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

import qrbench
from qrbench.errors import RunError
from qrbench.load import ClosedModel, RequestSpec, cycle_source, run_load, start_stub_server
from qrbench.report import explore
from qrbench.report.live import counts_sentence, live_records, live_title, split_warmup

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


@pytest.fixture(scope="module")
def stub():
    with start_stub_server(delay_s=0.005) as url:
        yield url


def _study_run(stub, folder, *, warmup: bool = True):
    """A load-study-shaped folder: run.json, a warm-up run, then the load run a little later."""
    folder.mkdir(parents=True)
    (folder / "run.json").write_text(json.dumps({"study": "load", "params": {"users": 2}, "machine": {"cores": 2}}))
    if warmup:
        run_load(stub, cycle_source(SPECS), ClosedModel(users=1, iterations=5), out_dir=folder / "warmup",
                 stage="warmup", progress=False)  # fmt: skip
        time.sleep(0.3)  # the load starts after the warm-up, on a later clock
    run_load(stub, cycle_source(SPECS), ClosedModel(users=2, iterations=10), out_dir=folder / "load",
             stage="", progress=False)  # fmt: skip
    return folder


@pytest.fixture(scope="module")
def two_runs(stub, tmp_path_factory):
    outputs = tmp_path_factory.mktemp("outputs")
    older = _study_run(stub, outputs / "20261201T100000Z-load")
    newer = _study_run(stub, outputs / "20261202T100000Z-load")
    (outputs / "20261203T100000Z-baseline").mkdir()
    (outputs / "20261203T100000Z-baseline" / "run.json").write_text(json.dumps({"study": "baseline"}))
    return outputs, older, newer


def test_live_records_run_on_the_loads_clock_and_the_warmup_apart(two_runs):
    _, older, _ = two_runs
    records = live_records(older)
    run, warm = split_warmup(records)
    assert len(run) == 20 and len(warm) == 5
    # The load's t0 is zero (the clock of phases.json); the warm-up happened before it.
    assert run["t_intended"].min() >= 0 and run["t_intended"].min() < 0.2
    assert (warm["t_end"] < 0).all()
    assert records.attrs["t0_unix"] == json.loads((older / "load" / "run.json").read_text())["t0_unix"]
    title = live_title("run", run, warm, elapsed_s=3, state="finished")
    assert title == "run: 20 requests, 0 errors (3 s, finished) · warm-up apart: 5 requests"
    assert live_title("run", run.iloc[0:0], warm, elapsed_s=1, state="live").startswith("run: warming up")
    assert counts_sentence(older, judged=12).startswith("20 requests in the run, 12 of them judged")
    assert "warm-up's 5 requests" in counts_sentence(older, judged=12)


def test_open_run_gives_facts_records_and_monitors(two_runs):
    _, older, _ = two_runs
    run = qrbench.open_run(older)
    assert run.study == "load" and run.params == {"users": 2} and run.name == older.name
    assert list(run.records.columns[:9]) == list(explore.RECORD_COLUMNS)
    assert run.records["warmup"].sum() == 5 and len(run.requests) == 20
    assert set(run.requests["n_candidates"]) == {1, 3} and set(run.requests["method"]) == {"classical", "hybrid"}
    assert run.server is None and run.metrics is None and run.summary is None
    assert "20 requests" in repr(run)
    with pytest.raises(RunError, match="not a qrbench run folder"):
        qrbench.open_run(older / "nothing-here")


def test_latest_runs_are_the_newest_of_the_study(two_runs):
    outputs, older, newer = two_runs
    runs = explore.latest_runs("load", 2, outputs=outputs)
    assert [r.name for r in runs] == [newer.name, older.name]
    assert [r.name for r in explore.latest_runs("load", 1, outputs=outputs)] == [newer.name]
    with pytest.raises(RunError, match="No scalability run with requests"):
        explore.latest_runs("scalability", outputs=outputs)
    table = explore.runs_table(runs)
    assert table["requests"].tolist() == [20, 20] and table["warm-up requests"].tolist() == [5, 5]


def test_latency_table_against_numpy():
    records = pd.DataFrame(
        {
            "kind": ["a"] * 5 + ["b"] * 3,
            "ok": [True, True, True, True, False, True, True, True],
            "latency_ms": [1.0, 2.0, 3.0, 4.0, 100.0, 10.0, 20.0, 30.0],
            "warmup": [False] * 7 + [True],
        }
    )
    table = explore.latency_table(records, "kind").set_index("kind")
    assert table.loc["a", "requests"] == 5 and table.loc["a", "errors"] == 1 and table.loc["a", "error_rate"] == 0.2
    assert table.loc["a", "p50_ms"] == pytest.approx(np.quantile([1, 2, 3, 4], 0.5))
    assert table.loc["a", "p95_ms"] == pytest.approx(np.quantile([1, 2, 3, 4], 0.95))
    assert table.loc["b", "requests"] == 2 and table.loc["b", "p99_ms"] == pytest.approx(np.quantile([10, 20], 0.99))


def test_the_figures_of_two_runs(two_runs):
    outputs, _, _ = two_runs
    runs = explore.latest_runs("load", 2, outputs=outputs)
    before = set(plt.get_fignums())
    for fig in (
        explore.latency_by_plot(runs, "n_candidates"),
        explore.latency_by_plot(runs, "method"),
        explore.latency_over_time(runs),
        explore.latency_overlay(runs, "kind"),
    ):
        assert fig is not None
        assert all(ax.get_xlabel() and ax.get_ylabel() for ax in fig.axes if ax.has_data() and ax.get_ylabel())
        legends = [ax.get_legend() for ax in fig.axes if ax.get_legend()] + list(fig.legends)
        labels = [t.get_text() for legend in legends for t in legend.get_texts()]
        assert any(runs[1].name in label for label in labels)
        plt.close(fig)
    assert set(plt.get_fignums()) == before
    empty = explore.RunView(
        path=runs[0].path, facts={}, summary=None, records=runs[0].records[0:0], server=None, metrics=None
    )
    assert explore.latency_over_time(empty) is None and explore.latency_by_plot(empty) is None
