"""The cells of notebooks/baseline.ipynb; `python notebooks/make_notebooks.py` writes it."""

import nbformat
from make_notebooks import kernel_metadata
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
            "import matplotlib.pyplot as plt\n"
            "from IPython.display import Markdown, display\n\n"
            "from qrbench.report import baseline_tables as tables\n"
            "from qrbench.report import format, plots\n"
            "from qrbench.resources import scaled_params_file\n"
            "from qrbench.studies import get_study, interactive_run_dir, load_thresholds, write_summary\n"
            "from qrbench.studies.analysis import server_process_sentence\n\n"
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
        new_code_cell(
            "failing = report.compliance[report.compliance['verdict'] != 'pass']\n"
            "if report.verdict == 'pass':\n"
            "    next_action = 'nothing required; keep this run as the baseline for the next comparison.'\n"
            "elif len(failing):\n"
            "    next_action = (f\"look at {failing['metric'].iloc[0]} first (compliance table below); \"\n"
            "                   'the bottlenecks study shows where its time goes.')\n"
            "else:\n"
            "    next_action = ''\n"
            "display(format.headline(report.verdict, report.verdict_reasons[0], checks=report.reliability,\n"
            "                        next_action=next_action))"
        ),
        new_markdown_cell(
            "## Verdict against the PRD\n"
            "*pass* only when the whole 95% interval meets the target; *fail* when it lies wholly "
            "beyond the threshold; *insufficient* when the sample cannot decide. Each target is "
            "judged on the statistic `parameters/thresholds.yaml` defines for it (p95 for "
            "latencies, counting timed-out requests at the timeout) and on the workload named."
        ),
        new_code_cell("format.compliance_table(report.compliance, extra=['workload'])"),
        new_code_cell(
            "# The key figure: rerank latency by batch size against the PRD target (saved for the executive report).\n"
            "fig = plots.percentiles_by_batch(report.stages, target_ms=thresholds['rerank_50_ms'].target)\n"
            "if fig is None:\n"
            "    fig = plots.latency_by_stage(report.records, 'similarity/', "
            "target_ms=thresholds['similarity_ms'].target,\n"
            "                                 title='Similarity, one pair per request')\n"
            "if fig is not None:\n"
            "    fig.savefig(Path(run_dir) / 'key_figure.png', dpi=110)\n"
            "plots.show(fig, otherwise=format.not_measured('rerank and similarity latency'))"
        ),
        new_markdown_cell(
            "## Latency by stage\n"
            "Latency in ms, one request at a time. The latency stages ran as "
            "repetitions in alternating order (see the last column); *successful only* percentiles leave "
            "failed requests out, *with failures* count each failed request at the client timeout (a server "
            "that times out looks slow, not fast). An interval that says *not bounded* had too few samples."
        ),
        new_code_cell("tables.stage_latency(report.stages, report.records)"),
        new_markdown_cell(
            "Warm-up removed per stage and repetition (MSER-5), so the statistics describe the steady state."
        ),
        new_code_cell("tables.warmup(report.warmup)"),
        new_code_cell(
            "plots.show(plots.latency_by_stage(report.records, 'similarity/', "
            "target_ms=thresholds['similarity_ms'].target, title='Similarity, one pair per request'),\n"
            "           otherwise=format.not_measured('similarity latency'))"
        ),
        new_code_cell(
            "plots.show(plots.latency_by_stage(report.records, 'rerank/', "
            "target_ms=thresholds['rerank_50_ms'].target, title='Rerank by method and batch size'),\n"
            "           otherwise=format.not_measured('rerank latency'))"
        ),
        new_markdown_cell(
            "## Is quantum worth its cost?\n"
            "Ranking quality on labelled queries: each query's relevant documents among hard negatives (documents "
            "of the same topic, then the same domain), reranked by every method. nDCG@10 and MRR are means over "
            "queries with 95% bootstrap intervals; the cost is the median latency of the rerank stage nearest in "
            "size (fresh texts, no cache), and its ratio to classical."
        ),
        new_code_cell(
            "display(tables.quality(report.quality), tables.quality_sentence(report.quality))\n"
            "plots.show(plots.quality_vs_cost(report.quality),\n"
            "           otherwise=format.not_measured('quality against latency cost'))"
        ),
        new_markdown_cell(
            "## Quantum vs classical\nLatency ratio of the medians (quantum or hybrid over classical, "
            "bootstrap 95% interval), and agreement of the rankings they produce on the same "
            "candidates (median Spearman correlation over queries, share of queries with the same "
            "top document)."
        ),
        new_code_cell("display(tables.method_ratios(report.method_ratios), tables.agreement(report.agreement))"),
        new_markdown_cell(
            "## Memory\nResident memory of the server's whole process tree, sampled while it served "
            "back-to-back reranks of each document count."
        ),
        new_code_cell(
            "display(tables.memory(report.memory))\n"
            "plots.show(plots.memory_by_documents(report.memory, report.server, report.records,\n"
            "                                     target_gb=thresholds['memory_100_docs_gb'].target),\n"
            "           otherwise=format.not_measured('server memory'))\n"
            "display(Markdown(server_process_sentence(run_dir)))"
        ),
        new_markdown_cell(
            "## Cache effectiveness\nThe same reranks three times: every text new (cold), the same "
            "documents with new queries (document embeddings cached), and the identical requests "
            "(every pair in the similarity cache). Hit rates come from the service's `/metrics`."
        ),
        new_code_cell(
            "display(tables.cache(report.cache))\n"
            "plots.show(plots.cache_effect(report.cache),\n"
            "           otherwise=format.not_measured('cache effectiveness'))"
        ),
        new_markdown_cell("## Reliability of these numbers"),
        new_code_cell("plots.reliability_table(report.reliability)"),
        new_markdown_cell(
            "### Was the machine busy?\nSampled every 0.5 s during the stages: the CPU other programs used "
            "(beside the service and this study), the hypervisor's steal, and a fixed calibration loop against "
            "its best time in the run. A contended stage is named in the headline; a target that fails by less "
            "than the slowdown it could explain reads insufficient (machine busy)."
        ),
        new_code_cell(
            "plots.show_table(plots.contention_table(report.contention),\n"
            "                 otherwise=format.not_measured('contention on the machine'))"
        ),
        new_markdown_cell(
            "## Regression against a previous baseline\n"
            "Every stage × statistic (median, p95) of this run against the previous baseline, judged against "
            "the variation between repetitions of each stage (Welch t on the log of each repetition's "
            "statistic), with the whole table corrected for multiple comparisons by Holm's method (family-wise "
            "error 5 %). A change is flagged only when it exceeds 10 %, its interval excludes no change and the "
            "adjusted p-value is below 0.05. A p95 is compared only when every repetition decides it."
        ),
        new_code_cell("display(tables.regression_sentence(report.regression), tables.regression(report.regression))"),
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
