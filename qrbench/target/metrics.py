"""Prometheus metrics of the service, in a registry of its own (one per app, so tests can make many)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

__all__ = ["ServiceMetrics"]

# Latency buckets in seconds: fine below the PRD's 100 ms / 500 ms targets, coarse above 1 s.
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0)


class _CacheCollector:
    """Reads the engine's cache, fallback and admission counters at scrape time, so the hot path counts nothing
    twice."""

    def __init__(self, engine_ref, admission_ref=None) -> None:
        self._engine_ref = engine_ref
        self._admission_ref = admission_ref

    def collect(self):
        admission = self._admission_ref() if self._admission_ref else None
        if admission is not None:
            shed = CounterMetricFamily(
                "qrbench_admission_shed",
                "Requests refused with 503 at once because their "
                "predicted or actual wait for a computation slot passed the queue budget.",
            )
            shed.add_metric([], admission.shed)
            gone = CounterMetricFamily(
                "qrbench_admission_client_gone",
                "Requests whose client disconnected while they waited or computed (their computation was cancelled).",
            )
            gone.add_metric([], admission.gone)
            waiting = GaugeMetricFamily("qrbench_admission_waiting", "Requests waiting for a computation slot.")
            waiting.add_metric([], admission.waiting)
            yield from (shed, gone, waiting)
        engine = self._engine_ref()
        if engine is None:
            return
        done = CounterMetricFamily(
            "qrbench_computations",
            "Engine computations by outcome: completed, or cancelled because the client left.",
            labels=["outcome"],
        )
        done.add_metric(["completed"], engine.counters.computed)
        done.add_metric(["cancelled"], engine.counters.cancelled)
        yield done
        batcher = engine.batcher
        if batcher is not None:
            for name, value, doc in (
                ("batches", batcher.batches, "Micro-batches of concurrent requests' cache misses planned."),
                ("texts", batcher.texts, "Distinct texts encoded by the micro-batches."),
                ("passes", batcher.passes, "Forward passes run by the micro-batcher."),
                ("padded_tokens", batcher.padded_tokens, "Tokens of those passes, padding included."),
            ):
                family = CounterMetricFamily(f"qrbench_embed_{name}", doc)
                family.add_metric([], value)
                yield family
        for name, cache in (("embedding", engine.embedder.cache), ("similarity", engine.similarity_cache)):
            hits = CounterMetricFamily(f"qrbench_{name}_cache_hits", f"{name.capitalize()} cache hits.")
            hits.add_metric([], cache.hits)
            misses = CounterMetricFamily(f"qrbench_{name}_cache_misses", f"{name.capitalize()} cache misses.")
            misses.add_metric([], cache.misses)
            size = GaugeMetricFamily(
                f"qrbench_{name}_cache_bytes", f"Estimated bytes held by the {name} cache (keys are 16-byte digests)."
            )
            size.add_metric([], cache.nbytes)
            entries = GaugeMetricFamily(f"qrbench_{name}_cache_entries", f"Entries in the {name} cache.")
            entries.add_metric([], len(cache))
            yield from (hits, misses, size, entries)
        fallbacks = CounterMetricFamily(
            "qrbench_classical_fallbacks",
            "Requests answered classically because the quantum backend failed or ran past its budget.",
            labels=["reason"],
        )
        for reason, count in sorted(dict(engine.counters.classical_fallbacks).items()):
            fallbacks.add_metric([reason], count)
        yield fallbacks


class ServiceMetrics:
    def __init__(self, engine_ref, admission_ref=None) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "qrbench_requests",
            'HTTP requests answered. endpoint is a route path or "unmatched"; method is the '
            "scoring method, empty when the request did not get that far.",
            ["endpoint", "method", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "qrbench_request_duration_seconds",
            "Time from request received to response ready.",
            ["endpoint", "method"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.similarity_seconds = Histogram(
            "qrbench_similarity_computation_seconds",
            "Engine time of one similarity computation.",
            ["method"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.batch_seconds = Histogram(
            "qrbench_batch_computation_seconds",
            "Engine time of one rerank or batch-similarity request.",
            ["method"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.quantum_seconds = Histogram(
            "qrbench_quantum_computation_seconds",
            "Time in the quantum backend (encoding and fidelity).",
            ["backend"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge("qrbench_requests_in_flight", "Requests being computed now.", registry=r)
        self.rejected = Counter(
            "qrbench_rejected_requests",
            "Requests refused with 503 because the concurrency bound was reached.",
            registry=r,
        )
        ProcessCollector(registry=r)  # process_resident_memory_bytes, process_cpu_seconds_total, ...
        r.register(_CacheCollector(engine_ref, admission_ref))
