"""The bottlenecks report's sections: each builds from a real report and shows in a notebook cell; for a target
other than the reference engine, every in-process section says it was not measured, why, and where to look."""

from __future__ import annotations

import shutil
from pathlib import Path

import matplotlib
import pytest
from test_bottlenecks_outside import _costs  # the same cost sample of a foreign service

from qrbench.params import to_dict
from qrbench.report.sections import show_section
from qrbench.resources import bundled
from qrbench.studies import RunFolder, get_study
from qrbench.studies.bottlenecks.run import IN_PROCESS_GAP

matplotlib.use("Agg")

STUDY = get_study("bottlenecks")
# The sections of the reference engine's in-process profiles: for any other target, a gap with its reason.
IN_PROCESS = ("breakdown", "scenarios", "overhead", "aer_vs_exact", "cold_start", "outside", "memory", "gc")


@pytest.fixture
def foreign_run(tmp_path: Path) -> Path:
    """The folder a bottlenecks run against a foreign target leaves when only its cost sample was measured."""
    params = STUDY.load_params(bundled("parameters") / "smoke" / "bottlenecks.yaml")
    folder = RunFolder.create(tmp_path, study="bottlenecks", params=to_dict(params), calibration_s=[0.01] * 10)
    folder.write_json(
        "info.json",
        {
            "py_spy": False,
            "reference_engine": False,
            "in_process": {"skipped": IN_PROCESS_GAP},
            "under_load": {"skipped": "py-spy is not installed"},
        },
    )
    folder.write_frame("costs", _costs(20.0, 3.0))  # 20 ms per request, 3 ms per document
    return tmp_path


def _show_all(sections, run_dir: Path, capsys) -> str:
    """Show every section as the notebook does; the text IPython printed (outside a notebook, the reprs)."""
    for section in sections.values():
        show_section(section, save_in=run_dir)
    return capsys.readouterr().out


def test_every_section_of_a_foreign_target_builds_and_says_what_was_not_measured(foreign_run, capsys):
    report = STUDY.analyse(foreign_run)
    sections = STUDY.sections_of(report)
    assert list(sections) == list(STUDY.sections) and not report.reference
    for name in (*IN_PROCESS, "line_profiles"):
        assert "**not measured**" in sections[name].sentence, name
        assert "not qrbench's reference engine" in sections[name].sentence, name
    assert (
        "Hot functions of the target: **not measured**: py-spy is not installed." == sections["hot_functions"].sentence
    )
    assert "Top opportunity: Halve the per-document cost of rerank" in sections["headline"].sentence
    assert sections["compliance"].judgements is not None and len(sections["compliance"].judgements) == 1
    costs = sections["costs"].tables[0]
    assert costs.frame["per_ci"].iloc[0][2] == "ms" and costs.columns["per_ci"] == "95 % interval"
    _show_all(sections, foreign_run, capsys)
    assert (foreign_run / "key_figure.png").is_file()  # the ranked opportunities, for the executive report


def _check_reference_sections(run_dir: Path, capsys) -> None:
    """A reference engine's run: every in-process section has its numbers, and every section shows."""
    report = STUDY.analyse(run_dir)
    sections = STUDY.sections_of(report)
    assert report.reference and list(sections) == list(STUDY.sections)
    for name in IN_PROCESS:
        assert "not measured" not in sections[name].sentence, (name, sections[name].sentence)
        assert sections[name].tables or sections[name].figures, name
    assert "Top opportunity:" in sections["headline"].sentence
    header = sections["concurrency"].tables[0].frame.columns
    assert header[0] == "activity" and "all threads, change (points)" in header
    assert sections["call_trees"].sentence.startswith("```text")
    _show_all(sections, run_dir, capsys)


def test_every_section_of_the_smoke_suites_run_builds(smoke_suite, tmp_path, capsys):
    run_dir = tmp_path / "bottlenecks"  # a copy: showing the sections saves the key figure again
    shutil.copytree(smoke_suite.study("bottlenecks"), run_dir)
    _check_reference_sections(run_dir, capsys)
