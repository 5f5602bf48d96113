"""Where the memory goes: peak and increment per document count (memory_profiler), line-by-line increments,
the allocation sites still holding memory after a run (tracemalloc), and garbage-collection pauses.

Resident memory (RSS) is what the PRD's "< 2 GB for 100 documents" is about, but freed memory often stays
in the C allocator's arenas, so an increment after a bigger request can read as zero. Before each
measurement the allocator is asked to give free memory back (glibc malloc_trim) and the garbage collector
runs; rows are measured in ascending document count. Units: MiB (2**20 bytes) unless a column says KiB.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import inspect
import linecache
import os
import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import psutil

from ..errors import ParameterError
from ..target.engine import RerankEngine
from .lines import short_path

__all__ = ["memory_by_documents", "line_memory", "allocation_sites", "gc_pauses", "release_free_memory"]

_MIB = 2**20


def release_free_memory() -> None:
    """Collect garbage and return the C allocator's free memory to the OS (glibc only; else a no-op)."""
    gc.collect()
    name = ctypes.util.find_library("c")
    if name:
        libc = ctypes.CDLL(name)
        if hasattr(libc, "malloc_trim"):
            libc.malloc_trim(0)


def _rss_mib() -> float:
    return psutil.Process(os.getpid()).memory_info().rss / _MIB


def memory_by_documents(
    engine: RerankEngine,
    query: str,
    documents: Sequence[str],
    counts: Sequence[int],
    *,
    method: str = "hybrid",
    cold: bool = True,
    interval_s: float = 0.005,
) -> pd.DataFrame:
    """Peak RSS while the engine scores the first n documents, for each n in counts (ascending).

    Rows: documents, before_mib (RSS before the call), peak_mib (highest RSS memory_profiler saw during
    it), increment_mib (peak - before), per_document_kib (increment / n), retained_mib (RSS after the call,
    free memory given back, minus before: what caches keep), seconds. cold clears the engine's caches first,
    so every document goes through the model.
    """
    from memory_profiler import memory_usage

    counts = sorted(counts)
    if not counts or counts[0] < 1 or counts[-1] > len(documents):
        raise ParameterError(f"counts must be 1 to {len(documents)} (the documents given); got {list(counts)}.")
    rows = []
    for n in counts:
        if cold:
            engine.embedder.cache.clear()
            engine.similarity_cache.clear()
        release_free_memory()
        before = _rss_mib()
        t0 = time.perf_counter()
        # max_iterations=1: memory_profiler would otherwise rerun a short call with a finer interval.
        peak = memory_usage(
            (engine.score, (f"{query} [m{n}]", list(documents[:n]), method), {}),
            interval=interval_s,
            max_usage=True,
            max_iterations=1,
        )
        seconds = time.perf_counter() - t0
        release_free_memory()
        after = _rss_mib()
        peak = max(float(peak), before)
        rows.append(
            {
                "documents": n,
                "before_mib": before,
                "peak_mib": peak,
                "increment_mib": peak - before,
                "per_document_kib": (peak - before) * 1024 / n,
                "retained_mib": after - before,
                "seconds": seconds,
            }
        )
    return pd.DataFrame(rows)


def line_memory(functions: Sequence[Callable[..., Any]], workload: Callable[[], Any]) -> pd.DataFrame:
    """memory_profiler's line-by-line RSS increments of `functions` during one workload() call.

    Rows: file, function, line, increment_mib (summed over the line's executions), mem_mib (highest RSS
    seen after the line), occurrences, source. Lines that never ran are left out. memory_profiler differences
    each line against the line before it in the same function; a line with none before it (the `def` line,
    or the line after a return from a callee it did not trace) has no increment: NaN here, not the whole RSS.
    """
    from memory_profiler import LineProfiler

    profiler = LineProfiler(backend="psutil")
    names = {}
    for fn in functions:
        fn = inspect.unwrap(fn)
        profiler.add_function(fn)
        names[fn.__code__] = fn.__qualname__
    release_free_memory()
    profiler.enable_by_count()
    try:
        workload()
    finally:
        profiler.disable_by_count()
    rows = []
    for code, name in names.items():
        for lineno, (increment, mem, occurrences) in sorted(profiler.code_map.get(code, {}).items()):
            if lineno == code.co_firstlineno or increment > mem - 1.0:  # differenced against nothing (0 MiB)
                increment = float("nan")
            rows.append(
                {
                    "file": short_path(code.co_filename),
                    "function": name,
                    "line": lineno,
                    "increment_mib": increment,
                    "mem_mib": mem,
                    "occurrences": occurrences,
                    "source": linecache.getline(code.co_filename, lineno).rstrip(),
                }
            )
    return pd.DataFrame(rows, columns=["file", "function", "line", "increment_mib", "mem_mib", "occurrences", "source"])


def allocation_sites(workload: Callable[[], Any], *, top: int = 15, frames: int = 1) -> tuple[pd.DataFrame, dict]:
    """tracemalloc over workload(): the top sites of memory still allocated when it returns, and totals.

    Rows: file, line, size_kib, count, per_block_b, source. The dict has traced_peak_mib and
    traced_retained_mib. tracemalloc sees what goes through Python's allocators (objects, numpy buffers),
    not torch's tensor memory, so the peak here is far below the RSS peak of a forward pass.
    """
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start(frames)
    tracemalloc.clear_traces()
    try:
        before = tracemalloc.take_snapshot()
        tracemalloc.reset_peak()
        workload()
        _, peak = tracemalloc.get_traced_memory()
        after = tracemalloc.take_snapshot()
    finally:
        if not was_tracing:
            tracemalloc.stop()
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, linecache.__file__)]
    diff = after.filter_traces(ignore).compare_to(before.filter_traces(ignore), "lineno")
    rows = []
    for stat in diff[:top]:
        if stat.size_diff <= 0:
            continue
        frame = stat.traceback[0]
        rows.append(
            {
                "file": short_path(frame.filename),
                "line": frame.lineno,
                "size_kib": stat.size_diff / 1024,
                "count": stat.count_diff,
                "per_block_b": stat.size_diff / max(stat.count_diff, 1),
                "source": linecache.getline(frame.filename, frame.lineno).strip(),
            }
        )
    retained = sum(s.size_diff for s in diff) / _MIB
    return pd.DataFrame(rows, columns=["file", "line", "size_kib", "count", "per_block_b", "source"]), {
        "traced_peak_mib": peak / _MIB,
        "traced_retained_mib": retained,
    }


def gc_pauses(workload: Callable[[], Any]) -> pd.DataFrame:
    """Every garbage collection during workload(): rows of generation, ms (the pause), collected,
    uncollectable, t_s (seconds since the start)."""
    rows: list[dict[str, Any]] = []
    started: dict[str, float] = {}
    t0 = time.perf_counter()

    def callback(phase: str, info: dict[str, int]) -> None:
        now = time.perf_counter()
        if phase == "start":
            started["t"] = now
        elif "t" in started:
            rows.append(
                {
                    "generation": info["generation"],
                    "ms": (now - started.pop("t")) * 1000,
                    "collected": info["collected"],
                    "uncollectable": info["uncollectable"],
                    "t_s": now - t0,
                }
            )

    gc.callbacks.append(callback)
    try:
        workload()
    finally:
        gc.callbacks.remove(callback)
    return pd.DataFrame(rows, columns=["generation", "ms", "collected", "uncollectable", "t_s"])
