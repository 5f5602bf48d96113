"""A busy machine comes first on the executive report's first screen, before any pass/fail reason."""

from __future__ import annotations

from qrbench.report.executive import (
    ComplianceRow,
    StudySummary,
    busy_sentence,
    executive_html,
    from_summary,
    overall_verdict,
    suite_summary,
)

BUSY = {
    "contended": True,
    "sentence": "The machine was busy: other programs used 82 % of the cores during 14 of 14 stages.",
    "stages": 14,
    "contended_stages": 14,
    "other_share": 0.82,
}


def _summary(contention: dict | None, *, busy_row: bool = False, verdict: str = "fail") -> dict:
    busy = bool(contention and contention["contended"])
    return {
        "study": "baseline",
        "verdict": verdict,
        "verdict_reasons": [f"{BUSY['sentence']} 1 of 2 fail." if busy else "1 of 2 fail."],
        "compliance": [
            {"metric": "rerank 50 p95", "target": 500, "unit": "ms", "value": 9500, "low": 9100, "high": 9900,
             "verdict": "fail", "workload": "single user"},
            {"metric": "similarity p95", "target": 100, "unit": "ms", "value": 130, "low": 120, "high": 150,
             "verdict": "insufficient", "workload": "single user", "machine_busy": busy_row},
        ],
        "contention": contention,
    }  # fmt: skip


def test_a_busy_study_opens_the_verdict_reason_before_the_failure():
    studies = [
        from_summary(_summary(BUSY, busy_row=True)),
        StudySummary(study="load", verdict="pass", compliance=()),
    ]
    verdict, reason = overall_verdict(studies)
    assert verdict == "fail"
    assert reason.startswith(
        "Machine busy: other programs used 82 % of the cores during 14 of 14 stages (baseline study)"
    )
    assert "1 target(s) that failed by less than that could explain read insufficient (machine busy)" in reason
    assert reason.index("Machine busy") < reason.index("PRD checks fail")
    html = executive_html(studies)
    answer = html[html.index('id="qr-answer"') :]
    assert answer.index("Machine busy") < answer.index("PRD checks fail")
    assert "rerun the suite on an idle machine" in answer
    assert "INSUFFICIENT (MACHINE BUSY)" in html  # the excused row of the compliance table
    assert suite_summary(studies, scale="smoke")["machine_busy"] == busy_sentence(studies)


def test_a_quiet_run_says_nothing_of_the_machine():
    quiet = {**BUSY, "contended": False, "contended_stages": 0, "sentence": ""}
    for contention in (None, quiet):
        studies = [from_summary(_summary(contention))]
        verdict, reason = overall_verdict(studies)
        assert verdict == "fail" and not reason.startswith("Machine busy") and busy_sentence(studies) == ""
        assert "busy" not in executive_html(studies).lower()


def test_busy_stages_add_up_across_studies_weighted_by_contended_stages():
    a = from_summary(_summary({**BUSY, "stages": 10, "contended_stages": 2, "other_share": 0.5}))
    b = from_summary({**_summary({**BUSY, "stages": 4, "contended_stages": 2, "other_share": 1.0}), "study": "load"})
    c = StudySummary(study="bottlenecks", verdict="pass")
    assert busy_sentence([a, b, c]).startswith(
        "Machine busy: other programs used 75 % of the cores during 4 of 14 stages (baseline, load studies)"
    )


def test_a_study_left_undecided_by_the_busy_machine_says_so():
    row = ComplianceRow(
        metric="similarity p95", target=100, unit="ms", value=130, low=120, high=150, verdict="insufficient",
        study="baseline", workload="single user", machine_busy=True,
    )  # fmt: skip
    s = from_summary(_summary(BUSY, verdict="insufficient"))
    s = StudySummary(study="baseline", verdict="insufficient", compliance=(row,), busy=s.busy)
    verdict, reason = overall_verdict([s])
    assert verdict == "insufficient"
    assert reason.endswith("The busy machine left the baseline study undecided; nothing fails.")
