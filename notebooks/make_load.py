"""The cells of notebooks/load.ipynb; `python notebooks/make_notebooks.py` writes it."""

import nbformat
from make_notebooks import kernel_metadata, section_cells
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

# The headline also names the scenario, its workload and the request counts.
_HEADLINE_EXTRA = (
    '\ndisplay(Markdown(f"Scenario **{params.name}**: {report.workload}; "\n'
    '                 f"{counts_sentence(run_dir, len(report.judged))}"))'
)


def load() -> nbformat.NotebookNode:
    code_only = {"tags": ["code-only"]}
    cells = [
        new_markdown_cell(
            "# Load study: a QuantumRerank service under production-like traffic\n\n"
            "One scenario (normal, peak with a spike, stress past capacity, a compressed business day, capacity "
            "at the target rate, or a soak) run as one continuous load, then judged against the PRD's load "
            "targets on confidence intervals. Latency counts from each request's *intended* send time, and a "
            "request that timed out or was dropped counts at its timeout, so neither a stalled server nor a "
            "failing one looks fast."
        ),
        new_code_cell(
            "from dataclasses import replace\n"
            "from pathlib import Path\n\n"
            "from IPython.display import Markdown, display\n\n"
            "from qrbench.report.live import LiveView, counts_sentence\n"
            "from qrbench.report.sections import show_section\n"
            "from qrbench.resources import scaled_params_file\n"
            "from qrbench.studies import get_study, interactive_run_dir, load_thresholds, write_summary\n"
            "from qrbench.studies.load import run_load_study\n"
            "from qrbench.studies.load.analysis import drawn_thresholds\n\n"
            'study = get_study("load")'
        ),
        new_code_cell(
            "# Parameters (papermill overrides these)\n"
            'params_file: str = "parameters/load_normal.yaml"  # from the current folder, else the shipped one\n'
            'scale = None  # "smoke", "quick" or "full": that scale\'s file of the same name; None: params_file as is\n'
            "render_only: bool = False  # True: analyse the run already in run_dir (qrbench render), measure nothing\n"
            "url = None  # str or None: a running service; None starts the embedded reference service\n"
            "time_scale = None  # float or None: multiplies every duration of the scenario (0.1: ten times shorter)\n"
            "run_dir = None  # str or None; None: a new outputs/<UTC>-load/ beside parameters/\n"
            "progress: bool = True  # tqdm progress bars\n"
            "refresh_s: float = 2.0  # live view refresh period, seconds",
            metadata={"tags": ["parameters"]},
        ),
        new_code_cell(
            "# Validate before sending anything: a bad key or value stops here with a message naming it.\n"
            'run_dir = run_dir or str(interactive_run_dir("load"))  # never notebooks/outputs/\n'
            "params = (study.params_of(run_dir) if render_only  # the run's own parameters, from its run.json\n"
            "          else study.load_params(scaled_params_file(params_file, scale)))\n"
            "params = params if time_scale is None else replace(params, time_scale=time_scale)\n"
            'thresholds = load_thresholds(params.thresholds_file, "load")\n'
            "params",
            metadata=code_only,
        ),
        new_markdown_cell(
            "## The run, live\nOffered vs achieved rate, latency percentiles per second, errors, and "
            "the server's CPU, memory and quantum metrics, redrawn while the load runs.",
            metadata=code_only,
        ),
        new_code_cell(
            "# Only the limits this workload can meet (the verdict's rule: no 100 req/s line over 8 users).\n"
            "if not render_only:  # qrbench render: the run is already in run_dir\n"
            "    view = LiveView(run_dir, thresholds=drawn_thresholds(params, thresholds), refresh_s=refresh_s)\n"
            "    view.watch(run_load_study, params, run_dir, url=url, progress=progress,\n"
            "               on_start=view.follow_target)\n"
            "report = study.analyse(run_dir)",
            metadata={"tags": ["progress"]},
        ),
        new_markdown_cell(
            "The report below is the load analysis's sections, in order, one cell each "
            "(`qrbench.studies.load.sections.SECTIONS`): each cell shows its heading, what it shows, its figures, "
            "tables and judgements.",
            metadata=code_only,
        ),
        # qrbench load's terminal summary ("screen") only in the code version
        *section_cells("load", extra={"headline": _HEADLINE_EXTRA}, code_only=frozenset({"screen"})),
        new_code_cell("report.result", metadata=code_only),
        new_code_cell(
            "# Record the key numbers for the run index and CI.\n"
            "write_summary(run_dir, study.summary(report))\n"
            "print(f'verdict: {report.verdict}; summary written to {Path(run_dir) / \"summary.json\"}')",
            metadata=code_only,
        ),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata.update(kernel_metadata())  # what JupyterLab writes on opening it: it opens unmodified
    return nb
