"""The cells of notebooks/ab.ipynb; `python notebooks/make_notebooks.py` writes it."""

import nbformat
from make_notebooks import kernel_metadata, section_cells
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CODE_ONLY = {"tags": ["code-only"]}


def ab() -> nbformat.NotebookNode:
    md, code = new_markdown_cell, new_code_cell
    cells = [
        md(
            "# A/B comparison: is B slower than A?\n\n"
            "Targets A (the reference) and B (the candidate) measured in one run, in short alternating blocks "
            "(each pair of blocks AB or BA at random), with the same requests. Each row (a request kind's median "
            "or p95) is judged on the paired block differences, so the machine's drift cancels within a pair, and "
            "states the smallest change this run could have detected."
        ),
        code(
            "from pathlib import Path\n\n"
            "from qrbench.report.sections import show_section\n"
            "from qrbench.studies import get_study, interactive_run_dir, write_summary\n"
            "from qrbench.studies.ab import with_targets\n\n"
            'study = get_study("ab")',
            metadata=CODE_ONLY,
        ),
        code(
            "# Parameters (papermill overrides these)\n"
            'params_file: str = "parameters/ab.yaml"  # from the current folder, else the shipped one\n'
            "render_only: bool = False  # True: analyse the run already in run_dir (qrbench render), measure nothing\n"
            "url_a = None  # str or None: target A (the reference); None starts the embedded service\n"
            "url_b = None  # str or None: target B (the candidate); None starts the embedded service\n"
            "a_params = None  # str or None: a parameter file of target A's settings (e.g. encoder: torch)\n"
            "b_params = None  # str or None: a parameter file of target B's settings (e.g. encoder: onnx)\n"
            "threshold = None  # float or None: the slowdown that counts as a regression, e.g. 0.10 for 10 percent\n"
            "run_dir = None  # str or None; None: a new outputs/<UTC>-ab/ beside parameters/\n"
            "progress: bool = True  # tqdm progress bars",
            metadata={"tags": ["parameters", "code-only"]},
        ),
        code(
            "# Validate before measuring anything: a bad key or value stops here with a message naming it.\n"
            'run_dir = run_dir or str(interactive_run_dir("ab"))  # never notebooks/outputs/\n'
            "params = (study.params_of(run_dir) if render_only  # the run's own parameters, from its run.json\n"
            "          else with_targets(study.load_params(params_file), url_a=url_a, url_b=url_b,\n"
            "                            a_params=a_params, b_params=b_params, threshold=threshold))\n"
            "params",
            metadata=CODE_ONLY,
        ),
        code(
            "if not render_only:  # qrbench render: the run is already in run_dir\n"
            "    study.run(params, run_dir, progress=progress)\n"
            "report = study.analyse(run_dir)",
            metadata={"tags": ["progress", "code-only"]},
        ),
        *section_cells("ab"),
        code(
            "# Record the key numbers for the run index and CI.\n"
            "write_summary(run_dir, study.summary(report))\n"
            "print(f'verdict: {report.verdict}; summary written to {Path(run_dir) / \"summary.json\"}')",
            metadata=CODE_ONLY,
        ),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata.update(kernel_metadata())  # what JupyterLab writes on opening it: it opens unmodified
    return nb
