"""The cells of notebooks/explore.ipynb; `python notebooks/make_notebooks.py` writes it."""

import nbformat
from make_notebooks import kernel_metadata
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


def explore() -> nbformat.NotebookNode:
    cells = [
        new_markdown_cell(
            "# Explore runs\n\n"
            "Opens the latest run of a study — or two, to put them side by side — and shows the slices a "
            "performance engineer starts with: latency by request kind and document count, by method, over "
            "time, and the two runs' distributions overlaid. Each run is a `qrbench.open_run(path)`: "
            "`run.records` (one row per request: kind, method, n_candidates, status, ok, error, latency_ms, "
            "t_s, warmup), `run.params`, `run.facts` (run.json), `run.server` and `run.metrics` (the monitors' "
            "timelines) and `run.report` (the study's own analysis) — slice them with pandas below."
        ),
        new_code_cell(
            "from IPython.display import display\n\n"
            "from qrbench import open_run\n"
            "from qrbench.report import explore, format, plots"
        ),
        new_code_cell(
            "# Parameters\n"
            'study: str = "load"  # the study whose latest runs are opened (load, baseline, ...)\n'
            "runs = None  # list of run folders (str) to open instead, e.g. ['outputs/20261207T101500Z-load']\n"
            "count: int = 2  # how many of the latest runs to open when runs is None (1 or 2 to compare)\n"
            "outputs = None  # str or None: the outputs folder to look in; None: outputs/ beside parameters/",
            metadata={"tags": ["parameters"]},
        ),
        new_code_cell(
            "opened = [open_run(r) for r in runs] if runs else explore.latest_runs(study, count, outputs=outputs)\n"
            "run = opened[0]  # the newest\n"
            "format.stakeholder_table(explore.runs_table(opened))"
        ),
        new_markdown_cell(
            "## Latency by request kind and document count\nPercentiles (ms) of the successful requests of "
            "each run (the warm-up left out); errors counted apart."
        ),
        new_code_cell(
            "display(format.stakeholder_table(explore.latency_table(run.records, ['kind', 'n_candidates'])))\n"
            "plots.show(explore.latency_by_plot(opened, 'n_candidates'), otherwise='No successful request.')"
        ),
        new_markdown_cell("## By method"),
        new_code_cell(
            "display(format.stakeholder_table(explore.latency_table(run.records, 'method')))\n"
            "plots.show(explore.latency_by_plot(opened, 'method'), otherwise='No successful request.')"
        ),
        new_markdown_cell("## Over time\nEach run on its own clock: seconds since its start."),
        new_code_cell("plots.show(explore.latency_over_time(opened), otherwise='No successful request.')"),
        new_markdown_cell(
            "## The runs overlaid\nOne empirical distribution per run and request kind: a curve to the right "
            "is slower at every share of requests where it stays right."
        ),
        new_code_cell("format.stakeholder_table(explore.latency_table(explore.records_of(opened), ['run', 'kind']))"),
        new_code_cell("plots.show(explore.latency_overlay(opened, 'kind'), otherwise='No successful request.')"),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata.update(kernel_metadata())  # what JupyterLab writes on opening it: it opens unmodified
    return nb
