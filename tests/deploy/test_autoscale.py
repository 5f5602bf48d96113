"""The HPA's rule (replica calculator, tolerance, stabilisation windows) on known cases, and one short real run:
stub instances behind nginx scaled up and down by the controller while a load flows through, with no failure."""

from __future__ import annotations

import math
import threading

import pytest

from qrbench.deploy.autoscale import HpaController, HpaRule, InstancePool, proposed_replicas, run_autoscaler
from qrbench.deploy.nginx import find_nginx
from qrbench.errors import TargetError
from qrbench.load import OpenModel, RequestSpec, cycle_source, load_records, run_load, start_stub_server

RULE = HpaRule(target=0.7, min_replicas=1, max_replicas=6, scale_down_window_s=300)


def _has_nginx() -> bool:
    try:
        find_nginx()
    except TargetError:
        return False
    return True


def test_replica_calculator():
    assert proposed_replicas(3, 0.9, RULE) == 4  # ceil(3 x 0.9 / 0.7) = ceil(3.86)
    assert proposed_replicas(3, 0.7, RULE) == 3  # exactly on target (no float-noise extra instance)
    assert proposed_replicas(3, 0.76, RULE) == 3  # ratio 1.086: within the 10 % tolerance
    assert proposed_replicas(3, 0.78, RULE) == 4  # ratio 1.114: past it
    assert proposed_replicas(4, 0.2, RULE) == 2  # ceil(4 x 0.286) = ceil(1.14)
    assert proposed_replicas(2, 5.0, RULE) == 6 and proposed_replicas(2, 0.0, RULE) == 1  # clamped
    assert proposed_replicas(2, math.nan, RULE) == 2  # nothing measured: no change
    with pytest.raises(ValueError, match="min_replicas"):
        HpaRule(target=0.7, min_replicas=3, max_replicas=2)


def test_scale_up_is_immediate_and_scale_down_waits_for_the_window():
    c = HpaController(HpaRule(target=0.5, scale_down_window_s=60, max_replicas=10))
    assert c.step(0, 2, 1.0).desired == 4  # up at once (window 0)
    assert c.step(15, 4, 0.5).desired == 4
    low = c.step(30, 4, 0.1)
    assert low.proposed == 1 and low.desired == 4  # the proposal of t=0 (4) is still in the 60-s window
    assert c.step(61, 4, 0.1).desired == 4  # t=15 proposed 4, still within 60 s
    assert c.step(76, 4, 0.1).desired == 1  # every proposal of the last 60 s says 1
    with pytest.raises(ValueError, match="time order"):
        c.step(10, 1, 0.1)


def test_scale_up_window_takes_the_lowest_recent_proposal():
    c = HpaController(HpaRule(target=1.0, scale_up_window_s=30, scale_down_window_s=0))
    assert c.step(0, 1, 1.0).desired == 1
    assert c.step(10, 1, 3.0).desired == 1  # 3 proposed, but 1 was proposed within the last 30 s
    assert c.step(41, 1, 3.0).desired == 3


@pytest.mark.skipif(not _has_nginx(), reason="nginx is missing (apt-get install nginx-light)")
def test_real_pool_scales_up_and_down_under_load_without_a_failure(tmp_path):
    # The metric is scripted (2.0 twice, then 0.1 per instance) so the decisions are known; everything else is
    # real: stub instances, nginx reloaded in place, and a load through it the whole time.
    script = iter([2.0, 2.0])
    controller = HpaController(HpaRule(target=1.0, max_replicas=3, scale_down_window_s=1.5))
    spec = RequestSpec(kind="s", endpoint="/v1/similarity", method="classical", n_candidates=1, body=b"{}")
    with InstancePool(lambda: start_stub_server(delay_s=0.01), run_dir=tmp_path, initial=1, drain_s=0.5) as pool:
        result = {}
        loader = threading.Thread(
            target=lambda: result.update(
                run=run_load(
                    pool.url,
                    cycle_source([spec]),
                    OpenModel(rate_rps=20, duration_s=6, arrivals="uniform"),
                    out_dir=tmp_path / "load",
                    progress=False,
                )
            )
        )
        loader.start()
        steps = run_autoscaler(pool, controller, lambda urls: next(script, 0.1), interval_s=1.0, duration_s=6)
        loader.join(60)
        events = list(pool.events)
    assert list(steps["desired"][:2]) == [2, 3]  # 1 -> ceil(1 x 2.0) = 2 -> ceil(2 x 2.0) = 4, capped at 3
    assert steps["desired"].iloc[-1] == 1  # back down once the window held only low proposals
    assert [(e["from"], e["to"]) for e in events][:2] == [(1, 2), (2, 3)] and events[-1]["to"] == 1
    records = load_records(result["run"].run_dir)
    assert len(records) == 120 and records["ok"].all()  # the reloads dropped no request


def test_cpu_utilization_reads_the_instance_listening_on_each_url():
    from qrbench.deploy.autoscale import CpuUtilization

    metric = CpuUtilization(cores_per_instance=0.5)
    with start_stub_server() as url:
        assert math.isnan(metric([url]))  # the first call only sets the baseline
        value = metric([url])
    assert 0.0 <= value < 10.0  # an idle stub: a small share of half a core (and a number, not NaN)
    assert math.isnan(metric(["http://127.0.0.1:9"]))  # nothing listens there
