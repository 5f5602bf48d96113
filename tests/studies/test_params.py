"""Bad parameter files fail before anything is sent, with a message naming the key."""

from __future__ import annotations

import pytest

from qrbench.errors import ParameterError
from qrbench.studies import get_study


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("similarity:\n  iteratons: 10\n", "iteratons"),
        ("rerank:\n  batch_sizes: [10, 2000]\n", "rerank.batch_sizes"),
        ("rerank:\n  methods: [classical, magic]\n", "methods"),
        ("similarity:\n  iterations: ten\n", "iterations"),
        ("target:\n  qubits: 7\n", "qubits"),
        ("memory:\n  sustained_s: -1\n", "memory.sustained_s"),
        ("confidence: 1.5\n", "confidence"),
        ("comparison: [1, 2]\n", "comparison"),
        ("- just a list\n", "mapping"),
    ],
)
def test_bad_parameters_name_the_key(tmp_path, text, named):
    path = tmp_path / "p.yaml"
    path.write_text(text)
    with pytest.raises(ParameterError, match=named):
        get_study("baseline").load_params(path)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ParameterError, match="does not exist"):
        get_study("baseline").load_params(tmp_path / "nope.yaml")


def test_shipped_parameter_files_are_valid():
    from qrbench.resources import bundled

    full = get_study("baseline").load_params(bundled("parameters") / "baseline.yaml")
    assert full.similarity.iterations == 1000 and full.rerank.batch_sizes == (10, 25, 50, 100)
    # 2 minutes per document count, not the specification's 10: four 10-minute stages alone took 40 minutes, past
    # the 30 a full study may take; the soak scenario (parameters/soak.yaml) is where memory is watched for long.
    assert full.memory.document_counts == (25, 50, 75, 100) and full.memory.sustained_s == 120
    get_study("baseline").load_params(bundled("parameters") / "smoke" / "baseline.yaml")
