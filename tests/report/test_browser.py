"""Reports as a reader sees them, in headless Chromium: the verdict in the first viewport, no inf/nan/dumps."""

from __future__ import annotations

import shutil

import pytest

from qrbench.report.browser import VIEWPORT, check_report, forbidden_text
from qrbench.report.executive import write_executive_report
from qrbench.report.html import page

needs_chromium = pytest.mark.skipif(
    shutil.which("chromium") is None, reason="Debian's chromium is not installed (.ci/run installs it)"
)


def test_forbidden_text_reads_only_visible_text():
    html = page(
        "t",
        "<p>p95 inf ms</p><p>NaN</p><pre>{'slope': -0.03}</pre><p>BaselineParams(url=None)</p>"
        "<p>information, infinite, -inf</p><img src='data:image/png;base64,AAinf/nan+'>",
    )
    found = forbidden_text(html)
    assert [f.split(" in ")[0] for f in found] == ["'inf'", "'inf'", "'nan'", '"{\'"', "'Params('"]


@needs_chromium
def test_executive_report_in_chromium(tmp_path, suite_studies):
    report = write_executive_report(tmp_path, suite_studies(tmp_path), scale="quick", started="30 Nov 2026, 04:47 UTC")
    check = check_report(report, screenshot_to=tmp_path / "first-screen.png")
    assert check.problems == []
    assert check.verdict_in_first_viewport
    from PIL import Image

    with Image.open(check.screenshot) as shot:
        assert shot.size == VIEWPORT


@needs_chromium
def test_chromium_check_finds_a_buried_verdict_and_dumps(tmp_path):
    path = tmp_path / "bad.html"
    path.write_text(
        page(
            "bad",
            "<div style='height:2000px'>Cost growth: {'requests': 15}</div>"
            "<p><span data-verdict='fail'>FAIL</span> p95 inf ms</p>",
        )
    )
    check = check_report(path)
    assert check.verdict_rect is not None and not check.verdict_in_first_viewport
    assert len(check.problems) == 3  # the verdict's position, "{'" and "inf"
