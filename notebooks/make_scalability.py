"""The cells of notebooks/scalability.ipynb; `python notebooks/make_notebooks.py` writes it."""

import nbformat
from make_notebooks import kernel_metadata, section_cells
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CODE_ONLY = {"tags": ["code-only"]}


def scalability() -> nbformat.NotebookNode:
    md, code = new_markdown_cell, new_code_cell
    cells = [
        md(
            "# Scalability study: how a QuantumRerank service scales, and where it stops\n\n"
            "Vertical (threads, documents per request, qubits and shots, memory) and horizontal (uvicorn workers, "
            "instances behind nginx): for every configuration a step load (open model) finds the highest arrival "
            "rate that still meets the SLO; the Universal Scalability Law is fitted to throughput against N when "
            "enough levels were measured; an autoscaling scenario runs the Kubernetes HPA's rule on this machine."
        ),
        code(
            "from pathlib import Path\n\n"
            "from qrbench.report.sections import show_section\n"
            "from qrbench.resources import scaled_params_file\n"
            "from qrbench.studies import get_study, interactive_run_dir, write_summary\n\n"
            'study = get_study("scalability")',
            metadata=CODE_ONLY,
        ),
        code(
            "# Parameters (papermill overrides these)\n"
            'params_file: str = "parameters/scalability.yaml"  # from the current folder, else the shipped one\n'
            'scale = None  # "smoke", "quick" or "full": that scale\'s file of the same name; None: params_file as is\n'
            "render_only: bool = False  # True: analyse the run already in run_dir (qrbench render), measure nothing\n"
            "url = None  # str or None: a running service (only it is measured); None starts every configuration\n"
            "baseline_run = None  # str or None: accepted for the CLI's sake; this study compares within the run\n"
            "run_dir = None  # str or None; None: a new outputs/<UTC>-scalability/ beside parameters/\n"
            "progress: bool = True  # tqdm progress bars",
            metadata={"tags": ["parameters", "code-only"]},
        ),
        code(
            "# Validate before measuring anything: a bad key or value stops here with a message naming it.\n"
            'run_dir = run_dir or str(interactive_run_dir("scalability"))  # never notebooks/outputs/\n'
            "params = (study.params_of(run_dir) if render_only  # the run's own parameters, from its run.json\n"
            "          else study.load_params(scaled_params_file(params_file, scale)))\n"
            "params",
            metadata=CODE_ONLY,
        ),
        code(
            "if not render_only:  # qrbench render: the run is already in run_dir\n"
            "    study.run(params, run_dir, url, progress=progress)\n"
            "report = study.analyse(run_dir)",
            metadata={"tags": ["progress", "code-only"]},
        ),
        *section_cells("scalability"),
        code(
            "# Record the key numbers for the run index, the executive report and CI.\n"
            "write_summary(run_dir, study.summary(report))\n"
            "print(f'verdict: {report.verdict}; summary written to {Path(run_dir) / \"summary.json\"}')",
            metadata=CODE_ONLY,
        ),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata.update(kernel_metadata())  # what JupyterLab writes on opening it: it opens unmodified
    return nb
