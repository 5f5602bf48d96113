"""Pass / warn / fail verdicts of estimates against targets, decided on the confidence interval.

For a "below" metric (latency, memory, CPU) with target <= threshold:

- pass: the whole interval is below the target (high < target);
- fail: the whole interval is above the threshold, the worse limit (low > threshold), which an
  undecided estimate can also establish from its finite low bound;
- insufficient: no samples, or the interval is undecided, so a pass cannot be told from a warn;
- warn: anything else (the interval straddles the target or the threshold, or lies between them).

"above" metrics (throughput, success ratio, cache hit rate) mirror this. When threshold == target
(a spec that gives only a target) an interval entirely beyond the target fails and one that straddles
it warns.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from qrbench.stats.estimate import Estimate

__all__ = ["Threshold", "Verdict", "Judgement", "judge", "overall", "thresholds_from_mapping", "interval_change"]

Direction = Literal["below", "above"]


class Verdict(StrEnum):
    """Outcome of judging one metric, or a whole run."""

    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    INSUFFICIENT = "insufficient"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True, kw_only=True)
class Threshold:
    """A target and a worse limit for one metric, in `unit`.

    direction "below": the metric should stay below `target`; above `threshold` it fails
    (threshold >= target). direction "above": it should stay above `target`; below `threshold` it
    fails (threshold <= target).
    """

    metric: str
    target: float
    threshold: float
    direction: Direction
    unit: str = ""
    statistic: str = ""
    kind: str = ""
    judged_by: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.metric, str) or not self.metric:
            raise ValueError(f"Threshold.metric must be a non-empty name; got {self.metric!r}.")
        for name in ("target", "threshold"):
            if not _is_number(getattr(self, name)):
                raise ValueError(
                    f"Threshold {self.metric!r}: {name} must be a finite number; got {getattr(self, name)!r}."
                )
        if self.direction not in ("below", "above"):
            raise ValueError(
                f"Threshold {self.metric!r}: direction must be 'below' or 'above'; got {self.direction!r}."
            )
        if self.direction == "below" and self.threshold < self.target:
            raise ValueError(
                f"Threshold {self.metric!r}: for a 'below' metric the threshold ({self.threshold}) "
                f"must be at least the target ({self.target}), since it is the worse limit."
            )
        if self.direction == "above" and self.threshold > self.target:
            raise ValueError(
                f"Threshold {self.metric!r}: for an 'above' metric the threshold ({self.threshold}) "
                f"must be at most the target ({self.target}), since it is the worse limit."
            )
        if not isinstance(self.unit, str):
            raise ValueError(f"Threshold {self.metric!r}: unit must be a string; got {self.unit!r}.")
        for name in ("statistic", "kind"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"Threshold {self.metric!r}: {name} must be a string; got {getattr(self, name)!r}.")
        if not isinstance(self.judged_by, tuple) or not all(isinstance(w, str) and w for w in self.judged_by):
            raise ValueError(
                f"Threshold {self.metric!r}: judged_by must be a tuple of workload kinds such as "
                f"('open', 'step'); got {self.judged_by!r}."
            )

    def can_be_judged_by(self, workload_kind: str) -> bool:
        """Whether a workload of this kind ("open", "closed", "step", ...) may judge the target."""
        return not self.judged_by or workload_kind in self.judged_by


@dataclass(frozen=True, kw_only=True)
class Judgement:
    """The verdict on one metric, with the estimate it rests on and a sentence saying why."""

    metric: str
    estimate: Estimate
    target: float
    threshold: float
    direction: Direction
    unit: str
    verdict: Verdict
    reason: str
    workload: str = ""
    statistic: str = ""
    kind: str = ""


def quantity_text(value: float, unit: str) -> str:
    """A number with its unit for a sentence: "10,243 ms", "99.5 %", "not bounded", "not measured"."""
    # An unbounded side of an interval is said in words, never "inf"; large numbers without an exponent.
    if math.isinf(value):
        return "not bounded"
    if math.isnan(value):
        return "not measured"
    # Fractions read better as percentages in a sentence ("99.5 %", not "0.995 fraction").
    if unit == "fraction":
        return f"{100 * value:.4g} %"
    text = f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:.4g}"
    return f"{text} {unit}" if unit else text


def judge(estimate: Estimate, threshold: Threshold, *, workload: str = "") -> Judgement:
    """Judge `estimate` (in `threshold.unit`) against `threshold` by its confidence interval.

    `workload` names what produced the estimate (e.g. "load_normal: closed, 50 users"); it is carried
    into the Judgement and its reason so a verdict table can say which workload judged each target.
    """
    unit, low, high = threshold.unit, estimate.low, estimate.high
    interval = f"the {estimate.confidence:.0%} interval [{quantity_text(low, unit)}, {quantity_text(high, unit)}]"
    below = threshold.direction == "below"
    good_word, bad_word = ("below", "above") if below else ("above", "below")
    limit = f"the threshold {quantity_text(threshold.threshold, unit)}"
    goal = f"the target {quantity_text(threshold.target, unit)}"

    failed = (low > threshold.threshold) if below else (high < threshold.threshold)
    passed = (high < threshold.target) if below else (low > threshold.target)
    if estimate.n == 0:
        verdict, why = Verdict.INSUFFICIENT, "there are no samples to judge"
    elif math.isnan(estimate.value):
        verdict, why = Verdict.INSUFFICIENT, f"{estimate.n} sample(s) do not define an estimate"
    elif failed:
        verdict, why = Verdict.FAIL, f"{interval} lies entirely {bad_word} {limit}"
    elif not estimate.decided:
        verdict = Verdict.INSUFFICIENT
        because = estimate.method.partition("undecided: ")[2] or f"{estimate.n} samples"
        why = f"{interval} is undecided ({because}), so it cannot be compared with {goal}"
    elif passed:
        verdict, why = Verdict.PASS, f"{interval} lies entirely {good_word} {goal}"
    else:
        verdict = Verdict.WARN
        where = (
            "straddles" if (low <= threshold.target <= high or low <= threshold.threshold <= high) else ("lies between")
        )
        if where == "straddles":
            why = f"{interval} is not wholly {good_word} {goal} and not wholly {bad_word} {limit}"
        else:
            why = f"{interval} lies between {goal} and {limit}"
    by = f" [judged by {workload}]" if workload else ""
    reason = f"{threshold.metric}: {why} (point estimate {quantity_text(estimate.value, unit)}){by}."
    return Judgement(
        metric=threshold.metric,
        estimate=estimate,
        target=threshold.target,
        threshold=threshold.threshold,
        direction=threshold.direction,
        unit=unit,
        verdict=verdict,
        reason=reason,
        workload=workload,
        statistic=threshold.statistic,
        kind=threshold.kind,
    )


def overall(judgements: Iterable[Judgement]) -> Verdict:
    """fail if any failed; else warn if any warned or had insufficient data; else pass.

    No judgements at all is "insufficient": an empty report must not read as a pass.
    """
    verdicts = [j.verdict for j in judgements]
    if not verdicts:
        return Verdict.INSUFFICIENT
    if Verdict.FAIL in verdicts:
        return Verdict.FAIL
    if Verdict.WARN in verdicts or Verdict.INSUFFICIENT in verdicts:
        return Verdict.WARN
    return Verdict.PASS


_KEYS = ("target", "threshold", "direction", "unit", "statistic", "kind", "judged_by")


def thresholds_from_mapping(mapping: Mapping[str, object], *, where: str = "thresholds") -> dict[str, Threshold]:
    """Validate one section of a thresholds file, e.g. `{"p95_ms": {"target": 500, "threshold": 750,
    "direction": "below", "unit": "ms"}}`, into Thresholds keyed by metric.

    `threshold` defaults to `target` and `unit` to "". The definition of a target also says how it is
    judged, so every study judges it the same way: `statistic` (e.g. "p95", "mean", "max", "rate"),
    `kind` (the request kind it applies to, e.g. "rerank-50"; "" = all requests) and `judged_by` (a
    workload kind or list of them, e.g. [open, step]; absent = any workload). `where` prefixes the key in
    error messages (e.g. "thresholds.yaml load"). Raises ValueError naming the offending key.
    """
    if not isinstance(mapping, Mapping):
        raise ValueError(f"{where} must be a mapping of metric name to settings; got {type(mapping).__name__}.")
    result: dict[str, Threshold] = {}
    for metric, spec in mapping.items():
        key = f"{where}.{metric}"
        if not isinstance(metric, str) or not metric:
            raise ValueError(f"{where}: metric names must be non-empty strings; got {metric!r}.")
        if not isinstance(spec, Mapping):
            raise ValueError(
                f"{key} must be a mapping with target, direction and optionally threshold and unit; got {spec!r}."
            )
        unknown = sorted(str(k) for k in spec if k not in _KEYS)
        if unknown:
            raise ValueError(f"{key} has unknown key(s) {', '.join(unknown)}; valid keys are {', '.join(_KEYS)}.")
        for required in ("target", "direction"):
            if required not in spec:
                raise ValueError(f"{key} is missing {required!r}.")
        target = spec["target"]
        limit = spec.get("threshold", target)
        for name, value in (("target", target), ("threshold", limit)):
            if not _is_number(value):
                raise ValueError(f"{key}.{name} must be a finite number; got {value!r}.")
        direction = spec["direction"]
        if direction not in ("below", "above"):
            raise ValueError(f"{key}.direction must be 'below' or 'above'; got {direction!r}.")
        unit = spec.get("unit", "")
        if not isinstance(unit, str):
            raise ValueError(f"{key}.unit must be a string such as 'ms'; got {unit!r}.")
        for name, example in (("statistic", "'p95'"), ("kind", "'rerank-50'")):
            if not isinstance(spec.get(name, ""), str):
                raise ValueError(f"{key}.{name} must be a string such as {example}; got {spec[name]!r}.")
        judged_by = spec.get("judged_by", ())
        judged_by = (judged_by,) if isinstance(judged_by, str) else judged_by
        if not isinstance(judged_by, list | tuple) or not all(isinstance(w, str) and w for w in judged_by):
            raise ValueError(
                f"{key}.judged_by must be a workload kind or a list of them, e.g. [open, step]; "
                f"got {spec['judged_by']!r}."
            )
        try:
            result[metric] = Threshold(
                metric=metric,
                target=float(target),
                threshold=float(limit),
                direction=direction,
                unit=unit,
                statistic=spec.get("statistic", ""),
                kind=spec.get("kind", ""),
                judged_by=tuple(judged_by),
            )
        except ValueError as exc:
            raise ValueError(f"{key}: {exc}") from exc
    return result


def interval_change(
    previous: tuple[float, float, float], current: tuple[float, float, float], direction: Direction = "below"
) -> Literal["worse", "better", "unresolved"]:
    """How an estimate moved between two runs, judged by their (value, low, high) confidence intervals alone.

    "worse" or "better" only when the intervals do not overlap: the current interval lies wholly above or
    below the previous one (for a "below" metric, above is worse). Disjoint 95 % intervals are a
    conservative test (two such estimates differ at well under 5 %). Overlapping intervals, or a bound
    that is missing (NaN) or unbounded on the side that matters, give "unresolved". One run per side
    cannot tell a change of the system from a drift of the machine; the caller must say so.
    """
    if direction not in ("below", "above"):
        raise ValueError(f"direction is {direction!r}; it must be 'below' or 'above'.")
    _, prev_low, prev_high = previous
    _, cur_low, cur_high = current
    higher = math.isfinite(cur_low) and math.isfinite(prev_high) and cur_low > prev_high
    lower = math.isfinite(cur_high) and math.isfinite(prev_low) and cur_high < prev_low
    if not (higher or lower):
        return "unresolved"
    return "worse" if higher == (direction == "below") else "better"
