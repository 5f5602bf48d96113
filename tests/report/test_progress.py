"""Progress lines of a running notebook, read from the notebook papermill saves after every cell."""

from __future__ import annotations

import json
import os

from qrbench.report.progress import NotebookWatch, clock, latest_output, notebook_position


def _notebook(path, statuses):
    cells = [{"cell_type": "markdown", "source": "# Load study\nintro", "metadata": {}}]
    for i, status in enumerate(statuses):
        if i == 2:
            cells.append({"cell_type": "markdown", "source": ["## Measurement\n", "text"], "metadata": {}})
        cells.append({"cell_type": "code", "source": "x", "metadata": {"papermill": {"status": status}}})
    path.write_text(json.dumps({"cells": cells}))


def test_the_running_cell_names_its_section_and_the_cells_done(tmp_path):
    nb = tmp_path / "load.ipynb"
    assert notebook_position(nb) is None  # not saved yet
    _notebook(nb, ["completed", "completed", "running", "pending"])
    assert notebook_position(nb) == ("Measurement", 2, 4)


def test_the_line_counts_down_from_the_expected_duration_and_names_what_was_written(tmp_path):
    nb = tmp_path / "baseline.ipynb"
    _notebook(nb, ["completed", "running"])
    (tmp_path / "stages" / "warmup").mkdir(parents=True)
    (tmp_path / "stages" / "rerank_hybrid_50").mkdir()
    os.utime(tmp_path / "stages" / "warmup", (1, 1))  # written long ago
    assert latest_output(tmp_path) == "stages/rerank_hybrid_50"
    line = NotebookWatch("baseline", nb, print, expected_s=90).line()
    assert line.startswith("  baseline: measuring, cell 1/2 (last wrote stages/rerank_hybrid_50) · ")
    assert " elapsed · about " in line and line.endswith(" left")
    late = NotebookWatch("baseline", nb, print, expected_s=0).line()
    assert "running past its usual 0:00" in late


def test_clock():
    assert (clock(5), clock(65), clock(3725)) == ("0:05", "1:05", "1:02:05")


def test_without_a_usual_duration_the_line_says_so_instead_of_guessing_from_cells(tmp_path):
    nb = tmp_path / "scalability.ipynb"
    _notebook(nb, ["completed", "completed", "completed", "running"] + ["pending"] * 14)
    line = NotebookWatch("scalability", nb, print, expected_s=None).line()
    assert line.endswith("time left not known (no usual duration for these parameters)")


def test_a_shipped_parameter_file_has_its_scales_usual_duration_and_a_changed_copy_none(tmp_path):
    from qrbench.report.suite import expected_seconds, usual_duration_s
    from qrbench.resources import resolve_params_file

    full = resolve_params_file("parameters/scalability.yaml")
    quick = resolve_params_file("parameters/quick/scalability.yaml")
    assert usual_duration_s("scalability", full) == expected_seconds("full")["scalability"]
    assert usual_duration_s("scalability", quick) == expected_seconds("quick")["scalability"]
    copy = tmp_path / "scalability.yaml"
    copy.write_bytes(quick.read_bytes())
    assert usual_duration_s("scalability", copy) == expected_seconds("quick")["scalability"]  # same parameters
    copy.write_text(quick.read_text() + "\n# another value somewhere\n")
    assert usual_duration_s("scalability", copy) is None
    assert usual_duration_s("scalability", tmp_path / "missing.yaml") is None
