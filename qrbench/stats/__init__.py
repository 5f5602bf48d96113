"""Statistical analysis of qrbench runs: pure functions, numpy arrays in, frozen results out.

No clock, no I/O, no printing, and nothing imported from the rest of qrbench. Invalid arguments raise
ValueError with a sentence naming the argument; degenerate data (empty, one sample, all equal) gives
undecided estimates or "insufficient" verdicts instead.
"""

from qrbench.stats.censored import CensoredPercentile, LatencyByKind, censored_latency, censored_percentile
from qrbench.stats.compliance import (
    Judgement,
    Threshold,
    Verdict,
    interval_change,
    judge,
    overall,
    quantity_text,
    thresholds_from_mapping,
)
from qrbench.stats.contention import (
    Contention,
    ContentionLimits,
    StageContention,
    explained_by_contention,
    judge_contention,
)
from qrbench.stats.cost import CostModel, cost_model
from qrbench.stats.coverage import CoverageRow, interval_coverage
from qrbench.stats.drifting_machine import DriftingMachine, SimulatedAB, judge_simulated, simulate_ab
from qrbench.stats.estimate import Estimate
from qrbench.stats.leak import LEAK_LIMIT_MB_PER_H, LeakCheck, caches_full_at, leak_check
from qrbench.stats.outages import Outage, outage_windows
from qrbench.stats.paired import (
    AB_VERDICTS,
    ABVerdict,
    PairedComparison,
    block_pairs,
    detectable_change,
    judge_family,
    overall_ab_verdict,
    pair_schedule,
    paired_comparison,
)
from qrbench.stats.percentiles import (
    DEFAULT_PERCENTILES,
    bootstrap_ci,
    percentile_ci,
    percentile_label,
    percentile_table,
)
from qrbench.stats.processes import (
    ReferenceProcess,
    ar1,
    heavy_tailed,
    mm1,
    reference_processes,
    regimes,
    rss_soak,
    stalls,
)
from qrbench.stats.ranking import (
    RankingQuality,
    ndcg_at_k,
    paired_difference,
    ranked_relevance,
    ranking_quality,
    reciprocal_rank,
)
from qrbench.stats.rates import ratio_ci, success_ratio, throughput
from qrbench.stats.reliability import Check, noise_cv, reliability_checks
from qrbench.stats.repetitions import RepeatedComparison, adjust_family, adjust_p_values, compare_repetitions
from qrbench.stats.scaling import USLFit, fit_amdahl, fit_usl, predict
from qrbench.stats.series import (
    LongRunVariance,
    autocorrelation_time,
    correlation_note,
    interval_ranks,
    long_run_variance,
    series_mean_ci,
    series_percentile_taus,
)
from qrbench.stats.warmup import LevelShift, WarmupTrim, trim_first_steady_phase, trim_warmup
from qrbench.stats.workload import (
    LittlesLaw,
    capacity_from_steps,
    closed_offered_rate,
    cpu_share,
    judge_capacity,
    judge_kept_up,
    littles_law,
)

__all__ = [
    "Contention",
    "ContentionLimits",
    "StageContention",
    "judge_contention",
    "quantity_text",
    "explained_by_contention",
    "Estimate",
    "CostModel",
    "cost_model",
    "DEFAULT_PERCENTILES",
    "percentile_ci",
    "percentile_table",
    "percentile_label",
    "bootstrap_ci",
    "throughput",
    "success_ratio",
    "ratio_ci",
    "WarmupTrim",
    "LevelShift",
    "CoverageRow",
    "interval_coverage",
    "ReferenceProcess",
    "reference_processes",
    "mm1",
    "stalls",
    "rss_soak",
    "regimes",
    "heavy_tailed",
    "ar1",
    "trim_warmup",
    "Threshold",
    "Verdict",
    "Judgement",
    "judge",
    "interval_change",
    "overall",
    "thresholds_from_mapping",
    "Check",
    "reliability_checks",
    "noise_cv",
    "Outage",
    "outage_windows",
    "USLFit",
    "fit_usl",
    "fit_amdahl",
    "predict",
    "autocorrelation_time",
    "interval_ranks",
    "series_mean_ci",
    "LongRunVariance",
    "long_run_variance",
    "series_percentile_taus",
    "correlation_note",
    "RepeatedComparison",
    "compare_repetitions",
    "adjust_p_values",
    "adjust_family",
    "CensoredPercentile",
    "LatencyByKind",
    "censored_percentile",
    "censored_latency",
    "trim_first_steady_phase",
    "closed_offered_rate",
    "judge_kept_up",
    "judge_capacity",
    "capacity_from_steps",
    "cpu_share",
    "LittlesLaw",
    "littles_law",
    "LEAK_LIMIT_MB_PER_H",
    "LeakCheck",
    "caches_full_at",
    "leak_check",
    "ranked_relevance",
    "ndcg_at_k",
    "reciprocal_rank",
    "RankingQuality",
    "ranking_quality",
    "paired_difference",
    "ABVerdict",
    "AB_VERDICTS",
    "PairedComparison",
    "pair_schedule",
    "block_pairs",
    "detectable_change",
    "paired_comparison",
    "judge_family",
    "overall_ab_verdict",
    "DriftingMachine",
    "SimulatedAB",
    "simulate_ab",
    "judge_simulated",
]
