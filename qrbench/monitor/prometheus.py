"""Scrape a target's /metrics (Prometheus text format) into flat samples."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

__all__ = ["scrape", "sample_key", "counter_delta"]


def sample_key(name: str, labels: dict[str, str] | None = None) -> str:
    """'name{a=1,b=2}' with labels sorted: the key `scrape` uses."""
    inner = ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items()))
    return f"{name}{{{inner}}}"


def scrape(url: str, *, timeout_s: float = 5.0, headers: dict[str, str] | None = None) -> dict[str, float]:
    """All samples of `url`/metrics as {sample_key: value}; empty when the target has no Prometheus /metrics."""
    try:
        r = httpx.get(url.rstrip("/") + "/metrics", timeout=timeout_s, headers=headers)
    except httpx.HTTPError:
        return {}
    if r.status_code != 200:
        return {}
    out: dict[str, float] = {}
    try:
        for family in text_string_to_metric_families(r.text):
            for s in family.samples:
                out[sample_key(s.name, s.labels)] = s.value
    except ValueError:
        return {}  # /metrics answered, but not in the Prometheus text format: the target has no metrics
    return out


def counter_delta(before: dict[str, float], after: dict[str, float], name: str) -> float:
    """Sum over all label sets of counter `name` (e.g. 'qrbench_similarity_cache_hits_total'), after - before."""

    def total(samples: dict[str, float]) -> float:
        return sum(v for k, v in samples.items() if k.split("{", 1)[0] == name)

    return total(after) - total(before)
