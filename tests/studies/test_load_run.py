"""run_load_study against a loopback stub server writes the whole run folder, as one continuous run."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from qrbench.cli import format_summary
from qrbench.deploy import TargetParams
from qrbench.errors import ParameterError
from qrbench.load import ThinkTime, load_records, load_run_info, start_stub_server
from qrbench.studies.load import LoadParams, ShapeParams, SpikeParams, analyse_load, run_load_study
from qrbench.studies.load.sections import screen


@pytest.fixture(scope="module")
def url():
    with start_stub_server(delay_s=0.005) as u:
        yield u


def small(**changes) -> LoadParams:
    settings = dict(
        name="t",
        model="closed",
        users=3,
        ramp_up_s=0.5,
        duration_s=3.0,
        think_time=ThinkTime(mean_s=0.05),
        mix={"similarity": 0.5, "rerank_small": 0.5},
        pool_size=20,
        sample_interval_s=0.25,
        request_timeout_s=5.0,
    )
    return LoadParams(**{**settings, **changes})


def test_a_study_run_writes_its_folder(url, tmp_path):
    seen = []

    def on_start(run_dir, samplers):
        # The live view's hook: the phases are known and the records folder exists, empty, before any request.
        phases = json.loads((run_dir / "phases.json").read_text())
        seen.append((phases, sorted(p.name for p in (run_dir / "load").iterdir()), sorted(samplers)))

    params = small(
        warmup_s=0.5, shape=ShapeParams(kind="spike", spike=SpikeParams(multiplier=2, start_s=1.5, length_s=1))
    )
    run_dir = run_load_study(params, tmp_path / "study", url=url, progress=False, on_start=on_start)
    assert seen and seen[0][1] == [] and [p["kind"] for p in seen[0][0]] == ["ramp_up", "steady", "spike", "steady"]
    assert seen[0][2] == ["metrics", "server"]  # the study's own samplers, lent to a live view
    for name in (
        "run.json",
        "schedule.json",
        "phases.json",
        "result.json",
        "server.parquet",
        "metrics.parquet",
        "load/records.parquet",
        "load/run.json",
        "warmup/records.parquet",
        "contention.parquet",
        "contention.json",
    ):
        assert (run_dir / name).is_file(), name
    facts = json.loads((run_dir / "run.json").read_text())
    scenario = facts["params"]
    assert scenario["users"] == 3 and scenario["model"] == "closed" and scenario["mix"]["similarity"] == 0.5
    target = facts["target"]
    assert target["url"] == url and target["embedded"] is False
    schedule = json.loads((run_dir / "schedule.json").read_text())
    assert schedule["unit"] == "users" and schedule["duration_s"] == 3.0 and [1.0, 6.0] in schedule["stages"]

    records = load_records(run_dir / "load")
    assert len(records) > 30 and records["ok"].all()
    assert set(records["stage"]) == {""} and set(records["kind"]) == {"similarity", "rerank_small"}
    assert records["user"].max() == 5  # six users during the spike
    assert set(load_records(run_dir / "warmup")["stage"]) == {"warmup"}
    result = json.loads((run_dir / "result.json").read_text())
    assert result["n_requests"] == len(records) and result["processes"] == 1
    info = load_run_info(run_dir / "load")
    assert info["model"]["stages"] == [[0.5, 3.0], [1.0, 3.0], [0.0, 6.0], [1.0, 6.0], [0.0, 3.0], [0.5, 3.0]]

    server = pd.read_parquet(run_dir / "server.parquet")
    assert len(server) >= 3 and {"t_unix", "t_run", "cpu_percent", "rss_bytes"} <= set(server.columns)
    # On the records' clock: the samples bracket the requests (the sampler starts before the driver process,
    # by as much as that process takes to start, and stops after it), and none comes from another run.
    span = records["t_end"].max() - records["t_start"].min()
    assert server["t_run"].min() <= records["t_start"].min() + 1 and server["t_run"].max() >= records["t_end"].max() - 1
    assert server["t_run"].max() - server["t_run"].min() < span + 30
    metrics = pd.read_parquet(run_dir / "metrics.parquet")
    assert metrics.empty  # the stub has no Prometheus /metrics

    report = analyse_load(run_dir, params)
    # One interval check per judged percentile, each under its own name (p50, p95 and p99 were once all called
    # "p95 latency of all requests", and the report said the decided p95 "cannot be bounded").
    intervals = [c.name for c in report.reliability if c.name.startswith("interval:")]
    assert len(intervals) == len(set(intervals))
    assert {f"interval:p{q} latency of all requests" for q in (50, 95, 99)} <= set(intervals)
    summary = dict(screen(report).data)
    assert summary["requests"] == len(records) and summary["verdict"] == "unjudged" and summary["outages"] == []
    assert [p["name"] for p in summary["phases"]] == ["ramp_up", "steady", "spike", "steady after spike"]
    text = format_summary(summary)
    assert "p95" in text and "generator saturated: no" in text and "spike" in text
    json.dumps(summary)

    with pytest.raises(ParameterError, match="already holds a run"):
        run_load_study(params, run_dir, url=url, progress=False)


def test_an_open_study_over_two_driver_processes(url, tmp_path):
    params = small(
        model="open",
        users=None,
        rate_rps=40.0,
        ramp_up_s=0.0,
        duration_s=2.0,
        arrivals="uniform",
        processes=2,
        target=TargetParams(max_concurrency=8),
    )
    run_dir = run_load_study(params, tmp_path / "study", url=url, progress=False)
    records = load_records(run_dir / "load")
    assert len(records) == 80 and records["ok"].all() and set(records["worker"]) == {0, 1}
    assert json.loads((run_dir / "result.json").read_text())["processes"] == 2
    assert json.loads((run_dir / "phases.json").read_text()) == [
        {"name": "steady", "kind": "steady", "start_s": 0.0, "end_s": 2.0, "offered": 40.0, "unit": "rps"}
    ]


def test_a_live_view_shows_the_studys_own_metrics_samples_instead_of_scraping_again(service, tmp_path):
    """The notebook's live view follows the study's samplers: /metrics is scraped once per interval, and what the
    view drew is what the study wrote to metrics.parquet."""
    from qrbench.report.live import LiveView

    run_dir = tmp_path / "study"
    view = LiveView(run_dir, refresh_s=0.5)
    lent = {}

    def follow(run_dir, samplers):
        lent.update(samplers)
        view.follow_target(run_dir, samplers)

    view.watch(run_load_study, small(warmup_s=0.0), run_dir, url=service[0], progress=False, on_start=follow)
    assert lent["metrics"] is not None and view.metrics_frame() is not None
    assert view._metrics is lent["metrics"]  # not a second scraper
    written = pd.read_parquet(run_dir / "metrics.parquet")
    assert len(view.metrics_frame()) == len(written) > 0
