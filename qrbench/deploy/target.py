"""The system under test of a study: the embedded reference service, or a given URL."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from ..errors import ParameterError
from ..load.lifeline import reaper
from ..load.safety import check_target
from ..monitor import check_metric_names, pid_listening_on
from ..params import to_dict
from ..target import EmbeddedTarget
from .embedded import engine_settings
from .probe import TargetProbe, probe_target

__all__ = ["TargetParams", "Target", "open_target", "target_facts", "settings_dict"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetParams:
    """url: a running service, or null to start the embedded reference service (the settings below
    apply to it only). allow_remote: permit a non-loopback url."""

    url: str | None = None
    allow_remote: bool = False
    api_key: str | None = None
    backend: Literal["exact", "aer"] = "exact"
    qubits: int = 4
    shots: int = 1024
    torch_threads: int | None = None  # None: the service's default (one thread per forward pass)
    aer_threads: int = 1  # OpenMP threads per Aer run; 0 = Aer's default (the path before the bottlenecks fix)
    max_concurrency: int | None = None  # requests computed at once; None: the service's default (16 per core)
    encoder: Literal["torch", "onnx", "onnx-int8"] = "torch"  # embedding runtime (qrbench serve --encoder)
    # The embedded service's malloc: auto = jemalloc when installed (returns memory after bursts), else the system's.
    allocator: Literal["auto", "jemalloc", "system"] = "auto"
    # The target's own metric names for what qrbench reads from /metrics when neither qrbench's nor a standard
    # name is exposed: {cache_hits: my_cache_hits_total, request_seconds: my_latency_seconds, in_flight: ...}
    # (monitor.metrics_sampler lists the keys).
    metrics: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            check_metric_names(self.metrics)
        except ValueError as exc:
            raise ParameterError(f"target.{exc}") from None


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    url: str
    pid: int | None  # the server's process when it runs on this machine, for the monitor
    embedded: bool
    headers: dict[str, str]
    settings: dict[str, Any] | None = None  # the effective EngineSettings of an embedded target (api_key left out)
    probe: TargetProbe | None = None  # what the target offers (deploy/probe.py), probed when it was opened


@contextlib.contextmanager
def open_target(
    params: TargetParams, *, url: str | None = None, log_dir: Path | None = None, probe_first: bool = True
) -> Iterator[Target]:
    """Yield the target; an embedded one is started here and stopped on exit, also when the study fails.
    probe_first: probe what it offers (Target.probe; a few cheap requests)."""
    url = url or params.url
    headers = {"X-API-Key": params.api_key} if params.api_key else {}
    if url:
        url = check_target(url, allow_remote=params.allow_remote)
        port = urlsplit(url).port or 80
        host = urlsplit(url).hostname or ""
        local = host in ("127.0.0.1", "::1", "localhost") or host.startswith("127.")
        pid = pid_listening_on(port) if local else None
        probe = probe_target(url, headers=headers, local_pid=pid) if probe_first else None
        yield Target(url=url, pid=pid, embedded=False, headers=headers, probe=probe)
        return
    settings = engine_settings(params)
    log = (log_dir / "target.log") if log_dir else None
    # The reaper stops the service if this process dies without cleanup (kill -9, an unhandled SIGTERM).
    with EmbeddedTarget(settings, log_path=log, allocator=params.allocator) as target, reaper(target.pid):
        facts = {**settings_dict(settings), "allocator": target.allocator}
        probe = probe_target(target.url, headers=headers, local_pid=target.pid) if probe_first else None
        yield Target(url=target.url, pid=target.pid, embedded=True, headers=headers, settings=facts, probe=probe)


def settings_dict(settings: Any) -> dict[str, Any]:
    """EngineSettings as JSON-friendly facts; the API key is a secret, so only whether one is set."""
    facts = to_dict(settings)
    facts["api_key"] = bool(facts.get("api_key"))
    return facts


def target_facts(target: Target, params: TargetParams) -> dict[str, Any]:
    """What run.json records of a study's target: where it was, and the settings it actually ran with."""
    asked = to_dict(params)
    asked["api_key"] = bool(asked.get("api_key"))
    return {
        "url": target.url,
        "embedded": target.embedded,
        "pid": target.pid,
        "params": asked,
        "settings": target.settings,
        "probe": target.probe.to_dict() if target.probe is not None else None,
    }
