"""A loopback proxy that slows a service down by a known factor, to check that an A/B comparison finds it.

Every request is passed to the upstream service as is; the answer is held back for (factor - 1) x the time
the upstream took, so the latency seen through the proxy is `factor` times the upstream's (plus the
proxy's own small cost, the same for a proxy with factor 1, and the event loop's lateness in waking from
the hold, which a busy machine makes a millisecond or more). Two proxies in front of one service, one with
factor 1 and one with factor 1.1, are two targets whose true difference is 10 % of the service's time: for
a service answering in tens of milliseconds the wake-up lateness is small beside it; in front of a stub
answering in 5 ms it is not (the tests use a factor of 2 there and judge the verdict, not the size).

aiohttp only (plus qrbench.errors when started from Python), so it also runs as a script:
``python delay_proxy.py --upstream http://127.0.0.1:8000 --factor 1.1 --port 0`` prints ``listening <port>``
and serves until killed. start_delay_proxy() does that in a subprocess.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Iterator, Sequence

__all__ = ["start_delay_proxy"]

# Headers that belong to one hop and must not be forwarded.
_HOP = {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}


def _app(upstream: str, factor: float):
    from aiohttp import ClientSession, ClientTimeout, TCPConnector, web

    async def start(app: web.Application) -> None:
        app["session"] = ClientSession(
            base_url=upstream, timeout=ClientTimeout(total=300), connector=TCPConnector(limit=0)
        )

    async def stop(app: web.Application) -> None:
        await app["session"].close()

    async def forward(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        t0 = time.perf_counter()
        async with request.app["session"].request(
            request.method, request.rel_url.path_qs, data=body, headers=headers
        ) as r:
            payload = await r.read()
            status, content_type = r.status, r.headers.get("Content-Type", "application/octet-stream")
        upstream_s = time.perf_counter() - t0
        if factor > 1:
            await asyncio.sleep((factor - 1.0) * upstream_s)
        return web.Response(body=payload, status=status, headers={"Content-Type": content_type})

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    app.router.add_route("*", "/{tail:.*}", forward)
    return app


async def _serve(args: argparse.Namespace) -> None:
    from aiohttp import web

    runner = web.AppRunner(_app(args.upstream.rstrip("/"), args.factor), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"listening {port}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--upstream", required=True, help="the service's base URL, e.g. http://127.0.0.1:8000")
    p.add_argument("--factor", type=float, default=1.0, help="latency multiplier, at least 1 (1.1 = 10 %% slower)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    return p


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    if args.factor < 1:
        raise SystemExit(f"--factor must be at least 1 (1 passes answers on at once); got {args.factor}.")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


@contextlib.contextmanager
def start_delay_proxy(upstream: str, factor: float, *, startup_timeout_s: float = 30.0) -> Iterator[str]:
    """Run a delay proxy in front of `upstream` (loopback) in a subprocess; yield its base URL; stop it on exit.

    factor: at least 1; each answer is held back for (factor - 1) x the upstream's time.
    """
    from qrbench.errors import ParameterError
    from qrbench.load.safety import check_target
    from qrbench.load.stub_server import listening_process

    if isinstance(factor, bool) or not isinstance(factor, int | float) or factor < 1:
        raise ParameterError(f"factor must be a number of at least 1 (1.1 = 10 % slower); got {factor!r}.")
    upstream = check_target(upstream)
    argv = [sys.executable, os.path.abspath(__file__), "--upstream", upstream, "--factor", repr(float(factor))]
    with listening_process(argv, name="delay proxy", startup_timeout_s=startup_timeout_s) as url:
        yield url


if __name__ == "__main__":
    main()
