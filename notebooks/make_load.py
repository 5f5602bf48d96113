"""The cells of notebooks/load.ipynb; `python notebooks/make_notebooks.py` writes it."""

import nbformat
from make_notebooks import kernel_metadata
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


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
            "from qrbench.report import format, plots, plots_load\n"
            "from qrbench.report.live import LiveView, counts_sentence\n"
            "from qrbench.resources import scaled_params_file\n"
            "from qrbench.studies import get_study, interactive_run_dir, load_thresholds, write_summary\n"
            "from qrbench.studies.load import run_load_study\n"
            "from qrbench.studies.analysis import server_metrics_sentence\n"
            "from qrbench.studies.load.analysis import KEY_FIGURE, drawn_thresholds, next_action\n\n"
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
        new_code_cell(
            "display(format.headline(report.verdict, report.verdict_reasons[0], checks=report.reliability,\n"
            "                        next_action=next_action(report)))\n"
            'display(Markdown(f"Scenario **{params.name}**: {report.workload}; "\n'
            '                 f"{counts_sentence(run_dir, len(report.judged))}"))'
        ),
        new_markdown_cell(
            "## Verdict against the PRD load targets\n"
            "Judged on the requests after the warm-up and outside ramp phases, each target on the "
            "statistic and request kind `parameters/thresholds.yaml` defines. *pass* only when the "
            "whole 95% interval meets the target; *warn* between target and threshold; *fail* when "
            "the interval lies wholly beyond the threshold; *insufficient* when the sample cannot "
            "decide. The workload column names what judged each row: a closed model (users with "
            "think time) offers only so many requests per second, so its throughput is judged as "
            "kept-up-with-offered, and the capacity target (at least 100 req/s within the latency "
            "target) is left to a workload able to offer it. Memory and quantum time are observed "
            "values (no sampling interval)."
        ),
        new_code_cell('format.compliance_table(report.compliance, extra=["workload"])'),
        new_markdown_cell("## Timeline"),
        new_code_cell(
            "# Only the limits of targets this workload can judge (no 100 req/s line over a closed model).\n"
            "fig = plots_load.timeline(report.records, report.server, report.metrics, report.spans,\n"
            "                          drawn_thresholds(params, thresholds, report.spans),\n"
            "                          t0_unix=report.t0_unix, cores=report.cores,\n"
            "                          title=f'scenario {params.name}')\n"
            "fig.savefig(Path(run_dir) / KEY_FIGURE, dpi=100, bbox_inches='tight')\n"
            "plots.show(fig, otherwise=format.not_measured('the timeline'))\n"
            "display(Markdown(server_metrics_sentence(run_dir)))"
        ),
        new_markdown_cell(
            "## Latency by request kind\nPercentiles (ms) of the judged requests with 95% intervals "
            "(order statistics over the effective number of samples, since successive requests are "
            "correlated). *Failures counted*: a timed-out or dropped request counts at its timeout, "
            "any other failure at its recorded time, as a lower bound; where a percentile falls on "
            "failures it reads *at least*. The success-only p95 is beside them for comparison."
        ),
        new_code_cell("plots_load.latency_table(report.latency)"),
        new_markdown_cell("## Per phase\nRates and percentiles (ms, failures counted) per phase of the scenario."),
        new_code_cell("plots_load.phase_table(report.phases)"),
        new_markdown_cell(
            "## Degradation under load\nHow requests failed, per phase: shedding with 503 at once is "
            "the healthy answer to overload; timeouts and 5xx are not."
        ),
        new_code_cell(
            "display(format.stakeholder_table(report.degradation))\n"
            "fig = plots_load.degradation(report.records, thresholds=thresholds, "
            "failure_rate=params.failure_threshold) if len(report.records) else None\n"
            "plots.show(fig, otherwise=format.not_measured('degradation with the offered load'))"
        ),
        new_code_cell(
            "display(Markdown('**Errors by kind**'))\n"
            "display(format.stakeholder_table(report.errors))\n"
            "display(Markdown('**Outages** (a second or more in which the target answered nothing: '\n"
            "                 'refused, reset or timed out)'))\n"
            "display(format.stakeholder_table(report.outages.drop(columns='errors')))"
        ),
        new_markdown_cell(
            "## Little's law\nIn a steady state, requests in the system = throughput × time in the "
            "system: X·(W+Z) for a closed model must equal its users (Z: think time), X·W the "
            "server's in-flight gauge, which counts only requests being computed (so it reads lower "
            "by the time spent in the network and queues). A difference beyond 10 % is flagged: "
            "lost requests, a load that was not steady, or users that were not reached."
        ),
        new_code_cell("plots_load.littles_law_table(report.littles_law)"),
        new_markdown_cell(
            "## Memory leak (long runs)\nRSS growth after the caches are full, with its interval "
            "(batch means over blocks of correlated 1-s samples); growth while the caches fill is "
            "not a leak. Needs a soak: `qrbench study load -p parameters/soak.yaml` (30 min)."
        ),
        new_code_cell(
            "rows = report.compliance\n"
            "(leak,) = rows[rows['metric'] == 'rss_growth_mb_per_h'].to_dict('records')\n"
            "display(Markdown(f\"**{format.VERDICTS[leak['verdict']][0]}**. {leak['reason']}\"))"
        ),
        new_markdown_cell(
            "## Alerts under load\nWith `monitor: {prometheus: true}` in the scenario, a real "
            "Prometheus scraped the service every second and evaluated the alert rules rendered from "
            "the thresholds (`qrbench alerts render`, with the scenario's short windows). Amber: an "
            "alert was pending (its condition held, its `for:` not yet); red: it was firing. The "
            "scrape latency is how long `/metrics` took to answer under this load: a monitoring "
            "endpoint that stalls under load is a finding of its own."
        ),
        new_code_cell(
            "from qrbench.report import plots_alerts\n"
            "from qrbench.studies.load.alerts import alert_report\n\n"
            "alerts = alert_report(run_dir)\n"
            "if alerts is None:\n"
            "    display(Markdown('Prometheus was not running during this load (the scenario has no '\n"
            "                     '`monitor: {prometheus: true}`), so no alert was evaluated.'))\n"
            "else:\n"
            "    plots.show(plots_alerts.alert_timeline(report.records, alerts.intervals, thresholds,\n"
            "                                           title=f'alerts during scenario {params.name} '\n"
            "                                                 f'(rate window {alerts.rate_window_s:g} s, '\n"
            '                                                 f"for: {alerts.for_s:g} s)"),\n'
            "               otherwise=format.not_measured('the requests next to the alerts'))\n"
            "    fired = alerts.firing()\n"
            "    display(Markdown(f\"**Fired:** {', '.join(fired)}.\" if fired else '**No alert fired.**'))\n"
            "    display(format.stakeholder_table(alerts.onset_table(), caption='When each alert first '\n"
            "                                     'turned pending and firing (s since the run started)'))\n"
            "    display(format.stakeholder_table(alerts.scrape, caption='Scrape latency of /metrics '\n"
            "                                     'under load (failed: no answer within the interval)'))"
        ),
        new_markdown_cell(
            "## Reliability of these numbers\nThe generator's own CPU and send lag are checked: a "
            "saturated generator measures itself, not the server."
        ),
        new_code_cell("plots.reliability_table(report.reliability)"),
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
