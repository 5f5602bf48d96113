"""Text for people: exact rendering of numbers, intervals, tables and the headline on fixed data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from qrbench.report.format import (
    NOT_BOUNDED,
    compliance_table,
    friendly_name,
    headline,
    interval,
    not_measured,
    number,
    quantity,
    stakeholder_table,
    verdict_badge,
)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1072.898048, "1,070"),
        (412.345, "412"),
        (41.234, "41.2"),
        (0.5, "0.5"),
        (12.0, "12"),
        (0.000123456, "0.000123"),
        (-0.0335, "-0.0335"),
        (99999.4, "100,000"),
        (0.0, "0"),
        (7, "7"),
        (12345, "12,345"),
        (np.float64(2.5), "2.5"),
        (np.int64(3), "3"),
        (True, "yes"),
        (math.inf, NOT_BOUNDED),
        (-math.inf, NOT_BOUNDED),
        (math.nan, "not measured"),
        (None, "not measured"),
        ("a long message that is never cut", "a long message that is never cut"),
    ],
)
def test_number(value, text):
    assert number(value) == text


def test_quantity_and_interval():
    assert quantity(912.5, "ms") == "912 ms"
    assert quantity(0.995, "fraction") == "99.5 %"
    assert quantity(math.inf, "ms") == NOT_BOUNDED
    assert interval(38.9, 45.01, "ms") == "[38.9, 45] ms"
    assert interval(870.0, math.inf, "ms") == "at least 870 ms; upper end not bounded"
    assert interval(-math.inf, 3.0, "ms") == "at most 3 ms; lower end not bounded"
    assert interval(math.nan, math.nan) == "not measured"
    assert interval(0.993, 0.999, "fraction") == "[99.3, 99.9] %"


def test_friendly_names():
    assert friendly_name("rss_max_mb") == "peak memory (MB)"
    assert friendly_name("p95_ms") == "p95 (ms)"
    assert friendly_name("throughput_low_rps") == "throughput low (req/s)"
    assert friendly_name("fallback_rate") == "fallback rate (%)"
    assert not_measured("the thread sweep") == "The thread sweep: not measured in this run."


def test_stakeholder_table_exact_html():
    frame = pd.DataFrame(
        {
            "stage": ["rerank/50"],
            "p95_ms": [412.3456],
            "p95_high": [math.inf],
            "error_rate": [0.0125],
            "rss_max_mb": [1072.898048],
            "verdict": ["pass"],
        },
        index=[7],
    )
    html = stakeholder_table(frame).html
    assert html == (
        '<div class="qr-table-wrap"><table class="qr-table"><thead><tr><th>Stage</th><th>p95 (ms)</th>'
        "<th>p95 high</th><th>errors (%)</th><th>peak memory (MB)</th><th>Verdict</th></tr></thead><tbody><tr>"
        '<td>rerank/50</td><td class="num">412</td><td class="num">not bounded</td>'
        '<td class="num">1.25</td><td class="num">1,070</td>'
        f"<td>{verdict_badge('pass')}</td></tr></tbody></table></div>"
    )
    assert ">7<" not in html  # no pandas index


def test_stakeholder_table_names_a_missing_column():
    with pytest.raises(KeyError, match="no column 'p99_ms'"):
        stakeholder_table(pd.DataFrame({"p95_ms": [1.0]}), ["p99_ms"])


def test_compliance_table_reads_as_sentences():
    frame = pd.DataFrame(
        [
            {
                "metric": "rerank_50_ms",
                "label": "rerank 50 docs p95",
                "value": 912.5,
                "low": 870.0,
                "high": math.inf,
                "n": 40,
                "target": 500.0,
                "threshold": 600.0,
                "unit": "ms",
                "direction": "below",
                "verdict": "fail",
                "reason": "The whole interval lies above the target.",
            }
        ]
    )
    html = compliance_table(frame).html
    for text in (
        "<td>rerank 50 docs p95</td>",
        "<td>below 500 ms</td>",
        "<td>912 ms</td>",
        "<td>at least 870 ms; upper end not bounded</td>",
        ">FAIL<",
        '<td class="text">The whole interval lies above the target.</td>',
    ):
        assert text in html
    assert "inf" not in html.replace("interval", "")


def test_headline_without_reservations():
    h = headline("pass", "All 6 PRD checks pass.", checks=[{"ok": True, "message": "Enough samples."}])
    assert h.lines() == [
        "Verdict: PASS. All 6 PRD checks pass.",
        "Reliability: every reliability check passed.",
        "Next: nothing required; keep this run as the baseline for the next comparison.",
    ]


def test_headline_never_unreserved_while_a_check_fails():
    checks = [
        {"ok": False, "message": "Only 40 samples for p95 (100 needed)."},
        {"ok": False, "message": "Machine noise 14 % (limit 10 %)."},
        {"ok": False, "message": "The generator used 93 % CPU."},
        {"ok": True, "message": "fine"},
    ]
    h = headline("pass", "All 6 PRD checks pass.", checks=checks)
    assert h.lines() == [
        "Verdict: PASS (with reservations). All 6 PRD checks pass.",
        "Reservations: Only 40 samples for p95 (100 needed). Machine noise 14 % (limit 10 %)."
        " (1 more in the reliability section.)",
        "Next: rerun on an idle machine with more samples before relying on these numbers.",
    ]
    assert 3 <= len(h.lines()) <= 5
    assert "no reservations" not in str(h).lower()
    assert "with reservations:" in h.to_html() and 'data-verdict="pass"' in h.to_html()


def test_an_empty_table_without_its_columns_reads_as_a_sentence_and_a_missing_column_of_rows_is_named():
    from qrbench.report.format import stakeholder_table

    table = stakeholder_table(pd.DataFrame(), {"config": "Configuration", "p95_ms": "p95 (ms)"})
    assert "No rows: not measured." in table.html and "<th>Configuration</th>" in table.html
    with pytest.raises(KeyError, match="no column 'p95_ms'"):
        stakeholder_table(pd.DataFrame({"config": ["a"]}), {"config": "Configuration", "p95_ms": "p95 (ms)"})
