"""The cells of notebooks/load.ipynb; `python notebooks/make_notebooks.py` writes it."""

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


def load() -> nbformat.NotebookNode:
    cells = [
        new_markdown_cell(
            "# Load study: a QuantumRerank service under production-like traffic\n\n"
            "One scenario (normal, peak with a spike, stress past capacity, or a compressed business day) run as "
            "one continuous load, watched live, then judged against the PRD's load targets on confidence "
            "intervals. Latency counts from each request's *intended* send time, so a stalled server shows in "
            "the tail instead of slowing the generator down (no coordinated omission)."
        ),
        new_code_cell(
            "from dataclasses import replace\n"
            "from pathlib import Path\n\n"
            "import matplotlib.pyplot as plt\n"
            "from IPython.display import Markdown, display\n\n"
                        "from qrbench.report import plots, plots_load\n"
            "from qrbench.report.live import LiveView\n"
            "from qrbench.report.runs import write_summary\n"
            "from qrbench.studies import get_study, load_thresholds\n"
            "from qrbench.studies.load import run_load_study\n\n"
            "study = get_study(\"load\")"
        ),
        new_code_cell(
            "# Parameters (papermill overrides these)\n"
            "params_file: str = \"parameters/load_normal.yaml\"  # from the current folder, else the shipped one\n"
            "url = None  # str or None: a running service; None starts the embedded reference service\n"
            "time_scale = None  # float or None: multiplies every duration of the scenario (0.1: ten times shorter)\n"
            "run_dir: str = \"outputs/interactive-load\"  # where records and the summary go\n"
            "progress: bool = True  # tqdm progress bars\n"
            "refresh_s: float = 2.0  # live view refresh period, seconds",
            metadata={"tags": ["parameters"]},
        ),
        new_code_cell(
            "# Validate before sending anything: a bad key or value stops here with a message naming it.\n"
            "params = study.load_params(params_file)\n"
            "params = params if time_scale is None else replace(params, time_scale=time_scale)\n"
            "thresholds = load_thresholds(params.thresholds_file, \"load\")\n"
            "params"
        ),
        new_markdown_cell("## The run, live\nOffered vs achieved rate, latency percentiles per second, errors, and "
                          "the server's CPU, memory and quantum metrics, redrawn while the load runs."),
        new_code_cell("view = LiveView(run_dir, thresholds=thresholds, refresh_s=refresh_s)\n"
                      "view.watch(run_load_study, params, run_dir, url=url, progress=progress,\n"
                      "           on_start=view.follow_target)\n"
                      "report = study.analyse(run_dir)",
                      metadata={"tags": ["progress"]}),
        new_markdown_cell("## Verdict against the PRD load targets\n"
                          "Judged on the requests after the warm-up and outside ramp phases. *pass* only when the "
                          "whole 95% interval meets the target; *warn* between target and threshold; *fail* when "
                          "the interval lies wholly beyond the threshold; *insufficient* when the sample cannot "
                          "decide. Memory and quantum time are observed values (no sampling interval)."),
        new_code_cell("display(Markdown(f\"### Overall: **{report.verdict.upper()}**  ({len(report.records)} "
                      "requests, {report.warmup.n_trimmed} trimmed as warm-up: {report.warmup.reason})\"))\n"
                      "plots.verdict_style(report.compliance)"),
        new_markdown_cell("## Timeline"),
        new_code_cell("plots_load.timeline(report.records, report.server, report.metrics, report.spans, thresholds,\n"
                      "                    t0_unix=report.t0_unix, title=f'scenario {params.name}')\n"
                      "plt.show()"),
        new_markdown_cell("## Per phase\nPercentiles (ms) with order-statistic 95% intervals; `inf` means too few "
                          "samples to bound that percentile."),
        new_code_cell("report.phases.style.format(precision=1, na_rep='–')"),
        new_markdown_cell("## Degradation under load\nHow requests failed, per phase: shedding with 503 at once is "
                          "the healthy answer to overload; timeouts and 5xx are not."),
        new_code_cell("display(report.degradation)\n"
                      "plots_load.degradation(report.records, thresholds=thresholds, "
                      "failure_rate=params.failure_threshold)\nplt.show()"),
        new_code_cell("display(Markdown('**Errors by kind**'))\ndisplay(report.errors)\n"
                      "display(Markdown('**Outages** (a second or more in which the target answered nothing: '\n"
                      "                 'refused, reset or timed out)'))\n"
                      "display(report.outages)"),
        new_markdown_cell("## Little's law\nIn a steady state, requests in the system = throughput × time in the "
                          "system. The client-side figure and the server's in-flight gauge should agree up to "
                          "the time spent outside the computation (network, parsing, queueing)."),
        new_code_cell("report.littles_law"),
        new_markdown_cell("## Alerts under load\nWith `monitor: {prometheus: true}` in the scenario, a real "
                          "Prometheus scraped the service every second and evaluated the alert rules rendered from "
                          "the thresholds (`qrbench alerts render`, with the scenario's short windows). Amber: an "
                          "alert was pending (its condition held, its `for:` not yet); red: it was firing. The "
                          "scrape latency is how long `/metrics` took to answer under this load: a monitoring "
                          "endpoint that stalls under load is a finding of its own."),
        new_code_cell("from qrbench.report import format, plots_alerts\n"
                      "from qrbench.studies.load.alerts import alert_report\n\n"
                      "alerts = alert_report(run_dir)\n"
                      "if alerts is None:\n"
                      "    display(Markdown('Prometheus was not running during this load (the scenario has no '\n"
                      "                     '`monitor: {prometheus: true}`), so no alert was evaluated.'))\n"
                      "else:\n"
                      "    plots.show(plots_alerts.alert_timeline(report.records, alerts.intervals, thresholds,\n"
                      "                                           title=f'alerts during scenario {params.name} '\n"
                      "                                                 f'(rate window {alerts.rate_window_s:g} s, '\n"
                      "                                                 f\"for: {alerts.for_s:g} s)\"),\n"
                      "               otherwise=format.not_measured('the requests next to the alerts'))\n"
                      "    fired = alerts.firing()\n"
                      "    display(Markdown(f\"**Fired:** {', '.join(fired)}.\" if fired else '**No alert fired.**'))\n"
                      "    display(format.stakeholder_table(alerts.onset_table(), caption='When each alert first '\n"
                      "                                     'turned pending and firing (s since the run started)'))\n"
                      "    display(format.stakeholder_table(alerts.scrape, caption='Scrape latency of /metrics '\n"
                      "                                     'under load (failed: no answer within the interval)'))"),
        new_markdown_cell("## Reliability of these numbers\nThe generator's own CPU and send lag are checked: a "
                          "saturated generator measures itself, not the server."),
        new_code_cell("display(plots.reliability_table(report.reliability))\n"
                      "display(report.result)"),
        new_code_cell("# Record the key numbers for the run index and CI.\n"
                      "write_summary(run_dir, study.summary(report))\n"
                      "print(f'verdict: {report.verdict}; summary written to {Path(run_dir) / \"summary.json\"}')"),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb
