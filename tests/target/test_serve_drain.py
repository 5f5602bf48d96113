"""`qrbench serve` closes idle and slowloris connections, and stops within its drain limit under load,
refusing new work meanwhile (issue 12, items 2 and 7)."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import socket
import time

import httpx

from qrbench.target import EmbeddedTarget, EngineSettings


def test_sigterm_drains_within_the_limit_and_refuses_new_requests(tmp_path):
    settings = EngineSettings(
        compute_threads=1,
        max_concurrency=16,
        embedding_cache_size=0,
        similarity_cache_size=0,
        drain_timeout_s=1.0,
        keep_alive_s=0.5,
        body_timeout_s=1.0,
    )
    log = tmp_path / "serve.log"
    target = EmbeddedTarget(settings, log_path=log).start()
    try:
        url = target.url
        # An idle keep-alive connection is closed by the server after keep_alive_s.
        with socket.create_connection(("127.0.0.1", target.port), timeout=30) as sock:
            sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n")
            received = b""
            while data := sock.recv(65536):  # ends when the server closes; our 30 s timeout would raise
                received += data
            assert received.startswith(b"HTTP/1.1 200 ") and received.endswith(b'{"status":"alive"}')

        # Connections that send nothing, or headers that never end (slowloris), are closed too.
        for prefix in (b"", b"GET /health/live HTTP/1.1\r\nHost: x\r\n"):
            with socket.create_connection(("127.0.0.1", target.port), timeout=30) as sock:
                sock.sendall(prefix)
                assert sock.recv(65536) == b"", prefix

        # Twelve slow requests, computed one at a time: together far longer than the 1 s drain limit.
        docs = [f"document {i} " + "about contracts, courts and limitation periods " * 40 for i in range(100)]

        def slow(i: int) -> int | str:
            try:
                return httpx.post(
                    url + "/v1/rerank", json={"query": f"query {i}", "candidates": docs}, timeout=120
                ).status_code
            except httpx.TransportError as exc:
                return type(exc).__name__

        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            futures = [pool.submit(slow, i) for i in range(12)]
            with httpx.Client(timeout=30) as client:
                for _ in range(300):
                    if client.get(url + "/health").json()["in_flight"] >= 1:
                        break
                    time.sleep(0.05)
                os.kill(target.pid, signal.SIGTERM)
                refused = None
                for _ in range(100):  # the first request after the signal may race it
                    try:
                        r = client.post(url + "/v1/similarity", json={"text1": "a", "text2": "b"})
                    except httpx.TransportError:
                        break
                    if r.status_code == 503:
                        refused = r
                        break
                    time.sleep(0.01)
            assert refused is not None, "no 503 while draining"
            assert refused.headers["retry-after"] == "1" and "shutting down" in refused.json()["error"]
            target.process.wait(60)
            outcomes = [f.result() for f in futures]
    finally:
        target.stop()
    # The process ended while requests were still queued: the drain did not wait for all of them.
    assert outcomes.count(200) < len(outcomes), outcomes
    text = log.read_text()
    assert "request(s) still in flight were cut off" in text
    cut = int(text.split("(limit 1 s); ")[1].split(" request")[0])
    assert cut >= 1
