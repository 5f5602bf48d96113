"""Know the target before measuring it: what a service at a URL offers (`probe_target`).

Which contract endpoints answer and with what status, which health paths exist, whether `/metrics` exists and
which metric families it exposes (qrbench's own `qrbench_*`, the Prometheus Python client's `process_*`,
OpenTelemetry's `http_server_request_duration_seconds`, prometheus-fastapi-instrumentator's
`http_request_duration_seconds`), whether its process runs on this machine (pid by port) and is Python (so
py-spy can sample it), whether it is qrbench's bundled reference engine, and whether it needs an API key.
Studies record it in run.json (`target.probe`) and sections use what exists and name what does not.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil

from ..errors import QrbenchError
from ..monitor import pid_listening_on

__all__ = [
    "CONTRACT",
    "HEALTH_PATHS",
    "METRIC_FAMILIES",
    "TargetProbe",
    "NotAContractService",
    "probe_target",
    "check_contract",
    "probe_from_facts",
]

# The cheapest legal request of each contract endpoint: one document, the classical method.
CONTRACT: dict[str, dict[str, Any]] = {
    "/v1/similarity": {"text1": "qrbench probe", "text2": "qrbench probe", "method": "classical"},
    "/v1/rerank": {"query": "qrbench probe", "candidates": ["qrbench probe"], "top_k": 1, "method": "classical"},
    "/v1/batch-similarity": {"query": "qrbench probe", "candidates": ["qrbench probe"], "method": "classical"},
}
# In the order a liveness check should prefer them.
HEALTH_PATHS = ("/health/live", "/health/ready", "/health")
# family label -> a metric name that marks it (matched on the name before any _total/_bucket suffix).
METRIC_FAMILIES: dict[str, tuple[str, ...]] = {
    "qrbench": ("qrbench_",),
    "prometheus-client process": ("process_resident_memory_bytes", "process_cpu_seconds_total"),
    "opentelemetry": ("http_server_request_duration_seconds", "http_server_duration"),
    "instrumentator": ("http_request_duration_seconds", "http_requests_total"),
}
_REFERENCE_TITLE = "qrbench reference service"


class NotAContractService(QrbenchError):
    """The URL answers, but none of the contract endpoints does (or nothing answers at all)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TargetProbe:
    """What the target offers. Statuses are HTTP codes, or an error kind ("timeout", "refused", ...)."""

    url: str
    endpoints: dict[str, int | str]
    health: dict[str, int | str]
    metrics_status: int | str
    metric_families: tuple[str, ...]
    pid: int | None
    process_name: str | None
    python: bool | None  # None: not local (or not permitted to look)
    reference: bool
    api_key_needed: bool
    api_key_given: bool = False
    metric_names: tuple[str, ...] = field(default=())

    @property
    def speaks_contract(self) -> bool:
        return any(_ok(s) for s in self.endpoints.values())

    @property
    def health_path(self) -> str | None:
        """The path a liveness check should use: /health/live, else /health/ready, else /health; None when none."""
        return next((p for p in HEALTH_PATHS if _ok(self.health.get(p))), None)

    @property
    def has_metrics(self) -> bool:
        return self.metrics_status == 200 and bool(self.metric_names)

    @property
    def py_spy_can_sample(self) -> bool:
        return self.pid is not None and bool(self.python)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["metric_families"] = list(self.metric_families)
        out["metric_names"] = list(self.metric_names)
        out.update(health_path=self.health_path, speaks_contract=self.speaks_contract)
        return out

    def paragraph(self) -> str:
        """One short paragraph for people: what the target is and what it offers."""
        what = "qrbench's bundled reference engine" if self.reference else "a service qrbench did not write"
        answered = [f"{p} {s}" for p, s in self.endpoints.items()]
        health = self.health_path
        missing_health = [p for p in HEALTH_PATHS if p != health and not _ok(self.health.get(p))]
        if health is None:
            health_text = "no health path answers (tried " + ", ".join(HEALTH_PATHS) + ")"
        else:
            health_text = f"health checks use {health}" + (
                f" ({', '.join(missing_health)} absent)" if missing_health else ""
            )
        if self.has_metrics:
            metrics_text = "/metrics exposes " + (
                ", ".join(self.metric_families) + " metrics" if self.metric_families else "no family qrbench reads"
            )
        else:
            metrics_text = f"no /metrics ({_status_text(self.metrics_status)})"
        if self.pid is None:
            local = "its process is not on this machine (or not visible): no server CPU, memory or py-spy"
        else:
            kind = "a Python process, py-spy can sample it" if self.python else "not Python, py-spy cannot sample it"
            local = f"local pid {self.pid} ({self.process_name or 'unknown'}; {kind})"
        key = (
            "needs an API key" + (" (given)" if self.api_key_given else " (none given)")
            if self.api_key_needed
            else "no API key needed"
        )
        return (
            f"Target {self.url}: {what}; contract endpoints {', '.join(answered)}; {health_text}; {metrics_text}; "
            f"{local}; {key}."
        )


def _ok(status: int | str | None) -> bool:
    return isinstance(status, int) and 200 <= status < 300


def _status_text(status: int | str) -> str:
    return f"answers {status}" if isinstance(status, int) else status


def _error_kind(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.ConnectError):
        return "refused"
    return type(exc).__name__


def _families(names: set[str]) -> tuple[str, ...]:
    found = []
    for label, markers in METRIC_FAMILIES.items():
        if any(n.startswith(m) if m.endswith("_") else n == m or n.startswith(m + "_") for n in names for m in markers):
            found.append(label)
    return tuple(found)


def _metric_names(text: str) -> set[str]:
    from prometheus_client.parser import text_string_to_metric_families

    names: set[str] = set()
    try:
        for family in text_string_to_metric_families(text):
            names.update(s.name for s in family.samples)
    except ValueError:
        return set()
    return names


def _process(pid: int | None) -> tuple[str | None, bool | None]:
    if pid is None:
        return None, None
    try:
        proc = psutil.Process(pid)
        name = proc.name()
        exe = proc.exe() or ""
        cmd = " ".join(proc.cmdline()[:1])
    except psutil.Error:
        return None, None
    python = any("python" in part.lower().rsplit("/", 1)[-1] for part in (name, exe, cmd) if part)
    return name, python


def probe_target(
    url: str, *, headers: dict[str, str] | None = None, timeout_s: float = 30.0, local_pid: int | None = None
) -> TargetProbe:
    """Probe the service at url (a few cheap requests, each bounded by timeout_s). local_pid: the process
    when it is known (an embedded target); otherwise found by the URL's port when the host is loopback."""
    base = url.rstrip("/")
    headers = dict(headers or {})
    endpoints: dict[str, int | str] = {}
    health: dict[str, int | str] = {}
    with httpx.Client(timeout=timeout_s) as client:

        def status(method: str, path: str, **kw) -> tuple[int | str, httpx.Response | None]:
            try:
                r = client.request(method, base + path, **kw)
            except httpx.HTTPError as exc:
                return _error_kind(exc), None
            return r.status_code, r

        for path in HEALTH_PATHS:
            health[path] = status("GET", path)[0]
        key_needed = False
        for path, body in CONTRACT.items():
            code, _ = status("POST", path, json=body, headers=headers)
            if code in (401, 403):
                key_needed = True
            elif _ok(code) and headers and not key_needed:
                # Accepted with the key: does it need it? One request without.
                bare, _ = status("POST", path, json=body)
                key_needed = key_needed or bare in (401, 403)
            endpoints[path] = code
        metrics_status, r = status("GET", "/metrics", headers=headers)
        names = _metric_names(r.text) if r is not None and metrics_status == 200 else set()
        title_code, openapi = status("GET", "/openapi.json")
        title = ""
        if openapi is not None and title_code == 200:
            try:
                title = str(openapi.json().get("info", {}).get("title", ""))
            except ValueError:
                title = ""
    host = urlsplit(base).hostname or ""
    pid = local_pid
    if pid is None and (host in ("localhost", "::1") or host.startswith("127.")):
        pid = pid_listening_on(urlsplit(base).port or 80)
    name, python = _process(pid)
    families = _families(names)
    return TargetProbe(
        url=base,
        endpoints=endpoints,
        health=health,
        metrics_status=metrics_status,
        metric_families=families,
        metric_names=tuple(sorted(names)),
        pid=pid,
        process_name=name,
        python=python,
        reference="qrbench" in families or _REFERENCE_TITLE in title,
        api_key_needed=key_needed,
        api_key_given=bool(headers),
    )


def check_contract(probe: TargetProbe) -> TargetProbe:
    """probe, or NotAContractService naming what the URL answered."""
    if probe.speaks_contract:
        return probe
    if probe.api_key_needed:
        raise NotAContractService(
            f"{probe.url} answers its contract endpoints 401/403: it needs an API key"
            + (" and refused the one given" if probe.api_key_given else "")
            + ". Give it with --api-key KEY (qrbench probe) or target: {api_key: KEY} in the parameter file."
        )
    answered = ", ".join(f"{p} {_status_text(s)}" for p, s in probe.endpoints.items())
    raise NotAContractService(
        f"{probe.url} does not speak the QuantumRerank contract: {answered}. Give the URL of a service that "
        "answers POST /v1/similarity, /v1/rerank or /v1/batch-similarity (with --api-key KEY when it needs one)."
    )


def probe_from_facts(facts: dict[str, Any] | None) -> TargetProbe | None:
    """The TargetProbe a run.json recorded (`target.probe`), or None when none was recorded."""
    if not facts:
        return None
    known = {k: v for k, v in facts.items() if k in TargetProbe.__dataclass_fields__}
    try:
        known["metric_families"] = tuple(known.get("metric_families", ()))
        known["metric_names"] = tuple(known.get("metric_names", ()))
        return TargetProbe(**known)
    except TypeError:
        return None
