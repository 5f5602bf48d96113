"""What a request costs as a function of its size: a fixed part and a part per document.

`cost_model` fits latency = fixed + per_item x items by least squares and gives each coefficient a
t-interval. It is how the bottleneck study tells, from outside a service, whether its time goes into
what every request pays (HTTP, parsing, a model call per request) or into each document (encoding,
scoring), and so which lever saves more.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats as sps

from qrbench.stats.estimate import Estimate

__all__ = ["CostModel", "cost_model"]


@dataclass(frozen=True, slots=True)
class CostModel:
    """latency = fixed + per_item x items, in the unit of the latencies (milliseconds in qrbench).

    n: requests fitted; sizes: distinct item counts among them (two or more are needed to tell the parts
    apart; with one, `per_item` is undecided and `fixed` is the mean latency at that size).
    """

    fixed: Estimate
    per_item: Estimate
    n: int
    sizes: int

    def predict(self, items: float) -> float:
        per = self.per_item.value if math.isfinite(self.per_item.value) else 0.0
        return self.fixed.value + per * items


def _undecided(value: float, n: int, confidence: float, method: str) -> Estimate:
    return Estimate(value=value, low=-math.inf, high=math.inf, confidence=confidence, n=n, method=method, decided=False)


def cost_model(items, latency, *, confidence: float = 0.95) -> CostModel:
    """Fit latency = fixed + per_item x items (ordinary least squares) with t-intervals on both.

    items, latency: arrays of equal length (non-finite latencies are dropped). Fewer than three requests
    or fewer than two distinct sizes give undecided coefficients, never an exception.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie strictly between 0 and 1; got {confidence!r}.")
    x = np.asarray(items, dtype=float).ravel()
    y = np.asarray(latency, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"items and latency must have the same length; got {x.size} and {y.size}.")
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    n, sizes = int(x.size), int(np.unique(x).size)
    method = "least squares, t-interval"
    if n == 0:
        nan = math.nan
        return CostModel(_undecided(nan, 0, confidence, method), _undecided(nan, 0, confidence, method), 0, 0)
    if sizes < 2 or n < 3:
        mean = float(np.mean(y))
        return CostModel(
            _undecided(mean, n, confidence, "mean latency (one size: parts not separable)"),
            _undecided(math.nan, n, confidence, method),
            n,
            sizes,
        )
    fit = sps.linregress(x, y)
    t = float(sps.t.ppf(0.5 + confidence / 2, n - 2))
    out = []
    for value, se in ((fit.intercept, fit.intercept_stderr), (fit.slope, fit.stderr)):
        value, se = float(value), float(se)
        if math.isfinite(se):
            out.append(
                Estimate(
                    value=value, low=value - t * se, high=value + t * se, confidence=confidence, n=n, method=method
                )
            )
        else:
            out.append(_undecided(value, n, confidence, method))
    return CostModel(fixed=out[0], per_item=out[1], n=n, sizes=sizes)
