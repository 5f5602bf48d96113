"""`Estimate`: a point value with its confidence interval, the result type of every statistic here."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Estimate"]


@dataclass(frozen=True, kw_only=True)
class Estimate:
    """A point estimate with a confidence interval, in the unit of the samples it came from.

    `decided` is False when the data cannot bound the quantity at the stated confidence (too few
    samples, an empty input): then `low` and/or `high` are -inf/+inf (or NaN for `value`) and a
    verdict must not rest on the interval. Degenerate inputs give such estimates, never exceptions.
    """

    value: float
    low: float
    high: float
    confidence: float
    n: int
    method: str
    decided: bool = True

    def __post_init__(self) -> None:
        if not (0.0 < self.confidence < 1.0):
            raise ValueError(f"Estimate.confidence must lie strictly between 0 and 1; got {self.confidence!r}.")
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 0:
            raise ValueError(f"Estimate.n must be a non-negative integer count; got {self.n!r}.")
        if self.low > self.high:
            raise ValueError(f"Estimate.low ({self.low}) must not exceed Estimate.high ({self.high}).")
        if self.decided:
            bounds = (self.value, self.low, self.high)
            if not all(math.isfinite(b) for b in bounds):
                raise ValueError(
                    "A decided Estimate needs finite value, low and high; "
                    f"got value={self.value}, low={self.low}, high={self.high} (pass decided=False)."
                )
            if not (self.low <= self.value <= self.high):
                raise ValueError(
                    f"Estimate.value ({self.value}) must lie within its interval [{self.low}, {self.high}]."
                )

    @property
    def width(self) -> float:
        """Interval width high - low (inf when unbounded, NaN when a bound is NaN)."""
        return self.high - self.low

    @property
    def relative_width(self) -> float:
        """Interval width divided by |value| (inf when the value is 0 or the interval unbounded)."""
        if not math.isfinite(self.width) or not math.isfinite(self.value):
            return math.inf
        if self.value == 0.0:
            return 0.0 if self.width == 0.0 else math.inf
        return self.width / abs(self.value)
