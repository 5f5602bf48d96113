"""A minimal loopback HTTP/1.1 responder, to measure the load generator itself and to test the driver.

It answers every request with a fixed small JSON body shaped like a QuantumRerank response, from a raw
asyncio protocol (no framework), so it is several times faster than the driver it measures. Behaviours
for tests and demonstrations: a fixed status, a delay per request, periodic stalls (every request
arriving during a stall waits for its end), connection resets, a non-JSON body.

Standard library only (plus qrbench.errors), so it also runs as a script (``python stub_server.py --port 0``: prints
``listening <port>`` on stdout and serves until killed). start_stub_server() does that in a subprocess.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence

from qrbench.errors import TargetError

__all__ = ["start_stub_server"]

_REASONS = {
    200: "OK",
    400: "Bad Request",
    422: "Unprocessable Entity",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class _Behaviour:
    def __init__(self, args: argparse.Namespace) -> None:
        self.status = args.status
        self.delay_s = args.delay_s
        self.stall_every_s = args.stall_every_s
        self.stall_s = args.stall_s
        self.reset = args.reset
        self.t0 = time.monotonic()
        if args.bad_body:
            body = b"<html>not json</html>"
        else:
            doc = {"results": [], "computation_time_ms": 1.5}
            if args.fallback:
                doc["query_metadata"] = {"classical_fallback": True}
            body = json.dumps(doc, separators=(",", ":")).encode()
        reason = _REASONS.get(self.status, "Status")
        head = (
            f"HTTP/1.1 {self.status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.response = head + body

    def wait_s(self) -> float:
        """Seconds to hold the response of a request arriving now."""
        wait = self.delay_s
        if self.stall_every_s > 0:
            phase = (time.monotonic() - self.t0) % self.stall_every_s
            if phase < self.stall_s:
                wait = max(wait, self.stall_s - phase)
        return wait


class _HttpProtocol(asyncio.Protocol):
    def __init__(self, behaviour: _Behaviour) -> None:
        self._b = behaviour
        self._buf = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None

    def data_received(self, data: bytes) -> None:
        self._buf += data
        while True:
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self._buf[:end].lower()
            length = 0
            at = head.find(b"\r\ncontent-length:")
            if at >= 0:
                line_end = head.find(b"\r\n", at + 2)
                length = int(head[at + 17 : line_end if line_end >= 0 else None])
            total = end + 4 + length
            if len(self._buf) < total:
                return
            self._buf = self._buf[total:]
            self._answer()

    def _answer(self) -> None:
        if self._transport is None:
            return
        if self._b.reset:
            self._transport.abort()
            return
        wait = self._b.wait_s()
        if wait > 0:
            asyncio.get_running_loop().call_later(wait, self._send)
        else:
            self._transport.write(self._b.response)

    def _send(self) -> None:
        if self._transport is not None:
            self._transport.write(self._b.response)


async def _serve(args: argparse.Namespace) -> None:
    behaviour = _Behaviour(args)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _HttpProtocol(behaviour), args.host, args.port, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    print(f"listening {port}", flush=True)
    async with server:
        await server.serve_forever()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--status", type=int, default=200)
    p.add_argument("--delay-s", type=float, default=0.0, help="hold every response this long")
    p.add_argument("--stall-every-s", type=float, default=0.0, help="period of stalls (0: none)")
    p.add_argument("--stall-s", type=float, default=0.0, help="length of each stall")
    p.add_argument("--reset", action="store_true", help="abort the connection instead of answering")
    p.add_argument("--bad-body", action="store_true", help="answer with a non-JSON body")
    p.add_argument("--fallback", action="store_true", help="mark answers as classical fallbacks")
    return p


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


@contextlib.contextmanager
def start_stub_server(
    *,
    status: int = 200,
    delay_s: float = 0.0,
    stall_every_s: float = 0.0,
    stall_s: float = 0.0,
    reset: bool = False,
    bad_body: bool = False,
    fallback: bool = False,
    cpus: Sequence[int] | None = None,
    startup_timeout_s: float = 10.0,
) -> Iterator[str]:
    """Run a stub server in a subprocess on a free 127.0.0.1 port; yield its base URL; stop it on exit.

    delay_s / stall_every_s / stall_s are seconds; cpus pins the server process to those CPU indices.
    """
    argv = [sys.executable, os.path.abspath(__file__), "--port", "0", "--status", str(status)]
    argv += ["--delay-s", str(delay_s), "--stall-every-s", str(stall_every_s), "--stall-s", str(stall_s)]
    argv += ["--reset"] * reset + ["--bad-body"] * bad_body + ["--fallback"] * fallback
    cpu_set = set(cpus) if cpus else None

    def pin() -> None:
        if cpu_set:
            os.sched_setaffinity(0, cpu_set)

    with listening_process(
        argv, name="stub server", startup_timeout_s=startup_timeout_s, preexec_fn=pin if cpu_set else None
    ) as url:
        yield url


@contextlib.contextmanager
def listening_process(argv: list[str], *, name: str, startup_timeout_s: float, preexec_fn=None) -> Iterator[str]:
    """Start `argv`, a loopback server that prints "listening PORT" when ready; yield its URL; stop it after.
    TargetError naming `name` when it does not say so within startup_timeout_s seconds."""
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, preexec_fn=preexec_fn) as proc:
        try:
            deadline = time.monotonic() + startup_timeout_s
            line = ""
            assert proc.stdout is not None
            while not line.startswith("listening") and time.monotonic() < deadline:
                line = proc.stdout.readline()
                if not line and proc.poll() is not None:
                    break
            if not line.startswith("listening"):
                raise TargetError(f"The {name} did not start within {startup_timeout_s} s (exit status {proc.poll()}).")
            yield f"http://127.0.0.1:{int(line.split()[1])}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


if __name__ == "__main__":
    main()
