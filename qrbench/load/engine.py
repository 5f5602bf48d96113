"""Load engines behind one protocol: every engine runs a workload model against a URL into a driver run folder
(run.json, records.parquet in RECORD_SCHEMA) and returns a `RunResult`, so every study and analysis reads
any engine's runs the same way.

- `NativeEngine`: qrbench's own driver (`run_load`, or `run_load_processes` over several processes).
- `LocustEngine`: Locust's distributed mode, a master and K local workers (plus workers on other machines).
- `ArtilleryEngine`: the real ``artillery run`` (qrbench.load.artillery), its processor writing the records.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from qrbench.errors import ParameterError
from qrbench.load.artillery import run_artillery
from qrbench.load.data import RequestPool
from qrbench.load.driver import RunResult, run_load, run_load_processes
from qrbench.load.locust_engine import run_locust
from qrbench.load.request import RequestSpec
from qrbench.load.workload import ClosedModel, OpenModel

__all__ = ["LoadEngine", "NativeEngine", "LocustEngine", "ArtilleryEngine", "ENGINES", "make_engine"]


class LoadEngine(Protocol):
    name: str

    def run(
        self,
        url: str,
        source: Callable[[], RequestSpec],
        model: ClosedModel | OpenModel,
        *,
        out_dir: Path,
        stage: str,
        timeout_s: float,
        progress: bool,
        headers: dict[str, str] | None,
        allow_remote: bool,
    ) -> RunResult: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class NativeEngine:
    """processes: driver processes on this machine. isolated: run even a single driver in a child process, so
    that nothing else in the calling process (a live view redrawing, samplers parsing /metrics) holds the GIL
    while the driver's event loop times requests: such stalls are measured as latency, and as resets."""

    processes: int = 1
    isolated: bool = False
    name: str = "native"

    def run(
        self,
        url: str,
        source: Callable[[], RequestSpec],
        model: ClosedModel | OpenModel,
        *,
        out_dir: Path,
        stage: str,
        timeout_s: float,
        progress: bool,
        headers: dict[str, str] | None,
        allow_remote: bool,
    ) -> RunResult:
        common: dict[str, Any] = dict(
            out_dir=out_dir,
            stage=stage,
            timeout_s=timeout_s,
            progress=progress,
            headers=headers,
            allow_remote=allow_remote,
        )
        if self.processes > 1 or self.isolated:
            return run_load_processes(url, source, model, processes=self.processes, **common)
        return run_load(url, source, model, **common)


@dataclass(frozen=True, slots=True, kw_only=True)
class LocustEngine:
    """workers: Locust workers on this machine; extra_workers: more, started by hand elsewhere (the master
    waits for them, listening on bind_host:master_port)."""

    workers: int = 1
    extra_workers: int = 0
    bind_host: str = "127.0.0.1"
    master_port: int | None = None
    name: str = "locust"

    def run(
        self,
        url: str,
        source: Callable[[], RequestSpec],
        model: ClosedModel | OpenModel,
        *,
        out_dir: Path,
        stage: str,
        timeout_s: float,
        progress: bool,
        headers: dict[str, str] | None,
        allow_remote: bool,
    ) -> RunResult:
        # Workers started by hand get ten minutes to connect.
        return run_locust(
            url,
            source,
            model,
            workers=self.workers,
            out_dir=out_dir,
            timeout_s=timeout_s,
            progress=progress,
            headers=headers,
            allow_remote=allow_remote,
            extra_workers=self.extra_workers,
            bind_host=self.bind_host,
            master_port=self.master_port,
            start_timeout_s=600.0 if self.extra_workers else 90.0,
            stage=stage,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ArtilleryEngine:
    """seed: of the think times the processor draws (closed model). The request source must be a
    RequestPool: Artillery sends the pool's requests from a CSV payload file, not from a Python callable."""

    seed: int = 0
    name: str = "artillery"

    def run(
        self,
        url: str,
        source: Callable[[], RequestSpec],
        model: ClosedModel | OpenModel,
        *,
        out_dir: Path,
        stage: str,
        timeout_s: float,
        progress: bool,
        headers: dict[str, str] | None,
        allow_remote: bool,
    ) -> RunResult:
        if not isinstance(source, RequestPool):
            raise ParameterError(
                f"The artillery engine sends a RequestPool's requests (written to its payload "
                f"file); it was given a {type(source).__name__}."
            )
        # Artillery prints no progress bar of its own here (it runs with --quiet): `progress` is not used.
        return run_artillery(
            url,
            source,
            model,
            out_dir=out_dir,
            stage=stage,
            timeout_s=timeout_s,
            allow_remote=allow_remote,
            headers=headers,
            seed=self.seed,
        )


ENGINES: dict[str, type] = {"native": NativeEngine, "locust": LocustEngine, "artillery": ArtilleryEngine}


def make_engine(name: str, **options: Any) -> LoadEngine:
    """The engine called `name` with its options; ParameterError naming the engines when unknown."""
    if name not in ENGINES:
        raise ParameterError(f"The load engine {name!r} is unknown; the engines are {', '.join(ENGINES)}.")
    try:
        return ENGINES[name](**options)
    except TypeError as exc:
        raise ParameterError(f"The {name} engine does not take these options: {exc}.") from exc
