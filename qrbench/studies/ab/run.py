"""`qrbench ab`'s measurement: targets A and B in one run, in alternating blocks.

Writes run.json (with `targets`: both targets' facts, `schedule`: the arm of each block), stages.json and
stages/<arm>[.r<block>]/ (one driver run per block, as studies/stages.py lays out; `repetition` is the block's
index), warm-up stages `warmup/A` and `warmup/B`, and a/target.log, b/target.log for embedded targets.

Each pair of blocks holds one A and one B block in a random order (stats.pair_schedule). Every block sends the
same pool of requests, each with a query never sent before, so no answer comes from a similarity cache while
documents recur as in production; the warm-up sends the pool once to each target, so every document's
embedding is cached before the first block. Requests go one at a time: the blocks measure latency, not capacity.

Without URLs both embedded services are started and stay alive for the whole run; only the target whose block
it is receives requests. Restarting a service per block would cost a model load (10-20 s) per block and measure
cold caches; pinning the two to separate cores would let the cores' own differences pass for a difference
between the targets, which alternation cannot cancel. Idle, a service costs memory, not CPU.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from ... import stats
from ...deploy import open_target, target_facts
from ...errors import ParameterError
from ...load import DataManager, RequestSpec
from ...monitor import calibration_timings
from ...params import to_dict
from ..folder import RunFolder
from ..requests import tagged
from ..stages import StageRunner
from .params import ABParams, kind_request

__all__ = ["run_ab", "request_pool"]


def request_pool(params: ABParams) -> list[RequestSpec]:
    """One block's requests: `requests_per_kind` of every kind, interleaved (k0, k1, k0, k1, ...), from the seed."""
    data = DataManager.from_dir(seed=params.seed)
    rng = np.random.default_rng(params.seed)
    pool = []
    for _ in range(params.requests_per_kind):
        for kind in params.kinds:
            endpoint, n = kind_request(kind)
            if endpoint == "similarity":
                pool.append(data.similarity(params.method, rng=rng, kind=kind))
            else:
                pool.append(data.rerank(n, params.method, rng=rng, kind=kind))
    return pool


def run_ab(params: ABParams, run_dir: str | Path, *, url: str | None = None, progress: bool = True) -> Path:
    """Measure targets A and B (params.a, params.b: a URL each, or embedded services) into run_dir."""
    if url:
        raise ParameterError("The A/B comparison takes two targets: give them as a.url and b.url (--a, --b).")
    schedule = stats.pair_schedule(params.pairs, seed=params.seed)
    folder = RunFolder.create(run_dir, study="ab", params=to_dict(params), calibration_s=calibration_timings().tolist())
    run_dir = folder.path
    pool = request_pool(params)
    with contextlib.ExitStack() as stack:
        sides = {"A": params.a, "B": params.b}
        targets = {}
        for arm, side in sides.items():
            (run_dir / arm.lower()).mkdir(exist_ok=True)
            targets[arm] = stack.enter_context(open_target(side, log_dir=run_dir / arm.lower()))
        folder.update(targets={arm: target_facts(t, sides[arm]) for arm, t in targets.items()}, schedule=list(schedule))
        runners = {arm: StageRunner(t, run_dir, params.request_timeout_s, progress=False) for arm, t in targets.items()}
        for arm in sides:
            runners[arm].run(f"warmup/{arm}", [tagged(s, f"w{arm}{i}") for i, s in enumerate(pool)])
        _blocks(params, schedule, pool, runners, folder, progress)
    folder.finish()
    return run_dir


def _blocks(params, schedule, pool, runners, folder: RunFolder, progress: bool) -> None:
    """Send the blocks in schedule order, pair by pair, until done or the time budget would be passed."""
    start = time.monotonic()
    done = 0
    bar = tqdm(total=params.pairs, desc="A/B pairs", unit="pair", disable=not progress)
    try:
        for pair in range(params.pairs):
            elapsed = time.monotonic() - start
            if done and elapsed + elapsed / done > params.time_budget_s:
                break  # the next pair would end past the budget
            for block in (2 * pair, 2 * pair + 1):
                arm = schedule[block]
                specs = [tagged(s, f"{arm}{block}.{i}") for i, s in enumerate(pool)]
                runners[arm].run(arm, specs, repetition=block)
            done += 1
            bar.update()
    finally:
        bar.close()
        folder.update(pairs_done=done, measured_s=time.monotonic() - start)
