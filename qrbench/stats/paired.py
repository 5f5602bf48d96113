"""A/B comparison on paired blocks: the change with its interval, the smallest change the run could detect,
and a three-way verdict.

Two targets A and B are measured in one run, in short alternating blocks paired two by two in time order
(blocks 0-1, 2-3, ...), every pair one A and one B block measured moments apart, in a random order drawn
for each pair (`pair_schedule`: AB or BA; randomised ABBA). For one row (a request kind and a statistic of
its latencies, e.g. the median of the block's rerank latencies) each pair gives the difference
d_i = log(B_i) - log(A_i). Whatever the machine does slowly (drift, a long episode of contention) hits both
blocks of a pair and cancels in d_i; because the order of each pair is random, a trend or an episode that
starts inside a pair adds spread to d_i but no bias.

Why each pair's order is drawn on its own rather than fixed ABBA quadruples: in ABBA the two middle blocks
always belong to the same arm, so an episode of contention covering them pushes both pairs' differences
the same way; the pairs are then correlated and the t-test below, which takes them as independent, flags
identical targets too often (measured with `drifting_machine`: 5.5-6.6 % per row at a 5 % level). With
independent orders, the effect of an episode on neighbouring pairs has a random sign, and the rate is 4-5 %.

With n pairs, mean d and standard deviation s of the d_i, se = s / sqrt(n), df = n - 1:

- change: B / A = exp(d), with the 95 % interval exp(d -+ t(0.975, df) se) (confidence 1 - alpha);
- p-value: one-sided paired t-test that B is slower, P(T_df > d / se);
- detectable change (80 % power): the smallest slowdown a one-sided test at level alpha / m finds with
  probability `power`, from the usual t approximation

      D = exp((t(1 - alpha / m, df) + t(power, df)) * se) - 1,

  where m is the number of rows judged together (alpha / m is the first step of Holm's procedure, so D
  holds for the whole family). D is a fraction: 0.08 means an 8 % slowdown.

Verdicts (per row; `judge_family` applies Holm over the rows so that identical targets are flagged in at
most alpha of runs, family-wise):

- *regression*: B is slower (Holm-adjusted p < alpha) and a slowdown of the threshold's size lies within
  the interval (its upper end reaches 1 + threshold);
- *no regression of that size*: not a regression, and D <= threshold, so a slowdown of the threshold's
  size would have been found with at least `power` probability;
- *cannot tell*: not a regression, and D > threshold (or fewer than 2 pairs, or no spread at all between
  the pairs, which leaves the noise unknown): the run could not have seen a slowdown of the threshold's size.

The overall verdict is *regression* if any row is one, else *cannot tell* if any row is one, else *no
regression of that size*.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats as _sps

from qrbench.stats.estimate import Estimate
from qrbench.stats.repetitions import adjust_p_values

__all__ = [
    "ABVerdict",
    "AB_VERDICTS",
    "PairedComparison",
    "pair_schedule",
    "block_pairs",
    "detectable_change",
    "paired_comparison",
    "judge_family",
    "overall_ab_verdict",
]

ABVerdict = Literal["regression", "no regression of that size", "cannot tell"]
AB_VERDICTS: tuple[ABVerdict, ...] = ("regression", "no regression of that size", "cannot tell")


@dataclass(frozen=True, kw_only=True)
class PairedComparison:
    """One row (a statistic of one request kind) of an A/B comparison on paired blocks.

    a_value and b_value: geometric means of the block statistics (in `unit`). change: B / A with its
    (1 - alpha) interval. detectable: the smallest slowdown (a fraction, 0.08 = 8 %) found with `power`
    at level alpha / family_size; inf when it cannot be computed. p_value: one-sided paired t-test that B
    is slower; p_adjusted: after Holm over the family. n_pairs: pairs with a positive value on both sides.
    log_se: standard error of the mean log difference (NaN when it cannot be estimated).
    """

    label: str
    statistic: str
    unit: str
    n_pairs: int
    a_value: float
    b_value: float
    change: Estimate
    log_se: float
    detectable: float
    p_value: float
    p_adjusted: float
    family_size: int
    threshold: float
    alpha: float
    power: float
    verdict: ABVerdict
    summary: str

    @property
    def change_percent(self) -> float:
        """(B / A - 1) x 100: positive when B is slower."""
        return (self.change.value - 1.0) * 100.0


def pair_schedule(n_pairs: int, *, seed: int = 0) -> tuple[str, ...]:
    """The arm ("A" or "B") of each of 2 x n_pairs blocks: each pair AB or BA, drawn independently at random
    (seeded), so consecutive blocks 2i, 2i + 1 always hold one A and one B. Two pairs in a row make ABBA,
    BAAB, ABAB or BABA; why not always ABBA: see the module docstring."""
    if isinstance(n_pairs, bool) or not isinstance(n_pairs, int) or n_pairs < 1:
        raise ValueError(f"n_pairs must be an integer of at least 1; got {n_pairs!r}.")
    rng = np.random.default_rng(seed)
    first_a = rng.random(n_pairs) < 0.5
    return tuple(arm for a in first_a for arm in (("A", "B") if a else ("B", "A")))


def block_pairs(arms: Sequence[str]) -> tuple[tuple[int, int], ...]:
    """(index of the A block, index of the B block) of each pair of consecutive blocks 2i, 2i + 1.

    A trailing block without its partner is left out; ValueError when a pair does not hold one A and one B.
    """
    pairs = []
    for i in range(0, len(arms) - 1, 2):
        first, second = arms[i], arms[i + 1]
        if {first, second} != {"A", "B"}:
            raise ValueError(
                f"blocks {i} and {i + 1} are {first!r} and {second!r}; each consecutive pair must hold one 'A' and "
                "one 'B' block (see pair_schedule)."
            )
        pairs.append((i, i + 1) if first == "A" else (i + 1, i))
    return tuple(pairs)


def _check_fraction(name: str, value: object, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not (low < value < high):
        raise ValueError(f"{name} must be a number between {low:g} and {high:g} (exclusive); got {value!r}.")
    return float(value)


def detectable_change(
    se: float, n_pairs: int, *, alpha: float = 0.05, power: float = 0.80, family_size: int = 1
) -> float:
    """The smallest slowdown (a fraction) found with `power` by a one-sided paired t-test at alpha / family_size.

    se: standard error of the mean log difference (s / sqrt(n)); n_pairs: the number of pairs (df = n - 1).
    D = exp((t(1 - alpha / m, n - 1) + t(power, n - 1)) * se) - 1; inf with fewer than 2 pairs or no finite se.
    """
    alpha = _check_fraction("alpha", alpha, 0.0, 0.5)
    power = _check_fraction("power", power, 0.0, 1.0)
    if isinstance(family_size, bool) or not isinstance(family_size, int) or family_size < 1:
        raise ValueError(f"family_size must be an integer of at least 1; got {family_size!r}.")
    if n_pairs < 2 or not math.isfinite(se) or se < 0:
        return math.inf
    df = n_pairs - 1
    k = float(_sps.t.ppf(1.0 - alpha / family_size, df) + _sps.t.ppf(power, df))
    return math.expm1(k * se)


def _kept_logs(a: Sequence[float], b: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """log(a) and log(b) over the pairs where both values are finite and positive."""
    a_arr, b_arr = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a_arr.ndim != 1 or a_arr.shape != b_arr.shape:
        raise ValueError(
            f"a and b must be one-dimensional and of equal length (one value per pair); got shapes "
            f"{a_arr.shape} and {b_arr.shape}."
        )
    keep = np.isfinite(a_arr) & np.isfinite(b_arr) & (a_arr > 0) & (b_arr > 0)
    return np.log(a_arr[keep]), np.log(b_arr[keep])


def _untested_change(d: np.ndarray, confidence: float) -> tuple[Estimate, str]:
    """The undecided change with fewer than 2 pairs or no spread between them (log differences `d`), and why."""
    n = int(d.size)
    mean = float(d.mean()) if n else math.nan
    change = Estimate(
        value=math.exp(mean) if n else math.nan,
        low=0.0,
        high=math.inf,
        confidence=confidence,
        n=n,
        method="paired blocks: too few pairs or no spread between them",
        decided=False,
    )
    why = (
        f"{n} usable pair(s) of blocks: at least 2 are needed to estimate the noise"
        if n < 2
        else f"the {n} pairs differ by exactly the same amount, so the run's noise cannot be estimated"
    )
    return change, why


def _paired_t(d: np.ndarray, s: float, alpha: float, statistic: str) -> tuple[Estimate, float, float]:
    """The change with its paired t interval, the standard error of the mean log difference and the one-sided
    p-value that B is slower (log differences `d` with standard deviation s > 0)."""
    n = int(d.size)
    mean = float(d.mean())
    se = s / math.sqrt(n)
    df = n - 1
    half = float(_sps.t.ppf(1.0 - alpha / 2.0, df)) * se
    p = float(_sps.t.sf(mean / se, df))
    change = Estimate(
        value=math.exp(mean),
        low=math.exp(mean - half),
        high=math.exp(mean + half),
        confidence=1.0 - alpha,
        n=n,
        method=f"paired t on log block {statistic}s ({n} pairs)",
    )
    return change, se, p


def paired_comparison(
    a: Sequence[float],
    b: Sequence[float],
    *,
    label: str = "",
    statistic: str = "median",
    unit: str = "ms",
    threshold: float = 0.10,
    alpha: float = 0.05,
    power: float = 0.80,
    family_size: int = 1,
) -> PairedComparison:
    """Compare paired block statistics a[i] (arm A) and b[i] (arm B) of the same pair i; see the module docstring.

    Pairs where either value is missing (NaN) or not positive are left out. A family of one is judged as is;
    pass the rows of one run through `judge_family` to correct for their number.
    """
    threshold = _check_fraction("threshold", threshold, 0.0, 10.0)
    alpha = _check_fraction("alpha", alpha, 0.0, 0.5)
    power = _check_fraction("power", power, 0.0, 1.0)
    log_a, log_b = _kept_logs(a, b)
    n = int(log_a.size)
    d = log_b - log_a
    s = float(d.std(ddof=1)) if n >= 2 else math.nan
    tested = n >= 2 and s > 0
    if tested:
        change, se, p = _paired_t(d, s, alpha, statistic)
        detectable = detectable_change(se, n, alpha=alpha, power=power, family_size=family_size)
    else:
        change, why = _untested_change(d, 1.0 - alpha)
        se, p, detectable = math.nan, math.nan, math.inf
    row = PairedComparison(
        label=label,
        statistic=statistic,
        unit=unit,
        n_pairs=n,
        a_value=float(np.exp(log_a.mean())) if n else math.nan,
        b_value=float(np.exp(log_b.mean())) if n else math.nan,
        change=change,
        log_se=se,
        detectable=detectable,
        p_value=p,
        p_adjusted=p,
        family_size=family_size,
        threshold=threshold,
        alpha=alpha,
        power=power,
        verdict="cannot tell",
        summary="",
    )
    if not tested:
        return dataclasses.replace(row, summary=f"{_prefix(row)}cannot tell: {why}.")
    return _decided(row, p)


def _prefix(row: PairedComparison) -> str:
    return f"{row.label} {row.statistic}: " if row.label else f"{row.statistic}: "


def _decided(row: PairedComparison, p_adjusted: float) -> PairedComparison:
    """The row with its verdict and sentence for an adjusted p-value."""
    if math.isnan(row.p_value):
        return dataclasses.replace(row, p_adjusted=p_adjusted)
    regression = p_adjusted < row.alpha and row.change.high >= 1.0 + row.threshold
    if regression:
        verdict: ABVerdict = "regression"
    elif row.detectable <= row.threshold:
        verdict = "no regression of that size"
    else:
        verdict = "cannot tell"
    change = row.change.value - 1.0
    way = "slower" if change >= 0 else "faster"
    detail = (
        f"B {abs(change):.1%} {way} than A ({row.b_value:.3g} against {row.a_value:.3g} {row.unit}; "
        f"{row.change.confidence:.0%} interval {row.change.low - 1:+.1%} to {row.change.high - 1:+.1%}), "
        f"detectable change {row.detectable:.1%} with {row.power:.0%} power over {row.n_pairs} pairs, "
        f"adjusted p = {p_adjusted:.2g}"
    )
    if verdict == "regression":
        head = f"regression beyond {row.threshold:.0%}"
    elif verdict == "no regression of that size":
        head = f"no regression of {row.threshold:.0%} or more"
    else:
        head = f"cannot tell (this run could only have seen a slowdown of {row.detectable:.0%} or more)"
    row = dataclasses.replace(row, p_adjusted=p_adjusted, verdict=verdict)
    return dataclasses.replace(row, summary=f"{_prefix(row)}{head}: {detail}.")


def judge_family(rows: Sequence[PairedComparison]) -> tuple[PairedComparison, ...]:
    """The rows of one run judged together: detectable changes at alpha / m and Holm-adjusted p-values,
    where m counts the rows that could be tested (rows without a p-value stay *cannot tell*)."""
    p = adjust_p_values([r.p_value for r in rows], method="holm")
    m = max(int(np.count_nonzero(~np.isnan(p))), 1)
    out = []
    for row, p_adj in zip(rows, p, strict=True):
        if math.isnan(row.p_value):
            out.append(dataclasses.replace(row, family_size=m))
            continue
        detectable = detectable_change(row.log_se, row.n_pairs, alpha=row.alpha, power=row.power, family_size=m)
        out.append(_decided(dataclasses.replace(row, family_size=m, detectable=detectable), float(p_adj)))
    return tuple(out)


def overall_ab_verdict(rows: Sequence[PairedComparison]) -> ABVerdict:
    """regression if any row is one, else cannot tell if any row is (or there are no rows), else no regression."""
    verdicts = {r.verdict for r in rows}
    if "regression" in verdicts:
        return "regression"
    if not rows or "cannot tell" in verdicts:
        return "cannot tell"
    return "no regression of that size"
