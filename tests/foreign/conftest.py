"""The foreign contract service (tests/foreign/service.py) started as its own process on a free loopback port."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

SERVICE = Path(__file__).with_name("service.py")


@contextmanager
def foreign_service(*args: str) -> Iterator[str]:
    """Run service.py with args on a free port; yields its URL; stopped (SIGTERM, then kill) on exit."""
    from qrbench.target.server import free_port

    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(SERVICE), "--port", str(port), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the foreign service exited: {proc.stderr.read().decode()[-2000:]}")
            try:
                if httpx.get(url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the foreign service did not answer /health within 60 s")
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        proc.stderr.close()


@pytest.fixture(scope="session")
def start_foreign_service():
    """foreign_service, for a test module's own fixture (a context manager: `with start(*args) as url`)."""
    return foreign_service


@pytest.fixture(scope="module")
def foreign_url() -> Iterator[str]:
    """A fast foreign service (a few ms per request, four slots, no errors), shared by a test module."""
    with foreign_service("--rerank-per-doc-ms", "1", "--slots", "4") as url:
        yield url
