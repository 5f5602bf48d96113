"""The cells of notebooks/baseline.ipynb; `python notebooks/make_notebooks.py` writes it."""

import nbformat
from make_notebooks import kernel_metadata, section_cells
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CODE_ONLY = {"tags": ["code-only"]}  # dropped from the stakeholder (no-code) report


def baseline() -> nbformat.NotebookNode:
    cells = [
        new_markdown_cell(
            "# Baseline study: single-user performance of a QuantumRerank service\n\n"
            "One request at a time: similarity per method, rerank per batch size and method, server memory per "
            "document count, cache effectiveness, ranking quality, and how far quantum and classical rankings "
            "agree — judged against the PRD targets on confidence intervals, not point estimates."
        ),
        new_code_cell(
            "from pathlib import Path\n\n"
            "from qrbench.report.sections import show_section\n"
            "from qrbench.resources import scaled_params_file\n"
            "from qrbench.studies import get_study, interactive_run_dir, load_thresholds, write_summary\n\n"
            'study = get_study("baseline")'
        ),
        new_code_cell(
            "# Parameters (papermill overrides these)\n"
            'params_file: str = "parameters/baseline.yaml"  # from the current folder, else the shipped one\n'
            'scale = None  # "smoke", "quick" or "full": that scale\'s file of the same name; None: params_file as is\n'
            "render_only: bool = False  # True: analyse the run already in run_dir (qrbench render), measure nothing\n"
            "url = None  # str or None: a running service; None starts the embedded reference service\n"
            "baseline_run = None  # str or None: a previous baseline run folder to check for regressions\n"
            "run_dir = None  # str or None; None: a new outputs/<UTC>-baseline/ beside parameters/\n"
            "progress: bool = True  # tqdm progress bars",
            metadata={"tags": ["parameters"]},
        ),
        new_code_cell(
            "# Validate before sending anything: a bad key or value stops here with a message naming it.\n"
            'run_dir = run_dir or str(interactive_run_dir("baseline"))  # never notebooks/outputs/\n'
            "params = (study.params_of(run_dir) if render_only  # the run's own parameters, from its run.json\n"
            "          else study.load_params(scaled_params_file(params_file, scale)))\n"
            'thresholds = load_thresholds(params.thresholds_file, "baseline")\n'
            "params",
            metadata=CODE_ONLY,
        ),
        new_code_cell(
            "if not render_only:  # qrbench render: the run is already in run_dir\n"
            "    study.run(params, run_dir, url, progress=progress)\n"
            "report = study.analyse(run_dir, baseline_run=baseline_run)",
            metadata={"tags": ["progress"]},
        ),
        *section_cells("baseline"),
        new_code_cell(
            "# Record the key numbers for the run index, the executive report and CI.\n"
            "write_summary(run_dir, study.summary(report))\n"
            "print(f'verdict: {report.verdict}; summary written to {Path(run_dir) / \"summary.json\"}')",
            metadata=CODE_ONLY,
        ),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata.update(kernel_metadata())  # what JupyterLab writes on opening it: it opens unmodified
    return nb
