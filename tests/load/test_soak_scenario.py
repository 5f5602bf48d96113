"""parameters/soak.yaml and its smoke twin: a valid, steady, open-model scenario of at least 30 minutes
whose request pool has been sent once early in the run, so the caches are full long before it ends."""

from pathlib import Path

import pytest

from qrbench.studies import get_study

PARAMETERS = Path(__file__).resolve().parents[2] / "parameters"


@pytest.mark.parametrize("path", [PARAMETERS / "soak.yaml", PARAMETERS / "smoke" / "soak.yaml"])
def test_soak_is_steady_and_fills_its_caches_early(path):
    p = get_study("load").load_params(path)
    assert p.model == "open" and p.shape.kind == "none" and p.ramp_up_s == 0 and p.time_scale == 1
    seconds_to_send_the_pool = p.pool_size / p.rate_rps  # every request seen once: the caches hold them all
    assert seconds_to_send_the_pool <= 0.25 * p.duration_s
    assert p.target.url is None  # the embedded service: its RSS is sampled


def test_the_full_soak_lasts_30_minutes_and_the_smoke_twin_differs_only_in_scale():
    full = get_study("load").load_params(PARAMETERS / "soak.yaml")
    smoke = get_study("load").load_params(PARAMETERS / "smoke" / "soak.yaml")
    assert full.duration_s >= 1800 and full.sample_interval_s <= 1.0
    assert full.pool_size / full.rate_rps <= 60  # full caches from the first minute on
    for key in ("model", "rate_rps", "arrivals", "mix", "methods", "processes", "failure_threshold", "shape"):
        assert getattr(smoke, key) == getattr(full, key), key
