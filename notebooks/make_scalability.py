"""The cells of notebooks/scalability.ipynb; `python notebooks/make_notebooks.py` writes it."""

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


def scalability() -> nbformat.NotebookNode:
    md, code = new_markdown_cell, new_code_cell
    cells = [
        md("# Scalability study: how a QuantumRerank service scales, and where it stops\n\n"
           "Vertical (threads, documents per request, qubits and shots, memory) and horizontal (uvicorn workers, "
           "instances behind nginx): for every configuration a step load finds the highest arrival rate that still "
           "meets the SLO, and the Universal Scalability Law fitted to throughput against N says what happens past "
           "this machine."),
        code("from pathlib import Path\n\n"
             "import matplotlib.pyplot as plt\n"
             "from IPython.display import Markdown, display\n\n"
             "from qrbench.report import plots\n"
             "from qrbench.report import plots_scalability as splots\n"
             "from qrbench.report.runs import write_summary\n"
             "from qrbench.studies import get_study\n"
             "from qrbench.studies.scalability import SATURATION_LIMITS\n\n"
             "study = get_study(\"scalability\")"),
        code("# Parameters (papermill overrides these)\n"
             "params_file: str = \"parameters/scalability.yaml\"  # from the current folder, else the shipped one\n"
             "url = None  # str or None: a running service (only it is measured); None starts every configuration\n"
             "baseline_run = None  # str or None: accepted for the CLI's sake; this study compares within the run\n"
             "run_dir: str = \"outputs/interactive-scalability\"  # where the measurements and the summary go\n"
             "progress: bool = True  # tqdm progress bars",
             metadata={"tags": ["parameters"]}),
        code("# Validate before measuring anything: a bad key or value stops here with a message naming it.\n"
             "params = study.load_params(params_file)\n"
             "params"),
        md("## Measurement\nThe document sweep and the single-worker step load share one service; then the thread, "
           "qubit and shot sweeps (one service per setting), the multi-worker services, and the instances behind "
           "nginx (started once; each configuration balances over the first N). Every configuration's caches are "
           "warmed before its steps; each step is one open-model run at a constant rate."),
        code("study.run(params, run_dir, url, progress=progress)\n"
             "report = study.analyse(run_dir)", metadata={"tags": ["progress"]}),
        md("## Verdict and findings\n*pass*: every configuration ran and its capacity is bounded on both sides; "
           "*warn*: some capacity is only a bound (the SLO never broke, or broke at the first step); *fail*: a "
           "configuration failed to run (its error is listed); *insufficient*: nothing was measured."),
        code("display(Markdown(f\"### Overall: **{report.verdict.upper()}**\"))\n"
             "display(Markdown('\\n'.join(f'- {r}' for r in report.verdict_reasons) or 'No reservations.'))\n"
             "display(Markdown('\\n'.join(f'- {f}' for f in report.findings)))"),
        md("## Capacity under the SLO\nA step meets the SLO when its p95 (from the intended send time) is under the "
           "limit and its success ratio at least the target. The capacity is the highest step before the first "
           "break; its interval runs from the highest step that met the SLO on the p95's 95 % interval to the first "
           "step that broke it (so it carries the step width too). An open upper end: the SLO never broke."),
        code("display(report.configs.style.format(precision=3, na_rep='–'))\n"
             "splots.capacity_bars(report.configs);\nplt.show()"),
        md("## Throughput and latency at each step"),
        code("splots.step_curves(report.steps, slo_p95_ms=report.slo.p95_ms);\nplt.show()\n"
             "report.steps.style.format(precision=3, na_rep='–')"),
        md("## Universal Scalability Law\nThroughput against workers and against instances (round robin), each "
           "configuration's peak step cut into windows; the USL (contention σ, coherency κ, peak N*) and Amdahl's "
           "law (κ = 0) drawn over the measurements and extrapolated. The shaded part lies past this machine's "
           "cores: there the curve is the model's, not a measurement."),
        code("splots.usl_fit(report.usl['workers'], cores=report.cores, axis='workers');\nplt.show()\n"
             "splots.usl_fit(report.usl['instances'], cores=report.cores, axis='instances');\nplt.show()"),
        md("## Load balancer effectiveness\nEach instance's share of the requests in every step, from its own "
           "`/metrics` before and after the step, the imbalance (largest share over the even share, minus 1) with "
           "a χ² test against an even split, and each instance's cache hit rates (caches are per instance). A "
           "multi-worker service cannot be read this way: its workers share one port and a scrape reaches one "
           "worker at random."),
        code("display(report.imbalance.style.format(precision=3, na_rep='–'))\n"
             "splots.lb_shares(report.shares);\nplt.show()"),
        md("## Which resource saturates first\nPer step of the single-worker service: its CPU over the cores, its "
           "memory over the machine's, the event loop (p95 of a `/health/live` probe that computes nothing), and "
           "the thread pool (requests in computation over the compute threads)."),
        code("display(report.saturation.style.format(precision=3, na_rep='–'))\n"
             "splots.saturation(report.saturation, SATURATION_LIMITS, report.first_saturated['config'] or "
             "'workers-1');\nplt.show()"),
        md("## Vertical scaling\nDocument count per request (cached documents, a new query each: the cost's growth "
           "fitted as a power law and as milliseconds per document, with 95 % intervals), memory against the "
           "document count, and latency and throughput against torch threads, qubits and shots (aer)."),
        code("display(report.documents.style.format(precision=3, na_rep='–'))\n"
             "display(Markdown(f\"Cost growth: {report.cost}\"))\n"
             "splots.documents_cost(report.documents, report.cost);\nplt.show()"),
        code("splots.vertical_settings({'torch threads': report.threads, 'qubits': report.qubits, "
             "'shots': report.shots});\nplt.show()\n"
             "display(Markdown('\\n'.join(f'- failed: {e}' for e in report.vertical_errors) or "
             "'Every vertical sweep ran.'))"),
        md("## Reliability of these numbers"),
        code("plots.reliability_table(report.reliability)"),
        code("# Record the key numbers for the run index and CI.\n"
             "write_summary(run_dir, study.summary(report))\n"
             "print(f'verdict: {report.verdict}; summary written to {Path(run_dir) / \"summary.json\"}')"),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb
