"""Percentile-bootstrap resampling shared by the bootstrap intervals."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = ["statistic_value", "resample_statistic", "percentile_interval", "check_resamples"]

# Resampling happens in blocks so memory stays bounded (~16 MB of indices) whatever the sample size.
_BLOCK_ELEMENTS = 2_000_000


def statistic_value(samples: np.ndarray, statistic: Callable[..., np.ndarray]) -> float:
    """`statistic(samples, axis=-1)` as a float, refusing statistics that do not reduce to one number."""
    value = np.asarray(statistic(samples, axis=-1), dtype=float)
    if value.ndim != 0:
        raise ValueError(
            "statistic must reduce an array along axis=-1 to one number (like np.median(x, axis=-1)); "
            f"it returned shape {value.shape}."
        )
    return float(value)


def resample_statistic(
    samples: np.ndarray,
    statistic: Callable[..., np.ndarray],
    n_resamples: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Statistic of `n_resamples` bootstrap resamples; `statistic(array_2d, axis=-1)` must reduce each row."""
    n = samples.size
    rows_per_block = max(1, _BLOCK_ELEMENTS // max(n, 1))
    out = np.empty(n_resamples, dtype=float)
    for start in range(0, n_resamples, rows_per_block):
        stop = min(n_resamples, start + rows_per_block)
        idx = rng.integers(0, n, size=(stop - start, n))
        values = np.asarray(statistic(samples[idx], axis=-1), dtype=float)
        if values.shape != (stop - start,):
            raise ValueError(
                "statistic must reduce a 2-d array along axis=-1 to one number per row "
                f"(like np.median(x, axis=-1)); it returned shape {values.shape}."
            )
        out[start:stop] = values
    return out


def percentile_interval(replicates: np.ndarray, confidence: float) -> tuple[float, float]:
    """Equal-tailed percentile interval of bootstrap replicates; NaN replicates count as unbounded."""
    if np.any(np.isnan(replicates)):
        return -np.inf, np.inf
    tail = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(replicates, [tail, 100.0 - tail])
    return float(low), float(high)


def check_resamples(n_resamples: int) -> int:
    """Return `n_resamples` if it is an integer of at least 100."""
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int | np.integer) or n_resamples < 100:
        raise ValueError(f"n_resamples must be an integer of at least 100 (e.g. 2000); got {n_resamples!r}.")
    return int(n_resamples)
