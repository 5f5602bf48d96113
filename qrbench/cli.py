"""The `qrbench` command. Library errors become a one-line message and exit status 2."""

from __future__ import annotations

import argparse
import sys

from .errors import ParameterError, QrbenchError

__all__ = ["main"]


def _add_serve(sub) -> None:
    p = sub.add_parser("serve", help="run the reference QuantumRerank service")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--backend", choices=["exact", "aer"], default="exact")
    p.add_argument("--qubits", type=int, choices=[2, 3, 4], default=4)
    p.add_argument("--shots", type=int, default=1024)
    p.add_argument("--hybrid-weight", type=float, default=0.5)
    p.add_argument("--quantum-budget-ms", type=float, default=2000.0)
    p.add_argument("--embedding-cache-size", type=int, default=20_000)
    p.add_argument("--similarity-cache-size", type=int, default=50_000)
    p.add_argument("--torch-threads", type=int, default=1, help="intra-op threads of each forward pass")
    p.add_argument("--aer-threads", type=int, default=1, help="OpenMP threads per Aer run (0: Aer's default)")
    p.add_argument("--max-concurrency", type=int, default=None,
                   help="requests computed at once (default: 16 per core); past it, wait up to --queue-budget-ms")
    p.add_argument("--compute-threads", type=int, default=None, help="default: --max-concurrency")
    p.add_argument("--embed-batch-window-ms", type=float, default=2.0,
                   help="micro-batch concurrent embeddings, waiting up to this long for more (0: off)")
    p.add_argument("--embed-workers", type=int, default=None, help="forward passes at once (default: one per core)")
    p.add_argument("--encoder", choices=["torch", "onnx", "onnx-int8"], default="torch",
                   help="embedding runtime: torch, or ONNX Runtime on the same weights (exported at first use)")
    p.add_argument("--max-seq-length", type=int, default=None, help="truncate texts to this many tokens (8..256)")
    p.add_argument("--queue-budget-ms", type=float, default=100.0,
                   help="longest wait for a computation slot; a request predicted to wait longer gets 503 at once")
    p.add_argument("--embed-max-batch", type=int, default=64, help="most texts in one embedding micro-batch")
    p.add_argument("--api-key", default=None, help="require this key (X-API-Key or Authorization: Bearer)")
    p.add_argument("--log-level", default="warning")
    p.set_defaults(func=_serve)


def _serve(args) -> int:
    from .target import EngineSettings, serve

    sized = {name: getattr(args, name) for name in ("max_concurrency", "compute_threads", "embed_workers")
             if getattr(args, name) is not None}  # absent: the settings size them from the cores
    settings = EngineSettings(
        backend=args.backend, qubits=args.qubits, shots=args.shots, hybrid_weight=args.hybrid_weight,
        quantum_budget_ms=args.quantum_budget_ms, embedding_cache_size=args.embedding_cache_size,
        similarity_cache_size=args.similarity_cache_size, torch_threads=args.torch_threads,
        aer_threads=args.aer_threads, api_key=args.api_key,
        embed_batch_window_ms=args.embed_batch_window_ms, embed_max_batch=args.embed_max_batch,
        encoder=args.encoder, max_seq_length=args.max_seq_length, queue_budget_ms=args.queue_budget_ms, **sized,
    )
    serve(settings, host=args.host, port=args.port, workers=args.workers, log_level=args.log_level)
    return 0


# A study whose parameter file is not parameters/<study>.yaml.
DEFAULT_PARAMS = {"load": "parameters/load_normal.yaml"}


def _studies() -> list[str]:
    from .report.execute import NOTEBOOKS_DIR

    return sorted(p.stem for p in NOTEBOOKS_DIR.glob("*.ipynb"))


def _add_study(sub) -> None:
    p = sub.add_parser("study", help="run a study notebook and render its report into outputs/")
    p.add_argument("study", choices=_studies(), help="a notebook of notebooks/")
    p.add_argument("-p", "--params", help="parameter file (default: parameters/<study>.yaml)")
    p.add_argument("--url", help="a running service to study; default: start the embedded reference service")
    p.add_argument("--baseline", help="a previous run folder of the same study to check for regressions")
    p.add_argument("--out", default="outputs", help="folder that receives the run folder and index.html")
    p.add_argument("--fail-on-violation", action="store_true", help="exit 1 when the verdict is fail (CI)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=_study)


def _study(args) -> int:
    from pathlib import Path

    from .report.execute import run_study
    from .report.runs import read_summary
    from .studies.analysis import REPO_ROOT

    params = Path(args.params or DEFAULT_PARAMS.get(args.study, f"parameters/{args.study}.yaml"))
    if not params.is_absolute():
        params = (Path.cwd() / params) if (Path.cwd() / params).is_file() else REPO_ROOT / params
    if args.baseline and not Path(args.baseline).is_dir():
        raise ParameterError(f"--baseline {args.baseline} is not a run folder.")
    run_dir = run_study(args.study, parameters={
        "params_file": str(params.resolve()), "url": args.url,
        "baseline_run": str(Path(args.baseline).resolve()) if args.baseline else None,
        "progress": not args.no_progress,
    }, out_root=args.out, progress=not args.no_progress)
    verdict = read_summary(run_dir).get("verdict", "unknown")
    print(f"{args.study}: verdict {verdict}")
    print(f"report: {run_dir / (args.study + '.html')}  (with code: {args.study}-code.html)")
    print(f"index:  {Path(args.out) / 'index.html'}")
    return 1 if args.fail_on_violation and verdict == "fail" else 0


def _add_compare(sub) -> None:
    p = sub.add_parser("compare", help="regression table between two runs; exits 1 on a significant regression")
    p.add_argument("baseline_run")
    p.add_argument("current_run")
    p.add_argument("--min-effect", type=float, default=0.10, help="smallest slowdown worth flagging (0.10 = 10%%)")
    p.add_argument("--alpha", type=float, default=0.05)
    p.set_defaults(func=_compare)


def _compare(args) -> int:
    import pandas as pd

    from .studies import compare_runs

    table = compare_runs(args.baseline_run, args.current_run, min_effect=args.min_effect, alpha=args.alpha)
    if table.empty:
        raise ParameterError("The two runs have no stage in common to compare.")
    cols = ["stage", "statistic", "baseline_ms", "current_ms", "ratio", "ratio_low", "ratio_high", "p_worse",
            "verdict"]
    with pd.option_context("display.width", 200, "display.max_rows", 500, "display.float_format", "{:.3f}".format):
        print(table[cols].to_string(index=False))
    regressed = table[table["regressed"]]
    print(f"\n{len(regressed)} significant regression(s) of more than {args.min_effect:.0%}.")
    for run in (args.baseline_run, args.current_run):
        noise = _machine_noise(run)
        if noise is not None and noise > 0.10:
            print(f"warning: {run} was measured on a noisy machine (calibration loop varied by {noise:.0%}); "
                  "differences between the runs may come from the machine, not the service.")
    return 1 if len(regressed) else 0


def _add_load(sub) -> None:
    p = sub.add_parser("load", help="run a load scenario (or an ad-hoc load) and print a summary; no notebook",
                       description="Run a scenario file (-p) or an ad-hoc load (--mode) into outputs/<UTC time>-load-"
                                   "<name>/ and print a one-screen summary. `qrbench study load` renders the report.")
    p.add_argument("-p", "--params", help="scenario file, e.g. parameters/load_normal.yaml")
    p.add_argument("--url", help="a running service; default: the scenario's target.url, else the embedded service")
    p.add_argument("--allow-remote", action="store_true", help="allow a --url that is not loopback")
    p.add_argument("--out", default="outputs", help="folder that receives the run folder")
    p.add_argument("--time-scale", type=float, help="multiply every duration of the scenario (0.1: ten times shorter)")
    p.add_argument("--processes", type=int, help="driver processes (default: the scenario's, else 1)")
    p.add_argument("--engine", choices=["native", "locust"], default="native",
                   help="native: qrbench's driver (default); locust: Locust's distributed mode, a master and "
                        "--workers K workers on this machine, recording the same per-request records")
    p.add_argument("--workers", type=int, help="--engine locust: Locust worker processes on this machine (default 1)")
    p.add_argument("--remote-workers", type=int, default=0,
                   help="--engine locust: more workers, started by hand on other machines (README); the master waits")
    p.add_argument("--master-bind", default="127.0.0.1",
                   help="--engine locust: address the Locust master listens on (e.g. 0.0.0.0 for remote workers)")
    p.add_argument("--master-port", type=int, help="--engine locust: the master's port (default: 5557 with remote "
                                                   "workers, else a free port)")
    p.add_argument("--no-progress", action="store_true")
    adhoc = p.add_argument_group("ad-hoc load (instead of -p)")
    adhoc.add_argument("--mode", choices=["open", "closed"], help="open: an arrival rate; closed: virtual users")
    adhoc.add_argument("--rate", type=float, help="open model: requests per second")
    adhoc.add_argument("--users", type=int, help="closed model: virtual users")
    adhoc.add_argument("--duration", default="30s", help="30s, 5m, 1h or seconds (default 30s)")
    adhoc.add_argument("--ramp-up", default="0", help="ramp from 0 to the rate or users over this long (default 0)")
    adhoc.add_argument("--arrivals", choices=["poisson", "uniform"], default="poisson",
                       help="open model: random (poisson, default) or evenly spaced (uniform) arrivals")
    adhoc.add_argument("--think-time", type=float, default=0.0, help="closed model: seconds between requests")
    adhoc.add_argument("--mix", help="request kinds by weight, e.g. rerank_small=0.7,similarity=0.3")
    adhoc.add_argument("--methods", help="methods by weight, e.g. classical=0.5,hybrid=0.5 (default: a third each)")
    adhoc.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_load)


def _load(args) -> int:
    import dataclasses
    from pathlib import Path

    from .load import check_target
    from .report.runs import new_run_dir, write_summary
    from .studies import load as study

    if args.url:
        check_target(args.url, allow_remote=args.allow_remote)  # before anything else: name the host
    if args.params and args.mode:
        raise ParameterError("Give either -p FILE (a scenario) or --mode (an ad-hoc load), not both.")
    if args.params:
        params = study.LoadParams.from_file(args.params)
        name = params.name or Path(args.params).stem.removeprefix("load_")
    elif args.mode:
        if (args.mode == "open") != (args.rate is not None) or (args.mode == "closed") != (args.users is not None):
            raise ParameterError("--mode open needs --rate R (and no --users); --mode closed needs --users N.")
        params = study.adhoc_params(
            mode=args.mode, duration_s=study.parse_duration(args.duration), rate_rps=args.rate, users=args.users,
            ramp_up_s=study.parse_duration(args.ramp_up), think_time_s=args.think_time, seed=args.seed,
            **({"arrivals": args.arrivals} if args.mode == "open" else {}),
            mix=study.parse_weights(args.mix) if args.mix else None,
            methods=study.parse_weights(args.methods, option="--methods") if args.methods else None,
        )
        name = params.name
    else:
        raise ParameterError("Give -p FILE (a scenario such as parameters/load_normal.yaml) or --mode open|closed.")
    changes = {}
    if args.time_scale is not None:
        changes["time_scale"] = params.time_scale * args.time_scale
    if args.processes is not None:
        changes["processes"] = args.processes
    if args.allow_remote:
        changes["target"] = dataclasses.replace(params.target, allow_remote=True)
    try:
        params = dataclasses.replace(params, **changes)
    except ParameterError as exc:
        raise ParameterError(f"The command-line overrides make the scenario invalid: {exc}") from exc
    if args.engine != "locust" and (args.workers is not None or args.remote_workers):
        raise ParameterError("--workers and --remote-workers set Locust workers; they go with --engine locust.")
    if (args.workers is not None and args.workers < 0) or args.remote_workers < 0:
        raise ParameterError("--workers and --remote-workers must be 0 or more.")
    run_dir = new_run_dir(args.out, f"load-{name}")
    print(f"run folder: {run_dir}", flush=True)
    if args.engine == "locust":
        from .load.locust_engine import remote_worker_command
        from .studies.load_locust import run_load_study_locust

        port = args.master_port or (5557 if args.remote_workers else None)
        if args.remote_workers:
            print(f"waiting for {args.remote_workers} remote worker(s); on each other machine run:\n  "
                  f"{remote_worker_command('<this host>', port)}", flush=True)
        run_load_study_locust(params, run_dir, workers=1 if args.workers is None else args.workers, url=args.url,
                              progress=not args.no_progress, extra_workers=args.remote_workers,
                              bind_host=args.master_bind, master_port=port)
    else:
        study.run_load_study(params, run_dir, url=args.url, progress=not args.no_progress)
    summary = study.quick_summary(run_dir, params)
    write_summary(run_dir, summary)
    print(f"records: {run_dir / summary['records']}")
    print(study.format_summary(summary))
    return 0


def _machine_noise(run_dir: str) -> float | None:
    import json
    from pathlib import Path

    from .stats import noise_cv

    path = Path(run_dir) / "machine.json"
    return noise_cv(json.loads(path.read_text())["calibration_s"]) if path.is_file() else None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qrbench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_serve(sub)
    _add_study(sub)
    _add_compare(sub)
    _add_load(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except QrbenchError as exc:
        print(f"qrbench: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
