"""Whole-call view: cProfile of one call, as a flat function table and as a call tree.

cProfile records caller -> callee edges, not whole stacks, so the tree is the call graph unrolled from
the root: a child's time is the time spent in it when called from its parent, and its own children are
taken over all its callers (exact whenever a function has one caller, as most of the engine's do).
"""

from __future__ import annotations

import cProfile
import pstats
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .lines import short_path

__all__ = ["CallProfile", "call_profile", "render_tree"]

_Key = tuple[str, int, str]


def _name(key: _Key) -> str:
    filename, line, func = key
    if filename == "~":  # a built-in
        return func
    return f"{func} ({short_path(filename)}:{line})"


@dataclass(frozen=True, slots=True, kw_only=True)
class CallProfile:
    """functions: one row per function (function, ncalls, tottime_ms, cumtime_ms, cum_share).
    tree: rows of depth, function, ms (time in it from its parent), share (of the whole call).
    wall_ms: the call's wall time without the profiler's bookkeeping of the return."""

    functions: pd.DataFrame
    tree: pd.DataFrame
    wall_ms: float
    result: Any = None

    def render(self, *, max_rows: int = 60) -> str:
        """The tree as indented text, one line per node: share, milliseconds, function."""
        return render_tree(self.tree, max_rows=max_rows)


def render_tree(tree: pd.DataFrame, *, max_rows: int = 60) -> str:
    """A call tree frame (depth, function, ms, share) as indented text: share, milliseconds, function."""
    return "\n".join(
        f"{r.share:6.1%} {r.ms:10.2f} ms  {'  ' * int(r.depth)}{r.function}" for r in tree.head(max_rows).itertuples()
    )


def call_profile(fn: Callable[[], Any], *, min_share: float = 0.01, max_depth: int = 12) -> CallProfile:
    """Profile one fn() call with cProfile. Tree nodes below min_share of the call are left out."""
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    profiler.enable()
    try:
        result = fn()
    finally:
        profiler.disable()
    wall_ms = (time.perf_counter() - t0) * 1000
    stats = pstats.Stats(profiler).stats  # key -> (primitive calls, calls, tottime, cumtime, callers)
    total_s = max((v[3] for v in stats.values()), default=0.0) or 1e-12
    functions = pd.DataFrame(
        [
            {
                "function": _name(k),
                "ncalls": v[1],
                "tottime_ms": v[2] * 1000,
                "cumtime_ms": v[3] * 1000,
                "cum_share": v[3] / total_s,
            }
            for k, v in stats.items()
        ]
    ).sort_values("cumtime_ms", ascending=False, ignore_index=True)
    callees: dict[_Key, list[tuple[_Key, float]]] = {}
    for callee, (_, _, _, _, callers) in stats.items():
        for caller, edge in callers.items():
            callees.setdefault(caller, []).append((callee, edge[3]))
    # The root: the function called by the profiler's own frame (the one with the greatest cumulative time
    # among functions that no profiled function called).
    called = {c for lst in callees.values() for c, _ in lst}
    roots = sorted((k for k in stats if k not in called), key=lambda k: -stats[k][3])
    rows: list[dict[str, Any]] = []

    def walk(key: _Key, ms: float, depth: int, path: frozenset) -> None:
        rows.append({"depth": depth, "function": _name(key), "ms": ms, "share": ms / (total_s * 1000)})
        if depth >= max_depth:
            return
        for child, cum_s in sorted(callees.get(key, []), key=lambda e: -e[1]):
            if child in path or cum_s / total_s < min_share:
                continue
            walk(child, cum_s * 1000, depth + 1, path | {child})

    for root in roots:
        if stats[root][3] / total_s >= min_share:
            walk(root, stats[root][3] * 1000, 0, frozenset({root}))
    return CallProfile(
        functions=functions,
        tree=pd.DataFrame(rows, columns=["depth", "function", "ms", "share"]),
        wall_ms=wall_ms,
        result=result,
    )
