"""Every target of the shipped thresholds file has a label in the one mapping the studies and the executive
report read (studies.compliance.LABELS), and the label names the statistic the file judges it on."""

from __future__ import annotations

from qrbench.studies import load_thresholds
from qrbench.studies.compliance import COLUMNS, compliance_frame, metric_label


def test_every_shipped_target_has_a_label_in_words():
    for section in ("baseline", "load"):
        for key, threshold in load_thresholds("parameters/thresholds.yaml", section).items():
            label = metric_label(key, threshold.statistic)
            if section == "load":  # baseline's rows carry their own names (e.g. "rerank 50 documents (exact) p95")
                assert label != key and "_" not in label, (key, label)


def test_a_latency_label_names_the_statistic_it_is_judged_on():
    assert metric_label("rerank_50_ms", "p99") == "p99 latency of reranks of 25-50 documents"
    assert metric_label("p50_ms", "p50") == "p50 latency of all requests"
    assert metric_label("rerank 50 documents (exact) p95") == "rerank 50 documents (exact) p95"


def test_an_empty_compliance_frame_has_the_schema():
    assert list(compliance_frame({}).columns) == list(COLUMNS)
