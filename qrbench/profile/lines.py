"""Line-level profiles (line_profiler) of the hot functions of the quantum path and the classical fallback.

line_profiler traces the thread that enabled it only, so the workloads here call the engine and the Aer
backend from the calling thread (the engine's own quantum thread is not traced: `AerSwapTest.fidelity`
is profiled by calling it directly).
"""

from __future__ import annotations

import inspect
import linecache
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import ParameterError
from ..target.embedding import Embedder
from ..target.encoding import Projection
from ..target.engine import RerankEngine
from ..target.fidelity import AerSwapTest, exact_fidelity, ry_angles

__all__ = ["line_profile", "QUANTUM_PATH", "CLASSICAL_FALLBACK", "LINE_COLUMNS"]

# The functions a rerank on the quantum path runs, outermost first.
QUANTUM_PATH: tuple[Callable[..., Any], ...] = (
    RerankEngine.score,
    RerankEngine._quantum,
    Embedder.embed,
    Projection.encode,
    exact_fidelity,
    AerSwapTest.fidelity,
    ry_angles,
)
# What answers when the quantum backend fails: the classical scoring around the fallback.
CLASSICAL_FALLBACK: tuple[Callable[..., Any], ...] = (
    RerankEngine.score,
    RerankEngine._quantum,
    Embedder.embed,
    Embedder.encode_uncached,
)
LINE_COLUMNS = ("file", "function", "line", "hits", "time_ms", "per_hit_us", "share", "share_of_run", "source")


def short_path(path: str) -> str:
    """A file path as a reader knows it: from the package (qrbench/..., torch/...) or the standard library."""
    parts = Path(path).parts
    for anchor in ("site-packages", "dist-packages"):
        if anchor in parts:
            return str(Path(*parts[parts.index(anchor) + 1 :]))
    if "qrbench" in parts:
        return str(Path(*parts[len(parts) - 1 - parts[::-1].index("qrbench") :]))
    for i, part in enumerate(parts):
        if part.startswith("python3") and i + 1 < len(parts):
            return str(Path(*parts[i + 1 :]))
    return path


def line_profile(
    functions: Sequence[Callable[..., Any]], workload: Callable[[], Any], *, repeats: int = 1
) -> pd.DataFrame:
    """Run workload() `repeats` times under line_profiler and return one row per executed line.

    Columns: file (repository-relative when in qrbench), function, line (number in the file), hits,
    time_ms (total over all hits, callees included), per_hit_us, share (of the function's own total, the
    sum of its lines: a line's share of the time spent in that function), share_of_run (of the wall time
    of all the workload calls, tracing overhead included), source (the line's text).
    """
    from line_profiler import LineProfiler

    if repeats < 1:
        raise ParameterError(f"repeats is {repeats!r}; it must be 1 or more.")
    if not functions:
        raise ParameterError("line_profile needs at least one function to profile.")
    profiler = LineProfiler()
    for fn in functions:
        profiler.add_function(inspect.unwrap(fn))
    profiler.enable_by_count()
    t0 = time.perf_counter()
    try:
        for _ in range(repeats):
            workload()
    finally:
        run_s = time.perf_counter() - t0
        profiler.disable_by_count()
    stats = profiler.get_stats()
    rows = []
    for (filename, _first, name), lines in stats.timings.items():
        total = sum(t for _, _, t in lines) * stats.unit
        for lineno, hits, t in lines:
            seconds = t * stats.unit
            rows.append(
                {
                    "file": short_path(filename),
                    "function": name,
                    "line": lineno,
                    "hits": hits,
                    "time_ms": seconds * 1e3,
                    "per_hit_us": seconds * 1e6 / hits if hits else 0.0,
                    "share": seconds / total if total > 0 else 0.0,
                    "share_of_run": seconds / run_s,
                    "source": linecache.getline(filename, lineno).rstrip(),
                }
            )
    frame = pd.DataFrame(rows, columns=list(LINE_COLUMNS))
    return frame.sort_values(["function", "line"], ignore_index=True)
