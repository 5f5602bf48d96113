"""`qrbench ab` end to end through its notebook (two delay proxies over the stub service): the exit status is
the verdict's, the report and summary.json are written, the terminal shows the detectable change. And the
parameters: bad keys named before anything runs, target files, the verdict -> exit status mapping."""

from __future__ import annotations

import json

import pytest

from qrbench.cli import main
from qrbench.deploy import TargetParams
from qrbench.errors import ParameterError
from qrbench.load import start_delay_proxy, start_stub_server
from qrbench.studies.ab import EXIT_STATUS, ABParams, load_target_file, with_targets

pytestmark = pytest.mark.timeout(400)


def test_ab_command_exits_1_on_a_regression_and_writes_the_report(tmp_path, capsys):
    params = tmp_path / "ab.yaml"
    params.write_text("pairs: 6\nrequests_per_kind: 6\nkinds: [similarity, rerank_10]\n")
    with start_stub_server(delay_s=0.004) as upstream:
        with start_delay_proxy(upstream, 1.0) as a, start_delay_proxy(upstream, 2.0) as b:
            status = main(["ab", "--a", a, "--b", b, "-p", str(params), "--out", str(tmp_path), "--no-progress"])
    out = capsys.readouterr().out
    assert status == 1, out
    assert "detectable" in out and "ab: verdict regression (exit 1)" in out
    (run,) = [p for p in tmp_path.iterdir() if p.name.endswith("-ab")]
    assert (run / "ab.html").is_file()
    summary = json.loads((run / "summary.json").read_text())
    assert summary["verdict"] == "regression" and summary["exit_status"] == 1
    assert summary["pairs_done"] == 6 and len(summary["rows"]) == 4
    # The report is the study's sections in order; `qrbench render` analyses the same folder again.
    (run / "ab.html").unlink()
    assert main(["render", str(run), "--no-progress"]) == 0
    page = (run / "ab.html").read_text()
    titles = ["Every row", "Per-block differences over time", "The targets", "Reliability of these numbers"]
    assert all(t in page for t in titles) and [page.index(t) for t in titles] == sorted(page.index(t) for t in titles)
    assert "REGRESSION" in page  # the rows' verdicts as badges


def test_exit_status_of_each_verdict():
    assert EXIT_STATUS == {"no regression of that size": 0, "regression": 1, "cannot tell": 4}


def test_bad_parameters_are_named(tmp_path):
    with pytest.raises(ParameterError, match="rerank_<n>"):
        ABParams(kinds=("rerank_500",))
    with pytest.raises(ParameterError, match="pairs"):
        ABParams(pairs=1)
    bad = tmp_path / "ab.yaml"
    bad.write_text("pair: 4\n")
    assert main(["ab", "-p", str(bad), "--out", str(tmp_path)]) == 2


def test_target_files_and_urls_set_each_side(tmp_path):
    onnx = tmp_path / "onnx.yaml"
    onnx.write_text("encoder: onnx\n")
    study_file = tmp_path / "study.yaml"
    study_file.write_text("target:\n  backend: aer\n")
    assert load_target_file(onnx) == TargetParams(encoder="onnx")
    params = with_targets(ABParams(), a_params=study_file, b_params=onnx, url_b="http://127.0.0.1:9", threshold=0.2)
    assert params.a.backend == "aer" and params.b.encoder == "onnx" and params.b.url == "http://127.0.0.1:9"
    assert params.a.url is None and params.threshold == 0.2
