"""The cells of notebooks/bottlenecks.ipynb; `python notebooks/make_notebooks.py` writes it."""

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


def bottlenecks() -> nbformat.NotebookNode:
    md, code = new_markdown_cell, new_code_cell
    cells = [
        md("# Bottlenecks study: where the time and the memory of a rerank go\n\n"
           "Each piece of the reference service timed on its own and in the whole call, so that what the parts do "
           "not explain is measured too (*unattributed*); what a request costs outside the engine; line, memory "
           "and call-tree profiles; what the service's threads do under load; and a ranked list of what fixing "
           "each part would save, per request and at the load study's rates."),
        code("from pathlib import Path\n\n"
             "import matplotlib.pyplot as plt\n"
             "from IPython.display import Markdown, display\n\n"
             "from qrbench.profile import render_tree\n"
             "from qrbench.report import plots\n"
             "from qrbench.report import plots_bottlenecks as bplots\n"
             "from qrbench.report.runs import write_summary\n"
             "from qrbench.studies import get_study, load_thresholds\n"
             "from qrbench.studies.bottlenecks import under_load_change, wide_breakdown\n\n"
             "study = get_study(\"bottlenecks\")"),
        code("# Parameters (papermill overrides these)\n"
             "params_file: str = \"parameters/bottlenecks.yaml\"  # from the current folder, else the shipped one\n"
             "url = None  # str or None: a running service for the HTTP and under-load parts; None starts one\n"
             "baseline_run = None  # str or None: accepted for the CLI's sake; this study compares within the run\n"
             "run_dir: str = \"outputs/interactive-bottlenecks\"  # where the measurements and the summary go\n"
             "progress: bool = True  # tqdm progress bars",
             metadata={"tags": ["parameters"]}),
        code("# Validate before measuring anything: a bad key or value stops here with a message naming it.\n"
             "params = study.load_params(params_file)\n"
             "thresholds = load_thresholds(params.thresholds_file, \"baseline\")\n"
             "params"),
        md("## Measurement\nIn this process first (the engine's public pieces, the line, memory and call "
           "profilers), then against the running service (HTTP, and py-spy while one user and then many send "
           "requests). Every part's file is written as soon as it is measured."),
        code("study.run(params, run_dir, url, progress=progress)\n"
             "report = study.analyse(run_dir)", metadata={"tags": ["progress"]}),
        md("## Verdict\n"
           "*pass*: the PRD's per-request targets are met on their 95% intervals (a rerank of 50 cached documents "
           "under 500 ms, in the engine and over HTTP; under 2 GB scoring 100 cold documents) **and** the measured "
           "parts explain every default-configuration total (|unattributed| below `max_unattributed_share`). "
           "*warn*: an interval straddles a target, or the parts leave too much unexplained — then the breakdown "
           "below must not be read as the whole story. *fail*: a target is missed on the whole interval. "
           "*insufficient*: this run measured nothing a target can be judged on."),
        code("display(Markdown(f\"### Overall: **{report.verdict.upper()}**\"))\n"
             "display(Markdown(report.reasons_markdown))\n"
             "plots.verdict_style(report.compliance)"),
        md("## Where a rerank's time goes\nMeans per request (they add up; medians do not). Engine parts are "
           "measured in this process; the parts outside the engine come from the HTTP measurement of the same "
           "batch size and method."),
        code("bplots.stacked_breakdown(report.request);\nplt.show()\n"
             "bplots.stacked_breakdown(report.request, share=True);\nplt.show()"),
        md("### Every scenario\nMean milliseconds per component; `unattributed` is the engine's total minus the "
           "parts (negative when the engine does in one step what the parts do in two)."),
        code("wide_breakdown(report.breakdown).style.format(precision=3, na_rep='–')"),
        code("report.explained.style.format(precision=3, na_rep='–')"),
        md("## Quantum vs classical overhead\nEngine time of quantum and hybrid over classical on the same "
           "documents: ratio of medians with a bootstrap 95% interval, and the extra milliseconds (difference of "
           "means)."),
        code("display(report.overhead.style.format(precision=3))\n"
             "bplots.overhead_ratios(report.overhead);\nplt.show()"),
        md("## Aer vs exact: what the simulation costs and the shot noise it trades for it\nThe same encoded "
           "states through the closed form and the SWAP test: the aer estimate's error is shot noise alone."),
        code("display(report.aer_vs_exact.style.format(precision=4))\n"
             "bplots.aer_vs_exact(report.aer_vs_exact);\nplt.show()"),
        md("### One-off costs\nModel load, the first forward pass, and the aer circuit's construction and "
           "transpilation (once per qubit count, at warm-up)."),
        code("report.cold_start.style.format(precision=2)"),
        md("## Outside the engine\nEnd-to-end latency over HTTP minus the server's computation time, split into "
           "what the service's own code does (parse, validate, rank, serialise; timed in-process on the same "
           "bodies) and the rest (uvicorn, FastAPI, the thread hand-off, loopback)."),
        code("report.outside.style.format(precision=3)"),
        md("## Line profiles\nThe most expensive lines of the quantum path and of the classical fallback "
           "(line_profiler; a line's time includes what it calls; *share* is of its function's time)."),
        code("bplots.line_table(report.lines, path='quantum path')"),
        code("bplots.line_table(report.lines, path='classical fallback')"),
        md("## Call trees\ncProfile of one cold rerank (a new engine, documents never seen, circuit not yet built) "
           "and one warm rerank."),
        code("print(render_tree(report.calls[report.calls['call'] == 'cold']))"),
        code("print(render_tree(report.calls[report.calls['call'] == 'warm']))"),
        md("## Memory\nPeak resident memory while one cold rerank of N documents runs (memory_profiler), what it "
           "leaves behind, the lines that grow it, the allocation sites still holding memory after reranks of new "
           "request bodies (tracemalloc), and garbage-collection pauses."),
        code("display(report.memory.style.format(precision=2))\n"
             "bplots.memory_growth(report.memory, limit_gb=thresholds['memory_100_docs_gb'].target);\nplt.show()"),
        code("report.memory_lines[report.memory_lines['increment_mib'].abs() > 0.1]"),
        code("display(Markdown(f\"tracemalloc: peak {report.info['tracemalloc']['traced_peak_mib']:.1f} MiB, \"\n"
             "                 f\"retained {report.info['tracemalloc']['traced_retained_mib']:.2f} MiB after \"\n"
             "                 f\"{report.info['tracemalloc']['requests']} reranks\"))\n"
             "report.allocations"),
        code("report.gc.style.format(precision=3)"),
        md("## Under load\nThe same request mix sent by one user and by many; py-spy samples every thread of the "
           "service (and, separately, only the thread holding the GIL). Waits on the thread pool, on locks or on "
           "a future show where concurrency queues work; torch and Aer run without the GIL."),
        code("report.load_runs.style.format(precision=2, na_rep='–')"),
        code("if len(report.under_load):\n"
             "    bplots.under_load_profile(report.under_load)\n"
             "    plt.show()\n"
             "else:\n"
             "    display(Markdown(f\"Under-load profile skipped: {report.info.get('under_load', {})}\"))"),
        md("What changes with concurrency: each activity's share of the busy threads' samples, one user against "
           "load (percentage points). `gil_held_share` above is the share of the time some thread held the GIL."),
        code("under_load_change(report.under_load).style.format(precision=3)"),
        code("report.under_load_roles.sort_values(['phase', 'role', 'share'], ascending=[True, True, False])"),
        md("## Optimisation opportunities, ranked\nEach with the time (or memory) it would save per request, "
           "measured here (a difference of two measured configurations, or a part that would go away), where it "
           "lives, and what it would free at the load study's rates (cores = CPU-seconds per second)."),
        code("display(report.opportunities.style.format(precision=3, na_rep='–').hide(axis='index'))\n"
             "bplots.opportunities_chart(report.opportunities);\nplt.show()"),
        md("## Reliability of these numbers"),
        code("plots.reliability_table(report.reliability)"),
        code("# Record the key numbers for the run index and CI.\n"
             "write_summary(run_dir, study.summary(report))\n"
             "print(f'verdict: {report.verdict}; summary written to {Path(run_dir) / \"summary.json\"}')"),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb
