"""The cells of notebooks/bottlenecks.ipynb; `python notebooks/make_notebooks.py` writes it."""

import nbformat
from make_notebooks import kernel_metadata, section_cells
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CODE_ONLY = {"tags": ["code-only"]}  # dropped from the stakeholder (no-code) report: dumps and profiler output


def bottlenecks() -> nbformat.NotebookNode:
    md, code = new_markdown_cell, new_code_cell
    cells = [
        md(
            "# Bottlenecks study: where the time and the memory of a rerank go\n\n"
            "Every finding is about the measured service. What each request kind costs, split into a fixed part "
            "and a part per document; what the service's process does under load (its CPU and memory when it runs "
            "here, py-spy's stacks when it is Python); and a ranked list of what fixing each part would save, per "
            "request and at the load study's rates. When the service is qrbench's reference engine, each piece of "
            "it is also timed in-process (component breakdown, Aer and shots, line, memory and call-tree profiles, "
            "the last three in the version with code); for any other service those sections say why they are "
            "not measured."
        ),
        code(
            "from pathlib import Path\n\n"
            "from qrbench.report.sections import show_section\n"
            "from qrbench.resources import scaled_params_file\n"
            "from qrbench.studies import get_study, interactive_run_dir, load_thresholds, write_summary\n\n"
            'study = get_study("bottlenecks")'
        ),
        code(
            "# Parameters (papermill overrides these)\n"
            'params_file: str = "parameters/bottlenecks.yaml"  # from the current folder, else the shipped one\n'
            'scale = None  # "smoke", "quick" or "full": that scale\'s file of the same name; None: params_file as is\n'
            "render_only: bool = False  # True: analyse the run already in run_dir (qrbench render), measure nothing\n"
            "url = None  # str or None: a running service for the HTTP and under-load parts; None starts one\n"
            "baseline_run = None  # str or None: accepted for the CLI's sake; this study compares within the run\n"
            "run_dir = None  # str or None; None: a new outputs/<UTC>-bottlenecks/ beside parameters/\n"
            "progress: bool = True  # tqdm progress bars",
            metadata={"tags": ["parameters"]},
        ),
        code(
            "# Validate before measuring anything: a bad key or value stops here with a message naming it.\n"
            'run_dir = run_dir or str(interactive_run_dir("bottlenecks"))  # never notebooks/outputs/\n'
            "params = (study.params_of(run_dir) if render_only  # the run's own parameters, from its run.json\n"
            "          else study.load_params(scaled_params_file(params_file, scale)))\n"
            'load_thresholds(params.thresholds_file, "baseline")  # its thresholds file is checked here too\n'
            "params",
            metadata=CODE_ONLY,
        ),
        code(
            "if not render_only:  # qrbench render: the run is already in run_dir\n"
            "    study.run(params, run_dir, url, progress=progress)\n"
            "report = study.analyse(run_dir)",
            metadata={"tags": ["progress"]},
        ),
        md(
            "The report below is the bottlenecks analysis's sections, in order, one cell each "
            "(`qrbench.studies.bottlenecks.sections.SECTIONS`): each cell shows its heading, what it shows, its "
            "figures, tables and judgements. The profiler output (line profiles, call trees, allocations) is in "
            "the version with code only.",
            metadata=CODE_ONLY,
        ),
        *section_cells("bottlenecks", code_only=frozenset({"line_profiles", "call_trees", "allocations"})),
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
