"""Before/after figures of issue 12's service items against `qrbench serve` on loopback.

Run it once with the old code on PYTHONPATH and once with the new; it starts its own service each time:

    PYTHONPATH=<tree> python benchmarks/service_hardening.py --unknown 20000

It prints one line per item: /metrics size, series and scrape time after N unknown-path requests with an
API key (and the server's RSS), the time to the answer of an oversize Content-Length, the answer to a
60 MB junk body with the worst /health latency meanwhile, whether a slow-drip body is cut off, whether
a cache hit keeps its component scores, and the exit time after SIGTERM during slow requests. Only
settings that both old and new code know are used; timings are this machine's, at its current load.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import random
import signal
import socket
import subprocess
import threading
import time

import httpx
import psutil

from qrbench.target import EmbeddedTarget, EngineSettings


def _raw(port: int, head: bytes, wait_s: float) -> tuple[bytes, float]:
    """Send head, return the first bytes answered and the seconds until they came (b"" if none in wait_s)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as sock:
        t0 = time.perf_counter()
        sock.sendall(head)
        try:
            return sock.recv(200), time.perf_counter() - t0
        except (TimeoutError, ConnectionResetError):
            return b"", time.perf_counter() - t0


def metrics_growth(n: int) -> None:
    with EmbeddedTarget(EngineSettings(api_key="secret")) as t:
        proc = psutil.Process(t.pid)
        rss0 = proc.memory_info().rss
        rng = random.Random(1)
        with httpx.Client(base_url=t.url, timeout=30) as client:
            for _ in range(n):
                client.post("/v1/" + "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=16)), json={})
            t0 = time.perf_counter()
            text = client.get("/metrics").text
            scrape = time.perf_counter() - t0
        series = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
        print(
            f"1. after {n} unknown-path 401s: /metrics {len(text) / 1e3:.1f} KB, {series} series, "
            f"scrape {scrape * 1e3:.0f} ms; RSS {rss0 / 1e6:.0f} -> {proc.memory_info().rss / 1e6:.0f} MB"
        )


def body_limits() -> None:
    with EmbeddedTarget(EngineSettings()) as t:
        head = (
            b"POST /v1/rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 400000000\r\n\r\n"
        )
        answer, took = _raw(t.port, head, 10.0)
        status = answer.split(b"\r\n")[0].decode() or "no answer"
        print(f"2a. Content-Length 400 MB, no body sent: {status} after {took * 1e3:.0f} ms")
        for what, junk in (
            ("array", b"[" + b"1," * 30_000_000 + b"1]"),
            ("object", b'{"query": "q", "candidates": [' + b"1," * 30_000_000 + b"1]}"),
        ):
            _junk(t.url, what, junk)
        head = (
            b"POST /v1/similarity HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
        )
        with socket.create_connection(("127.0.0.1", t.port), timeout=0.5) as sock:
            sock.sendall(head)
            t0 = time.perf_counter()
            answer = b""
            while time.perf_counter() - t0 < 60:
                try:
                    sock.sendall(b" ")
                    answer = sock.recv(200)
                    break
                except TimeoutError:
                    continue
                except OSError:
                    break
        status = answer.split(b"\r\n")[0].decode() or "closed"
        print(f"2c. body dripped at 2 bytes/s: {status} after {time.perf_counter() - t0:.1f} s (gave up at 60 s)")


def _junk(url: str, what: str, junk: bytes) -> None:
    lat: list[float] = []
    result = {}

    def send() -> None:
        t0 = time.perf_counter()
        try:
            r = httpx.post(url + "/v1/rerank", content=junk, headers={"content-type": "application/json"}, timeout=120)
            result["status"] = r.status_code
        except httpx.TransportError as exc:
            result["status"] = type(exc).__name__
        result["s"] = time.perf_counter() - t0

    sender = threading.Thread(target=send)
    sender.start()
    with httpx.Client(timeout=60) as client:
        while sender.is_alive() and len(lat) < 2000:
            t0 = time.perf_counter()
            client.get(url + "/health")
            lat.append(time.perf_counter() - t0)
            time.sleep(0.01)
    sender.join()
    print(
        f"2b. 60 MB junk {what} to /v1/rerank: {result['status']} after {result['s']:.2f} s; "
        f"worst /health meanwhile {max(lat, default=0) * 1e3:.0f} ms"
    )


def cache_hit() -> None:
    with EmbeddedTarget(EngineSettings()) as t:
        pair = {"text1": "statute of limitations", "text2": "contract claims expire", "method": "hybrid"}
        miss, hit = (httpx.post(t.url + "/v1/similarity", json=pair, timeout=60).json() for _ in range(2))
        keys = ("classical_score", "quantum_score")
        print(
            "5. similarity cache miss/hit components: "
            f"{[miss['computation_details'][k] for k in keys]} / {[hit['computation_details'][k] for k in keys]}"
        )


def drain() -> None:
    t = EmbeddedTarget(
        EngineSettings(compute_threads=1, max_concurrency=32, embedding_cache_size=0, similarity_cache_size=0)
    ).start()
    docs = [f"document {i} " + "about contracts, courts and limitation periods " * 40 for i in range(100)]

    def slow(i: int):
        try:
            r = httpx.post(t.url + "/v1/rerank", json={"query": f"q {i}", "candidates": docs}, timeout=300)
            return r.status_code
        except httpx.TransportError as exc:
            return type(exc).__name__

    try:
        with concurrent.futures.ThreadPoolExecutor(12) as pool:
            futures = [pool.submit(slow, i) for i in range(12)]
            time.sleep(2.0)
            os.kill(t.pid, signal.SIGTERM)
            t0 = time.perf_counter()
            try:
                r = httpx.post(t.url + "/v1/similarity", json={"text1": "a", "text2": "b"}, timeout=5)
                during = r.status_code
            except httpx.TransportError as exc:
                during = type(exc).__name__
            try:
                t.process.wait(300)
                exit_s = f"{time.perf_counter() - t0:.1f} s"
            except subprocess.TimeoutExpired:
                exit_s = "more than 300 s (killed)"
            outcomes = [f.result() for f in futures]
    finally:
        t.stop()
    print(
        f"7. SIGTERM during 12 slow reranks: exit after {exit_s}; new request meanwhile: {during}; "
        f"outcomes {sorted(set(map(str, outcomes)))} ({outcomes.count(200)} completed)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unknown", type=int, default=20_000, help="unknown-path requests for item 1")
    args = parser.parse_args()
    metrics_growth(args.unknown)
    body_limits()
    cache_hit()
    drain()


if __name__ == "__main__":
    main()
