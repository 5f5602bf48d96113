"""The cells of notebooks/bottlenecks.ipynb; `python notebooks/make_notebooks.py` writes it."""

import nbformat
from make_notebooks import kernel_metadata
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
            "import matplotlib.pyplot as plt\n"
            "from IPython.display import Markdown, display\n\n"
            "from qrbench.profile import render_tree\n"
            "from qrbench.report import format, plots\n"
            "from qrbench.report import plots_bottlenecks as bplots\n"
            "from qrbench.resources import scaled_params_file\n"
            "from qrbench.studies import get_study, interactive_run_dir, load_thresholds, write_summary\n"
            "from qrbench.studies.bottlenecks import under_load_change, wide_breakdown\n"
            "from qrbench.studies.bottlenecks.analysis import top_finding\n\n"
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
            'thresholds = load_thresholds(params.thresholds_file, "baseline")\n'
            "params",
            metadata=CODE_ONLY,
        ),
        code(
            "if not render_only:  # qrbench render: the run is already in run_dir\n"
            "    study.run(params, run_dir, url, progress=progress)\n"
            "report = study.analyse(run_dir)",
            metadata={"tags": ["progress"]},
        ),
        code(
            "finding = top_finding(report)\n"
            "main = report.verdict_reasons[0] if report.verdict_reasons else 'Every target is met and the parts '"
            "'explain every total.'\n"
            "display(format.headline(report.verdict, f\"{main.rstrip('.')}. {finding}\", checks=report.reliability,\n"
            "                        next_action='' if report.verdict != 'pass' else "
            "'work on the top opportunity below, then rerun this study to confirm the saving.'))"
        ),
        code(
            "# The key figure: what fixing each part would save (saved for the executive report).\n"
            "fig = bplots.opportunities_chart(report.opportunities)\n"
            "if fig is not None:\n"
            "    fig.savefig(Path(run_dir) / 'key_figure.png', dpi=110, bbox_inches='tight')\n"
            "plots.show(fig, otherwise=format.not_measured('time-saving opportunities'))"
        ),
        md("## The target\nWhat the service offered when the study probed it, and what could not be measured."),
        code(
            "display(Markdown(report.target or 'The target was not probed in this run.'))\nbplots.target_gaps(report)"
        ),
        md(
            "## Cost by request kind and size\nOne request at a time, each with a new query, round-robin over "
            "kinds and sizes: latency against the number of documents gives what every request pays (fixed) and "
            "what each document costs (per document), with 95 % intervals; bytes each way per request."
        ),
        code(
            "display(bplots.cost_table(report))\n"
            "plots.show(bplots.cost_by_size(report.cost_requests, report.costs),\n"
            "           otherwise=format.not_measured('the cost by request kind and size'))"
        ),
        md(
            "## Verdict\n"
            "*pass*: the PRD's per-request targets are met on their 95% intervals (a rerank of 50 cached documents "
            "under 500 ms on the statistic `parameters/thresholds.yaml` defines for it, the p95 as in the baseline "
            "study, in the engine and over HTTP; under 2 GB scoring 100 cold documents) **and** the measured parts "
            "explain every default-configuration total (|unattributed| below `max_unattributed_share`). *warn*: an "
            "interval straddles a target, or the parts leave too much unexplained — then the breakdown below must "
            "not be read as the whole story. *fail*: a target is missed on the whole interval. *insufficient*: "
            "this run measured nothing a target can be judged on. Each row names the workload that judged it."
        ),
        code("format.compliance_table(report.compliance, extra=['workload'])"),
        md(
            "## Optimisation opportunities, ranked\nEach with the time (or memory) it would save per request, "
            "measured here (a difference of two measured configurations, or a part that would go away), where it "
            "lives, and what it would free at the load study's rates (cores = CPU-seconds per second)."
        ),
        code("bplots.opportunities_table(report.opportunities)"),
        md(
            "## Where a rerank's time goes\nMeans per request (they add up; medians do not). Engine parts are "
            "measured in this process; the parts outside the engine come from the HTTP measurement of the same "
            "batch size and method."
        ),
        code(
            "if not report.reference:\n"
            "    display(bplots.gap(report, 'the breakdown of the engine'))\n"
            "else:\n"
            "    plots.show(bplots.stacked_breakdown(report.request), otherwise=format.not_measured('the breakdown'))\n"
            "    plots.show(bplots.stacked_breakdown(report.request, share=True),\n"
            "               otherwise=format.not_measured('the breakdown in shares'))"
        ),
        md(
            "### Every scenario\nMean milliseconds per component; *unattributed* is the engine's total minus the "
            "parts (negative when the engine does in one step what the parts do in two)."
        ),
        code(
            "format.stakeholder_table(wide_breakdown(report.breakdown).reset_index()) if report.reference "
            "else bplots.gap(report, 'every scenario')"
        ),
        code("format.stakeholder_table(report.explained) if report.reference else None"),
        md(
            "## Quantum vs classical overhead\nEngine time of quantum and hybrid over classical on the same "
            "documents: ratio of medians with a bootstrap 95% interval, and the extra milliseconds (difference of "
            "means)."
        ),
        code(
            "if not report.reference:\n"
            "    display(bplots.gap(report, 'the quantum overhead in the engine'))\n"
            "else:\n"
            "    display(format.stakeholder_table(report.overhead))\n"
            "    plots.show(bplots.overhead_ratios(report.overhead), otherwise=format.not_measured('the overhead'))"
        ),
        md(
            "## Aer vs exact: what the simulation costs and the shot noise it trades for it\nThe same encoded "
            "states through the closed form and the SWAP test: the aer estimate's error is shot noise alone."
        ),
        code(
            "if not report.reference:\n"
            "    display(bplots.gap(report, 'the simulator against the closed form'))\n"
            "else:\n"
            "    display(format.stakeholder_table(report.aer_vs_exact))\n"
            "    plots.show(bplots.aer_vs_exact(report.aer_vs_exact),\n"
            "               otherwise=format.not_measured('the aer simulator (no aer scenario in this run)'))"
        ),
        md(
            "### One-off costs\nModel load, the first forward pass, and the aer circuit's construction and "
            "transpilation (once per qubit count, at warm-up)."
        ),
        code(
            "(format.stakeholder_table(report.cold_start, {'component': 'component', 'qubits': 'qubits',\n"
            "    'median': 'median (ms)', 'min': 'min (ms)', 'max': 'max (ms)', 'count': 'times measured'})\n"
            " if report.reference and len(report.cold_start) else bplots.gap(report, 'the one-off costs'))"
        ),
        md(
            "## Outside the engine\nEnd-to-end latency over HTTP minus the server's computation time, split into "
            "what the service's own code does (parse, validate, rank, serialise; timed in-process on the same "
            "bodies) and the rest (uvicorn, FastAPI, the thread hand-off, loopback)."
        ),
        code(
            "(format.stakeholder_table(report.outside) if report.reference and len(report.outside)\n"
            " else bplots.gap(report, 'the split of the time outside the engine'))"
        ),
        md(
            "## Memory\nPeak resident memory while one cold rerank of N documents runs (memory_profiler), what it "
            "leaves behind, and garbage-collection pauses. The lines that grow it and the allocation sites still "
            "holding memory (tracemalloc) are in the version with code."
        ),
        code(
            "if not report.reference:\n"
            "    display(bplots.gap(report, 'memory per document count'))\n"
            "else:\n"
            "    display(format.stakeholder_table(report.memory))\n"
            "    plots.show(bplots.memory_growth(report.memory, limit_gb=thresholds['memory_100_docs_gb'].target),\n"
            "               otherwise=format.not_measured('memory growth'))"
        ),
        code(
            "t = report.info.get('tracemalloc', {})\n"
            "if t:\n"
            "    display(Markdown(f\"tracemalloc: peak {format.quantity(t.get('traced_peak_mib'), 'MiB')}, \"\n"
            "                     f\"{format.quantity(t.get('traced_retained_mib'), 'MiB')} retained after \"\n"
            "                     f\"{t.get('requests', 0)} reranks of new request bodies.\"))\n"
            "format.stakeholder_table(report.gc) if len(report.gc) else bplots.gap(report, 'garbage-collection pauses')"
        ),
        md(
            "## Under load\nThe same request mix sent by one user and by many; py-spy samples every thread of the "
            "service (and, separately, only the thread holding the GIL). Waits on the thread pool, on locks or on "
            "a future show where concurrency queues work; torch and Aer run without the GIL."
        ),
        code(
            "format.stakeholder_table(report.load_runs) if len(report.load_runs) else "
            "Markdown(format.not_measured('the under-load runs'))"
        ),
        code(
            "skipped = report.info.get('under_load', {}).get('skipped')\n"
            "why = f'the under-load profile ({skipped})' if skipped else 'the under-load profile'\n"
            "if report.reference:\n"
            "    plots.show(bplots.under_load_profile(report.under_load), otherwise=format.not_measured(why))\n"
            "bplots.hot_functions_table(report)"
        ),
        md(
            "What changes with concurrency: each activity's share of the busy threads' samples, one user against "
            "load (percentage points)."
        ),
        code(
            "change = under_load_change(report.under_load)\n"
            "format.stakeholder_table(change.reset_index()) if len(change) else "
            "Markdown(format.not_measured('the change under load'))"
        ),
        md("## Reliability of these numbers"),
        code("plots.reliability_table(report.reliability)"),
        md(
            "## Profiles (version with code only)\nThe most expensive lines of the quantum path and of the "
            "classical fallback (line_profiler), the call trees of one cold and one warm rerank (cProfile), the "
            "lines that grow memory and the allocation sites that keep it.",
            metadata=CODE_ONLY,
        ),
        code(
            "(bplots.line_table(report.lines, path='quantum path') if len(report.lines)\n"
            " else bplots.gap(report, 'line profiles'))",
            metadata=CODE_ONLY,
        ),
        code(
            "bplots.line_table(report.lines, path='classical fallback') if len(report.lines) else None",
            metadata=CODE_ONLY,
        ),
        code(
            "if len(report.calls):\n"
            "    print(render_tree(report.calls[report.calls['call'] == 'cold']))\n"
            "    print(render_tree(report.calls[report.calls['call'] == 'warm']))",
            metadata=CODE_ONLY,
        ),
        code(
            "report.memory_lines[report.memory_lines['increment_mib'].abs() > 0.1] if len(report.memory_lines) "
            "else None",
            metadata=CODE_ONLY,
        ),
        code("report.allocations", metadata=CODE_ONLY),
        code(
            "(report.under_load_roles.sort_values(['phase', 'role', 'share'], ascending=[True, True, False])\n"
            " if len(report.under_load_roles) else None)",
            metadata=CODE_ONLY,
        ),
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
