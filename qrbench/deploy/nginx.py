"""A real load balancer in front of N service instances: nginx, configured and run by qrbench.

The configuration is generated into the run folder (``<run_dir>/nginx/nginx.conf``), and every path nginx
writes (pid, error log, optional access log, temp files) is inside that folder, so it runs as root or as
anyone without touching /etc or /var. `NginxBalancer` starts ``nginx -p <prefix> -c nginx.conf -g
'daemon off;'`` as a child in its own session, waits until ``/health/ready`` answers through it, and stops the
whole process group on exit, also when the body raised.

Policies: ``round_robin`` (nginx's default) and ``least_conn``. Connections to the instances are kept
alive. The balancer neither retries a failed request on another instance (``proxy_next_upstream off``) nor
takes an instance out after failures (``max_fails=0``): each client request reaches exactly one instance,
so the instances' request shares are the policy's own and every failure reaches the client's records.

Needs the ``nginx`` binary (Debian: ``apt-get install nginx-light``).
"""

from __future__ import annotations

import ipaddress
import os
import pwd
import shutil
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd

from qrbench.errors import ParameterError, TargetError
from qrbench.load.lifeline import stop_session, wait_until_ready

__all__ = ["NginxBalancer", "nginx_config", "find_nginx", "read_access_log", "BALANCE_POLICIES"]

BALANCE_POLICIES = ("round_robin", "least_conn")

# The access log's fields (optional): nginx's own clock and what it saw of each request.
_LOG_FORMAT = "$msec $upstream_addr $status $request_time $upstream_response_time $request_length $bytes_sent"
_LOG_COLUMNS = ["t_unix", "upstream", "status", "request_s", "upstream_s", "request_bytes", "response_bytes"]


def find_nginx(path: str | os.PathLike[str] | None = None) -> str:
    """The nginx executable: `path` if given, else `nginx` on PATH or in /usr/sbin; a clear error if absent."""
    candidates = [str(path)] if path else [shutil.which("nginx") or "", "/usr/sbin/nginx", "/usr/local/sbin/nginx"]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise TargetError(
        "nginx is not installed, and the instances study puts nginx in front of the service instances; "
        "install it with `apt-get install nginx-light` (Debian/Ubuntu)"
        + (f"; {path} is not an executable file." if path else ".")
    )


def _upstream_address(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or not parts.port:
        raise ParameterError(f"The instance URL {url!r} must be http://HOST:PORT, e.g. http://127.0.0.1:8001.")
    try:
        loopback = ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        loopback = parts.hostname == "localhost"
    if not loopback:
        raise ParameterError(
            f"The instance URL {url!r} is not on loopback; qrbench balances only instances it runs on this "
            "machine (127.0.0.1)."
        )
    host = "127.0.0.1" if parts.hostname == "localhost" else parts.hostname
    return f"[{host}]:{parts.port}" if ":" in host else f"{host}:{parts.port}"


def nginx_config(
    upstreams: Sequence[str],
    *,
    listen_port: int,
    prefix: str | os.PathLike[str],
    balance: str = "round_robin",
    keepalive: int = 64,
    access_log: bool = False,
    worker_processes: int = 1,
    timeout_s: float = 60.0,
    user: str | None = None,
) -> str:
    """The text of nginx.conf balancing `upstreams` (instance base URLs) on 127.0.0.1:`listen_port`.

    prefix: the folder holding every file nginx writes (absolute paths are written into the file).
    keepalive: idle connections to the instances kept open per nginx worker. timeout_s: seconds nginx waits
    for an instance's answer. user: the `user` directive (only meaningful when nginx starts as root).
    """
    if not upstreams:
        raise ParameterError("nginx needs at least one upstream instance; the list of instance URLs is empty.")
    if balance not in BALANCE_POLICIES:
        raise ParameterError(f"balance is {balance!r}; valid policies are {', '.join(BALANCE_POLICIES)}.")
    if keepalive < 1 or worker_processes < 1:
        raise ParameterError("keepalive and worker_processes must both be 1 or more.")
    if not timeout_s > 0:
        raise ParameterError(f"timeout_s is {timeout_s!r}; it must be a positive number of seconds.")
    p = Path(prefix).resolve()
    servers = "\n".join(f"        server {_upstream_address(u)} max_fails=0;" for u in upstreams)
    policy = "        least_conn;\n" if balance == "least_conn" else ""
    log = (
        f"    log_format qrbench '{_LOG_FORMAT}';\n    access_log {p / 'access.log'} qrbench buffer=64k flush=1s;"
        if access_log
        else "    access_log off;"
    )
    timeout = f"{max(1, round(timeout_s))}s"
    return f"""# Generated by qrbench for one run ({balance}, {len(upstreams)} instance(s)); started as
# nginx -p {p} -c nginx.conf -g 'daemon off;'
{f"user {user};" if user else "# user: unchanged (not started as root)"}
worker_processes {worker_processes};
pid {p / "nginx.pid"};
error_log {p / "error.log"} warn;

events {{
    worker_connections 4096;
}}

http {{
{log}
    client_body_temp_path {p / "temp" / "client_body"};
    proxy_temp_path {p / "temp" / "proxy"};
    fastcgi_temp_path {p / "temp" / "fastcgi"};
    uwsgi_temp_path {p / "temp" / "uwsgi"};
    scgi_temp_path {p / "temp" / "scgi"};
    # Request and response bodies (up to ~5 MB for 1,000 candidates) stay in memory: no temp files on the path.
    client_max_body_size 64m;
    client_body_buffer_size 8m;
    proxy_buffer_size 64k;
    proxy_buffers 128 64k;
    proxy_busy_buffers_size 128k;
    keepalive_requests 1000000;
    keepalive_timeout 75s;

    upstream qrbench_instances {{
{policy}{servers}
        keepalive {keepalive};
    }}

    server {{
        listen 127.0.0.1:{listen_port} backlog=4096;
        location / {{
            proxy_pass http://qrbench_instances;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            # One instance per request: no retry elsewhere, so shares and failures are the policy's own.
            proxy_next_upstream off;
            proxy_connect_timeout 5s;
            proxy_send_timeout {timeout};
            proxy_read_timeout {timeout};
        }}
    }}
}}
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NginxBalancer:
    """nginx balancing `upstreams` (instance base URLs on loopback), as a context manager; `url` is its address.

    run_dir: the run folder; nginx's files go to run_dir/`name`/. balance: "round_robin" or "least_conn".
    port: where nginx listens (None: a free loopback port). ready_timeout_s: seconds allowed for nginx to
    start and for /health/ready to answer 200 through it. timeout_s: seconds nginx waits for an instance.
    """

    def __init__(
        self,
        upstreams: Sequence[str],
        *,
        run_dir: str | os.PathLike[str],
        balance: str = "round_robin",
        port: int | None = None,
        keepalive: int = 64,
        access_log: bool = False,
        worker_processes: int = 1,
        timeout_s: float = 60.0,
        ready_timeout_s: float = 15.0,
        name: str = "nginx",
        nginx: str | os.PathLike[str] | None = None,
    ) -> None:
        self.upstreams = tuple(upstreams)
        self.balance = balance
        self.prefix = Path(run_dir).resolve() / name
        self.port = port or _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ready_timeout_s = ready_timeout_s
        self.executable = find_nginx(nginx)
        user = pwd.getpwuid(os.geteuid()).pw_name if os.geteuid() == 0 else None
        # Validates everything (policy, URLs) before anything starts.
        self.config = nginx_config(
            self.upstreams,
            listen_port=self.port,
            prefix=self.prefix,
            balance=balance,
            keepalive=keepalive,
            access_log=access_log,
            worker_processes=worker_processes,
            timeout_s=timeout_s,
            user=user,
        )
        self.process: subprocess.Popen | None = None
        self._log = None

    @property
    def config_path(self) -> Path:
        return self.prefix / "nginx.conf"

    @property
    def access_log_path(self) -> Path:
        return self.prefix / "access.log"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise TargetError("nginx has not been started.")
        return self.process.pid

    def start(self) -> NginxBalancer:
        """Write the configuration, start nginx, and wait until /health/ready answers through it."""
        if self.process is not None:
            raise TargetError("This NginxBalancer was already started; make a new one for a new run.")
        (self.prefix / "temp").mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(self.config)
        args = [
            self.executable,
            "-p",
            f"{self.prefix}/",
            "-c",
            str(self.config_path),
            "-e",
            str(self.prefix / "error.log"),
            "-g",
            "daemon off;",
        ]
        self._log = open(self.prefix / "stderr.log", "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log, start_new_session=True
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _error_tail(self) -> str:
        lines: list[str] = []
        for name in ("stderr.log", "error.log"):
            path = self.prefix / name
            if path.is_file():
                lines += path.read_text(errors="replace").strip().splitlines()[-5:]
        return " | ".join(lines) or "no message"

    def _wait_ready(self) -> None:
        assert self.process is not None
        # A new connection each time: nginx must answer, and pass the request to an instance that answers.
        wait_until_ready(
            self.process,
            self.url + "/health/ready",
            name="nginx",
            timeout_s=self.ready_timeout_s,
            detail=lambda: f"{self._error_tail()}; its configuration is {self.config_path}",
        )

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop nginx (master and workers: its whole session); safe to call twice."""
        stop_session(self.process, timeout_s)  # SIGTERM is nginx's fast shutdown
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> NginxBalancer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def read_access_log(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The optional access log as a frame: t_unix (s), upstream (host:port), status, request_s, upstream_s
    (seconds, NaN when nginx did not reach an instance), request_bytes, response_bytes."""
    path = Path(path)
    if not path.is_file():
        return pd.DataFrame(columns=_LOG_COLUMNS)
    rows = []
    for line in path.read_text(errors="replace").splitlines():
        fields = line.split()
        if len(fields) != len(_LOG_COLUMNS):
            continue  # a torn last line, or a request nginx answered itself with several upstreams tried
        rows.append(fields)
    frame = pd.DataFrame(rows, columns=_LOG_COLUMNS)
    for column in ("t_unix", "request_s", "upstream_s"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    for column in ("status", "request_bytes", "response_bytes"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
    return frame
