"""The baseline report's sections (`SECTIONS`, one notebook cell each, in order) over one `BaselineReport`.
Tables come out in their final form (columns named as the reader sees them, intervals as (low, high, unit)
tuples); figures name a drawing of report/.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from ..analysis import (
    Figure,
    Section,
    Spec,
    Table,
    compliance_section,
    headline_section,
    intervals,
    reliability_section,
    server_process_sentence,
)
from .analysis import KEY_FIGURE, BaselineReport

__all__ = ["SECTIONS"]


def headline(report: BaselineReport) -> Section:
    """The verdict, its main reason, the reservations, and which target to look at first."""
    failing = report.compliance.loc[report.compliance["verdict"] != "pass", "metric"]
    action = ""
    if report.verdict == "pass":
        action = "nothing required; keep this run as the baseline for the next comparison."
    elif len(failing):
        first = failing.iloc[0]
        action = f"look at {first} first (compliance table below); the bottlenecks study shows where its time goes."
    return headline_section(report, action)


def _stages(report: BaselineReport) -> pd.DataFrame:
    """Percentiles per stage, successful only and counting failures, with the repetitions each ran as."""
    records = report.records
    reps = records.groupby("stage")["repetition"].nunique() if "repetition" in records else {}
    return report.stages.assign(repetitions=report.stages["stage"].map(reps).fillna(1).astype(int))


def _warmup(report: BaselineReport) -> pd.DataFrame:
    """The warm-up trimmed per stage (summed over its repetitions)."""
    columns = {"trimmed": "requests trimmed", "kept": "requests kept", "seconds_trimmed": "seconds trimmed (s)"}
    trimmed = report.warmup.groupby("stage", sort=False)[list(columns)].sum().reset_index()
    return trimmed.rename(columns=columns)


def _latency_figure(name: str, target: str, title: str) -> Spec:
    """The latency distribution of the stages `name`/... (similarity, rerank), against the PRD target `target`."""
    return Spec(
        name=name,
        draw="baseline_latency",
        inputs=lambda report: {
            "records": report.records,
            "prefix": f"{name}/",
            "target_ms": report.thresholds[target].target,
            "title": title,
        },
        otherwise=f"{name} latency",
    )


def quality(report: BaselineReport) -> Section:
    """Ranking quality per method beside its latency cost, said in a sentence, and drawn."""
    q = report.quality
    frame = pd.DataFrame()
    if len(q):
        nan = pd.Series(float("nan"), index=q.index)
        frame = pd.DataFrame(
            {
                "method": q["method"],
                "nDCG@10": q["ndcg"],
                "nDCG@10 95 % interval": intervals(q, "ndcg_low", "ndcg_high"),
                "MRR": q["mrr"],
                "MRR 95 % interval": intervals(q, "mrr_low", "mrr_high"),
                "queries": q["queries"],
                "median rerank latency (ms)": q.get("p50_ms", nan),
                "latency / classical": q.get("cost_vs_classical", nan),
            }
        )
    return Section(
        name="quality",
        title="Is quantum worth its cost?",
        about="Ranking quality on labelled queries: each query's relevant documents among hard negatives (documents "
        "of the same topic, then the same domain), reranked by every method. nDCG@10 and MRR are means over "
        "queries with 95% bootstrap intervals; the cost is the median latency of the rerank stage nearest in "
        "size (fresh texts, no cache), and its ratio to classical.",
        tables=(
            Table(frame=frame, otherwise="ranking quality (quality.queries is 0)"),
            Table(frame=q, style="baseline_quality_sentence"),
        ),
        figures=(Figure(draw="baseline_quality", inputs={"quality": q}, otherwise="quality against latency cost"),),
        tables_first=True,
    )


def methods(report: BaselineReport) -> Section:
    """Latency of quantum and hybrid over classical, and how far their rankings agree."""
    r, a = report.method_ratios, report.agreement
    ratios = agreement = pd.DataFrame()
    if len(r):
        ratios = pd.DataFrame(
            {
                "Request": r["request"],
                "method": r["method"],
                "median latency / classical": r["median_ratio"],
                "95 % interval": intervals(r, "low", "high"),
                "requests": r["n_method"],
                "classical requests": r["n_classical"],
            }
        )
    if len(a):
        agreement = pd.DataFrame(
            {
                "Methods": a["methods"],
                "queries": a["queries"],
                "median Spearman": a["spearman_median"],
                "95 % interval": intervals(a, "low", "high"),
                "same top document (%)": 100 * a["top1_agreement"],
            }
        )
    return Section(
        name="methods",
        title="Quantum vs classical",
        about="Latency ratio of the medians (quantum or hybrid over classical, "
        "bootstrap 95% interval), and agreement of the rankings they produce on the same "
        "candidates (median Spearman correlation over queries, share of queries with the same "
        "top document).",
        tables=(
            Table(frame=ratios, otherwise="latency ratios between methods"),
            Table(frame=agreement, otherwise="rank agreement between methods"),
        ),
    )


def _cache(report: BaselineReport) -> pd.DataFrame:
    """Cold, known documents and repeated requests: their latency, hit rates and speed-up over cold."""
    c = report.cache
    frame = pd.DataFrame()
    if len(c):
        frame = pd.DataFrame(
            {
                "stage": c["stage"],
                "requests": c["requests"],
                "median (ms)": c["p50_ms"],
                "95 % interval": intervals(c, "p50_low", "p50_high", "ms"),
                "embedding hits (%)": 100 * c["embedding_hit_rate"],
                "similarity hits (%)": 100 * c["similarity_hit_rate"],
                "speed-up over cold": c["cold_over_this"],
            }
        )
    return frame


def _contention(report: BaselineReport) -> pd.DataFrame:
    """How busy the machine was during each stage, and the slowdown that could explain."""
    c = report.contention
    frame = pd.DataFrame()
    if c is not None and c.stages:
        limits = c.limits
        contended = (
            f"contended (limits: {100 * limits.other_share:.0f} % other, {100 * limits.steal_share:.0f} % steal, "
            f"{limits.calibration_ratio:g}x calibration)"
        )
        frame = pd.DataFrame(
            [
                {
                    "stage": s.name,
                    "other programs (% of the cores)": 100 * s.other_share,
                    "stolen by the hypervisor (%)": 100 * s.steal_share,
                    "this run (% of the cores)": 100 * s.own_share,
                    "calibration loop (x its best)": s.calibration_ratio,
                    "slowdown it could explain (x)": s.slowdown,
                    contended: "YES" if s.contended else "no",
                    "Why": s.why,
                }
                for s in c.stages
            ]
        )
    return frame


def regression(report: BaselineReport) -> Section:
    """This run against a previous baseline, stage by stage and statistic by statistic, or why not compared."""
    g = report.regression
    tables = ()
    if g is None:
        sentence = "No previous baseline run was given (`baseline_run`), so nothing was compared."
    elif g.empty:
        sentence = "The previous baseline run has no stage in common with this one."
    else:
        sentence = _regression_sentence(g)
        frame = pd.DataFrame(
            {
                "stage": g["stage"],
                "statistic": g["statistic"],
                "baseline_ms": g["baseline_ms"],
                "this run (ms)": g["current_ms"],
                "ratio": g["ratio"],
                "95 % interval": intervals(g, "ratio_low", "ratio_high"),
                "detectable change (%)": 100 * g["detectable"],
                "adjusted p": g["p_adjusted"],
                "verdict": g["verdict"],
            }
        )
        tables = (Table(frame=frame),)
    return Section(
        name="regression",
        title="Regression against a previous baseline",
        about="Every stage × statistic (median, p95) of this run against the previous baseline, judged against "
        "the variation between repetitions of each stage (Welch t on the log of each repetition's "
        "statistic), with the whole table corrected for multiple comparisons by Holm's method (family-wise "
        "error 5 %). A change is flagged only when it exceeds 10 %, its interval excludes no change and the "
        "adjusted p-value is below 0.05. A p95 is compared only when every repetition decides it.",
        sentence=sentence,
        tables=tables,
    )


def _regression_sentence(g: pd.DataFrame) -> str:
    """What was compared, with which correction and how many repetitions, and what it found."""
    k = int(min(g["k_baseline"].min(), g["k_current"].min()))
    text = (
        f"Correction: **{g['correction'].iloc[0]}**; k = **{k}** repetitions per side (at least). "
        f"**{int(g['regressed'].sum())}** significant regression(s), {int(g['improved'].sum())} improvement(s), "
        f"{int((g['verdict'] == 'undecided').sum())} comparison(s) undecided (a tail not decided in every "
        "repetition), "
        f"{int((g['verdict'] == 'cannot tell').sum())} that cannot tell (their detectable change, the smallest "
        "found with 80 % power, exceeds the 10 % that matters, so finding nothing there means nothing)."
    )
    if not g["separable"].all():
        text += (
            " Some stages had one run per side: those comparisons cannot separate machine drift between the "
            "runs from a change, and their intervals were widened by the calibration loop's drift."
        )
    return text


# The report's sections in order: name -> function. The notebook shows each in a cell of its own.
SECTIONS: dict[str, Callable[[BaselineReport], Section]] = {
    "headline": headline,
    # each PRD target, judged on its interval, with the workload that judged it
    "compliance": compliance_section(
        about="*pass* only when the whole 95% interval meets the target; *fail* when it lies wholly "
        "beyond the threshold; *insufficient* when the sample cannot decide. Each target is "
        "judged on the statistic `parameters/thresholds.yaml` defines for it (p95 for "
        "latencies, counting timed-out requests at the timeout) and on the workload named.",
    ),
    # rerank latency by batch size against the PRD target (similarity when no rerank ran), saved for the executive
    "key_figure": Spec(
        name="key_figure",
        draw="baseline_key_figure",
        inputs=lambda report: {
            "stages": report.stages,
            "records": report.records,
            "rerank_ms": report.thresholds["rerank_50_ms"].target,
            "similarity_ms": report.thresholds["similarity_ms"].target,
        },
        otherwise="rerank and similarity latency",
        save_as=KEY_FIGURE,
    ),
    "latency": Spec(
        name="latency",
        title="Latency by stage",
        about="Latency in ms, one request at a time. The latency stages ran as "
        "repetitions in alternating order (see the last column); *successful only* percentiles leave "
        "failed requests out, *with failures* count each failed request at the client timeout (a server "
        "that times out looks slow, not fast). An interval that says *not bounded* had too few samples.",
        table=_stages,
        style="baseline_stages",
    ),
    "warmup": Spec(
        name="warmup",
        about="Warm-up removed per stage and repetition (MSER-5), so the statistics describe the steady state.",
        table=_warmup,
    ),
    "similarity": _latency_figure("similarity", "similarity_ms", "Similarity, one pair per request"),
    "rerank": _latency_figure("rerank", "rerank_50_ms", "Rerank by method and batch size"),
    "quality": quality,
    "methods": methods,
    # the server's memory per document count and over the whole study, and where it was measured
    "memory": Spec(
        name="memory",
        title="Memory",
        about="Resident memory of the server's whole process tree, sampled while it served "
        "back-to-back reranks of each document count.",
        table=lambda report: report.memory.rename(
            columns={"documents": "documents per rerank", "samples": "memory samples"}
        ),
        draw="baseline_memory",
        inputs=lambda report: {
            "memory": report.memory,
            "server": report.server,
            "records": report.records,
            "target_gb": report.thresholds["memory_100_docs_gb"].target,
        },
        otherwise="server memory",
        sentence=lambda report: server_process_sentence(report.run_dir),
        tables_first=True,
    ),
    "cache": Spec(
        name="cache",
        title="Cache effectiveness",
        about="The same reranks three times: every text new (cold), the same "
        "documents with new queries (document embeddings cached), and the identical requests "
        "(every pair in the similarity cache). Hit rates come from the service's `/metrics`.",
        table=_cache,
        empty="cache effectiveness",
        draw="baseline_cache",
        inputs=lambda report: {"cache": report.cache},
        otherwise="cache effectiveness",
        tables_first=True,
    ),
    "reliability": reliability_section,  # its checks, nothing to add
    "contention": Spec(
        name="contention",
        title="Was the machine busy?",
        about="Sampled every 0.5 s during the stages: the CPU other programs used "
        "(beside the service and this study), the hypervisor's steal, and a fixed calibration loop against "
        "its best time in the run. A contended stage is named in the headline; a target that fails by less "
        "than the slowdown it could explain reads insufficient (machine busy).",
        table=_contention,
        empty="contention on the machine",
    ),
    "regression": regression,
}
