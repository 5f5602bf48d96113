"""The system under test of a study: the embedded reference service, or a given URL."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from ..load.lifeline import reaper
from ..load.safety import check_target
from ..monitor import pid_listening_on
from ..params import to_dict
from ..target import EmbeddedTarget
from .embedded import engine_settings

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


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    url: str
    pid: int | None  # the server's process when it runs on this machine, for the monitor
    embedded: bool
    headers: dict[str, str]
    settings: dict[str, Any] | None = None  # the effective EngineSettings of an embedded target (api_key left out)


@contextlib.contextmanager
def open_target(params: TargetParams, *, url: str | None = None, log_dir: Path | None = None) -> Iterator[Target]:
    """Yield the target; an embedded one is started here and stopped on exit, also when the study fails."""
    url = url or params.url
    headers = {"X-API-Key": params.api_key} if params.api_key else {}
    if url:
        url = check_target(url, allow_remote=params.allow_remote)
        port = urlsplit(url).port or 80
        host = urlsplit(url).hostname or ""
        local = host in ("127.0.0.1", "::1", "localhost") or host.startswith("127.")
        yield Target(url=url, pid=pid_listening_on(port) if local else None, embedded=False, headers=headers)
        return
    settings = engine_settings(params)
    log = (log_dir / "target.log") if log_dir else None
    # The reaper stops the service if this process dies without cleanup (kill -9, an unhandled SIGTERM).
    with EmbeddedTarget(settings, log_path=log, allocator=params.allocator) as target, reaper(target.pid):
        facts = {**settings_dict(settings), "allocator": target.allocator}
        yield Target(url=target.url, pid=target.pid, embedded=True, headers=headers, settings=facts)


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
    }
