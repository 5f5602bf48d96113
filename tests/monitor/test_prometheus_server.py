"""A real Prometheus scraping the real reference service every second and evaluating qrbench's rules: a burst
past low limits takes the p95 and shedding alerts from pending to firing; a light load within wide limits
fires none. The windows are seconds (rate over 10 s, `for:` 2 s) so the test is short; the rules are the same
code as production's minute-long ones."""

from __future__ import annotations

import shutil
import threading
import time

import httpx
import pytest

from qrbench.monitor.alerts import RuleWindows, rules_yaml
from qrbench.monitor.prometheus_server import AlertPoller, PrometheusServer, alert_onsets, prometheus_config
from qrbench.stats import Threshold

pytestmark = pytest.mark.skipif(
    shutil.which("prometheus") is None, reason="prometheus is missing (apt-get install prometheus)"
)

# The rate window spans several slow requests, so on a busy machine a window never goes empty mid-burst.
WINDOWS = RuleWindows(rate_window_s=10, warning_for_s=2, critical_for_s=2, evaluation_interval_s=1)


def _rules(p95_ms: tuple[float, float], success: tuple[float, float]) -> str:
    return rules_yaml(
        {
            "p95_ms": Threshold(metric="p95_ms", target=p95_ms[0], threshold=p95_ms[1], direction="below", unit="ms"),
            "success_ratio": Threshold(
                metric="success_ratio", target=success[0], threshold=success[1], direction="above", unit="fraction"
            ),
        },
        WINDOWS,
    )


def _client_loop(url: str, stop: threading.Event, worker: int, pause_s: float, deadline: float) -> None:
    """Reranks of never-seen texts (no cache hits: each one runs the model) until told to stop."""
    i = 0
    with httpx.Client(timeout=15) as client:
        while not stop.is_set() and time.monotonic() < deadline:
            i += 1
            body = {
                "query": f"query {worker} {i} about ranking",
                "method": "classical",
                "candidates": [f"document {worker} {i} {j} on retrieval" for j in range(4)],
            }
            r = client.post(url + "/v1/rerank", json=body)
            # A refused client backs off a little (as Retry-After asks): the fast 503s, which the latency
            # histogram also holds, stay a minority of its observations, so its p95 is a computed request's.
            if pause_s or r.status_code == 503:
                stop.wait(max(pause_s, 0.25))


def _load(url: str, *, clients: int, pause_s: float, stop: threading.Event, max_s: float) -> list[threading.Thread]:
    deadline = time.monotonic() + max_s
    threads = [
        threading.Thread(target=_client_loop, args=(url, stop, w, pause_s, deadline), daemon=True)
        for w in range(clients)
    ]
    for t in threads:
        t.start()
    return threads


def test_config_scrapes_loopback_targets_only():
    text = prometheus_config(["http://127.0.0.1:8000"], rules_path="/x/rules.yml")
    assert "127.0.0.1:8000" in text and "scrape_timeout: 1000ms" in text and "/x/rules.yml" in text
    with pytest.raises(ValueError, match="not on loopback"):
        prometheus_config(["http://10.0.0.1:8000"], rules_path=None)


def test_burst_past_low_limits_fires_p95_and_shedding_alerts(make_service, tmp_path):
    # Two requests computed at once, eight clients: most requests are refused with 503 (shedding), and the
    # accepted reranks take well over 3 ms (each runs the embedding model on five new texts).
    url, _ = make_service(max_concurrency=2, compute_threads=2)
    rules = _rules(p95_ms=(2.0, 3.0), success=(0.99, 0.95))
    stop = threading.Event()
    with PrometheusServer([url], run_dir=tmp_path, rules=rules) as prom, AlertPoller(prom, period_s=0.25) as poller:
        t0 = time.time()
        threads = _load(url, clients=8, pause_s=0.0, stop=stop, max_s=60)
        deadline = time.monotonic() + 60
        wanted = {("QrbenchLatencyP95High", "critical"), ("QrbenchSheddingHigh", "critical")}
        while time.monotonic() < deadline:
            frame = poller.frame()
            firing = set(map(tuple, frame[frame["state"] == "firing"][["alert", "severity"]].to_numpy()))
            if wanted <= firing:
                break
            time.sleep(0.5)
        stop.set()
        for t in threads:
            t.join(20)
        t1 = time.time()
        history = prom.alert_series(t0 - 1, t1 + 1, step_s=0.5)
        scrapes = prom.scrape_durations(t0, t1)
    onsets = alert_onsets(poller.frame()).set_index(["alert", "severity"])
    for key in wanted:
        assert key in onsets.index, (key, poller.frame())
        pending, firing = onsets.loc[key, "pending_t_unix"], onsets.loc[key, "firing_t_unix"]
        assert pending < firing, (key, pending, firing)  # pending first, firing once `for:` held
    assert {"pending", "firing"} <= set(history["state"])
    assert set(history["alert"]) >= {a for a, _ in wanted}
    assert len(scrapes) and scrapes["seconds"].notna().all()
    print(
        f"\n/metrics scrape under the burst: median {1000 * scrapes['seconds'].median():.3g} ms, "
        f"max {1000 * scrapes['seconds'].max():.3g} ms, {int((scrapes['up'] == 0).sum())} failed of {len(scrapes)}"
    )


def test_light_load_within_limits_fires_nothing(make_service, tmp_path):
    url, _ = make_service()
    rules = _rules(p95_ms=(10_000.0, 20_000.0), success=(0.99, 0.95))
    stop = threading.Event()
    with PrometheusServer([url], run_dir=tmp_path, rules=rules) as prom, AlertPoller(prom, period_s=0.25) as poller:
        t0 = time.time()
        threads = _load(url, clients=1, pause_s=0.2, stop=stop, max_s=60)
        # Long enough for an alert to have fired: the rate window, the `for:` and two evaluations.
        time.sleep(WINDOWS.rate_window_s + WINDOWS.critical_for_s + 3)
        stop.set()
        for t in threads:
            t.join(20)
        t1 = time.time()
        p95 = prom.query_range("job_endpoint:qrbench_request_duration_seconds:p95", t0, t1)
        history = prom.alert_series(t0 - 1, t1 + 1)
    assert len(p95) and (p95["value"] > 0).any()  # the rules ran over real data ...
    assert poller.frame().empty and history.empty  # ... and nothing went even pending
