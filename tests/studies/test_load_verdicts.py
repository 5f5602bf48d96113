"""The load study's verdicts on hand-made run folders (no server, every number known): failures counted in the
latency, targets judged on their own request kind, throughput judged as kept-up-with-offered, the capacity
target only by a workload able to offer it, Little's law compared, warm-up never trimmed across phases, and the
leak row insufficient for short runs and decided for a soak."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from qrbench.load import RecordWriter, RequestSpec, ThinkTime, finalize_run, request_record, write_run_info
from qrbench.params import to_dict
from qrbench.studies import RunFolder, get_study
from qrbench.studies.load import LOAD_DIR, LoadParams, ShapeParams, SpikeParams, summary
from qrbench.studies.load.sections import screen

SIMILARITY = RequestSpec.from_payload(
    kind="similarity", endpoint="/v1/similarity", payload={"text1": "a", "text2": "b", "method": "hybrid"}
)
RERANK_50 = RequestSpec.from_payload(
    kind="rerank_medium", endpoint="/v1/rerank", payload={"query": "q", "candidates": ["d"] * 50, "method": "classical"}
)
OK_BODY = b'{"results": [], "computation_time_ms": 3.0}'
T0_UNIX = 1_800_000_000.0


def make_run(
    path,
    params: LoadParams,
    phases: list[dict],
    requests: list[dict],
    *,
    cores: int = 2,
    server: pd.DataFrame | None = None,
    metrics: pd.DataFrame | None = None,
    in_flight: float = 1.0,
):
    """A run folder holding `requests` (dicts: t, latency_s, spec, error, user) as the driver writes them, a
    server CPU/RSS timeline and a /metrics timeline (quantum time 20 ms, cache hit rate 50 %, `in_flight`)."""
    folder = RunFolder.create(path, study="load", params=to_dict(params), calibration_s=[0.010, 0.010, 0.010])
    folder.update(machine={**folder.facts["machine"], "cores": cores, "usable_cores": cores})
    folder.write_json("phases.json", phases)
    folder.write_json(
        "result.json",
        {
            "duration_s": phases[-1]["end_s"],
            "achieved_rps": 1.0,
            "processes": 1,
            "generator_cpu_percent": 5.0,
            "send_lag_p50_ms": 0.1,
            "send_lag_p99_ms": 0.5,
            "n_late": 0,
            "n_dropped": 0,
            "saturated": False,
            "saturation_reasons": [],
        },
    )
    load_dir = folder.file(LOAD_DIR)
    load_dir.mkdir()
    write_run_info(load_dir, {"t0_unix": T0_UNIX})
    with RecordWriter(load_dir, worker=0) as writer:
        for i, r in enumerate(sorted(requests, key=lambda r: r["t"])):
            error = r.get("error", "")
            writer.append(
                request_record(
                    seq=i,
                    worker=0,
                    user=r.get("user", -1),
                    stage="",
                    spec=r["spec"],
                    t_intended=r["t"],
                    t_start=r["t"],
                    t_end=r["t"] + r["latency_s"],
                    status=0 if error else 200,
                    body=b"" if error else OK_BODY,
                    error=error,
                )
            )
    finalize_run(load_dir)
    end = phases[-1]["end_s"]
    if server is None:
        times = np.arange(0.0, end, 0.5)
        server = pd.DataFrame({"t_unix": T0_UNIX + times, "cpu_percent": 50.0, "rss_bytes": 5e8})
    server.to_parquet(folder.file("server.parquet"))
    if metrics is None:
        times = np.arange(0.0, end + 1, 1.0)
        metrics = pd.DataFrame(
            {
                "t_unix": T0_UNIX + times,
                "quantum_seconds_sum": 0.02 * times,
                "quantum_seconds_count": times,
                "embedding_cache_hits": 10 * times,
                "embedding_cache_misses": 10 * times,
                "in_flight": in_flight,
            }
        )
    metrics.to_parquet(folder.file("metrics.parquet"))
    return folder.path


def closed_requests(users: int, cycle_s: float, latency_s: float, start: float, end: float) -> list[dict]:
    """Users each sending one request per cycle (latency + think time), staggered, alternating kinds; the
    latency varies by up to 10 % around `latency_s` (seeded)."""
    out = []
    rng = np.random.default_rng(users)
    for u in range(users):
        t = start + u * cycle_s / users
        while t < end:
            out.append(
                {
                    "t": t,
                    "latency_s": latency_s * (0.95 + 0.1 * rng.random()),
                    "spec": SIMILARITY if len(out) % 2 else RERANK_50,
                    "user": u,
                }
            )
            t += cycle_s
    return out


def rows(report) -> dict[str, dict]:
    return {r["metric"]: r for r in report.compliance.to_dict(orient="records")}


@pytest.fixture
def closed_run(tmp_path):
    """50 users with 2.75 s think time and 50 ms answers for 60 s: they offer 50 / 2.8 = 17.9 req/s."""
    params = LoadParams(
        name="closed",
        model="closed",
        users=50,
        duration_s=60.0,
        think_time=ThinkTime(distribution="constant", mean_s=2.75),
    )
    phases = [{"name": "steady", "kind": "steady", "start_s": 0.0, "end_s": 60.0, "offered": 50, "unit": "users"}]
    return make_run(tmp_path / "closed", params, phases, closed_requests(50, 2.8, 0.05, 0.0, 60.0))


def test_a_closed_scenario_is_not_failed_on_the_capacity_target_it_cannot_offer(closed_run):
    report = get_study("load").analyse(closed_run)
    r = rows(report)
    capacity = r["throughput_rps"]
    assert capacity["verdict"] == "insufficient"
    assert "step load" in capacity["workload"] and "load_capacity.yaml" in capacity["workload"]
    assert "cannot show the capacity" in capacity["reason"]
    # Its throughput is judged as kept-up-with-offered, and that it kept up.
    assert r["kept_up"]["verdict"] == "pass", r["kept_up"]["reason"]
    assert r["kept_up"]["workload"] == "closed model, 50 users with 2.8 s mean think time"
    assert report.verdict == "pass", report.verdict_reasons


def test_every_verdict_row_names_its_workload_and_the_summary_follows_the_contract(closed_run):
    report = get_study("load").analyse(closed_run)
    s = summary(report)
    contract = {"metric", "target", "unit", "value", "low", "high", "verdict", "workload", "direction", "reason"}
    for row in s["compliance"]:
        assert contract <= set(row) and row["workload"], row
    assert s["verdict"] == "pass" and s["verdict_reasons"] and s["key_figure"] == "key_figure.png"
    assert all({"name", "ok", "message"} <= set(c) for c in s["reliability"])


def test_per_request_targets_are_judged_on_their_own_kind(tmp_path):
    """Similarity answers in 20 ms and 50-document reranks in 900 ms: similarity passes, rerank-50 fails."""
    params = LoadParams(name="kinds", model="open", rate_rps=20.0, duration_s=30.0)
    phases = [{"name": "steady", "kind": "steady", "start_s": 0.0, "end_s": 30.0, "offered": 20.0, "unit": "rps"}]
    rng = np.random.default_rng(1)
    reqs = [
        {
            "t": t,
            "latency_s": (0.02 if i % 2 else 0.9) * (1 + 0.1 * rng.random()),
            "spec": SIMILARITY if i % 2 else RERANK_50,
        }
        for i, t in enumerate(np.arange(0.0, 30.0, 0.05))
    ]
    report = get_study("load").analyse(make_run(tmp_path / "kinds", params, phases, reqs))
    r = rows(report)
    assert r["similarity_ms"]["verdict"] == "pass" and r["similarity_ms"]["kind"] == "similarity"
    assert r["rerank_50_ms"]["verdict"] == "fail" and r["rerank_50_ms"]["statistic"] == "p95"
    kinds = set(report.latency["kind"])
    assert {"all requests", "similarity (1 pair)", "rerank, 25-50 documents"} <= kinds


def test_a_run_where_half_the_requests_time_out_has_a_p99_at_least_the_timeout(tmp_path):
    params = LoadParams(name="timeouts", model="open", rate_rps=20.0, duration_s=20.0, request_timeout_s=2.0)
    phases = [{"name": "steady", "kind": "steady", "start_s": 0.0, "end_s": 20.0, "offered": 20.0, "unit": "rps"}]
    reqs = [
        {
            "t": t,
            "latency_s": 2.0 if i % 2 else 0.03 + 0.001 * (i % 7),
            "spec": RERANK_50,
            "error": "timeout" if i % 2 else "",
        }
        for i, t in enumerate(np.arange(0.0, 20.0, 0.05))
    ]
    run = make_run(tmp_path / "timeouts", params, phases, reqs)
    report = get_study("load").analyse(run)
    r = rows(report)
    assert r["p99_ms"]["value"] >= 2000 and r["p99_ms"]["verdict"] == "fail"
    overall = report.latency[report.latency["kind"] == "all requests"].iloc[0]
    assert overall["p99_ms"] >= 2000 and overall["p99_success_only_ms"] < 100  # both shown, labelled
    # `qrbench load`'s screen says the same.
    assert screen(report).data["latency_ms"]["p99"]["value"] == r["p99_ms"]["value"]


def test_an_open_model_at_the_target_rate_judges_capacity(tmp_path):
    params = LoadParams(name="capacity", model="open", rate_rps=100.0, duration_s=20.0)
    phases = [{"name": "steady", "kind": "steady", "start_s": 0.0, "end_s": 20.0, "offered": 100.0, "unit": "rps"}]
    reqs = [
        {"t": t, "latency_s": 0.03 + 0.001 * (i % 7), "spec": SIMILARITY}
        for i, t in enumerate(np.arange(0.0, 20.0, 0.01))
    ]
    report = get_study("load").analyse(make_run(tmp_path / "capacity", params, phases, reqs))
    capacity = rows(report)["throughput_rps"]
    assert capacity["workload"] == "open model at 100 req/s"
    assert capacity["verdict"] in {"pass", "warn"}  # judged, on an interval around 100 req/s
    assert 95 <= capacity["value"] <= 105


def test_littles_law_is_compared_and_the_spike_uses_its_own_user_count(tmp_path):
    params = LoadParams(
        name="peak",
        model="closed",
        users=10,
        duration_s=60.0,
        think_time=ThinkTime(distribution="constant", mean_s=0.9),
        shape=ShapeParams(kind="spike", spike=SpikeParams(multiplier=3.0, start_s=30.0, length_s=30.0)),
    )
    phases = [
        {"name": "steady", "kind": "steady", "start_s": 0.0, "end_s": 30.0, "offered": 10, "unit": "users"},
        {"name": "spike", "kind": "spike", "start_s": 30.0, "end_s": 60.0, "offered": 30, "unit": "users"},
    ]
    reqs = closed_requests(10, 1.0, 0.1, 0.0, 30.0) + closed_requests(30, 1.0, 0.1, 30.0, 60.0)
    report = get_study("load").analyse(make_run(tmp_path / "peak", params, phases, reqs))
    laws = report.littles_law
    little = laws[laws["compared_with"] == "virtual users"].set_index("phase")
    assert little.loc["steady", "observed"] == 10 and little.loc["spike", "observed"] == 30
    for phase, users in (("steady", 10), ("spike", 30)):
        assert little.loc[phase, "predicted"] == pytest.approx(users, rel=0.1)
        assert not little.loc[phase, "flagged"]
    # The server's gauge (1 request in flight) is far from X * W (3 in the spike): flagged in its row, but the
    # closed model's check rests on its users, which agree.
    gauge = laws[laws["compared_with"] == "server in-flight gauge"].set_index("phase")
    assert gauge.loc["spike", "flagged"] and "disagree" in gauge.loc["spike", "sentence"]
    assert "littles_law" not in {c.name for c in report.reliability if not c.ok}


def test_users_that_were_not_reached_are_flagged_by_littles_law(tmp_path):
    """The scenario asked for 20 users but only 10 sent: X * (W + Z) is half the users, beyond 10 %."""
    params = LoadParams(
        name="short",
        model="closed",
        users=20,
        duration_s=30.0,
        think_time=ThinkTime(distribution="constant", mean_s=0.9),
    )
    phases = [{"name": "steady", "kind": "steady", "start_s": 0.0, "end_s": 30.0, "offered": 20, "unit": "users"}]
    report = get_study("load").analyse(
        make_run(tmp_path / "short", params, phases, closed_requests(10, 1.0, 0.1, 0.0, 30.0))
    )
    (row,) = report.littles_law[report.littles_law["compared_with"] == "virtual users"].to_dict(orient="records")
    assert row["flagged"] and row["difference"] == pytest.approx(-0.5, abs=0.05)
    assert "littles_law" in {c.name for c in report.reliability if not c.ok}


def test_the_warm_up_is_trimmed_in_the_first_steady_phase_only(tmp_path):
    params = LoadParams(name="spiky", model="open", rate_rps=20.0, duration_s=40.0)
    phases = [
        {"name": "steady", "kind": "steady", "start_s": 0.0, "end_s": 30.0, "offered": 20.0, "unit": "rps"},
        {"name": "spike", "kind": "spike", "start_s": 30.0, "end_s": 40.0, "offered": 60.0, "unit": "rps"},
    ]
    rng = np.random.default_rng(3)
    reqs = [
        {"t": t, "latency_s": (0.5 if t < 3 else 0.05) + 0.01 * rng.random(), "spec": SIMILARITY}
        for t in np.arange(0.0, 30.0, 0.05)
    ]
    reqs += [
        {"t": t, "latency_s": 0.4 + 0.01 * rng.random(), "spec": SIMILARITY} for t in np.arange(30.0, 40.0, 1 / 60)
    ]
    report = get_study("load").analyse(make_run(tmp_path / "spiky", params, phases, reqs))
    assert report.warmup.n_trimmed > 0 and "first steady phase" in report.warmup.method
    judged = report.judged
    assert (judged["phase"] == "spike").sum() == 600  # the spike's slow answers are load, not warm-up
    assert judged.loc[judged["phase"] == "steady", "t_intended"].min() > 2.0


def test_the_leak_row_is_insufficient_for_a_short_run_and_left_out_of_the_verdict(closed_run):
    report = get_study("load").analyse(closed_run)
    leak = rows(report)["rss_growth_mb_per_h"]
    assert leak["verdict"] == "insufficient" and "soak.yaml" in leak["reason"]
    assert report.verdict == "pass"


def test_a_soak_with_flat_memory_after_the_caches_fill_passes_the_leak_check(tmp_path):
    """40 minutes: RSS grows while the caches fill (first 5 minutes), then stays flat with noise."""
    params = LoadParams(name="soak", model="open", rate_rps=0.5, duration_s=2400.0)
    phases = [{"name": "steady", "kind": "steady", "start_s": 0.0, "end_s": 2400.0, "offered": 0.5, "unit": "rps"}]
    reqs = [
        {"t": t, "latency_s": 0.03 + 0.001 * (i % 7), "spec": SIMILARITY}
        for i, t in enumerate(np.arange(0.0, 2400.0, 2.0))
    ]
    t = np.arange(0.0, 2400.0, 1.0)
    rng = np.random.default_rng(0)
    rss = 5e8 + np.minimum(t, 300.0) * 1e6 + rng.normal(0, 2e6, t.size)  # +300 MB while filling, then flat
    server = pd.DataFrame({"t_unix": T0_UNIX + t, "cpu_percent": 20.0, "rss_bytes": rss})
    misses = np.minimum(t, 300.0).round()
    metrics = pd.DataFrame(
        {
            "t_unix": T0_UNIX + t,
            "embedding_cache_misses": misses,
            "similarity_cache_misses": misses,
            "embedding_cache_bytes": np.minimum(t, 300.0) * 1e6,
        }
    )
    report = get_study("load").analyse(
        make_run(tmp_path / "soak", params, phases, reqs, server=server, metrics=metrics)
    )
    leak = rows(report)["rss_growth_mb_per_h"]
    assert report.leak.start_s >= T0_UNIX + 300
    assert leak["verdict"] == "pass", leak["reason"]
    assert leak["unit"] == "MB/h" and leak["high"] < 20


def test_a_server_that_answers_nothing_fails_capacity_instead_of_lacking_data(tmp_path):
    params = LoadParams(name="down", model="open", rate_rps=100.0, duration_s=10.0, request_timeout_s=2.0)
    phases = [{"name": "steady", "kind": "steady", "start_s": 0.0, "end_s": 10.0, "offered": 100.0, "unit": "rps"}]
    reqs = [{"t": t, "latency_s": 2.0, "spec": SIMILARITY, "error": "timeout"} for t in np.arange(0.0, 10.0, 0.01)]
    r = rows(get_study("load").analyse(make_run(tmp_path / "down", params, phases, reqs)))
    assert r["throughput_rps"]["verdict"] == "fail" and r["throughput_rps"]["value"] == 0
    assert r["kept_up"]["verdict"] == "fail"


def test_a_run_too_short_for_a_steady_state_warns_in_the_verdict_and_the_reliability_section(tmp_path):
    """Latency still falling at the end of the only steady phase: MSER-5's minimum lies in its second half."""
    params = LoadParams(name="drifting", model="open", rate_rps=20.0, duration_s=20.0)
    phases = [{"name": "steady", "kind": "steady", "start_s": 0.0, "end_s": 20.0, "offered": 20.0, "unit": "rps"}]
    reqs = [
        {"t": t, "latency_s": 0.1 * (1 - t / 20) + 0.002 * (i % 5), "spec": SIMILARITY}
        for i, t in enumerate(np.arange(0.0, 20.0, 0.05))
    ]
    report = get_study("load").analyse(make_run(tmp_path / "drifting", params, phases, reqs))
    assert report.warmup.too_short
    assert report.verdict != "pass" and "too short" in report.verdict_reasons[0]
    assert "warmup" in {c.name for c in report.reliability if not c.ok}


def test_a_level_shift_mid_run_is_a_non_steady_run_not_a_warmup(tmp_path):
    # Documents stop being cached at t = 20 s: ~4 ms per request before, ~25 ms after (issue 20).
    from qrbench.cli import format_summary

    params = LoadParams(name="shift", model="closed", users=4, duration_s=40.0)
    phases = [{"name": "steady", "kind": "steady", "start_s": 0.0, "end_s": 40.0, "offered": 4.0, "unit": "users"}]
    rng = np.random.default_rng(20)
    reqs = [
        {"t": t, "latency_s": (0.004 if t < 20.0 else 0.025) * rng.lognormal(0.0, 0.2), "spec": SIMILARITY}
        for t in np.arange(0.0, 40.0, 0.02)
    ]
    run = make_run(tmp_path / "shift", params, phases, reqs)
    report = get_study("load").analyse(run)
    assert report.warmup.n_trimmed == 0 and report.warmup.level_shift is not None
    assert any("Not a steady run" in r for r in report.verdict_reasons[:2])
    quick = screen(report).data
    assert not quick["steady"]["steady"] and 18.0 <= quick["steady"]["at_s"] <= 22.0
    text = format_summary(quick)
    assert "NOT A STEADY RUN" in text and "before: p50" in text and "after: p50" in text


def test_a_few_fast_failures_do_not_open_the_load_percentiles(tmp_path):
    params = LoadParams(name="fast500", model="open", rate_rps=100.0, duration_s=30.0)
    phases = [{"name": "steady", "kind": "steady", "start_s": 0.0, "end_s": 30.0, "offered": 100.0, "unit": "rps"}]
    rng = np.random.default_rng(5)
    reqs = [
        {
            "t": t,
            "latency_s": 0.001 if i % 200 == 7 else 0.02 * rng.lognormal(0.0, 0.2),
            "spec": SIMILARITY,
            "error": "http_500" if i % 200 == 7 else "",
        }
        for i, t in enumerate(np.arange(0.0, 30.0, 0.01))
    ]
    run = make_run(tmp_path / "fast500", params, phases, reqs)
    report = get_study("load").analyse(run)
    overall = report.latency[report.latency["kind"] == "all requests"].iloc[0]
    assert overall["failed_share"] == pytest.approx(0.005, abs=0.001)
    for q in ("p50", "p95", "p99"):
        assert np.isfinite(overall[f"{q}_high"]) and not overall[f"{q}_at_least"], q
        assert overall[f"{q}_ms"] >= overall[f"{q}_success_only_ms"]


def test_a_service_not_on_this_machine_is_measured_from_its_process_gauges_on_metrics(tmp_path):
    """No process samples (no local pid), but /metrics has the Prometheus client's process_* gauges: the service's
    memory and CPU come from them (CPU: the counter's rate), and the report names them as the source."""
    params = LoadParams(name="closed", model="closed", users=4, duration_s=60.0)
    phases = [{"name": "steady", "kind": "steady", "start_s": 0.0, "end_s": 60.0, "offered": 4, "unit": "users"}]
    t = np.arange(0.0, 61.0, 1.0)
    metrics = pd.DataFrame({"t_unix": T0_UNIX + t, "rss_bytes": 7e8 + 1e5 * t, "cpu_seconds": 0.6 * t})
    run = make_run(
        tmp_path / "remote",
        params,
        phases,
        closed_requests(4, 1.0, 0.05, 0.0, 60.0),
        server=pd.DataFrame({"t_unix": [], "cpu_percent": [], "rss_bytes": []}),
        metrics=metrics,
    )
    RunFolder(run).update(metric_sources={"rss_bytes": "process_resident_memory_bytes", "cpu_seconds": "x_cpu"})
    report = get_study("load").analyse(run)
    memory, cpu = rows(report)["memory_gb"], rows(report)["cpu_utilization"]
    assert 0.70 <= memory["value"] <= 0.71, memory
    assert abs(cpu["value"] - 0.30) < 0.01, cpu  # 0.6 core-seconds per second on 2 cores
    assert "not measured" not in memory["reason"] + cpu["reason"]
    from qrbench.studies.analysis import server_metrics_sentence

    said = server_metrics_sentence(run)
    assert "rss_bytes from process_resident_memory_bytes" in said
    assert said.startswith("CPU and memory: from the service's /metrics (process_resident_memory_bytes;")
    RunFolder(run).update(target={"pid": 4242}, metric_sources={})
    assert server_metrics_sentence(run).startswith("CPU and memory: the service's process tree (pid 4242)")
    RunFolder(run).update(target={"pid": None})
    assert "CPU and memory: not measured: the service's process is not on this machine" in server_metrics_sentence(run)


def test_every_compliance_row_and_executive_row_reads_as_words_not_a_key(closed_run, tmp_path):
    """The load rows keep their thresholds-file key in `metric` but show a label (studies.compliance.LABELS) in
    the study's compliance table and the executive report; no shown label is a snake_case key."""
    from qrbench.report.executive import executive_html, from_summary
    from qrbench.report.format import compliance_table

    report = get_study("load").analyse(closed_run)
    s = summary(report)
    labels = [r["label"] for r in s["compliance"]]
    assert {"p50_ms", "kept_up", "throughput_rps", "rss_growth_mb_per_h"} <= {r["metric"] for r in s["compliance"]}
    assert labels and not [x for x in labels if "_" in x], labels
    assert "share of the offered rate kept up with" in labels and "p50 latency of all requests" in labels
    table = compliance_table(report.compliance).html
    page = executive_html([from_summary(s)], base=tmp_path)
    for shown in (table, page):
        assert all(f">{x}<" in shown for x in labels)
        assert not any(f">{key}<" in shown for key in report.compliance["metric"]), "a raw key is shown"
