"""The bottlenecks study's parameters and its request source, on fixed data."""

from __future__ import annotations

import json

import pytest

from qrbench.errors import ParameterError
from qrbench.load import RequestSpec
from qrbench.resources import bundled
from qrbench.studies import get_study
from qrbench.studies.requests import NewQueries


def test_both_parameter_files_are_valid():
    full = get_study("bottlenecks").load_params(bundled("parameters") / "bottlenecks.yaml")
    smoke = get_study("bottlenecks").load_params(bundled("parameters") / "smoke" / "bottlenecks.yaml")
    assert full.memory.document_counts == (25, 50, 75, 100, 1000)
    assert {n for g in full.breakdown.grids for n in g.batch_sizes} == {10, 25, 50, 100}
    assert smoke.breakdown.repeats < full.breakdown.repeats


def test_a_bad_key_or_value_is_named(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("breakdown:\n  repeat: 3\n")
    with pytest.raises(ParameterError, match="repeat"):
        get_study("bottlenecks").load_params(bad)
    bad.write_text("memory:\n  document_counts: [25, 5000]\n")
    with pytest.raises(ParameterError, match="memory.document_counts"):
        get_study("bottlenecks").load_params(bad)


def test_every_request_gets_a_new_query_and_stays_valid_json():
    payloads = [
        {"query": 'a "quoted\\\\" query', "candidates": ["x", "y"], "method": "hybrid"},
        {"text1": "pair text", "text2": "other", "method": "classical"},
    ]
    specs = [RequestSpec.from_payload(kind="k", endpoint="/v1/rerank", payload=p) for p in payloads]
    pool = iter(specs * 3)
    source = NewQueries(lambda: next(pool), "u")
    seen = set()
    for i in range(6):
        spec = source()
        doc = json.loads(spec.body)
        text = doc.get("query") or doc.get("text1")
        assert text.startswith(payloads[i % 2].get("query", payloads[i % 2].get("text1")))
        seen.add(text)
        assert spec.n_candidates == specs[i % 2].n_candidates
    assert len(seen) == 6
