"""Where load may go: loopback only, unless the caller explicitly allows a remote target."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from qrbench.errors import ParameterError, UnsafeTargetError

__all__ = ["check_target", "check_scenario_target"]

_SCHEMES = ("http", "https")


def _is_loopback(address: str) -> bool:
    # getaddrinfo may return scoped IPv6 addresses ("fe80::1%eth0"); the scope is not part of the address.
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def check_target(url: str, *, allow_remote: bool = False) -> str:
    """Check that a load target URL is safe to send load to, and return it without a trailing slash.

    Only http and https URLs are accepted. The host must resolve only to loopback addresses
    (127.0.0.0/8 or ::1), so "localhost" passes and a name that also resolves elsewhere does not;
    with ``allow_remote=True`` any host is accepted and nothing is resolved.
    """
    parts = urlsplit(url)
    if parts.scheme not in _SCHEMES:
        raise ParameterError(
            f"The target URL {url!r} has scheme {parts.scheme!r}; use http:// or https://, "
            "for example 'http://127.0.0.1:8000'."
        )
    host = parts.hostname
    if not host:
        raise ParameterError(f"The target URL {url!r} names no host; give one, e.g. 'http://127.0.0.1:8000'.")
    try:
        port = parts.port
    except ValueError as exc:
        raise ParameterError(f"The target URL {url!r} has an invalid port; use a number 1-65535.") from exc
    normalized = url.rstrip("/")
    if allow_remote:
        return normalized

    how = "pass allow_remote=True (the CLI's --allow-remote) if you mean to load a remote service"
    try:
        infos = socket.getaddrinfo(host, port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UnsafeTargetError(
            f"The target host {host!r} could not be resolved ({exc}), so it cannot be shown to be loopback; "
            f"use 127.0.0.1, ::1 or localhost, or {how}."
        ) from exc
    addresses = sorted({info[4][0] for info in infos})
    remote = [a for a in addresses if not _is_loopback(a)]
    if not addresses or remote:
        raise UnsafeTargetError(
            f"The target host {host!r} resolves to {', '.join(remote or addresses) or 'nothing'}, "
            f"which is not loopback (127.0.0.0/8 or ::1); load goes to loopback only unless you {how}."
        )
    return normalized


def check_scenario_target(url: str | None, *, allow_remote: bool = False) -> str | None:
    """check_target for a scenario's optional target (None: the embedded service, nothing to check).

    Call it before creating anything for the run, so that a refused target leaves no partial run folder.
    """
    return None if url is None else check_target(url, allow_remote=allow_remote)
