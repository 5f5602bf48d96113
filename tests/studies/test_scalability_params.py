"""Scalability parameter files: both shipped files validate; mistakes are named by key before anything runs."""

from __future__ import annotations

import pytest

from qrbench.errors import ParameterError
from qrbench.load import RequestSpec
from qrbench.resources import bundled
from qrbench.studies import get_study
from qrbench.studies.requests import tagged
from qrbench.studies.scalability import StepParams


@pytest.mark.parametrize("path", ["scalability.yaml", "smoke/scalability.yaml"])
def test_shipped_files_validate(path):
    params = get_study("scalability").load_params(bundled("parameters") / path)
    assert params.slo.p95_ms == 500 and params.slo.success == 0.99
    assert params.steps.rates()


def test_full_study_covers_what_the_issue_asks():
    p = get_study("scalability").load_params(bundled("parameters") / "scalability.yaml")
    assert set(p.workers.counts) == {1, 2, 4}
    assert set(p.instances.balance) == {"round_robin", "least_conn"}
    assert set(p.vertical.torch_threads) == {1, 2} and set(p.vertical.qubits) == {2, 3, 4}
    assert min(p.vertical.documents) == 10 and max(p.vertical.documents) == 1000


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("steps: {factor: 1.0}\n", "steps.factor"),
        ("workers: {counts: [0]}\n", "workers.counts"),
        ("vertical: {qubits: [5]}\n", "vertical.qubits"),
        ("requests: {mix: {rerank_huge: 1.0}}\n", "requests.mix"),
        ("instances: {balance: [random]}\n", "balance"),
        ("stepz: {}\n", "stepz"),
    ],
)
def test_mistakes_name_the_key(tmp_path, text, key):
    path = tmp_path / "scalability.yaml"
    path.write_text(text)
    with pytest.raises(ParameterError, match=key):
        get_study("scalability").load_params(path)


def test_rates_are_explicit_or_geometric():
    assert StepParams(rates_rps=(3, 9)).rates() == (3.0, 9.0)
    assert StepParams(start_rps=2, factor=2, max_steps=4).rates() == (2.0, 4.0, 8.0, 16.0)


def test_tagged_changes_only_the_query():
    spec = RequestSpec.from_payload(
        kind="rerank_small", endpoint="/v1/rerank", payload={"query": "q", "candidates": ["a", "b"], "method": "hybrid"}
    )
    new = tagged(spec, "t1")
    assert b'"query":"q [t1]"' in new.body and b'"candidates":["a","b"]' in new.body
    assert (new.kind, new.endpoint, new.method, new.n_candidates) == ("rerank_small", "/v1/rerank", "hybrid", 2)


def test_full_study_plans_under_30_minutes():
    """The full study's planned load time (every configuration's steps at most, the autoscale phases) leaves
    room within 30 minutes for starting 8 configurations (~40 s each, measured) and the vertical sweeps."""
    p = get_study("scalability").load_params(bundled("parameters") / "scalability.yaml")
    configs = len(p.workers.counts) + sum(len(p.instances.balance) if n > 1 else 1 for n in p.instances.counts)
    steps_s = len(p.steps.rates()) * (p.steps.step_s + p.steps.pause_s)
    autoscale_s = len(p.autoscale.rates_rps) * p.autoscale.phase_s if p.autoscale.enabled else 0
    planned_s = configs * (steps_s + 40) + autoscale_s + 180
    assert configs == 8 and planned_s <= 28 * 60, f"{configs} configurations, {planned_s / 60:.0f} minutes planned"
