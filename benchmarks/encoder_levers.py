"""Throughput of the mixed workload per service setting (encoder, batching), and where a request's time goes.

For each setting (a JSON object of EngineSettings fields; the first is the reference), in turn and for
`--rounds` rounds alternating the order (drifting noise hits every setting alike): start the embedded
service unpinned with that setting, prime the mixed workload's documents into its cache, then 32 closed-model
users with no think time send the mixed workload of benchmarks/service_speed.py (30 % similarity, 40 % rerank
of 10, 20 % of 25-50, 10 % of 100; a new query in every request) over aiohttp for `--seconds` after a 4 s
warm-up. Prints per setting: ok req/s (and its ratio to the reference), p50/p95 from the client, the
server's CPU and the whole machine's, and the medians of what the service reports per request
(computation_time_ms, embedding_ms: the wait for the micro-batcher included), and how the micro-batcher
grouped the encodings (texts per batch and per forward pass, padded tokens per text). Its own small closed-model
client rather than qrbench.load.run_load: the driver's records keep computation_time_ms but not the
response's embedding_ms, which is what this benchmark sets beside it.

    python benchmarks/encoder_levers.py                                  # torch, onnx, onnx-int8 (~5 minutes)
    python benchmarks/encoder_levers.py '{}' '{"embed_batch_window_ms": 0}' --rounds 2

Judge each encoder's ranking quality with `python benchmarks/service_speed.py --only quality`.

Same-run ratios (absolute figures from another day are not claims): 2026-11-30 15:17 UTC, idle machine,
`--rounds 2`, calibration CV 3-5 % before the runs: onnx / torch 1.14 (170.6 and 181.3 vs 155.3 and 152.2
req/s; p95 308 vs 350 ms), onnx-int8 / torch 1.84 (289.2 and 278.0 req/s, p95 173 ms); 0 errors in every run.
Texts per micro-batch 22-28; per forward pass 5 (passes hold one padded length) and 1 for int8 (dynamic
quantisation is not batch-independent). The TorchScript-traced torch encoder against the eager one it
replaced, same script, alternating trees: 153.1 and 158.8 vs 139.8 and 135.1 req/s (1.13). The rounds of one
setting can differ by up to 25 %: read ratios, not single runs. (The end-of-run calibration can read high
while the last server process exits.)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

import aiohttp
import httpx
import numpy as np
import psutil
from prometheus_client.parser import text_string_to_metric_families

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).parent))

import service_speed as ss  # noqa: E402

from qrbench.errors import QrbenchError  # noqa: E402
from qrbench.load.data import DataManager  # noqa: E402
from qrbench.monitor.noise import calibration_timings  # noqa: E402
from qrbench.stats import noise_cv  # noqa: E402
from qrbench.target import EmbeddedTarget, EngineSettings  # noqa: E402

USERS = 32
WARM_S = 4.0
DEFAULT_SETTINGS = ("{}", '{"encoder": "onnx"}', '{"encoder": "onnx-int8"}')


async def closed_users(url: str, specs: list, seconds: float) -> list[tuple[float, float, float]]:
    """USERS users, each sending the next request as soon as its answer came; (client ms, computation ms,
    embedding ms) per answered request. Bounded by the time and by the requests given."""
    requests = iter(specs)
    out: list[tuple[float, float, float]] = []
    connector = aiohttp.TCPConnector(limit=USERS)
    async with aiohttp.ClientSession(base_url=url, connector=connector) as session:
        end = time.perf_counter() + seconds

        async def user() -> None:
            for spec in requests:
                if time.perf_counter() > end:
                    return
                t0 = time.perf_counter()
                async with session.post(
                    spec.endpoint, data=spec.body, headers={"content-type": "application/json"}
                ) as response:
                    body = await response.json()
                if response.status != 200:
                    raise RuntimeError(f"{spec.endpoint} answered {response.status}: {body}")
                details = body.get("query_metadata") or body["computation_details"]
                out.append(((time.perf_counter() - t0) * 1000, body["computation_time_ms"], details["embedding_ms"]))

        await asyncio.gather(*(user() for _ in range(USERS)))
    return out


def batching(url: str) -> dict[str, float]:
    """The micro-batcher's counters from the service's /metrics (empty when batching is off)."""
    text = httpx.get(url + "/metrics", timeout=10.0).text
    return {
        sample.name.removeprefix("qrbench_embed_").removesuffix("_total"): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("qrbench_embed_") and sample.name.endswith("_total")
    }


def measure(settings: EngineSettings, specs: list, docs: list[str], seconds: float) -> dict:
    with EmbeddedTarget(settings) as target:
        ss.prime(target.url, docs)
        warm = len(specs) // 4
        asyncio.run(closed_users(target.url, specs[:warm], WARM_S))
        psutil.cpu_percent()
        before = batching(target.url)
        cpu0, wall0 = ss.tree_cpu_s(target.pid), time.perf_counter()
        rows = asyncio.run(closed_users(target.url, specs[warm:], seconds))
        wall = time.perf_counter() - wall0
        server = (ss.tree_cpu_s(target.pid) - cpu0) / wall
        machine = psutil.cpu_percent() / 100 * psutil.cpu_count()
        batches = {k: v - before.get(k, 0.0) for k, v in batching(target.url).items()}
    a = np.array(rows)
    return {
        "rps": len(a) / wall,
        "p50": float(np.percentile(a[:, 0], 50)),
        "p95": float(np.percentile(a[:, 0], 95)),
        "server": server,
        "machine": machine,
        "computation": float(np.median(a[:, 1])),
        "embedding": float(np.median(a[:, 2])),
        "n": len(a),
        # texts per micro-batch, texts per forward pass, padded tokens per text (nan: batching off)
        "per_batch": batches["texts"] / batches["batches"] if batches.get("batches") else float("nan"),
        "per_pass": batches["texts"] / batches["passes"] if batches.get("passes") else float("nan"),
        "tokens": batches["padded_tokens"] / batches["texts"] if batches.get("texts") else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("settings", nargs="*", default=list(DEFAULT_SETTINGS), help="JSON EngineSettings fields")
    parser.add_argument("--seconds", type=float, default=15.0, help="measured seconds per run (default 15)")
    parser.add_argument("--rounds", type=int, default=1, help="runs per setting, order alternating (default 1)")
    args = parser.parse_args()
    if not 1 <= args.rounds <= 10 or not 1 <= args.seconds <= 600:
        raise SystemExit("--rounds takes 1 to 10 and --seconds 1 to 600.")
    try:
        configs = [(text, EngineSettings(**json.loads(text))) for text in args.settings]
    except (ValueError, TypeError, QrbenchError) as exc:
        example = json.dumps({"encoder": "onnx"})
        raise SystemExit(f"each setting is a JSON object of EngineSettings fields, e.g. '{example}': {exc}") from None
    cv = noise_cv(calibration_timings())
    print(f"machine noise: CV {cv:.1%} of a fixed calibration loop; load average {os.getloadavg()[0]:.2f}", flush=True)
    dm, what = ss.workload(DataManager.from_dir(), ss.FULL)
    specs = ss.uniquify(list(dm.mix_sampler(ss.MIX, ss.METHOD_MIX, seed=7, pool_size=ss.FULL.pool)), ss.Fresh())
    per_round = len(specs) // (len(configs) * args.rounds)
    docs = ss.documents_of(specs)
    print(f"mixed workload over {what}: {len(docs)} documents primed per server, {USERS} users", flush=True)
    results: dict[str, list[dict]] = {text: [] for text, _ in configs}
    chunk = 0
    for r in range(args.rounds):
        for text, settings in configs if r % 2 == 0 else configs[::-1]:
            part = specs[chunk * per_round : (chunk + 1) * per_round]  # no query is sent twice
            chunk += 1
            run = measure(settings, part, docs, args.seconds)
            results[text].append(run)
            print(f"  {text} round {r + 1}: {run['rps']:.1f} req/s, p95 {run['p95']:.0f} ms", flush=True)
    reference = np.mean([run["rps"] for run in results[configs[0][0]]])
    rows = []
    for text, runs in results.items():
        rps = [run["rps"] for run in runs]
        rows.append(
            [
                text,
                " / ".join(f"{x:.1f}" for x in rps),
                f"{np.mean(rps) / reference:.2f}",
                ss.ms(np.mean([run["p50"] for run in runs])),
                ss.ms(np.mean([run["p95"] for run in runs])),
                f"{np.mean([run['server'] for run in runs]) * 100:.0f}",
                f"{np.mean([run['machine'] for run in runs]) * 100:.0f}",
                ss.ms(np.mean([run["computation"] for run in runs])),
                ss.ms(np.mean([run["embedding"] for run in runs])),
                f"{np.mean([run['per_batch'] for run in runs]):.1f}",
                f"{np.mean([run['per_pass'] for run in runs]):.1f}",
                f"{np.mean([run['tokens'] for run in runs]):.0f}",
            ]
        )
    ss.table(
        f"mixed workload per setting ({USERS} closed users, {args.seconds:g} s per run; CPU in % of one core; "
        "computation and embedding: medians the service reports, embedding including the wait for its batch; "
        "texts per micro-batch and per forward pass, and padded tokens per text, from the service's /metrics)",
        [
            "setting",
            "ok req/s per round",
            "/ first",
            "p50 ms",
            "p95 ms",
            "server CPU",
            "machine CPU",
            "computation",
            "embedding",
            "texts/batch",
            "texts/pass",
            "tokens/text",
        ],
        rows,
    )
    print(f"machine noise at the end: CV {noise_cv(calibration_timings()):.1%}")


if __name__ == "__main__":
    main()
