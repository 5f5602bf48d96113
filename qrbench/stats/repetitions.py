"""Regression judged across repetitions, with the family of comparisons corrected for multiplicity.

One run against one run cannot tell a change from machine drift: a busy machine makes the same server
10-20 % slower from one run to the next, and resampling the requests of each run treats that drift as
signal. The comparison here works on repetition summaries, as pyperf (worker processes) and Google
benchmark (U-test across repetitions) do:

- k >= 2 repetitions per side (interleaved A/B, or alternating stage repeats; 3 or more recommended):
  the statistic (median, p95, mean) of each repetition, on the log scale, and a Welch t-test of the
  two sides; the ratio current / baseline is the ratio of geometric means with its Welch t interval.
  The between-repetition variance, which contains the drift, is the yardstick. (A Mann-Whitney test on
  3 + 3 summaries cannot reach p < 0.1, so the t-test on logs is used.)
- one run on a side: the comparison cannot separate drift from a change and says so. The ratio's
  interval is built from the two runs' own intervals (order statistics or batch means over n / tau
  effective samples, qrbench.stats.series) and widened on each side by a drift allowance: the larger of
  the calibration-loop ratio's interval ends (median of current / baseline timings of the same fixed
  loop, measured in both runs) or, without calibrations, `drift_allowance`. Its p-value tests a change
  beyond that allowance.
- tail statistics (p90 and above) are compared only when every repetition on both sides decides them
  (an order-statistic interval bounded at 95 %: >= 72 samples for p95); otherwise "undecided".

A change is flagged when the ratio's point estimate passes 1 +- min_effect, its interval excludes 1 and
the (family-adjusted) p-value is below alpha. `adjust_family` applies Holm (family-wise error) or
Benjamini-Hochberg (false discovery rate) over a whole stage x statistic table and names it in each row.

Every row also states its detectable change: the smallest change (a fraction) the two-sided test at level
alpha / m (m comparisons in the family, the first step of Holm; m = 1 before `adjust_family`) would find with
probability `power` (80 %):

    D = exp((t(1 - alpha / 2m, dof) + t(power, dof)) * se) - 1                  with repetitions (Welch dof),
    D = drift x exp((z(1 - alpha / 2m) + z(power)) * se) - 1                    with one run per side,

se being the standard error of the log ratio. A row that finds no change while D exceeds min_effect is
"cannot tell", not "unchanged": it could not have seen a change of the size that matters.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from scipy import stats as _sps

from qrbench.stats._named import named_statistic, percentile_of_name
from qrbench.stats._samples import as_samples
from qrbench.stats.estimate import Estimate
from qrbench.stats.percentiles import percentile_ci
from qrbench.stats.rates import ratio_ci
from qrbench.stats.series import series_mean_ci

__all__ = ["RepeatedComparison", "compare_repetitions", "adjust_p_values", "adjust_family"]

Correction = Literal["holm", "benjamini-hochberg"]
Direction = Literal["lower_is_better", "higher_is_better"]
RepeatedVerdict = Literal["regressed", "improved", "unchanged", "cannot tell", "undecided", "insufficient data"]

_CORRECTION_NAMES = {
    "holm": "Holm (family-wise error)",
    "benjamini-hochberg": "Benjamini-Hochberg (false discovery rate)",
}
# Tail statistics need a decided order-statistic interval per repetition before they are compared.
_TAIL_FROM = 90.0


@dataclass(frozen=True, kw_only=True)
class RepeatedComparison:
    """One statistic of one stage compared between a baseline and a current side (values in `unit`).

    `ratio` is current / baseline (geometric means of the repetition statistics) with its interval at
    confidence 1 - alpha; `p_value` is two-sided (NaN when not computable) and `p_adjusted` the same after
    the family correction named in `correction`. `separable` is False when one side has a single run, so
    drift between runs cannot be told from a change; `drift` is the multiplicative allowance (>= 1) then
    added on each side of the interval (1 with repetitions).
    """

    label: str
    statistic: str
    direction: Direction
    unit: str
    k_baseline: int
    k_current: int
    n_baseline: int
    n_current: int
    baseline_value: float
    current_value: float
    ratio: Estimate
    p_value: float
    p_adjusted: float
    correction: str
    separable: bool
    drift: float
    min_effect: float
    alpha: float
    verdict: RepeatedVerdict
    summary: str
    detectable: float = math.inf  # smallest change found with `power` (a fraction; inf: not computable)
    power: float = 0.80
    log_se: float = math.nan  # standard error of the log ratio
    dof: float = math.inf  # degrees of freedom of its t distribution (inf: normal)
    family_size: int = 1

    @property
    def regressed(self) -> bool:
        return self.verdict == "regressed"

    @property
    def improved(self) -> bool:
        return self.verdict == "improved"


def adjust_p_values(p_values: Iterable[float], *, method: Correction = "holm") -> np.ndarray:
    """Holm step-down or Benjamini-Hochberg step-up adjusted p-values (capped at 1), in input order.

    NaN entries (comparisons that could not be made) stay NaN and do not count in the family size.
    """
    p = np.asarray(list(p_values), dtype=float)
    if method not in _CORRECTION_NAMES:
        raise ValueError(f"method must be 'holm' or 'benjamini-hochberg'; got {method!r}.")
    if p.ndim != 1:
        raise ValueError(f"p_values must be one-dimensional; got shape {p.shape}.")
    valid = ~np.isnan(p)
    if np.any((p[valid] < 0) | (p[valid] > 1)):
        raise ValueError("p_values must lie between 0 and 1 (or be NaN for comparisons not made).")
    out = np.full(p.shape, np.nan)
    q = p[valid]
    m = q.size
    if m == 0:
        return out
    order = np.argsort(q, kind="stable")
    ranked = q[order]
    if method == "holm":
        adjusted = np.maximum.accumulate((m - np.arange(m)) * ranked)
    else:
        adjusted = np.minimum.accumulate(m / np.arange(m, 0, -1) * ranked[::-1])[::-1]
    result = np.empty(m)
    result[order] = np.minimum(adjusted, 1.0)
    out[valid] = result
    return out


def _decide(
    ratio: Estimate, p: float, min_effect: float, alpha: float, direction: Direction, detectable: float = 0.0
) -> tuple[RepeatedVerdict, str]:
    """regressed / improved / unchanged / cannot tell (no change found, but none of min_effect could have
    been), and the way it changed ("worse", "better" or "")."""
    up = ratio.value > 1.0 + min_effect and ratio.low > 1.0
    down = ratio.value < 1.0 - min_effect and ratio.high < 1.0
    worse, better = (up, down) if direction == "lower_is_better" else (down, up)
    significant = math.isfinite(p) and p < alpha
    if worse and significant:
        return "regressed", "worse"
    if better and significant:
        return "improved", "better"
    if not detectable <= min_effect:
        return "cannot tell", ""
    return "unchanged", ""


def _detectable(log_se: float, dof: float, drift: float, alpha: float, power: float, family_size: int) -> float:
    """The smallest change (a fraction) found with `power` by the two-sided test at alpha / family_size."""
    if not math.isfinite(log_se) or log_se < 0:
        return math.inf
    level = 1.0 - alpha / (2.0 * family_size)
    if math.isfinite(dof):
        k = float(_sps.t.ppf(level, dof) + _sps.t.ppf(power, dof))
    else:
        k = float(_sps.norm.ppf(level) + _sps.norm.ppf(power))
    return math.expm1(math.log(drift) + k * log_se)


def _summary(r: RepeatedComparison) -> str:
    if r.verdict in ("undecided", "insufficient data"):
        return r.summary
    prefix = f"{r.label}: " if r.label else ""
    detail = (
        f"current {r.current_value:.4g} {r.unit} against baseline {r.baseline_value:.4g} {r.unit}, ratio "
        f"{r.ratio.value:.3f} ({r.ratio.confidence:.0%} interval {r.ratio.low:.3f}-{r.ratio.high:.3f}), "
        f"p = {r.p_value:.2g}, adjusted p = {r.p_adjusted:.2g} ({r.correction})"
    )
    if r.separable:
        basis = f"judged against the variation between {r.k_baseline} and {r.k_current} repetitions"
    else:
        basis = (
            "one run per side cannot separate machine drift between the runs from a change, so the "
            f"interval was widened by a drift allowance of x{r.drift:.3g}; repeat each side 3 or more times "
            "(interleaved) to judge it properly"
        )
    detail += f"; detectable change {r.detectable:.0%} with {r.power:.0%} power"
    if r.verdict in ("regressed", "improved"):
        way = "worse" if r.verdict == "regressed" else "better"
        head = f"The {r.statistic} got {abs(r.ratio.value - 1):.1%} {way}"
    elif r.verdict == "cannot tell":
        head = (
            f"Cannot tell whether the {r.statistic} changed by {r.min_effect:.0%}: no change was found, but this "
            f"comparison could only have seen a change of {r.detectable:.0%} or more"
        )
    else:
        head = (
            f"No established change of the {r.statistic} (flagged only beyond {r.min_effect:.0%}, with the "
            f"interval excluding 1 and the adjusted p-value below {r.alpha:g})"
        )
    return f"{prefix}{head}: {detail}; {basis}."


def _log_interval_sd(est: Estimate) -> float:
    """Standard error of log(statistic) implied by a symmetric-in-log interval (NaN when undecided)."""
    if not est.decided or est.low <= 0 or est.value <= 0:
        return math.nan
    z = float(_sps.norm.ppf(0.5 + est.confidence / 2.0))
    return (math.log(est.high) - math.log(est.low)) / (2.0 * z)


def _drift_factor(
    calibration_baseline: object | None, calibration_current: object | None, allowance: float, confidence: float
) -> tuple[float, str]:
    """Multiplicative drift allowance (>= 1) and how it was obtained."""
    if calibration_baseline is None or calibration_current is None:
        return 1.0 + allowance, f"no calibration in both runs, the default allowance {allowance:.0%}"
    cal_b = as_samples(calibration_baseline, name="calibration_baseline")
    cal_c = as_samples(calibration_current, name="calibration_current")
    drift = ratio_ci(cal_c, cal_b, np.median, confidence=confidence, n_resamples=2000, seed=0)
    if not drift.decided or drift.low <= 0:
        return 1.0 + allowance, f"an undecided calibration ratio, the default allowance {allowance:.0%}"
    factor = max(drift.high, 1.0 / drift.low, 1.0)
    return factor, f"the calibration loop's ratio {drift.value:.3f} ({drift.low:.3f}-{drift.high:.3f})"


def _check_settings(direction: str, min_effect: float, alpha: float, drift_allowance: float, power: float) -> None:
    limits = (("min_effect", min_effect, 1.0), ("alpha", alpha, 0.5), ("drift_allowance", drift_allowance, 1.0))
    for name, value, upper in limits:
        if isinstance(value, bool) or not isinstance(value, int | float) or not (0 <= value < upper):
            raise ValueError(f"{name} must be a number from 0 to below {upper:g}; got {value!r}.")
    if direction not in ("lower_is_better", "higher_is_better"):
        raise ValueError(f"direction must be 'lower_is_better' or 'higher_is_better'; got {direction!r}.")
    if isinstance(power, bool) or not isinstance(power, int | float) or not (0 < power < 1):
        raise ValueError(f"power must be a number between 0 and 1 (exclusive); got {power!r}.")


def _repetitions(side: Sequence[object], name: str) -> list[np.ndarray]:
    """The non-empty repetitions of one side, each as a sample array."""
    reps = [as_samples(r, name=f"{name} repetition {i}") for i, r in enumerate(side)]
    return [r for r in reps if r.size]


def _not_comparable(
    statistic: str, q: float | None, reps_b: list[np.ndarray], reps_c: list[np.ndarray]
) -> tuple[RepeatedVerdict, str] | None:
    """(verdict, why) when the repetitions cannot be compared at all: too few samples, or an undecided tail."""
    if not reps_b or not reps_c or min(r.size for r in reps_b + reps_c) < 2:
        return (
            "insufficient data",
            f"cannot compare the {statistic}: each side needs at least one "
            f"repetition of 2 or more samples (baseline {len(reps_b)}, current {len(reps_c)} non-empty repetitions).",
        )
    if q is not None and q >= _TAIL_FROM:
        short = [r.size for r in reps_b + reps_c if not percentile_ci(r, q).decided]
        if short:
            return (
                "undecided",
                f"the {statistic} is not decided in every repetition (smallest has "
                f"{min(short)} samples; a 95 % order-statistic interval of the {statistic} needs more), "
                "so the tail is not compared.",
            )
    return None


@dataclass(frozen=True)
class _LogRatio:
    """The test of the log ratio d = log(current / baseline): p-value, interval half-width, standard error."""

    p: float
    half: float
    se: float
    dof: float
    method: str
    separable: bool
    drift: float = 1.0


def _welch(log_b: np.ndarray, log_c: np.ndarray, d: float, alpha: float, statistic: str) -> _LogRatio:
    """Two or more repetitions per side: Welch's t on the repetitions' log statistics."""
    k_b, k_c = len(log_b), len(log_c)
    var_b, var_c = log_b.var(ddof=1) / k_b, log_c.var(ddof=1) / k_c
    se = math.sqrt(var_b + var_c)
    dof = math.inf
    if se == 0.0:
        p, half = (1.0 if d == 0.0 else 0.0), 0.0
    else:
        dof = (var_b + var_c) ** 2 / (var_b**2 / (k_b - 1) + var_c**2 / (k_c - 1))
        p = float(2.0 * _sps.t.sf(abs(d) / se, dof))
        half = float(_sps.t.ppf(1.0 - alpha / 2.0, dof)) * se
    method = f"Welch t on log repetition {statistic}s ({k_b} vs {k_c} repetitions)"
    return _LogRatio(p=p, half=half, se=se, dof=dof, method=method, separable=True)


def _single_run(
    reps_b: list[np.ndarray],
    reps_c: list[np.ndarray],
    d: float,
    q: float | None,
    alpha: float,
    time_ordered: bool,
    drift: tuple[float, str],
) -> _LogRatio | None:
    """One run on a side: the within-run intervals of both sides, widened by the drift allowance (None when a
    side's interval is not decided)."""
    factor, how = drift
    pooled_b, pooled_c = np.concatenate(reps_b), np.concatenate(reps_c)
    if q is None:
        # A series without autocorrelation gets tau = 1, i.e. the independent-sample t interval.
        est_b, est_c = series_mean_ci(pooled_b), series_mean_ci(pooled_c)
    else:
        est_b = percentile_ci(pooled_b, q, time_ordered=time_ordered)
        est_c = percentile_ci(pooled_c, q, time_ordered=time_ordered)
    se = math.hypot(_log_interval_sd(est_b), _log_interval_sd(est_c))
    if not math.isfinite(se):
        return None
    allowance = math.log(factor)
    z = float(_sps.norm.ppf(1.0 - alpha / 2.0))
    beyond = max(abs(d) - allowance, 0.0)  # the change beyond what drift could explain
    p = 1.0 if se == 0.0 and beyond == 0.0 else float(2.0 * _sps.norm.sf(beyond / max(se, 1e-300)))
    method = f"one run per side: within-run intervals widened by drift x{factor:.3g} from {how}"
    return _LogRatio(p=p, half=z * se + allowance, se=se, dof=math.inf, method=method, separable=False, drift=factor)


def _unresolved(
    common: dict[str, Any], verdict: RepeatedVerdict, why: str, b_value: float, c_value: float
) -> RepeatedComparison:
    """A comparison that stopped before a ratio: its verdict and the sentence why."""
    confidence = 1.0 - common["alpha"]
    nan_ratio = Estimate(
        value=math.nan, low=-math.inf, high=math.inf, confidence=confidence, n=0, method="not computed", decided=False
    )
    label = common["label"]
    return RepeatedComparison(
        **common,
        baseline_value=b_value,
        current_value=c_value,
        ratio=nan_ratio,
        p_value=math.nan,
        p_adjusted=math.nan,
        correction="none",
        separable=min(common["k_baseline"], common["k_current"]) >= 2,
        drift=1.0,
        verdict=verdict,
        summary=f"{label + ': ' if label else ''}{why}",
    )


def compare_repetitions(
    baseline: Sequence[object],
    current: Sequence[object],
    *,
    statistic: str = "median",
    label: str = "",
    direction: Direction = "lower_is_better",
    min_effect: float = 0.10,
    alpha: float = 0.05,
    calibration_baseline: object | None = None,
    calibration_current: object | None = None,
    drift_allowance: float = 0.10,
    time_ordered: bool = True,
    unit: str = "ms",
    power: float = 0.80,
) -> RepeatedComparison:
    """Compare `statistic` between repetitions of a baseline and of a current run; see the module docstring.

    `baseline` and `current`: one array per repetition of the per-request values (e.g. latencies in ms of
    one stage), each in time order when `time_ordered` (used only with one run per side). Calibration
    timings (seconds of the same fixed loop, both runs) set the drift allowance for single runs; without
    them `drift_allowance` (a fraction) is used. The p-value is for a family of one: pass the whole table
    through `adjust_family`.
    """
    stat = named_statistic(statistic)
    q = percentile_of_name(statistic)
    _check_settings(direction, min_effect, alpha, drift_allowance, power)
    if isinstance(baseline, str | bytes) or isinstance(current, str | bytes):
        raise ValueError("baseline and current must be sequences of repetitions (one array each).")
    reps_b, reps_c = _repetitions(baseline, "baseline"), _repetitions(current, "current")
    common = dict(
        label=label,
        statistic=statistic,
        direction=direction,
        unit=unit,
        k_baseline=len(reps_b),
        k_current=len(reps_c),
        n_baseline=sum(r.size for r in reps_b),
        n_current=sum(r.size for r in reps_c),
        min_effect=float(min_effect),
        alpha=float(alpha),
        power=float(power),
    )
    stopped = _not_comparable(statistic, q, reps_b, reps_c)
    if stopped is not None:
        return _unresolved(common, *stopped, math.nan, math.nan)
    values_b = np.array([float(stat(r, axis=-1)) for r in reps_b])
    values_c = np.array([float(stat(r, axis=-1)) for r in reps_c])
    if np.any(values_b <= 0) or np.any(values_c <= 0):
        why = f"cannot compare the {statistic}: a repetition's value is not positive, so the ratio is not defined."
        return _unresolved(common, "insufficient data", why, math.nan, math.nan)
    log_b, log_c = np.log(values_b), np.log(values_c)
    b_value, c_value = float(np.exp(log_b.mean())), float(np.exp(log_c.mean()))
    d = float(log_c.mean() - log_b.mean())
    if len(reps_b) >= 2 and len(reps_c) >= 2:
        test = _welch(log_b, log_c, d, alpha, statistic)
    else:
        drift = _drift_factor(calibration_baseline, calibration_current, drift_allowance, 1.0 - alpha)
        test = _single_run(reps_b, reps_c, d, q, alpha, time_ordered, drift)
        if test is None:
            why = (
                f"the {statistic} of a single run is not decided on both sides, so it is not compared (and one run "
                "per side cannot separate machine drift between the runs from a change: repeat each side 3 or more "
                "times, interleaved)."
            )
            return _unresolved(common, "undecided", why, b_value, c_value)
    return _compared(common, test, d, b_value, c_value)


def _compared(common: dict[str, Any], test: _LogRatio, d: float, b_value: float, c_value: float) -> RepeatedComparison:
    """The comparison with its ratio interval, detectable change and verdict."""
    alpha = common["alpha"]
    ratio = Estimate(
        value=math.exp(d),
        low=math.exp(d - test.half),
        high=math.exp(d + test.half),
        confidence=1.0 - alpha,
        n=min(common["n_baseline"], common["n_current"]),
        method=test.method,
    )
    detectable = _detectable(test.se, test.dof, test.drift, alpha, common["power"], 1)
    verdict, _ = _decide(ratio, test.p, common["min_effect"], alpha, common["direction"], detectable)
    result = RepeatedComparison(
        **common,
        baseline_value=b_value,
        current_value=c_value,
        ratio=ratio,
        p_value=test.p,
        p_adjusted=test.p,
        correction="none (a family of one)",
        separable=test.separable,
        drift=test.drift,
        verdict=verdict,
        summary="",
        detectable=detectable,
        log_se=test.se,
        dof=test.dof,
    )
    return dataclasses.replace(result, summary=_summary(result))


def adjust_family(
    comparisons: Sequence[RepeatedComparison], *, method: Correction = "holm"
) -> tuple[RepeatedComparison, ...]:
    """The comparisons of one table (e.g. every stage x statistic) with adjusted p-values and verdicts.

    Rows that are undecided or lack data keep their verdict and do not count in the family size. Detectable
    changes are restated at alpha / m for the m rows compared.
    """
    p = adjust_p_values([c.p_value for c in comparisons], method=method)
    m = int(np.count_nonzero(~np.isnan(p)))
    name = f"{_CORRECTION_NAMES[method]} over {m} comparisons"
    out = []
    for c, p_adj in zip(comparisons, p, strict=True):
        if c.verdict in ("undecided", "insufficient data"):
            out.append(dataclasses.replace(c, correction=name))
            continue
        detectable = _detectable(c.log_se, c.dof, c.drift, c.alpha, c.power, max(m, 1))
        verdict, _ = _decide(c.ratio, float(p_adj), c.min_effect, c.alpha, c.direction, detectable)
        row = dataclasses.replace(
            c, p_adjusted=float(p_adj), correction=name, verdict=verdict, detectable=detectable, family_size=max(m, 1)
        )
        out.append(dataclasses.replace(row, summary=_summary(row)))
    return tuple(out)
