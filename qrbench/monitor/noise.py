"""Machine noise: how steady a fixed CPU-bound calibration loop runs on this machine right now."""

from __future__ import annotations

import time

import numpy as np

__all__ = ["calibration_timings"]


def calibration_timings(repeats: int = 30, size: int = 160) -> np.ndarray:
    """Seconds taken by `repeats` runs of the same small matrix product (feed to stats.noise_cv)."""
    a = np.random.default_rng(0).normal(size=(size, size))
    out = np.empty(repeats)
    for i in range(repeats):
        t0 = time.perf_counter()
        for _ in range(20):
            a @ a
        out[i] = time.perf_counter() - t0
    return out
