"""The pieces of the JupyterLab surface that need no browser: the capacity line drawn by the verdict's rule, the
progress bar's planned total and label, the scale parameter, and the notebooks' kernel metadata."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from qrbench.errors import ParameterError
from qrbench.load import ClosedModel, OpenModel, ThinkTime
from qrbench.load.driver import progress_bar
from qrbench.resources import bundled, scaled_params_file
from qrbench.studies import load_thresholds
from qrbench.studies.load import LoadParams
from qrbench.studies.load.analysis import capacity_obstacle, drawn_thresholds

THRESHOLDS = load_thresholds("parameters/thresholds.yaml", "load")


def test_the_capacity_line_is_drawn_only_for_a_workload_the_verdict_judges_capacity_on():
    closed = LoadParams(
        name="closed", model="closed", users=8, duration_s=20.0, think_time=ThinkTime(distribution="constant", mean_s=2)
    )
    assert "throughput_rps" not in drawn_thresholds(closed, THRESHOLDS)
    assert {"p50_ms", "p95_ms", "p99_ms"} <= set(drawn_thresholds(closed, THRESHOLDS))
    capacity = LoadParams(name="capacity", model="open", rate_rps=100.0, duration_s=20.0)
    assert "throughput_rps" in drawn_thresholds(capacity, THRESHOLDS)
    slow = LoadParams(name="slow", model="open", rate_rps=5.0, duration_s=20.0)
    assert "throughput_rps" not in drawn_thresholds(slow, THRESHOLDS)
    # The same rule, in words, as the verdict's row says it.
    target = THRESHOLDS["throughput_rps"]
    assert "cannot show the capacity" in capacity_obstacle(slow, target, 5.0)
    assert capacity_obstacle(capacity, target, 100.0) is None
    assert "closed workload" in capacity_obstacle(closed, target, 500.0)


def test_a_closed_models_progress_total_is_its_user_seconds_over_a_cycle():
    # 8 users joining over 5 s, 20 s in all, 2 s think time: about (8 * 20 - 8 * 5 / 2 ... ) / 2.05 requests.
    model = ClosedModel(users=8, ramp_up_s=5.0, duration_s=20.0, think_time_s=2.0)
    user_s = sum(min(8, int(8 * t / 5 + 1)) for t in [20 * k / 4000 for k in range(4000)]) * 20 / 4000
    assert model.approximate_requests() == pytest.approx(user_s / 2.05, rel=0.02)
    assert ClosedModel(users=3, iterations=4).approximate_requests() == 12
    assert OpenModel(rate_rps=10.0, duration_s=3.0).approximate_requests() == 30


def test_the_progress_bar_reads_as_a_sentence():
    bar = progress_bar(ClosedModel(users=2, duration_s=10.0, think_time_s=1.0), "", True)
    try:
        bar.update(7)
        bar.set_postfix_str("1 error", refresh=False)
        text = str(bar)
    finally:
        bar.close()
    assert text.startswith("load: 7 of ~") and "requests, 1 error" in text and "ClosedModel" not in text
    warm = progress_bar(OpenModel(rate_rps=10.0, duration_s=2.0), "warmup", True)
    try:
        assert str(warm).startswith("warm-up: 0 of 20 requests, 0 errors")
    finally:
        warm.close()


def test_scale_picks_the_shipped_file_of_the_same_name():
    assert scaled_params_file("parameters/load_normal.yaml", "smoke") == str(Path("parameters/smoke/load_normal.yaml"))
    assert scaled_params_file("parameters/smoke/load_normal.yaml", "full") == str(Path("parameters/load_normal.yaml"))
    assert scaled_params_file("mine.yaml", None) == "mine.yaml"
    with pytest.raises(ParameterError, match="scale 'quick' has no load_peak.yaml.*load_normal.yaml"):
        scaled_params_file("parameters/load_peak.yaml", "quick")
    with pytest.raises(ParameterError, match="use one of smoke, quick, full"):
        scaled_params_file("parameters/load_normal.yaml", "tiny")


@pytest.mark.parametrize("name", ["baseline", "load", "bottlenecks", "scalability", "explore"])
def test_notebooks_carry_the_kernel_metadata_jupyterlab_writes(name):
    """JupyterLab marks a notebook modified when its kernel's metadata differs from the file's: the committed
    notebooks carry this Python's (regenerate with `python notebooks/make_notebooks.py` after a Python change)."""
    from ipykernel.ipkernel import IPythonKernel

    nb = json.loads((bundled("notebooks") / f"{name}.ipynb").read_text())
    assert nb["metadata"]["language_info"] == IPythonKernel.language_info, sys.version
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    params = [c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", [])]
    assert len(params) == 1
    if name != "explore":
        assert "scale = None" in "".join(params[0]["source"])
        assert "render_only: bool = False" in "".join(params[0]["source"])
