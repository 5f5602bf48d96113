"""The cells of notebooks/scalability.ipynb; `python notebooks/make_notebooks.py` writes it."""

import nbformat
from make_notebooks import kernel_metadata
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
            "import matplotlib.pyplot as plt\n"
            "import pandas as pd\n"
            "from IPython.display import Markdown, display\n\n"
            "from qrbench.report import format, plots\n"
            "from qrbench.report import plots_scalability as splots\n"
            "from qrbench.resources import scaled_params_file\n"
            "from qrbench.studies import get_study, interactive_run_dir, write_summary\n"
            "from qrbench.studies.scalability import SATURATION_LIMITS\n"
            "from qrbench.studies.scalability.analysis import KEY_FIGURE\n\n"
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
        code(
            "reason = report.verdict_reasons[0] if report.verdict_reasons else report.recommendation\n"
            "display(format.headline(report.verdict, reason, checks=report.reliability))\n"
            'display(Markdown(f"**Recommendation.** {report.recommendation}"))'
        ),
        md(
            "## PRD compliance\nThe capacity target (at least 100 req/s with the p95 within its target) is judged on "
            "the step load (open model) of the configuration with the highest capacity: the achieved rate of the "
            "highest step whose p95 interval lies wholly below the target. Each row names the workload that judged "
            "it."
        ),
        code("display(format.compliance_table(report.compliance, extra=('workload',)))"),
        md(
            "## Findings\n*pass*: every configuration ran, its capacity is bounded on both sides and the PRD rows "
            "pass; *warn*: some capacity is only a bound, or a PRD row warns; *fail*: a configuration failed to run "
            "or a PRD row fails; *insufficient*: nothing was measured."
        ),
        code("display(Markdown('\\n'.join(f'- {f}' for f in report.verdict_reasons[1:] + report.findings)))"),
        md(
            "## Capacity under the SLO\nA step meets the SLO when its p95 (from the intended send time) is under the "
            "limit and its success ratio at least the target. The capacity is the highest step before the break; "
            "its interval runs from the highest step that met the SLO on the p95's 95 % interval to the first "
            "step that broke it (so it carries the step width too). An open upper end: the SLO never broke."
        ),
        code(
            "display(format.stakeholder_table(report.configs, {\n"
            "    'config': 'Configuration', 'status': 'Status', 'steps': 'steps run',\n"
            "    'capacity_rps': 'capacity under the SLO (req/s)', 'capacity_low': 'from (req/s)',\n"
            "    'capacity_high': 'to (req/s)', 'peak_throughput_rps': 'peak throughput (req/s)',\n"
            "    'error': 'error'}))\n"
            "fig = splots.capacity_bars(report.configs)\n"
            "if fig is not None:\n"
            "    fig.savefig(Path(run_dir) / KEY_FIGURE, dpi=110, bbox_inches='tight')\n"
            "plots.show(fig, otherwise=format.not_measured('the capacity of each configuration'))"
        ),
        md(
            "## Throughput and latency at each step\nThroughput is the mean of one-second windows of successful "
            "completions, its interval from batch means over the windows' correlation time."
        ),
        code(
            "plots.show(splots.step_curves(report.steps, slo_p95_ms=report.slo.p95_ms),\n"
            "           otherwise=format.not_measured('the step loads'))\n"
            "display(format.stakeholder_table(report.steps, {\n"
            "    'config': 'Configuration', 'rate_rps': 'offered rate (req/s)', 'requests': 'requests',\n"
            "    'throughput_rps': 'throughput (req/s)', 'throughput_low': 'from (req/s)',\n"
            "    'throughput_high': 'to (req/s)', 'p50_ms': 'p50 (ms)', 'p95_ms': 'p95 (ms)', 'p99_ms': 'p99 (ms)',\n"
            "    'success': 'success (fraction)', 'meets_slo': 'meets the SLO'}))"
        ),
        md(
            "## Universal Scalability Law\nThroughput against workers and against instances (round robin): each "
            "configuration's peak step cut into windows (one observation per level: the fit averages them). The "
            "USL (contention σ, coherency κ, peak N*) needs at least 4 levels and is drawn over the measured range "
            "only; N* is stated only when its interval is bounded."
        ),
        code(
            "for axis in ('workers', 'instances'):\n"
            "    fit = report.usl[axis]\n"
            "    display(Markdown(splots.usl_note(fit, axis=axis)))\n"
            "    if fit['levels'] >= 2:  # one level draws a column of windows and no curve: the note says it all\n"
            "        plots.show(splots.usl_fit(fit, cores=report.cores, axis=axis),\n"
            "                   otherwise=format.not_measured(f'throughput against {axis}'))"
        ),
        md(
            "## Load balancer effectiveness\nEach instance's share of the requests in every step, from its own "
            "`/metrics` before and after the step, the imbalance (largest share over the even share, minus 1) with "
            "a χ² test against an even split, and each instance's cache hit rates (caches are per instance)."
        ),
        code(
            "display(format.stakeholder_table(report.imbalance, {\n"
            "    'config': 'Configuration', 'rate_rps': 'offered rate (req/s)', 'instances': 'instances',\n"
            "    'requests': 'requests', 'max_share': 'largest share (%)', 'imbalance': 'imbalance (0 = even)',\n"
            "    'chi2_p': 'χ² p (even split)'}))\n"
            "plots.show(splots.lb_shares(report.shares), otherwise=format.not_measured('instance shares'))"
        ),
        md(
            "## Which resource saturates first\nPer step of the single-worker service: its CPU over the cores, its "
            "memory over the machine's, the event loop (p95 of a `/health/live` probe that computes nothing), and "
            "the thread pool (requests in computation over the compute threads)."
        ),
        code(
            "sat = report.saturation\n"
            "cols = {'config': 'Configuration', 'rate_rps': 'offered rate (req/s)', 'cpu': 'CPU (share of cores)',\n"
            "        'memory': 'memory (share)', 'event_loop': 'event-loop probe p95 (ms)',\n"
            "        'thread_pool': 'thread pool (busy / threads)'}\n"
            "display(format.stakeholder_table(sat, {k: v for k, v in cols.items() if k in sat.columns}))\n"
            "plots.show(splots.saturation(sat, SATURATION_LIMITS, report.first_saturated['config'] or 'workers-1')\n"
            "           if len(sat) else None, otherwise=format.not_measured('resource saturation'))"
        ),
        md(
            "## Autoscaling (the HPA rule, simulated)\nAn open-model load steps up, then down, while a controller "
            "in qrbench adds and removes single-worker instances behind nginx by the Kubernetes "
            "HorizontalPodAutoscaler's own rule (desired = ceil(current × CPU utilisation / target), with its "
            "tolerance and stabilisation windows). **This simulates the HPA rule on one machine; it is not a "
            "cluster.** Time to scale, latency "
            "during the transition, and instance-seconds above or below what the rule needs in steady state (the "
            "findings above say it in words)."
        ),
        code(
            "auto = report.autoscale\n"
            "if auto is None:\n"
            "    display(Markdown(format.not_measured('the autoscaling scenario')))\n"
            "else:\n"
            "    if auto['error']:\n"
            "        display(Markdown(f\"The scenario failed: {auto['error']}\"))\n"
            "    display(format.stakeholder_table(auto['phases'], {\n"
            "        'rate_rps': 'offered rate (req/s)', 'need': 'need (instances)', 'direction': 'step',\n"
            "        'scaled_after_s': 'scaled after (s)', 'reached_need_after_s': 'need reached after (s)',\n"
            "        'p95_transition_ms': 'p95 in transition (ms)', 'p95_settled_ms': 'p95 after (ms)',\n"
            "        'over_instance_s': 'over (instance-s)', 'under_instance_s': 'under (instance-s)'}))\n"
            "    plots.show(splots.autoscale_timeline(auto),\n"
            "               otherwise=format.not_measured('the autoscaling timeline'))"
        ),
        md(
            "## Vertical scaling\nDocument count per request (cached documents, a new query each: the cost's growth "
            "fitted as a power law and as milliseconds per document, with 95 % intervals), memory against the "
            "document count, and latency and throughput against torch threads, qubits and shots (aer)."
        ),
        code(
            "display(format.stakeholder_table(report.documents, {\n"
            "    'documents': 'documents', 'requests': 'requests', 'p50_ms': 'p50 (ms)', 'p95_ms': 'p95 (ms)',\n"
            "    'rss_peak_mb': 'peak memory (MB)'}) if len(report.documents) else\n"
            "    Markdown(format.not_measured('the document sweep')))\n"
            "c = report.cost\n"
            "if c['levels'] >= 2:\n"
            "    display(Markdown(\n"
            "        f\"Cost growth over {c['levels']} document counts ({c['requests']} requests): \"\n"
            '        f"latency ~ N^b with "\n'
            "        f\"b = {format.number(c['slope'])} {format.interval(c['slope_low'], c['slope_high'])}; \"\n"
            "        f\"{format.quantity(c['ms_per_doc'], 'ms')} per document \"\n"
            "        f\"{format.interval(c['ms_per_doc_low'], c['ms_per_doc_high'], 'ms')}.\"))\n"
            "plots.show(splots.documents_cost(report.documents, report.cost),\n"
            "           otherwise=format.not_measured('the cost against the document count'))"
        ),
        code(
            "plots.show(splots.vertical_settings({'torch threads': report.threads, 'qubits': report.qubits,\n"
            "                                      'shots': report.shots}),\n"
            "           otherwise=format.not_measured('the thread, qubit and shot sweeps'))\n"
            "if report.vertical_errors:\n"
            "    display(Markdown('\\n'.join(f'- failed: {e}' for e in report.vertical_errors)))"
        ),
        md("## Reliability of these numbers"),
        code("plots.reliability_table(report.reliability)"),
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
