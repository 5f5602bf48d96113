"""`qrbench ab` measured for real against two loopback proxies in front of one cheap stub service: a proxy
that holds each answer for as long again (2x) is a regression, two identical proxies are not. Judged on the
verdict and counts only, never on wall time."""

from __future__ import annotations

import pytest

from qrbench.deploy import TargetParams
from qrbench.load import start_delay_proxy, start_stub_server
from qrbench.studies import RunFolder, get_study
from qrbench.studies.ab import ABParams

pytestmark = pytest.mark.timeout(300)


def _params(url_a: str, url_b: str) -> ABParams:
    return ABParams(
        pairs=8,
        requests_per_kind=8,
        kinds=("similarity", "rerank_10"),
        time_budget_s=600,
        a=TargetParams(url=url_a),
        b=TargetParams(url=url_b),
    )


@pytest.fixture(scope="module")
def upstream():
    with start_stub_server(delay_s=0.004) as url:
        yield url


def _run(tmp_path, upstream, factor_b: float):
    study = get_study("ab")
    with start_delay_proxy(upstream, 1.0) as a, start_delay_proxy(upstream, factor_b) as b:
        folder = study.run(_params(a, b), tmp_path / "run", progress=False)
    return folder, study.analyse(folder)


def test_a_proxy_twice_as_slow_is_a_regression(tmp_path, upstream):
    folder, report = _run(tmp_path, upstream, 2.0)
    assert report.verdict == "regression" and report.exit_status == 1
    assert report.pairs_done == 8
    rows = {(r.label, r.statistic): r for r in report.rows}
    assert set(rows) == {(k, s) for k in ("similarity", "rerank_10") for s in ("median", "p95")}
    assert rows[("rerank_10", "median")].verdict == "regression"
    assert rows[("rerank_10", "median")].change.value > 1.3
    # The run folder holds every block's records, and what the schedule was.
    facts = RunFolder(folder.path).facts
    assert len(facts["schedule"]) == 16 and set(facts["targets"]) == {"A", "B"}
    counts = report.blocks.groupby("arm")["requests"].sum()
    assert counts["A"] == counts["B"] == 8 * 8 * 2
    assert (report.blocks["ok"] == report.blocks["requests"]).all()
    assert report.headline.startswith("B is slower than A")
    summary = get_study("ab").summary(report)
    assert summary["verdict"] == "regression" and len(summary["rows"]) == 4


def test_identical_proxies_are_not_a_regression(tmp_path, upstream):
    _, report = _run(tmp_path, upstream, 1.0)
    assert report.verdict in ("no regression of that size", "cannot tell")
    assert report.exit_status in (0, 4)
    assert all(r.verdict != "regression" for r in report.rows)
