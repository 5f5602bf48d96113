"""A load scenario run on Locust's distributed mode instead of the native driver (`qrbench load --engine locust`).

The run folder is the load study's (see `qrbench.studies.load`): the same scenario, shape, phases, warm-up,
server samplers and result.json, with load/ written by `qrbench.load.locust_engine.run_locust` (a master and
K workers) instead of the native driver; so `qrbench study load`'s analysis and `quick_summary` read either.
load/locust/ keeps Locust's own logs and each worker's CPU.

(Meant to become an `engine` argument of `run_load_study`; it lives apart while that module is being finished.)
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from ..errors import ParameterError
from ..load import DataManager
from ..load.locust_engine import run_locust
from ..monitor import ProcessSampler, calibration_timings
from ..params import to_dict
from .load import LOAD_DIR, LoadParams, _metrics_sampler, _warm_up, _write_json, _write_timelines, plan_load
from .target import open_target

__all__ = ["run_load_study_locust"]


def run_load_study_locust(params: LoadParams, run_dir: str | Path, *, workers: int, url: str | None = None,
                          progress: bool = True, extra_workers: int = 0, bind_host: str = "127.0.0.1",
                          master_port: int | None = None) -> Path:
    """Run a scenario on Locust with `workers` local worker processes into run_dir; returns run_dir.

    Like `run_load_study`: the scenario is validated and the request pool built before the target is opened;
    an embedded target is started and stopped here; the warm-up (if any) uses the native driver.
    extra_workers, bind_host, master_port: workers on other machines (see `run_locust`).
    """
    run_dir = Path(run_dir)
    load_dir = run_dir / LOAD_DIR
    if load_dir.exists() and any(load_dir.iterdir()):
        raise ParameterError(f"{load_dir} already holds a run; give each run a new run_dir.")
    run_dir.mkdir(parents=True, exist_ok=True)
    data = DataManager.from_dir(seed=params.seed)
    plan = plan_load(params, data.day)
    pool = data.mix_sampler(params.mix, params.methods, seed=params.seed, pool_size=params.pool_size)
    _write_json(run_dir / "machine.json", {"calibration_s": calibration_timings().tolist(), "cpus": os.cpu_count()})
    _write_json(run_dir / "scenario.json", {**to_dict(params), "engine": "locust", "locust_workers": workers})
    _write_json(run_dir / "schedule.json", plan.schedule())
    _write_json(run_dir / "phases.json", plan.shape.phase_dicts())
    with open_target(params.target, url=url, log_dir=run_dir) as target:
        _write_json(run_dir / "target.json", {"url": target.url, "embedded": target.embedded, "pid": target.pid,
                                               "params": to_dict(params.target)})
        if params.warmup_s > 0:
            _warm_up(params, data, target, run_dir, progress)
        process = ProcessSampler(target.pid, interval_s=params.sample_interval_s) if target.pid else None
        metrics = _metrics_sampler(target.url, params.sample_interval_s, target.headers)
        result: Any = None
        with contextlib.ExitStack() as stack:
            stack.callback(_write_timelines, run_dir, process, metrics)
            if process is not None:
                stack.enter_context(process)
            if metrics is not None:
                stack.enter_context(metrics)
            # allow_remote: the target was checked when it was opened. Workers started by hand get ten minutes.
            result = run_locust(target.url, pool, plan.model, workers=workers, out_dir=load_dir,
                                timeout_s=params.request_timeout_s, progress=progress, headers=target.headers,
                                allow_remote=True, extra_workers=extra_workers, bind_host=bind_host,
                                master_port=master_port, start_timeout_s=600.0 if extra_workers else 90.0)
        _write_json(run_dir / "result.json", result.to_dict())
    return run_dir
