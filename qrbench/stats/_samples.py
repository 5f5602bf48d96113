"""Validation of the arrays and settings every statistic takes."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["as_samples", "check_confidence"]


def as_samples(values: object, *, name: str = "samples") -> np.ndarray:
    """Return `values` as a 1-d float array, refusing NaN and infinities with a sentence naming `name`."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a sequence of numbers; got {type(values).__name__}.") from exc
    if array.ndim == 0:
        raise ValueError(f"{name} must be a one-dimensional sequence of numbers, not a single number.")
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional; got an array of shape {array.shape}.")
    if not np.all(np.isfinite(array)):
        bad = int(np.count_nonzero(~np.isfinite(array)))
        raise ValueError(f"{name} must hold finite numbers only; {bad} of {array.size} are NaN or infinite.")
    return array


def check_confidence(confidence: float) -> float:
    """Return `confidence` as a float if it lies strictly between 0 and 1."""
    if isinstance(confidence, bool) or not isinstance(confidence, int | float | np.floating):
        raise ValueError(f"confidence must be a number between 0 and 1 (e.g. 0.95); got {confidence!r}.")
    if not (0.0 < float(confidence) < 1.0) or math.isnan(confidence):
        raise ValueError(f"confidence must lie strictly between 0 and 1 (e.g. 0.95); got {confidence!r}.")
    return float(confidence)
