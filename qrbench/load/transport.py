"""The driver's HTTP seam: send one pre-encoded POST, get (status, body, error kind) back, never raise.

Two implementations: raw aiohttp (the default: fastest here) and httpx over the httpx-aiohttp
transport (the product's named client). One driver process, 32 connections, one core, against a
trivial loopback server (benchmarks/generator_speed.py): aiohttp ~15,000 req/s, httpx ~5,600 req/s.
httpx's own httpcore pool was ~550 req/s here, so it is not offered.

Failures come back as an error kind instead of an exception, so the request loop needs no try blocks:
"timeout", "connect" (refused, DNS, TLS setup), "reset" (peer closed or reset mid-exchange), "other".
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Protocol

import aiohttp
import httpx
from yarl import URL

from qrbench.errors import ParameterError
from qrbench.load.records import classify_exception

__all__ = ["Transport", "AiohttpTransport", "HttpxTransport", "TRANSPORTS", "make_transport", "classify_exception"]


# Idle keep-alive connections are closed by the client after this long: shorter than common servers' idle
# timeouts (uvicorn and node 5 s), so a request is never sent on a connection the server is closing. When
# the server's own timer fires first during an event-loop stall, uvicorn closes the connection with the
# request unread and the client sees a reset (the full load study of 2026-11-30 lost 148 requests so).
KEEPALIVE_S = 4.0


class Transport(Protocol):
    """What the driver needs from an HTTP client."""

    name: str

    async def post(self, path: str, body: bytes) -> tuple[int, bytes, str]:
        """POST body to base URL + path; return (status or 0, response body, "" or an error kind)."""
        ...

    async def aclose(self) -> None:
        """Close every connection."""
        ...


def _check(base_url: str, connections: int, timeout_s: float) -> None:
    if connections < 1:
        raise ParameterError(f"connections must be 1 or more, not {connections}.")
    if not timeout_s > 0:
        raise ParameterError(f"timeout_s must be more than 0 seconds, not {timeout_s!r}.")
    if not base_url.startswith(("http://", "https://")):
        raise ParameterError(f"The base URL {base_url!r} must start with http:// or https://.")


class AiohttpTransport:
    """Raw aiohttp: one ClientSession, `connections` keep-alive connections, a total timeout per request."""

    name = "aiohttp"

    def __init__(
        self, base_url: str, *, connections: int, timeout_s: float, headers: Mapping[str, str] | None = None
    ) -> None:
        _check(base_url, connections, timeout_s)
        self._base = base_url.rstrip("/")
        # URLs are parsed once per endpoint, not once per request.
        self._urls: dict[str, URL] = {}
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=connections, limit_per_host=0, keepalive_timeout=KEEPALIVE_S),
            timeout=aiohttp.ClientTimeout(total=timeout_s),
            headers={"Content-Type": "application/json", **(headers or {})},
            cookie_jar=aiohttp.DummyCookieJar(),  # cookies are not part of the contract; skip the work
        )

    async def post(self, path: str, body: bytes) -> tuple[int, bytes, str]:
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = URL(self._base + path)
        try:
            async with self._session.post(url, data=body) as response:
                return response.status, await response.read(), ""
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a failed request is a record with its error kind, never a raise
            return 0, b"", classify_exception(exc)

    async def aclose(self) -> None:
        await self._session.close()


class HttpxTransport:
    """httpx.AsyncClient over httpx-aiohttp's AiohttpTransport (httpx's own pool is much slower here)."""

    name = "httpx"

    def __init__(
        self, base_url: str, *, connections: int, timeout_s: float, headers: Mapping[str, str] | None = None
    ) -> None:
        from httpx_aiohttp import AiohttpTransport as _HttpxAiohttp

        _check(base_url, connections, timeout_s)
        self._base = base_url.rstrip("/")
        self._urls: dict[str, httpx.URL] = {}
        self._timeout_s = timeout_s
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)

        def session() -> aiohttp.ClientSession:
            return aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=connections, limit_per_host=0, keepalive_timeout=KEEPALIVE_S),
                cookie_jar=aiohttp.DummyCookieJar(),
            )

        self._client = httpx.AsyncClient(
            transport=_HttpxAiohttp(limits=limits, client=session),
            timeout=httpx.Timeout(timeout_s),
            headers={"Content-Type": "application/json", **(headers or {})},
        )

    async def post(self, path: str, body: bytes) -> tuple[int, bytes, str]:
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = httpx.URL(self._base + path)
        try:
            # httpx-aiohttp sets only per-read timeouts; this makes timeout_s a total, as with aiohttp.
            async with asyncio.timeout(self._timeout_s):
                response = await self._client.post(url, content=body)
            return response.status_code, response.content, ""
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a failed request is a record with its error kind, never a raise
            return 0, b"", classify_exception(exc)

    async def aclose(self) -> None:
        await self._client.aclose()


TRANSPORTS: dict[str, type[AiohttpTransport] | type[HttpxTransport]] = {
    "aiohttp": AiohttpTransport,
    "httpx": HttpxTransport,
}


def make_transport(
    name: str, base_url: str, *, connections: int, timeout_s: float, headers: Mapping[str, str] | None = None
) -> Transport:
    """Build the named transport ("aiohttp" or "httpx"); call inside the event loop that will use it."""
    try:
        cls = TRANSPORTS[name]
    except KeyError:
        raise ParameterError(f"Transport {name!r} is unknown; use one of {', '.join(TRANSPORTS)}.") from None
    return cls(base_url, connections=connections, timeout_s=timeout_s, headers=headers)
