"""The scalability study's verdict pieces on hand-made data: windowed step rates, the PRD capacity judged on the
step load (naming its workload), the recommendation sentence, N* stated only when bounded, and the autoscaling
analysis of a hand-made timeline (time to scale, transition latency, over/under-provisioning)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from qrbench import stats
from qrbench.load import RECORD_COLUMNS
from qrbench.studies.scalability import SloParams
from qrbench.studies.scalability.analysis import (
    STEP_WORKLOAD,
    _compliance,
    _findings,
    autoscale_findings,
    fit_scaling,
    fmt,
    recommendation,
    step_summary,
)
from qrbench.studies.scalability.autoscaling import analyse_autoscale, instances_over_time, steady_need

THRESHOLDS = {
    "throughput_rps": stats.Threshold(metric="throughput_rps", target=100, threshold=50, direction="above", unit="rps"),
    "p95_ms": stats.Threshold(metric="p95_ms", target=500, threshold=750, direction="below", unit="ms"),
}


def _records(t_end: np.ndarray, latency_ms: float = 100.0) -> pd.DataFrame:
    frame = pd.DataFrame({c: 0 for c in RECORD_COLUMNS}, index=range(len(t_end)))
    frame["latency_ms"], frame["ok"], frame["error"], frame["t_end"] = latency_ms, True, "", t_end
    frame["t_intended"] = t_end - latency_ms / 1000
    return frame


def test_step_throughput_is_windowed_and_follows_bursts():
    # 200 completions in 10 s, all in the first and last two seconds: a Poisson count would give a narrow
    # interval around 20 req/s; the per-second windows see the bursts and widen it.
    bursty = np.r_[np.linspace(0.01, 1.99, 100), np.linspace(8.01, 9.99, 100)]
    s = step_summary(_records(bursty), duration_s=10, slo=SloParams())["throughput"]
    assert s.value == pytest.approx(20.0) and "windows of 1 s" in s.method
    poisson = stats.throughput(bursty, duration_s=10)
    assert s.high - s.low > 2 * (poisson.high - poisson.low)


def _configs(capacities: dict[str, float]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "config": c,
                "axis": "workers" if c.startswith("w") else "instances",
                "n": int(c.split("-")[1]),
                "balance": "round_robin" if c.startswith("i") else "",
                "status": "ok",
                "capacity_rps": cap,
                "capacity_low": cap / 2,
                "capacity_high": 2 * cap,
                "slo_broke": True,
                "peak_throughput_rps": cap,
            }
            for c, cap in capacities.items()
        ]
    )


def _step(rate: float, achieved: float, p95: float, n: int = 400) -> dict:
    width = 0.05 * achieved
    return {
        "rate_rps": rate,
        "throughput": stats.Estimate(
            value=achieved, low=achieved - width, high=achieved + width, confidence=0.95, n=n, method="windows"
        ),
        "p95": stats.Estimate(value=p95, low=0.9 * p95, high=1.1 * p95, confidence=0.95, n=n, method="os"),
    }


def test_capacity_target_is_judged_on_the_best_step_load_and_names_its_workload():
    configs = _configs({"workers-1": 60.0, "instances-2": 120.0})
    steps = {
        "workers-1": [_step(60, 59, 200), _step(120, 80, 2000)],
        "instances-2": [_step(60, 60, 150), _step(120, 119, 300), _step(160, 130, 1500)],
    }
    (row,) = _compliance(configs, steps, THRESHOLDS).to_dict(orient="records")
    assert row["verdict"] == "pass" and row["value"] == 119  # the 120 req/s step, p95 within 500 ms
    assert row["workload"].startswith(f"{STEP_WORKLOAD}, instances-2, step at 120")
    low = _compliance(
        _configs({"workers-1": 60.0}), {"workers-1": [_step(60, 59, 200), _step(70, 65, 900)]}, THRESHOLDS
    ).to_dict(orient="records")
    # The steps offered at most 70 req/s: below the target, so the capacity cannot be shown.
    assert low[0]["verdict"] == "insufficient" and "cannot show the capacity" in low[0]["reason"]
    assert _compliance(pd.DataFrame(columns=configs.columns), {}, THRESHOLDS).empty


def _report_args(usl_points: pd.DataFrame, auto=None) -> dict:
    return {
        "configs": _configs({"workers-1": 20.0, "workers-2": 34.0}),
        "cores": 2,
        "slo": SloParams(),
        "usl": {"workers": {"points": usl_points, **fit_scaling(usl_points)}},
        "first_saturated": {"config": "workers-1", "resources": ["cpu"], "rate_rps": 30.0},
        "imbalance": pd.DataFrame(),
        "cost": {},
        "autoscale": auto,
    }


def test_recommendation_uses_measured_numbers_only():
    text = recommendation(_report_args(pd.DataFrame(columns=["n", "throughput_rps"])))
    assert text.startswith(
        "Run 2 worker(s): it met the SLO up to 34 req/s (between steps 17 and 68) on this "
        "machine's 2 core(s), against 20 req/s for one process"
    )
    assert "CPU saturated first (at 30 req/s with one worker), so more processes than the 2 cores" in text
    assert text.endswith(".")


def test_peak_n_is_stated_only_when_bounded():
    n = np.array([1, 2, 3, 4, 6, 8], float)
    amdahl_like = pd.DataFrame({"n": n, "throughput_rps": 10 * n / (1 + 0.1 * (n - 1))})  # kappa = 0: no peak
    text = " ".join(_findings(_report_args(amdahl_like)))
    assert "N* cannot be bounded from this data" in text and "peaks at N*" not in text
    assert "Nothing is predicted past N = 8" in text
    rng = np.random.default_rng(1)
    n = np.repeat(np.array([1, 2, 3, 4, 6, 8, 12], float), 1)
    peaked = 10 * n / (1 + 0.05 * (n - 1) + 0.02 * n * (n - 1)) * (1 + rng.normal(0, 0.003, n.size))
    text = " ".join(_findings(_report_args(pd.DataFrame({"n": n, "throughput_rps": peaked}))))
    assert "peaks at N* = 6" in text  # sqrt(0.95 / 0.02) = 6.9, printed with its interval
    three = pd.DataFrame({"n": [1.0, 2.0, 3.0], "throughput_rps": [10.0, 18.0, 24.0]})
    assert "cannot be bounded" in " ".join(_findings(_report_args(three)))


RULE = {
    "target_cpu": 0.5,
    "cores_per_instance": 1.0,
    "min_replicas": 1,
    "max_replicas": 3,
    "scale_down_window_s": 4.0,
    "interval_s": 1.0,
}


def _timeline() -> tuple[dict, pd.DataFrame]:
    """Three 10-s phases at 2, 10, 2 req/s. The CPU in use (current x metric) is 0.4 cores, then 1.4, then 0.4:
    the rule needs 1, then ceil(1.4 / 0.5) = 3, then 1 instance(s). The pool went 1 -> 3 at t = 14 s (4 s after the
    step up) and 3 -> 1 at t = 26 s (6 s after the step down)."""
    t0 = 1000.0
    decisions = []
    for t in range(1, 30):
        current = 1 if t <= 14 else 3 if t <= 26 else 1
        demand = 0.4 if t < 10 or t >= 20 else 1.4
        decisions.append(
            {
                "t_s": t,
                "t_unix": t0 + t,
                "current": current,
                "metric": demand / current,
                "proposed": 0,
                "desired": 0,
                "scale_s": 0.0,
            }
        )
    events = [
        {"t_unix": t0 + 14, "from": 1, "to": 3, "seconds": 3.0},
        {"t_unix": t0 + 26, "from": 3, "to": 1, "seconds": 0.5},
    ]
    record = {
        "rule": RULE,
        "t0_unix": t0,
        "initial": 1,
        "decisions": decisions,
        "events": events,
        "error": "",
        "phases": [
            {"phase": i, "rate_rps": r, "start_s": 10.0 * i, "end_s": 10.0 * (i + 1)}
            for i, r in enumerate([2.0, 10.0, 2.0])
        ],
    }
    # Requests every 0.1 s; those meant to be sent between 10 and 14 s (one instance, overloaded) take 900 ms.
    t = np.arange(0.05, 30.0, 0.1)
    records = pd.DataFrame({"t_intended": t, "ok": True, "latency_ms": np.where((t >= 10) & (t < 14), 900.0, 50.0)})
    return record, records


def test_autoscale_analysis_of_a_hand_made_timeline():
    record, records = _timeline()
    steps = instances_over_time(record["events"], initial=1, t0_unix=1000.0)
    assert steps["instances"].tolist() == [1, 3, 1] and steps["t_s"].tolist()[1:] == [14.0, 26.0]
    d = pd.DataFrame(record["decisions"])
    assert steady_need(d, start_s=10, end_s=20, target=0.5, min_replicas=1, max_replicas=3) == 3
    assert math.isnan(
        steady_need(d.assign(metric=np.nan), start_s=10, end_s=20, target=0.5, min_replicas=1, max_replicas=3)
    )
    a = analyse_autoscale(record, records, grid_s=0.01)
    ph = a["phases"].set_index("phase")
    assert ph["need"].tolist() == [1, 3, 1] and ph["direction"].tolist() == ["none", "up", "down"]
    assert ph.loc[1, "scaled_after_s"] == pytest.approx(4.0) and ph.loc[1, "reached_need_after_s"] == pytest.approx(4.0)
    assert ph.loc[2, "scaled_after_s"] == pytest.approx(6.0)
    # Under: 2 instances missing for 4 s of the step up; over: 2 too many for 6 s of the step down.
    assert a["under_instance_s"] == pytest.approx(8.0, abs=0.05)
    assert a["over_instance_s"] == pytest.approx(12.0, abs=0.05)
    assert a["instance_s"] == pytest.approx(10 + 4 + 6 * 3 + 6 * 3 + 4, abs=0.05) and a["max_instances"] == 3
    assert ph.loc[1, "p95_transition_ms"] == 900 and ph.loc[1, "p95_settled_ms"] == 50
    assert ph.loc[1, "transition_requests"] == 40
    text = " ".join(autoscale_findings({**a, "rule": RULE}))
    assert "not a cluster" in text and "Step up to 10 req/s: the first scale-up ended 4 s after the step" in text
    assert "12 instance-seconds over and 8 under" in text
    failed = autoscale_findings({**a, "rule": RULE, "error": "TargetError: nginx is missing"})
    assert failed[0].startswith("Autoscaling scenario: it failed (TargetError: nginx is missing)")


def test_a_scale_up_that_ends_after_its_phase_still_counts():
    # As measured on the smoke run: the control loop waited for the new instance (model load) through the whole
    # second half of the step up, so the phase's need comes from its first half, and the scale-up ends later.
    record, records = _timeline()
    record["decisions"] = [d for d in record["decisions"] if not 15 <= d["t_s"] < 22]
    record["events"] = [
        {"t_unix": 1022.0, "from": 1, "to": 3, "seconds": 9.0},
        {"t_unix": 1026.0, "from": 3, "to": 1, "seconds": 0.5},
    ]
    ph = analyse_autoscale(record, records, grid_s=0.01)["phases"].set_index("phase")
    assert ph.loc[1, "need"] == 3 and ph.loc[1, "direction"] == "up"
    assert ph.loc[1, "scaled_after_s"] == pytest.approx(12.0) and math.isnan(ph.loc[1, "reached_need_after_s"])
    assert ph.loc[1, "transition_requests"] == 100  # never reached within the phase: all of it is transition
    text = " ".join(autoscale_findings({**analyse_autoscale(record, records), "rule": RULE}))
    assert "ended 12 s after the step (after the phase ended)" in text and "not reached within the phase" in text


def test_recommendation_prefers_fewer_processes_at_equal_capacity_and_reads_large_numbers():
    args = _report_args(pd.DataFrame(columns=["n", "throughput_rps"]))
    args["configs"] = _configs({"workers-1": 6.0, "instances-2": 6.0})
    assert recommendation(args).startswith("Run 1 worker(s): it met the SLO up to 6 req/s")
    assert fmt(5798.4) == "5,800" and fmt(123.45) == "123" and fmt(math.inf) == "not bounded"


def test_a_service_that_breaks_the_slo_at_the_first_step_is_not_told_to_run_at_zero():
    args = _report_args(pd.DataFrame(columns=["n", "throughput_rps"]))
    args["configs"] = _configs({"workers-1": 0.0}).assign(axis="given", capacity_high=6.0)
    args["first_saturated"] = {"config": "workers-1", "resources": [], "rate_rps": math.nan}
    text = recommendation(args)
    assert text.startswith("Run the given service only after making it faster: it broke the SLO at every step")
    assert "the first at 6 req/s" in text and "up to 0" not in text
