"""The scalability report's sections from a real run: a tiny study against a running service (the given-URL path:
one configuration's step load and the document sweep), analysed once; every section builds from the report and
shows as the notebook shows it, each figure through a drawing report/ knows."""

from __future__ import annotations

import dataclasses

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from qrbench.report.sections import DRAWINGS, show_section  # noqa: E402
from qrbench.resources import bundled  # noqa: E402
from qrbench.studies import Section, get_study  # noqa: E402
from qrbench.studies.scalability.analysis import KEY_FIGURE  # noqa: E402
from qrbench.studies.scalability.sections import SECTIONS  # noqa: E402


@pytest.fixture(scope="module")
def run_dir(service, tmp_path_factory):
    study = get_study("scalability")
    p = study.load_params(bundled("parameters") / "smoke" / "scalability.yaml")
    p = dataclasses.replace(
        p,
        steps=dataclasses.replace(p.steps, rates_rps=(4.0, 8.0), step_s=2.0, pause_s=0.2),
        requests=dataclasses.replace(p.requests, warmup_requests=0, pool_size=4),
        vertical=dataclasses.replace(p.vertical, documents=(5, 10), document_requests=3),
        autoscale=dataclasses.replace(p.autoscale, enabled=False),
    )
    folder = tmp_path_factory.mktemp("scalability")
    study.run(p, folder, service[0], progress=False)  # service: (url, app)
    return folder


def test_every_section_builds_from_the_report_and_shows(run_dir, capsys):
    study = get_study("scalability")
    report = study.analyse(run_dir)
    sections = study.sections_of(report)
    assert list(sections) == list(SECTIONS)
    assert all(isinstance(s, Section) and s.name == name for name, s in sections.items())
    assert sections["headline"].verdict == report.verdict
    assert sections["recommendation"].sentence.startswith("**Recommendation.** Run the given service")
    # The tables come under the headers people read, one row per configuration and per step.
    (configs,) = sections["capacity"].tables
    assert list(configs.frame["config"]) == ["given"]
    assert list(configs.columns.values())[3] == "capacity under the SLO (req/s)"
    (steps,) = sections["steps"].tables
    assert steps.columns["rate_rps"] == "offered rate (req/s)"
    assert list(steps.frame["rate_rps"]) == [4.0, 8.0][: len(steps.frame)]
    (documents,) = sections["documents"].tables
    assert list(documents.frame["documents"]) == [5, 10]
    assert sections["cost_growth"].sentence.startswith("Cost growth over 2 document counts")
    assert sections["autoscaling"].tables == ()  # the scenario did not run: its figure's `otherwise` says so
    assert sections["autoscaling"].figures[0].otherwise == "the autoscaling scenario"
    open_before = set(plt.get_fignums())
    for section in sections.values():
        assert all(f.draw in DRAWINGS for f in section.figures), section.name
        show_section(section, save_in=run_dir)
    assert set(plt.get_fignums()) <= open_before  # each figure is closed once shown (none piles up in a process)
    assert (run_dir / KEY_FIGURE).is_file()
    assert "<th>capacity under the SLO (req/s)</th>" in capsys.readouterr().out  # the tables, as HTML
    plt.close("all")
