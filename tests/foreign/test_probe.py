"""`qrbench probe` and deploy.probe_target against a service qrbench did not write and against the reference."""

from __future__ import annotations

import pytest

from qrbench.cli import main
from qrbench.deploy import NotAContractService, check_contract, probe_target


def test_probe_of_the_foreign_service_names_what_it_lacks(foreign_url):
    probe = probe_target(foreign_url)
    assert probe.speaks_contract and not probe.reference
    assert probe.endpoints == {"/v1/similarity": 200, "/v1/rerank": 200, "/v1/batch-similarity": 200}
    assert probe.health_path == "/health"  # /health/live and /health/ready do not exist: the fallback
    assert not probe.has_metrics and probe.metric_families == ()
    assert probe.pid is not None and probe.python  # a local Python process: py-spy can sample it
    assert not probe.api_key_needed
    text = probe.paragraph()
    assert "did not write" in text and "health checks use /health" in text and "no /metrics" in text


def test_probe_command_prints_the_paragraph(foreign_url, capsys):
    assert main(["probe", "--url", foreign_url]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "no /metrics" in out


def test_probe_of_the_reference_service(service):
    url, _ = service
    probe = probe_target(url)
    assert probe.reference and probe.health_path == "/health/live"
    assert "qrbench" in probe.metric_families and "prometheus-client process" in probe.metric_families
    assert "reference engine" in probe.paragraph()


def test_a_url_without_the_contract_exits_2(service, capsys):
    url, _ = service
    # /docs answers, but a URL under it does not speak the contract.
    assert main(["probe", "--url", url + "/docs"]) == 2
    assert "does not speak the QuantumRerank contract" in capsys.readouterr().err
    with pytest.raises(NotAContractService):
        check_contract(probe_target(url + "/nothing-here"))


def test_a_service_that_needs_a_key_says_so(make_service):
    url, _ = make_service(api_key="secret")
    bare = probe_target(url)
    assert bare.api_key_needed and not bare.speaks_contract
    with pytest.raises(NotAContractService, match="needs an API key"):
        check_contract(bare)
    keyed = check_contract(probe_target(url, headers={"X-API-Key": "secret"}))
    assert keyed.api_key_needed and keyed.api_key_given and "needs an API key (given)" in keyed.paragraph()


def test_a_study_against_a_url_without_the_contract_stops_before_it_starts(foreign_url, tmp_path, capsys):
    code = main(
        [
            "study",
            "baseline",
            "-p",
            "parameters/smoke/baseline.yaml",
            "--url",
            foreign_url + "/x",
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 2 and "does not speak the QuantumRerank contract" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # no run folder, no kernel
