"""outputs/index.html: suite runs first with verdict, scale, readable date, report link first, trend chart."""

from __future__ import annotations

import json

from qrbench.report.executive import write_executive_report
from qrbench.report.index import list_runs, readable_stamp, trend_svg, write_index
from qrbench.studies import write_summary


def _suite(root, stamp, studies, *, scale, shift=0.0):
    folder = root / f"{stamp}-suite"
    folder.mkdir(parents=True)
    write_executive_report(folder, studies(folder), scale=scale)
    summary = json.loads((folder / "summary.json").read_text())
    summary["key_numbers"]["capacity (req/s)"] += shift
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


def test_readable_stamp():
    assert readable_stamp("20261130T044700Z") == "30 Nov 2026, 04:47 UTC"
    assert readable_stamp("interactive") == "interactive"


def test_index_lists_suites_first_with_their_report_first(tmp_path, suite_studies):
    _suite(tmp_path, "20261129T101500Z", suite_studies, scale="quick")
    _suite(tmp_path, "20261130T044700Z", suite_studies, scale="quick", shift=-2.0)
    study = tmp_path / "20261130T050000Z-baseline"
    study.mkdir()
    write_summary(study, {"study": "baseline", "verdict": "warn"})
    (study / "baseline.html").write_text("<html></html>")
    (study / "baseline-code.html").write_text("<html></html>")
    (tmp_path / "20261130T051000Z-load").mkdir()  # a run that never finished

    page = write_index(tmp_path).read_text()
    suites, studies_part = page.split("<h2>Single study runs</h2>")
    assert "<h2>Suite runs</h2>" in suites and "30 Nov 2026, 04:47 UTC" in suites and ">quick<" in suites
    assert suites.index("20261130T044700Z-suite/report.html") < suites.index("20261129T101500Z-suite/report.html")
    assert "<svg" in suites and "capacity (req/s)" in suites and "latest 12.9" in suites
    row = studies_part[studies_part.index("30 Nov 2026, 05:00 UTC") :]
    assert row.index("baseline.html") < row.index("baseline-code.html")
    assert "INCOMPLETE" in studies_part and ">WARN<" in studies_part
    assert "20261130T" not in page.replace('href="2026', "")  # raw stamps appear only in links


def test_trend_needs_two_runs_of_the_same_scale(tmp_path, suite_studies):
    _suite(tmp_path, "20261128T090000Z", suite_studies, scale="full")
    _suite(tmp_path, "20261129T090000Z", suite_studies, scale="quick")
    assert trend_svg(list_runs(tmp_path)) == ""
    assert "appear once two quick suite runs share them" in write_index(tmp_path).read_text()


def test_empty_or_missing_outputs(tmp_path):
    assert list_runs(tmp_path / "nothing-here") == []
    page = write_index(tmp_path).read_text()
    assert "No suite run yet" in page and "No single study run yet" in page
