"""Embedded reference services: the engine settings a study asks for, N services started at once, and the
wait until every worker of a multi-worker service is ready."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from ..errors import QrbenchError
from ..target import EmbeddedTarget, EngineSettings

if TYPE_CHECKING:
    from .target import TargetParams

__all__ = ["engine_settings", "started_targets", "wait_all_ready"]


def engine_settings(target: TargetParams, **changes: Any) -> EngineSettings:
    """The EngineSettings of an embedded target from a study's target parameters, with `changes` applied."""
    # None keeps the service's own default (sized from the cores). A concurrency bound given here also sets the
    # compute threads: more slots than threads would be a hidden queue behind the admission control.
    sized = (
        {}
        if target.max_concurrency is None
        else {"max_concurrency": target.max_concurrency, "compute_threads": target.max_concurrency}
    )
    threads = {} if target.torch_threads is None else {"torch_threads": target.torch_threads}
    base = EngineSettings(
        backend=target.backend,
        qubits=target.qubits,
        shots=target.shots,
        aer_threads=target.aer_threads,
        api_key=target.api_key,
        encoder=target.encoder,
        **sized,
        **threads,
    )
    return base.with_changes(**changes) if changes else base


@contextlib.contextmanager
def started_targets(
    settings: EngineSettings, n: int, folder: Path, *, workers: int = 1, ready_timeout_s: float
) -> Iterator[list[EmbeddedTarget]]:
    """n embedded services started in parallel (each its own port), all stopped on exit or on a failed start."""
    folder.mkdir(parents=True, exist_ok=True)
    targets = [
        EmbeddedTarget(settings, workers=workers, ready_timeout_s=ready_timeout_s, log_path=folder / f"target-{i}.log")
        for i in range(n)
    ]
    try:
        with ThreadPoolExecutor(max_workers=n) as pool:
            for future in [pool.submit(t.start) for t in targets]:
                future.result()
        yield targets
    finally:
        for t in targets:
            t.stop()


def wait_all_ready(url: str, processes: int, *, timeout_s: float, headers: dict[str, str] | None = None) -> None:
    """Wait until /health/ready answers 200 on 4 x `processes` new connections in a row.

    A multi-worker service shares one port and each worker loads its model on its own; one 200 says only
    that one worker is ready. New connections land on workers at random, so a run of successes across many
    makes it unlikely that a worker is still loading.
    """
    deadline = time.monotonic() + timeout_s
    streak = 0
    while time.monotonic() < deadline:
        try:
            ok = httpx.get(url + "/health/ready", timeout=5.0, headers=headers).status_code == 200
        except httpx.HTTPError:
            ok = False
        streak = streak + 1 if ok else 0
        if streak >= 4 * processes:
            return
        time.sleep(0.05 if ok else 0.5)
    raise QrbenchError(f"Not every worker of {url} was ready within {timeout_s:g} s.")
