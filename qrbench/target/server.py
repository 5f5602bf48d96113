"""Run the service with uvicorn (`qrbench serve`), in this process or as a managed child process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from ..errors import TargetError
from .settings import EngineSettings

__all__ = ["serve", "EmbeddedTarget", "free_port", "find_jemalloc", "ALLOCATORS"]


def serve(
    settings: EngineSettings, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1, log_level: str = "warning"
) -> None:
    """Serve until SIGINT/SIGTERM; prints the URL once the model is loaded and the service is ready."""
    import uvicorn

    if workers > 1:
        # Each worker process loads its own engine; settings travel through the environment. uvicorn's
        # supervisor forwards the signal: each worker stops accepting and gets drain_timeout_s to finish.
        os.environ["QRBENCH_ENGINE_SETTINGS"] = _settings_to_env(settings)
        uvicorn.run(
            "qrbench.target.server:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=log_level,
            timeout_keep_alive=settings.keep_alive_s,
            timeout_graceful_shutdown=settings.drain_timeout_s,
        )
        return
    from .app import create_app, freeze_startup_heap
    from .engine import RerankEngine

    engine = RerankEngine(settings)
    engine.warm_up()
    app = create_app(settings, engine=engine)
    freeze_startup_heap()
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        timeout_keep_alive=settings.keep_alive_s,
        timeout_graceful_shutdown=settings.drain_timeout_s,
        http=_h11_with_header_deadline(settings.body_timeout_s),
    )
    server = _draining_server(config, traffic=app.state.service.traffic, drain_timeout_s=settings.drain_timeout_s)
    print(
        f"qrbench reference service ready on http://{_url_host(host)}:{port} "
        f"(backend={settings.backend}, qubits={settings.qubits})",
        flush=True,
    )
    try:
        server.run()
    finally:
        engine.close()  # the app closes only engines it made itself


def _h11_with_header_deadline(header_timeout_s: float):
    """uvicorn's h11 protocol, closing a connection whose request line and headers take longer than
    header_timeout_s seconds: from connect, and from the end of each response (slowloris). uvicorn's
    keep-alive timeout covers only idle connections that already had a request, and only until data comes.
    """
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class H11WithHeaderDeadline(H11Protocol):
        def connection_made(self, transport) -> None:
            super().connection_made(transport)
            self._arm()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm()

        def connection_lost(self, exc) -> None:
            self._header_timer.cancel()
            super().connection_lost(exc)

        def _arm(self) -> None:
            timer = getattr(self, "_header_timer", None)
            if timer is not None:
                timer.cancel()
            armed_scope = getattr(self, "scope", None)  # a new request replaces the scope

            def expire() -> None:
                if getattr(self, "scope", None) is armed_scope and not self.transport.is_closing():
                    self.transport.close()

            self._header_timer = self.loop.call_later(header_timeout_s, expire)

    return H11WithHeaderDeadline


def _draining_server(config, *, traffic, drain_timeout_s: float):
    """A uvicorn server that drains before it stops: the first SIGTERM/SIGINT starts the drain.

    While draining, the service answers new requests 503 with Retry-After (probes excepted, /health/ready
    says "draining") and keeps listening, so a load balancer sees the refusal instead of a reset; once no
    request is in flight, or drain_timeout_s seconds have passed, uvicorn's own shutdown runs and the
    requests still running are cut off. The outcome is printed to stderr. A second signal stops at once.
    """
    import uvicorn

    class DrainingServer(uvicorn.Server):
        def __init__(self) -> None:
            super().__init__(config)
            self.drain_signal: int | None = None
            self.drain_started = 0.0

        def handle_exit(self, sig, frame) -> None:
            if self.drain_signal is None and not self.should_exit:
                self.drain_signal = sig
                self.drain_started = time.monotonic()
                traffic.draining = True
                return
            super().handle_exit(sig, frame)

        async def on_tick(self, counter: int) -> bool:
            if self.drain_signal is not None and not self.should_exit:
                waited = time.monotonic() - self.drain_started
                if traffic.active == 0 or waited >= drain_timeout_s:
                    cut_off = traffic.active
                    print(
                        f"qrbench: drained for {waited:.1f} s (limit {drain_timeout_s:g} s); "
                        f"{cut_off} request(s) still in flight were cut off.",
                        file=sys.stderr,
                        flush=True,
                    )
                    if cut_off:
                        self.config.timeout_graceful_shutdown = 0.1  # the drain has had its time
                    super().handle_exit(self.drain_signal, None)
            return await super().on_tick(counter)

    return DrainingServer()


def app_from_env():
    """uvicorn factory for multi-worker serving."""
    import json

    from .app import create_app

    settings = EngineSettings(**json.loads(os.environ["QRBENCH_ENGINE_SETTINGS"]))
    return create_app(settings)


def _settings_to_env(settings: EngineSettings) -> str:
    import dataclasses
    import json

    return json.dumps(dataclasses.asdict(settings))


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


ALLOCATORS = ("auto", "jemalloc", "system")
# Freed memory goes back to the system within about a second (a background thread purges dirty pages), so
# the service's RSS falls back after a burst. glibc's malloc keeps ~40 MB more after bursts of cold reranks
# even with malloc_trim (benchmarks/memory_bursts.py); a fixed mmap threshold returns it but encodes 25 %
# slower. Measured 2026-11-30, in-process, 4 bursts of 8 x 100 cold documents: glibc +90 MB, jemalloc +50 MB
# (the one-off growth of the first large passes), encoding time within 4 %.
JEMALLOC_CONF = "background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0"


def find_jemalloc() -> str | None:
    """The path of libjemalloc (for LD_PRELOAD), or None when it is not installed."""
    import glob

    for pattern in ("/usr/lib/*/libjemalloc.so.2", "/usr/lib/libjemalloc.so.2", "/usr/local/lib/libjemalloc.so.2"):
        found = sorted(glob.glob(pattern))
        if found:
            return found[0]
    return None


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class EmbeddedTarget:
    """The reference service in a child process on a free loopback port; a context manager.

    Starts `qrbench serve`, waits for /health/ready, and stops the child on exit (also when the body
    raised). `pid` is the child's, for the server-side monitor. `cpus` pins the child (taskset-style)
    so that a load generator pinned elsewhere does not compete with it.
    """

    def __init__(
        self,
        settings: EngineSettings | None = None,
        *,
        workers: int = 1,
        ready_timeout_s: float = 180.0,
        cpus: set[int] | None = None,
        log_path: Path | None = None,
        allocator: str = "auto",
    ) -> None:
        if allocator not in ALLOCATORS:
            raise TargetError(f"allocator is {allocator!r}; valid values are {', '.join(ALLOCATORS)}.")
        self.settings = settings or EngineSettings()
        # "auto": jemalloc when the system has it (apt-get install libjemalloc2), else the C library's malloc.
        self.jemalloc = find_jemalloc() if allocator in ("auto", "jemalloc") else None
        if allocator == "jemalloc" and self.jemalloc is None:
            raise TargetError(
                "allocator is 'jemalloc', but libjemalloc is not installed (apt-get install libjemalloc2)."
            )
        self.allocator = "jemalloc" if self.jemalloc else "system"
        self.workers = workers
        self.ready_timeout_s = ready_timeout_s
        self.cpus = cpus
        self.log_path = log_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self._log = None

    @property
    def pid(self) -> int:
        if self.process is None:
            raise TargetError("The embedded target has not been started.")
        return self.process.pid

    def start(self) -> EmbeddedTarget:
        import dataclasses

        args = [
            sys.executable,
            "-m",
            "qrbench",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
        ]
        for f in dataclasses.fields(self.settings):
            value = getattr(self.settings, f.name)
            if value is not None and value != f.default:
                args += [f"--{f.name.replace('_', '-')}", str(value)]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        if self.jemalloc:
            env["LD_PRELOAD"] = " ".join(filter(None, [self.jemalloc, env.get("LD_PRELOAD", "")]))
            env["MALLOC_CONF"] = JEMALLOC_CONF
        if self.log_path is not None:
            self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            args,
            env=env,
            stdout=self._log or subprocess.DEVNULL,
            stderr=self._log or subprocess.DEVNULL,
            start_new_session=True,
        )
        if self.cpus:
            os.sched_setaffinity(self.process.pid, self.cpus)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout_s
        with httpx.Client(timeout=2.0) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise TargetError(
                        f"The embedded target exited with code {self.process.returncode} before it was ready"
                        + (f"; its log is {self.log_path}." if self.log_path else "; pass log_path to keep its log.")
                    )
                try:
                    if client.get(self.url + "/health/ready").status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
        raise TargetError(f"The embedded target at {self.url} was not ready within {self.ready_timeout_s:.0f} s.")

    def stop(self, timeout_s: float | None = None) -> None:
        """SIGTERM, then SIGKILL after timeout_s seconds (default: the service's drain limit and 5 s more)."""
        if timeout_s is None:
            timeout_s = self.settings.drain_timeout_s + 5.0
        if self.process is not None and self.process.poll() is None:
            # The whole session: uvicorn's multi-worker mode has children of its own.
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> EmbeddedTarget:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
