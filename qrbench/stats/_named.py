"""Statistics named as in reports ("median", "mean", "p95") as numpy reductions."""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial

import numpy as np

__all__ = ["named_statistic", "percentile_of_name"]

_PERCENTILE = re.compile(r"^p(\d+(?:\.\d+)?)$")


def percentile_of_name(name: str) -> float | None:
    """95.0 for "p95", 50.0 for "median", None for "mean" or anything else."""
    if name == "median":
        return 50.0
    match = _PERCENTILE.match(name) if isinstance(name, str) else None
    if match and 0 <= float(match.group(1)) <= 100:
        return float(match.group(1))
    return None


def named_statistic(name: str) -> Callable[..., np.ndarray]:
    """np.median, np.mean or np.percentile(q=...) for "median", "mean", "p95"; reduces along `axis`."""
    if name == "median":
        return np.median
    if name == "mean":
        return np.mean
    q = percentile_of_name(name)
    if q is not None:
        return partial(np.percentile, q=q)
    raise ValueError(f"statistic must be 'median', 'mean' or a percentile such as 'p95' or 'p99.9'; got {name!r}.")
