"""Does the service's /metrics keep answering under load? Prometheus's own scrape_duration_seconds, idle vs loaded.

Starts the reference service (EmbeddedTarget, exact backend) and a real Prometheus scraping it every second
with qrbench's alert rules (parameters/thresholds.yaml, production windows), then measures:
  - idle: `--idle-s` seconds with no traffic;
  - loaded: `--load-s` seconds of `--users` closed-model users sending similarity and small reranks (half each)
    back to back;
and prints the median, p95 and maximum scrape duration (ms) of each, the loaded/idle ratio of the medians
(measured in the same run, so the machine's speed cancels out), the failed scrapes (`up` = 0: /metrics did not
answer within the 1-s scrape timeout) and the alerts Prometheus saw pending or firing.

    python benchmarks/metrics_scrape.py [--idle-s 15] [--load-s 30] [--users 8]

Needs the `prometheus` binary (apt-get install prometheus). A monitoring endpoint that stalls under load is a
finding: scrapes share the service's event loop with the requests.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from qrbench.load import ClosedModel, run_load
from qrbench.load.data import DataManager
from qrbench.monitor.alerts import load_thresholds, rules_yaml
from qrbench.monitor.prometheus_server import AlertPoller, PrometheusServer, alert_onsets
from qrbench.target import EngineSettings
from qrbench.target.server import EmbeddedTarget

ROOT = Path(__file__).resolve().parents[1]
# Short requests only: the point is a saturated service, not minute-long cold reranks of 100 documents.
MIX = {"similarity": 0.5, "rerank_small": 0.5}
METHODS = {"classical": 0.3, "quantum": 0.2, "hybrid": 0.5}


def _summary(seconds: np.ndarray) -> str:
    ms = 1000 * seconds
    return f"median {np.median(ms):.3g} ms, p95 {np.percentile(ms, 95):.3g} ms, max {ms.max():.3g} ms (n={ms.size})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--idle-s", type=float, default=15.0)
    ap.add_argument("--load-s", type=float, default=30.0)
    ap.add_argument("--users", type=int, default=8)
    args = ap.parse_args()
    rules = rules_yaml(load_thresholds(ROOT / "parameters" / "thresholds.yaml"))
    pool = DataManager.from_dir(seed=0).mix_sampler(MIX, METHODS, seed=0, pool_size=400)
    with (
        tempfile.TemporaryDirectory() as tmp,
        EmbeddedTarget(EngineSettings()) as target,
        PrometheusServer([target.url], run_dir=tmp, rules=rules) as prom,
        AlertPoller(prom) as poller,
    ):
        t0 = time.time()
        time.sleep(args.idle_s)
        t1 = time.time()
        result = run_load(
            target.url,
            pool,
            ClosedModel(users=args.users, duration_s=args.load_s),
            out_dir=Path(tmp) / "load",
            progress=False,
        )
        t2 = time.time()
        time.sleep(2.0)  # the last scrape of the loaded window
        idle = prom.scrape_durations(t0 + 2, t1)
        loaded = prom.scrape_durations(t1 + 1, t2)
        alerts = alert_onsets(poller.frame())
    print(
        f"load: {result.n_requests} requests, {result.achieved_rps:.3g} req/s, {result.n_errors} errors "
        f"{dict(result.error_counts)}"
    )
    print(f"idle   /metrics scrape: {_summary(idle['seconds'].to_numpy())}, failed {int((idle['up'] == 0).sum())}")
    print(f"loaded /metrics scrape: {_summary(loaded['seconds'].to_numpy())}, failed {int((loaded['up'] == 0).sum())}")
    print(f"loaded/idle median ratio: {loaded['seconds'].median() / idle['seconds'].median():.3g}")
    print("alerts seen:", "none" if alerts.empty else alerts.to_string(index=False))


if __name__ == "__main__":
    main()
