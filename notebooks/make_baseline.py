"""The cells of notebooks/baseline.ipynb; `python notebooks/make_notebooks.py` writes it."""

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook


def baseline() -> nbformat.NotebookNode:
    cells = [
        new_markdown_cell(
            "# Baseline study: single-user performance of a QuantumRerank service\n\n"
            "One request at a time: similarity per method, rerank per batch size and method, server memory per "
            "document count, cache effectiveness, and how far quantum and classical rankings agree — judged "
            "against the PRD targets on confidence intervals, not point estimates."
        ),
        new_code_cell(
            "from pathlib import Path\n\n"
            "import matplotlib.pyplot as plt\n"
            "from IPython.display import Markdown, display\n\n"
            "from qrbench.report import plots\n"
            "from qrbench.report.runs import write_summary\n"
            "from qrbench.studies import get_study, load_thresholds\n\n"
            "study = get_study(\"baseline\")"
        ),
        new_code_cell(
            "# Parameters (papermill overrides these)\n"
            "params_file: str = \"parameters/baseline.yaml\"  # from the current folder, else the shipped one\n"
            "url = None  # str or None: a running service; None starts the embedded reference service\n"
            "baseline_run = None  # str or None: a previous baseline run folder to check for regressions\n"
            "run_dir: str = \"outputs/interactive-baseline\"  # where records and the summary go\n"
            "progress: bool = True  # tqdm progress bars",
            metadata={"tags": ["parameters"]},
        ),
        new_code_cell(
            "# Validate before sending anything: a bad key or value stops here with a message naming it.\n"
            "params = study.load_params(params_file)\n"
            "thresholds = load_thresholds(params.thresholds_file, \"baseline\")\n"
            "params"
        ),
        new_markdown_cell("## Measurement\nEach stage streams its records to disk as it runs."),
        new_code_cell("study.run(params, run_dir, url, progress=progress)\n"
                      "report = study.analyse(run_dir, baseline_run=baseline_run)",
                      metadata={"tags": ["progress"]}),
        new_markdown_cell("## Verdict against the PRD\n"
                          "*pass* only when the whole 95% interval meets the target; *fail* when it lies wholly "
                          "beyond the threshold; *insufficient* when the sample cannot decide."),
        new_code_cell("display(Markdown(f\"### Overall: **{report.verdict.upper()}**  \"\n"
                      "                 f\"({len(report.records)} requests measured)\"))\n"
                      "plots.verdict_style(report.compliance)"),
        new_markdown_cell("## Latency by stage\nPercentiles in ms with their order-statistic 95% intervals "
                          "(`inf`: too few samples to bound that percentile). Warm-up trimming per stage is listed "
                          "below the table."),
        new_code_cell("report.stages.style.format(precision=1, na_rep='–')"),
        new_code_cell("report.warmup"),
        new_code_cell("plots.latency_by_stage(report.records, 'similarity/', "
                      "target_ms=thresholds['similarity_ms'].target, title='Similarity, one pair per request');\n"
                      "plt.show()"),
        new_code_cell("plots.latency_by_stage(report.records, 'rerank/', target_ms=thresholds['rerank_50_ms'].target,"
                      " title='Rerank by method and batch size');\nplt.show()\n"
                      "plots.percentiles_by_batch(report.stages, target_ms=thresholds['rerank_50_ms'].target);\n"
                      "plt.show()"),
        new_markdown_cell("## Quantum vs classical\nLatency ratio of the medians (quantum or hybrid over classical, "
                          "bootstrap 95% interval), and agreement of the rankings they produce on the same "
                          "candidates."),
        new_code_cell("report.method_ratios.style.format(precision=3)"),
        new_code_cell("report.agreement.style.format(precision=3)"),
        new_markdown_cell("## Memory\nResident memory of the server's whole process tree, sampled while it served "
                          "back-to-back reranks of each document count."),
        new_code_cell("display(report.memory)\n"
                      "plots.memory_by_documents(report.memory, report.server, report.records, "
                      "target_gb=thresholds['memory_100_docs_gb'].target);\nplt.show()"),
        new_markdown_cell("## Cache effectiveness\nThe same reranks three times: every text new (cold), the same "
                          "documents with new queries (document embeddings cached), and the identical requests "
                          "(every pair in the similarity cache). Hit rates come from the service's `/metrics`."),
        new_code_cell("display(report.cache.style.format(precision=3, na_rep='–'))\n"
                      "plots.cache_effect(report.cache);\nplt.show()"),
        new_markdown_cell("## Reliability of these numbers"),
        new_code_cell("plots.reliability_table(report.reliability)"),
        new_markdown_cell("## Regression against a previous baseline\nPer stage: ratio of this run to the baseline "
                          "with a bootstrap interval, and a rank test; flagged only when the slowdown exceeds 10% "
                          "and is significant."),
        new_code_cell("if report.regression is None:\n"
                      "    display(Markdown('No previous baseline run was given (`baseline_run`).'))\n"
                      "else:\n"
                      "    display(plots.verdict_style(report.regression))"),
        new_code_cell("# Record the key numbers for the run index and CI.\n"
                      "write_summary(run_dir, study.summary(report))\n"
                      "print(f'verdict: {report.verdict}; summary written to {Path(run_dir) / \"summary.json\"}')"),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb
