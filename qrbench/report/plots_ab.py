"""Figures of the A/B report (`qrbench ab`)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd

from .plots import finish

__all__ = ["pair_differences"]


def pair_differences(differences: pd.DataFrame, *, threshold: float, title: str = ""):
    """Each pair's change B / A - 1 (%) against the pair's start time, one panel per request kind, median and
    p95 in two colours, with the threshold and no change drawn; None when no pair was measured."""
    if differences is None or differences.empty:
        return None
    kinds = list(dict.fromkeys(differences["kind"]))
    fig, axes = plt.subplots(len(kinds), 1, figsize=(9, 2.6 * len(kinds)), sharex=True, squeeze=False)
    for ax, kind in zip(axes[:, 0], kinds, strict=True):
        k = differences[differences["kind"] == kind]
        for statistic, colour in (("median", "#1f77b4"), ("p95", "#d62728")):
            s = k[k["statistic"] == statistic].sort_values("t_s")
            ax.plot(s["t_s"], s["change_percent"], "o-", ms=3, lw=0.8, color=colour, label=statistic)
        ax.axhline(0, color="black", lw=0.8)
        ax.axhline(threshold * 100, color="grey", ls="--", lw=0.8, label=f"threshold (+{threshold:.0%})")
        ax.set_ylabel(f"{kind}\nB vs A (%)")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(loc="upper right", fontsize=8, ncol=3)
    axes[-1, 0].set_xlabel("pair start (s from the first block)")
    return finish(fig, title or "Change of B against A in each pair of blocks, over the run")
