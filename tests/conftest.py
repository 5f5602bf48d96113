"""Shared fixtures: one real model per test session, real uvicorn servers on loopback ports, the real `qrbench`
command, and one smoke suite run shared by the tests of each study's notebook."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def embedder():
    from qrbench.target.embedding import Embedder
    from qrbench.target.settings import EngineSettings

    return Embedder(cache_size=EngineSettings().embedding_cache_size)


@contextmanager
def running_app(app) -> Iterator[str]:
    """Serve an ASGI app with a real uvicorn on a free 127.0.0.1 port in a thread; yields its URL."""
    import uvicorn

    from qrbench.target.server import free_port

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def _embedder_for(settings, shared):
    """The shared embedder when the settings ask for what it is (torch, full length, a large cache); else one of
    their own over the same loaded model, so that a service asked to be cold (embedding_cache_size=0) is."""
    from qrbench.target.embedding import Embedder

    same = settings.encoder == shared.encoder and settings.max_seq_length in (None, shared.max_seq_length)
    if same and settings.embedding_cache_size == shared.cache.capacity:
        return shared
    return Embedder(
        cache_size=settings.embedding_cache_size,
        model=shared.model,
        encoder=settings.encoder,
        max_seq_length=settings.max_seq_length,
    )


@pytest.fixture(scope="session")
def make_service(embedder):
    """Start a service over the shared model with the given settings; returns (url, app)."""
    from qrbench.target.app import create_app
    from qrbench.target.engine import RerankEngine
    from qrbench.target.settings import EngineSettings

    stack = []

    def make(**settings):
        s = EngineSettings(**settings)
        engine = RerankEngine(s, embedder=_embedder_for(s, embedder))
        app = create_app(s, engine=engine)
        cm = running_app(app)
        url = cm.__enter__()
        stack.append(cm)
        return url, app

    yield make
    for cm in reversed(stack):
        cm.__exit__(None, None, None)


@pytest.fixture(scope="session")
def service(make_service):
    """The default service (exact backend), shared by the contract tests."""
    return make_service()


@pytest.fixture(scope="session")
def checkout_env() -> dict[str, str]:
    """The environment of a `qrbench` subprocess: the checkout first on the path, also in the papermill kernels
    the command starts."""
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH")))),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }


@pytest.fixture(scope="session")
def qrbench(checkout_env):
    """Run the real command, `python -m qrbench *args` in cwd; returns the CompletedProcess (output captured)."""

    def run(*args: str, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "qrbench", *args],
            cwd=cwd,
            env=checkout_env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


@dataclass(frozen=True)
class SmokeSuite:
    """One `qrbench suite --params-dir smoke` run: the command's result, the folder it ran in, its suite folder."""

    done: subprocess.CompletedProcess
    cwd: Path
    folder: Path  # cwd/outputs/<UTC time>-suite/

    def study(self, name: str) -> Path:
        """The study's run folder in the suite (suite/<name>/), which must have run to the end: a study that
        failed fails its tests here, with the suite's stderr."""
        verdict = json.loads((self.folder / "summary.json").read_text())["studies"].get(name)
        assert verdict not in (None, "error"), f"the smoke suite's {name} study failed:\n{self.done.stderr[-3000:]}"
        return self.folder / name


SMOKE_SUITE_TIMEOUT_S = 1800


def pytest_collection_modifyitems(items):
    """The test that first asks for smoke_suite runs the whole suite in its setup: every such test gets the
    command's own time limit rather than pytest's 600 s per test."""
    for item in items:
        if "smoke_suite" in item.fixturenames:
            item.add_marker(pytest.mark.timeout(SMOKE_SUITE_TIMEOUT_S))


@pytest.fixture(scope="session")
def smoke_suite(tmp_path_factory, qrbench) -> SmokeSuite:
    """The smoke suite, run once as a user runs it (the real command, the default --out, progress shown, one
    embedded service shared by the studies that do not start their own): the suite test and the tests of each
    study's notebook assert on it instead of each running its own smoke study."""
    cwd = tmp_path_factory.mktemp("smoke-suite")
    done = qrbench("suite", "--params-dir", "smoke", cwd=cwd, timeout=SMOKE_SUITE_TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-3000:]
    (folder,) = (cwd / "outputs").glob("*-suite")
    return SmokeSuite(done=done, cwd=cwd, folder=folder)
