"""The load study's run: one scenario as one continuous run of a load engine (native, Locust or Artillery).

`run_load_study` measures a scenario into a run folder::

    run.json         the run's facts (studies/folder.py): parameters, machine, versions, target, times, noise
    schedule.json    the planned offered load: unit, model, points [[t_s, level]], stages
    phases.json      [{name, kind, start_s, end_s, offered, unit}]: seconds since the driver's t0
    warmup/          the cache warm-up run (stage "warmup"), if warmup_s > 0: left out of the analysis
    load/            the engine's run folder: run.json (t0_unix), records.parquet (t_* since t0); with Locust,
                     load/locust/ keeps Locust's own logs and each worker's CPU
    result.json      the engine's RunResult.to_dict()
    server.parquet   the target's process tree every sample_interval_s (local targets only)
    metrics.parquet  the target's /metrics every sample_interval_s
    contention.parquet, contention.json   other programs' CPU, steal and a calibration loop per phase (contention.py)
    alerts.parquet, scrape.parquet, prometheus/   with monitor.prometheus: what Prometheus saw (see alerts.py)
    target.log       the embedded service's log

The parquet timelines get a column t_run: seconds since the driver's t0, the clock of the records and phases.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ...deploy import open_target, target_facts
from ...errors import ParameterError
from ...load import ClosedModel, DataManager, RunResult, run_load
from ...load.engine import LoadEngine, NativeEngine, make_engine
from ...load.safety import check_scenario_target
from ...monitor import MetricsSampler, ProcessSampler, calibration_timings
from ...params import to_dict
from ..contention import contention_monitor
from ..folder import RunFolder
from .alerts import prometheus_monitor, t0_unix
from .params import LOAD_DIR, WARMUP_DIR, LoadParams, plan_load

__all__ = ["run_load_study"]


def _warm_up(params: LoadParams, data: DataManager, target: Any, run_dir: Path, progress: bool) -> None:
    # Another seed: the popular documents warm the embedding cache, the exact requests stay new.
    pool = data.mix_sampler(
        params.mix,
        params.methods,
        seed=params.seed + 1,
        pool_size=min(100, params.pool_size),
        new_queries=params.new_queries,
    )
    run_load(
        target.url,
        pool,
        ClosedModel(users=2, duration_s=params.warmup_s),
        out_dir=run_dir / WARMUP_DIR,
        stage="warmup",
        timeout_s=params.request_timeout_s,
        progress=progress,
        headers=target.headers,
        allow_remote=True,
    )  # the target was checked when it was opened


def _engine(params: LoadParams, engine: str | LoadEngine, options: Mapping[str, Any] | None) -> LoadEngine:
    if not isinstance(engine, str):
        return engine
    if engine == "native":
        # The driver never shares this process: the live view and the samplers run here (see NativeEngine).
        return NativeEngine(processes=params.processes, **{"isolated": True, **(options or {})})
    if engine == "artillery":  # its processor draws think times: the scenario's seed
        return make_engine(engine, **{"seed": params.seed, **(options or {})})
    return make_engine(engine, **(options or {}))


def run_load_study(
    params: LoadParams,
    run_dir: str | Path,
    *,
    url: str | None = None,
    progress: bool = True,
    engine: str | LoadEngine | None = None,
    engine_options: Mapping[str, Any] | None = None,
    on_start: Callable[[Path, dict[str, Any]], Any] | None = None,
) -> Path:
    """Run a scenario into run_dir (layout in the module docstring) and return run_dir.

    url: a running service (else params.target.url, else the embedded service is started and stopped here).
    engine (default: params.engine): "native", "locust" (engine_options: see LocustEngine), "artillery", or a
    LoadEngine; the warm-up always uses the native driver. on_start(run_dir, samplers) is called just before the
    engine starts, with the study's running samplers ({"server": ..., "metrics": ...}), so a live view shows what
    the study samples instead of scraping the service a second time.
    """
    run_dir = Path(run_dir)
    load_dir = run_dir / LOAD_DIR
    if load_dir.exists() and any(load_dir.iterdir()):
        raise ParameterError(f"{load_dir} already holds a run; give each run a new run_dir.")
    check_scenario_target(url or params.target.url, allow_remote=params.target.allow_remote)  # before the folder
    driver = _engine(params, params.engine if engine is None else engine, engine_options)
    data = DataManager.from_dir(seed=params.seed)
    plan = plan_load(params, data.day)
    pool = data.mix_sampler(
        params.mix, params.methods, seed=params.seed, pool_size=params.pool_size, new_queries=params.new_queries
    )
    folder = RunFolder.create(
        run_dir, study="load", params=to_dict(params), calibration_s=calibration_timings().tolist()
    )
    folder.update(engine={"name": driver.name, **to_dict(driver)})
    folder.write_json("schedule.json", plan.schedule())
    folder.write_json("phases.json", plan.shape.phase_dicts())
    with open_target(params.target, url=url, log_dir=run_dir) as target:
        folder.update(target=target_facts(target, params.target))
        if params.warmup_s > 0:
            _warm_up(params, data, target, run_dir, progress)
        process = ProcessSampler(target.pid, interval_s=params.sample_interval_s) if target.pid else None
        metrics = MetricsSampler(
            target.url,
            interval_s=params.sample_interval_s,
            headers=target.headers or None,
            names=params.target.metrics,
        )
        # A target whose probe found no /metrics is not scraped (every scrape would be a 404 in its log).
        scraped = target.probe is None or target.probe.metrics_status == 200
        load_dir.mkdir(exist_ok=True)
        result: RunResult | None = None
        with contextlib.ExitStack() as stack:
            # Exits run last-in first-out: the samplers stop, then their timelines are written.
            stack.callback(_write_timelines, run_dir, process, metrics)
            if process is not None:
                stack.enter_context(process)
            if scraped:
                stack.enter_context(metrics)
            stack.enter_context(contention_monitor(folder, target.pid, windows=lambda: _phase_windows(run_dir)))
            if params.monitor.prometheus:
                prometheus = stack.enter_context(
                    prometheus_monitor(params.monitor, params.thresholds_file, [target.url], run_dir)
                ).server
                folder.update(prometheus={"url": prometheus.url, "targets": [target.url]})
            if on_start is not None:
                on_start(run_dir, {"server": process, "metrics": metrics if scraped else None})
            result = driver.run(
                target.url,
                pool,
                plan.model,
                out_dir=load_dir,
                stage="",
                timeout_s=params.request_timeout_s,
                progress=progress,
                headers=target.headers,
                allow_remote=True,
            )  # the target was checked when it was opened
        folder.write_json("result.json", result.to_dict())
    folder.finish()
    return run_dir


def _phase_windows(run_dir: Path) -> list[tuple[str, float, float]]:
    """The scenario's phases (phases.json) as (name, start, end) in Unix seconds; [] before the driver started."""
    t0 = t0_unix(run_dir)
    if t0 is None:
        return []
    phases = RunFolder(run_dir).read_json("phases.json", [])
    return [(p["name"], t0 + float(p["start_s"]), t0 + float(p["end_s"])) for p in phases]


def _write_timelines(run_dir: Path, process: ProcessSampler | None, metrics: MetricsSampler) -> None:
    """After the samplers stopped: their frames to parquet, with t_run on the records' clock."""
    t0 = t0_unix(run_dir)
    folder = RunFolder(run_dir)
    frames = {"server": process.frame()} if process is not None else {}
    for name, frame in {**frames, "metrics": metrics.frame()}.items():
        if t0 is not None and "t_unix" in frame.columns:
            frame = frame.assign(t_run=frame["t_unix"] - t0)
        folder.write_frame(name, frame)
    # Which metric each timeline column was read from (qrbench's, a standard name, or the parameters' mapping).
    folder.update(metric_sources=metrics.sources)
