"""studies/ and report/ grow only on purpose (issue 24).

LIMIT is their size today in lines (as `wc -l` counts them, every *.py file below qrbench/studies and
qrbench/report). A change that makes them larger raises LIMIT in the same commit and says why (a new report, a
new study); a cut of more than SLACK lines lowers it, so the next growth starts from the smaller size.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "qrbench"
LIMIT = 13_905
SLACK = 250


def _lines() -> int:
    files = [p for folder in ("studies", "report") for p in (PACKAGE / folder).rglob("*.py")]
    assert len(files) > 40, files  # the checkout's package, not an empty folder
    return sum(len(p.read_text().splitlines()) for p in files)


def test_studies_and_report_do_not_grow_past_the_limit():
    lines = _lines()
    assert lines <= LIMIT, (
        f"qrbench/studies + qrbench/report have {lines:,} lines, over LIMIT {LIMIT:,}: shorten the change, or raise "
        "LIMIT in tests/test_size.py and say in the commit which new report needs the lines"
    )


def test_the_limit_follows_the_cuts():
    lines = _lines()
    assert lines > LIMIT - SLACK, f"qrbench/studies + qrbench/report shrank to {lines:,} lines: lower LIMIT to {lines}"
