"""Shared fixtures: one real model per test session, real uvicorn servers on loopback ports."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


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
