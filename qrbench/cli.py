"""The `qrbench` command. Library errors become a one-line message and exit status 2."""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Mapping
from typing import Any

from .errors import ParameterError, QrbenchError
from .report.scales import expected_minutes
from .studies import study_names

DESCRIPTION = """\
qrbench measures a quantum-inspired semantic reranker service: latency, throughput, memory, bottlenecks
and scaling, each judged against the PRD targets with confidence intervals.

Start here:  qrbench suite --scale quick   (every study, ~{quick_min} min; read outputs/<time>-suite/report.html)
One study:   qrbench study baseline -p parameters/smoke/baseline.yaml
A vs B:      qrbench ab --a URL_A --b URL_B   (one run, alternating blocks; exit 0/1/4, see qrbench ab --help)
Exit status: 0 done, 1 a verdict fail with --fail-on-violation (or a regression for compare and ab), 2 an
error (the message says what to fix), 4 cannot tell (ab: the run could not have seen a regression of the
threshold's size), 130/143 stopped by Ctrl-C or SIGTERM.
"""

__all__ = ["main", "build_parser", "format_summary", "parse_duration", "parse_weights"]


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
    p.add_argument(
        "--max-concurrency",
        type=int,
        default=None,
        help="requests computed at once (default: 16 per core); past it, wait up to --queue-budget-ms",
    )
    p.add_argument("--compute-threads", type=int, default=None, help="default: --max-concurrency")
    p.add_argument(
        "--embed-batch-window-ms",
        type=float,
        default=2.0,
        help="micro-batch concurrent embeddings, waiting up to this long for more (0: off)",
    )
    p.add_argument("--embed-workers", type=int, default=None, help="forward passes at once (default: one per core)")
    p.add_argument(
        "--encoder",
        choices=["torch", "onnx", "onnx-int8"],
        default="torch",
        help="embedding runtime: torch, or ONNX Runtime on the same weights (exported at first use)",
    )
    p.add_argument("--max-seq-length", type=int, default=None, help="truncate texts to this many tokens (8..256)")
    p.add_argument(
        "--queue-budget-ms",
        type=float,
        default=100.0,
        help="longest wait for a computation slot; a request predicted to wait longer gets 503 at once",
    )
    p.add_argument("--embed-max-batch", type=int, default=64, help="most texts in one embedding micro-batch")
    p.add_argument("--api-key", default=None, help="require this key (X-API-Key or Authorization: Bearer)")
    p.add_argument(
        "--metrics-need-key",
        type=_flag,
        nargs="?",
        const=True,
        default=False,
        metavar="true|false",
        help="with --api-key, /metrics needs the key too (default: open for scrapers)",
    )
    p.add_argument(
        "--docs-need-key",
        type=_flag,
        nargs="?",
        const=True,
        default=False,
        metavar="true|false",
        help="with --api-key, /docs, /redoc and /openapi.json need the key too (default: open)",
    )
    p.add_argument(
        "--body-timeout-s",
        type=float,
        default=30.0,
        help="a request body not received within this many seconds gets 408 (headers: closed)",
    )
    p.add_argument("--keep-alive-s", type=float, default=5.0, help="idle keep-alive connections close after this")
    p.add_argument(
        "--drain-timeout-s",
        type=float,
        default=10.0,
        help="on SIGTERM, seconds in-flight requests get to finish (new ones get 503)",
    )
    p.add_argument("--log-level", default="warning")
    p.set_defaults(func=_serve)


def _flag(text: str) -> bool:
    """A yes/no option value: true/false (any case), yes/no, 1/0."""
    value = text.strip().lower()
    if value in ("true", "yes", "1"):
        return True
    if value in ("false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"{text!r} is not a yes/no value; use true or false.")


def _serve(args) -> int:
    from .target import EngineSettings, serve

    sized = {
        name: getattr(args, name)
        for name in ("max_concurrency", "compute_threads", "embed_workers")
        if getattr(args, name) is not None
    }  # absent: the settings size them from the cores
    settings = EngineSettings(
        backend=args.backend,
        qubits=args.qubits,
        shots=args.shots,
        hybrid_weight=args.hybrid_weight,
        quantum_budget_ms=args.quantum_budget_ms,
        embedding_cache_size=args.embedding_cache_size,
        similarity_cache_size=args.similarity_cache_size,
        torch_threads=args.torch_threads,
        aer_threads=args.aer_threads,
        api_key=args.api_key,
        embed_batch_window_ms=args.embed_batch_window_ms,
        embed_max_batch=args.embed_max_batch,
        metrics_need_key=args.metrics_need_key,
        docs_need_key=args.docs_need_key,
        body_timeout_s=args.body_timeout_s,
        keep_alive_s=args.keep_alive_s,
        drain_timeout_s=args.drain_timeout_s,
        encoder=args.encoder,
        max_seq_length=args.max_seq_length,
        queue_budget_ms=args.queue_budget_ms,
        **sized,
    )
    serve(settings, host=args.host, port=args.port, workers=args.workers, log_level=args.log_level)
    return 0


def _add_study(sub) -> None:
    p = sub.add_parser(
        "study",
        help="run one study notebook and render its report into outputs/",
        description="Execute one study's notebook into outputs/<UTC time>-<study>/ and render "
        "<study>.html (for stakeholders, no code) and <study>-code.html.",
    )
    # The registry's names (its light entries: no study is imported to parse a command line).
    p.add_argument("study", choices=study_names(), help="the study (its notebook is notebooks/<study>.ipynb)")
    p.add_argument(
        "-p",
        "--params",
        help="parameter file, from the current folder, else the shipped one (default: "
        "parameters/<study>.yaml; for load, parameters/load_normal.yaml)",
    )
    p.add_argument("--url", help="a running service to study; default: start the embedded reference service")
    p.add_argument(
        "--baseline", help="a previous run folder of the same study to check for regressions (baseline study)"
    )
    p.add_argument(
        "--out", default="outputs", help="folder that receives the run folder and index.html (default: outputs)"
    )
    p.add_argument("--fail-on-violation", action="store_true", help="exit 1 when the verdict is fail (CI)")
    p.add_argument("--no-progress", action="store_true", help="no progress lines on the terminal")
    p.set_defaults(func=_study)


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _study(args) -> int:
    from pathlib import Path

    from .report.execute import run_study
    from .report.suite import usual_duration_s
    from .resources import resolve_params_file
    from .studies import get_study, read_summary

    study = get_study(args.study)
    params = resolve_params_file(args.params or study.default_params)
    loaded = study.load_params(params)  # a bad file stops here, before a kernel starts, naming the key
    if args.url and not args.no_progress:
        _say(_probe_paragraph(args.url, loaded))
    if args.baseline and not Path(args.baseline).is_dir():
        raise ParameterError(f"--baseline {args.baseline} is not a run folder.")
    run_dir = run_study(
        args.study,
        parameters={
            "params_file": str(params),
            "url": args.url,
            "baseline_run": str(Path(args.baseline).resolve()) if args.baseline else None,
            "progress": not args.no_progress,
        },
        out_root=args.out,
        progress=not args.no_progress,
        say=_say,
        expected_s=usual_duration_s(args.study, params),
    )
    verdict = read_summary(run_dir).get("verdict", "unknown")
    print(f"{args.study}: verdict {verdict}")
    print(f"report: {run_dir / (args.study + '.html')}  (with code: {args.study}-code.html)")
    print(f"index:  {Path(args.out) / 'index.html'}")
    return 1 if args.fail_on_violation and verdict == "fail" else 0


def _probe_paragraph(url: str, params) -> str:
    """What the target at url offers (deploy.probe_target), before the study starts; an error when it does
    not speak the contract."""
    from .deploy import check_contract, probe_target
    from .load import check_target

    target = getattr(params, "target", None)
    allow_remote = bool(getattr(target, "allow_remote", False))
    key = getattr(target, "api_key", None)
    url = check_target(url, allow_remote=allow_remote)
    return check_contract(probe_target(url, headers={"X-API-Key": key} if key else {})).paragraph()


def _add_suite(sub) -> None:
    p = sub.add_parser(
        "suite",
        help="run every study against one target and write the executive report",
        description="Run every study (baseline, load, bottlenecks, scalability) against one target "
        "into outputs/<UTC time>-suite/: each study's run folder, report.html (the "
        "executive report: the verdict and the answer on its first screen) and "
        "summary.json. A failed study does not stop the others.",
    )
    p.add_argument(
        "--scale",
        choices=["quick", "full"],
        default="quick",
        help=f"quick: parameters/quick/, about {expected_minutes('quick')} minutes on 2 cores (default); full: "
        f"parameters/, about {expected_minutes('full')} minutes",
    )
    p.add_argument("--params-dir", help=argparse.SUPPRESS)  # tests: another folder of <study> parameter files
    p.add_argument(
        "--studies",
        type=lambda text: tuple(x.strip() for x in text.split(",") if x.strip()),
        help=f"comma-separated studies to run, e.g. baseline,load (default: all: {','.join(study_names())})",
    )
    p.add_argument(
        "--url",
        help="a running service (loopback) for every study; default: start the embedded "
        "reference service once and share it (scalability still starts its own "
        "configurations)",
    )
    p.add_argument(
        "--baseline", help="a previous suite run folder (outputs/<UTC time>-suite/) to compare each study with"
    )
    p.add_argument(
        "--out", default="outputs", help="folder that receives the suite folder and index.html (default: outputs)"
    )
    p.add_argument("--fail-on-violation", action="store_true", help="exit 1 when the overall verdict is fail (CI)")
    p.add_argument("--no-progress", action="store_true", help="no progress lines on the terminal")
    p.set_defaults(func=_suite)


def _suite(args) -> int:
    from pathlib import Path

    from .report.suite import SCALES, plan_suite, run_suite

    # A hidden scale for CI: --params-dir smoke is the same as parameters/smoke/.
    scale, params_dir = args.scale, args.params_dir
    if params_dir in SCALES:
        scale, params_dir = params_dir, None
    plan = plan_suite(scale, params_dir=params_dir, studies=args.studies)  # every file validated before anything
    result = run_suite(
        plan,
        url=args.url,
        baseline=args.baseline,
        out_root=args.out,
        progress=not args.no_progress,
        say=_say if not args.no_progress else (lambda line: None),
    )
    for s in result.studies:
        print(f"{s.study}: {s.verdict}" + (f" ({s.error.splitlines()[0]})" if s.error else ""))
    print(f"suite: verdict {result.verdict}. {result.reason}")
    print(f"report: {result.report}")
    print(f"index:  {Path(args.out) / 'index.html'}")
    return 1 if args.fail_on_violation and result.verdict == "fail" else 0


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
    cols = [
        "stage",
        "statistic",
        "k_baseline",
        "k_current",
        "baseline_ms",
        "current_ms",
        "ratio",
        "ratio_low",
        "ratio_high",
        "detectable",
        "p_adjusted",
        "verdict",
    ]
    with pd.option_context("display.width", 200, "display.max_rows", 500, "display.float_format", "{:.3f}".format):
        print(table[cols].to_string(index=False))
    k = min(int(table["k_baseline"].min()), int(table["k_current"].min()))
    print(
        f"\nCorrection: {table['correction'].iloc[0]} at alpha {args.alpha:g}; "
        f"k = {int(table['k_baseline'].min())} baseline and {int(table['k_current'].min())} current repetitions "
        "per stage (at least)."
    )
    if k < 2:
        print(
            "One run per side: machine drift between the runs cannot be separated from a change; the intervals "
            "were widened by the calibration loop's drift. Measure 3 or more repetitions per stage to judge it."
        )
    undecided = table[table["verdict"] == "undecided"]
    if len(undecided):
        print(f"{len(undecided)} comparison(s) undecided (a tail not decided in every repetition) were not judged.")
    regressed = table[table["regressed"]]
    print(f"{len(regressed)} significant regression(s) of more than {args.min_effect:.0%}.")
    blind = table[table["verdict"] == "cannot tell"]
    if len(blind):
        print(
            f"{len(blind)} comparison(s) cannot tell: no change was found, but their detectable change (the smallest "
            f"change found with 80 % power, column 'detectable') exceeds {args.min_effect:.0%}, so a regression of "
            "that size could have gone unseen. Compare in one interleaved run instead: qrbench ab --a URL --b URL."
        )
    for summary in regressed["summary"]:
        print(f"- {summary}")
    for run in (args.baseline_run, args.current_run):
        noise = _machine_noise(run)
        if noise is not None and noise > 0.10:
            print(
                f"warning: {run} was measured on a noisy machine (calibration loop varied by {noise:.0%}); "
                "differences between the runs may come from the machine, not the service."
            )
    return 1 if len(regressed) else 0


AB_DESCRIPTION = """\
Measure targets A (the reference, e.g. main) and B (the candidate) in one run, in short alternating blocks
(each pair of blocks AB or BA at random), with the same requests, and judge each request kind's median and
p95 on the paired block differences (machine drift cancels within a pair). Every row shows the change with
its 95 % interval and the detectable change: the smallest slowdown this run would have found with 80 %
power. The report (notebook, HTML) goes to outputs/<UTC time>-ab/.

Without --a/--b, the embedded reference service is started for that side from --a-params/--b-params (a
parameter file of target settings, e.g. `encoder: onnx`); both stay alive for the run, only the side whose
block it is receives requests.

Exit status (the overall verdict; Holm over the rows keeps identical targets flagged in at most 5 % of runs):
  0  no regression of that size: every row's detectable change is below the threshold and none was found
  1  regression: B is slower than A, significantly, and a slowdown of the threshold's size is in its interval
  4  cannot tell: some row's detectable change exceeds the threshold (too few pairs, or too noisy a machine)
  2  an error (the message says what to fix)
"""


def _add_ab(sub) -> None:
    p = sub.add_parser(
        "ab",
        help="A/B: is B slower than A? One run, alternating blocks; exit 0 no regression, 1 regression, 4 cannot tell",
        description=AB_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--a", dest="url_a", metavar="URL_A", help="target A (the reference); default: embedded service")
    p.add_argument("--b", dest="url_b", metavar="URL_B", help="target B (the candidate); default: embedded service")
    p.add_argument("-p", "--params", default="parameters/ab.yaml", help="blocks and workload (default: %(default)s)")
    p.add_argument("--a-params", help="target A's settings for the embedded service (YAML: TargetParams keys)")
    p.add_argument("--b-params", help="target B's settings for the embedded service (YAML: TargetParams keys)")
    p.add_argument(
        "--threshold", type=float, help="the slowdown that counts as a regression (default: the file's, 0.10)"
    )
    p.add_argument("--out", default="outputs", help="folder that receives the run folder and index.html")
    p.add_argument("--no-progress", action="store_true", help="no progress lines on the terminal")
    p.set_defaults(func=_ab)


def _ab(args) -> int:
    from pathlib import Path

    from .report.execute import run_study
    from .resources import resolve_params_file
    from .studies import get_study
    from .studies.ab import EXIT_STATUS, with_targets

    study = get_study("ab")
    params_file = resolve_params_file(args.params)
    sides = {k: str(resolve_params_file(v)) if v else None for k, v in (("a", args.a_params), ("b", args.b_params))}
    # A bad file or URL stops here, naming the key, before a kernel starts.
    with_targets(
        study.load_params(params_file),
        url_a=args.url_a,
        url_b=args.url_b,
        a_params=sides["a"],
        b_params=sides["b"],
        threshold=args.threshold,
    )
    run_dir = run_study(
        "ab",
        parameters={
            "params_file": str(params_file),
            "url_a": args.url_a,
            "url_b": args.url_b,
            "a_params": sides["a"],
            "b_params": sides["b"],
            "threshold": args.threshold,
            "progress": not args.no_progress,
        },
        out_root=args.out,
        progress=not args.no_progress,
        say=_say,
    )
    report = study.analyse(run_dir)
    print(format_ab_table(report.table))
    print(f"\n{report.headline}")
    for check in report.reliability:
        if not check.ok:
            print(f"warning: {check.message}")
    status = EXIT_STATUS[report.verdict]
    print(f"ab: verdict {report.verdict} (exit {status})")
    print(f"report: {Path(run_dir) / 'ab.html'}")
    return status


def format_ab_table(table) -> str:
    """The rows of an A/B verdict as terminal text: change and interval in %, the detectable change, verdict."""
    lines = [
        f"{'kind':<14} {'stat':<6} {'pairs':>5} {'A ms':>9} {'B ms':>9} {'change':>8} {'95 % interval':>19} "
        f"{'detectable':>10}  verdict"
    ]
    for r in table.to_dict(orient="records"):
        interval = (
            f"{r['low_percent']:+.1f}% to {r['high_percent']:+.1f}%"
            if math.isfinite(r["high_percent"])
            else "not bounded"
        )
        detectable = f"{r['detectable_percent']:.1f}%" if math.isfinite(r["detectable_percent"]) else "unbounded"
        lines.append(
            f"{r['kind']:<14} {r['statistic']:<6} {r['pairs']:>5} {r['a_ms']:>9.3g} {r['b_ms']:>9.3g} "
            f"{r['change_percent']:>+7.1f}% {interval:>19} {detectable:>10}  {r['verdict']}"
        )
    return "\n".join(lines)


def _add_load(sub) -> None:
    p = sub.add_parser(
        "load",
        help="run a load scenario (or an ad-hoc load) and print a summary; no notebook",
        description="Run a scenario file (-p) or an ad-hoc load (--mode) into outputs/<UTC time>-load-"
        "<name>/ and print a one-screen summary. `qrbench study load` renders the report.",
    )
    p.add_argument("-p", "--params", help="scenario file, e.g. parameters/load_normal.yaml")
    p.add_argument("--url", help="a running service; default: the scenario's target.url, else the embedded service")
    p.add_argument("--allow-remote", action="store_true", help="allow a --url that is not loopback")
    p.add_argument("--out", default="outputs", help="folder that receives the run folder")
    p.add_argument("--time-scale", type=float, help="multiply every duration of the scenario (0.1: ten times shorter)")
    p.add_argument("--processes", type=int, help="driver processes (default: the scenario's, else 1)")
    p.add_argument(
        "--engine",
        choices=["native", "locust", "artillery"],
        help="native: qrbench's driver; locust: Locust's distributed mode, a master and --workers K "
        "workers on this machine; artillery: the real `artillery run` (npm ci --prefix "
        "integrations/artillery); all record the same per-request records (default: the "
        "scenario's engine, else native)",
    )
    p.add_argument("--workers", type=int, help="--engine locust: Locust worker processes on this machine (default 1)")
    p.add_argument(
        "--remote-workers",
        type=int,
        default=0,
        help="--engine locust: more workers, started by hand on other machines (README); the master waits",
    )
    p.add_argument(
        "--master-bind",
        default="127.0.0.1",
        help="--engine locust: address the Locust master listens on (e.g. 0.0.0.0 for remote workers)",
    )
    p.add_argument(
        "--master-port",
        type=int,
        help="--engine locust: the master's port (default: 5557 with remote workers, else a free port)",
    )
    p.add_argument("--no-progress", action="store_true")
    adhoc = p.add_argument_group("ad-hoc load (instead of -p)")
    adhoc.add_argument("--mode", choices=["open", "closed"], help="open: an arrival rate; closed: virtual users")
    adhoc.add_argument("--rate", type=float, help="open model: requests per second")
    adhoc.add_argument("--users", type=int, help="closed model: virtual users")
    adhoc.add_argument("--duration", default="30s", help="30s, 5m, 1h or seconds (default 30s)")
    adhoc.add_argument("--ramp-up", default="0", help="ramp from 0 to the rate or users over this long (default 0)")
    adhoc.add_argument(
        "--arrivals",
        choices=["poisson", "uniform"],
        default="poisson",
        help="open model: random (poisson, default) or evenly spaced (uniform) arrivals",
    )
    adhoc.add_argument("--think-time", type=float, default=0.0, help="closed model: seconds between requests")
    adhoc.add_argument("--mix", help="request kinds by weight, e.g. rerank_small=0.7,similarity=0.3")
    adhoc.add_argument("--methods", help="methods by weight, e.g. classical=0.5,hybrid=0.5 (default: a third each)")
    adhoc.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_load)


def _load(args) -> int:
    import dataclasses
    from pathlib import Path

    from .load import check_target
    from .load.outcome import summary_outcome
    from .load.safety import check_scenario_target
    from .studies import get_entry

    entry = get_entry("load")  # the registry's load study; its package has the ad-hoc scenario and quick summary
    study, load = entry.study, entry.package
    from .studies import new_run_dir, write_summary

    if args.url:
        check_target(args.url, allow_remote=args.allow_remote)  # before anything else: name the host
    if args.params and args.mode:
        raise ParameterError("Give either -p FILE (a scenario) or --mode (an ad-hoc load), not both.")
    if args.params:
        params = study.load_params(args.params)
        name = params.name or Path(args.params).stem.removeprefix("load_")
    elif args.mode:
        if (args.mode == "open") != (args.rate is not None) or (args.mode == "closed") != (args.users is not None):
            raise ParameterError("--mode open needs --rate R (and no --users); --mode closed needs --users N.")
        params = load.adhoc_params(
            mode=args.mode,
            duration_s=parse_duration(args.duration),
            rate_rps=args.rate,
            users=args.users,
            ramp_up_s=parse_duration(args.ramp_up),
            think_time_s=args.think_time,
            seed=args.seed,
            **({"arrivals": args.arrivals} if args.mode == "open" else {}),
            mix=parse_weights(args.mix) if args.mix else None,
            methods=parse_weights(args.methods, option="--methods") if args.methods else None,
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
    engine = args.engine or params.engine
    if engine != "locust" and (args.workers is not None or args.remote_workers):
        raise ParameterError("--workers and --remote-workers set Locust workers; they go with --engine locust.")
    if (args.workers is not None and args.workers < 0) or args.remote_workers < 0:
        raise ParameterError("--workers and --remote-workers must be 0 or more.")
    check_scenario_target(args.url or params.target.url, allow_remote=params.target.allow_remote)  # before the folder
    run_dir = new_run_dir(args.out, f"load-{name}")
    print(f"run folder: {run_dir}", flush=True)
    options = None
    if engine == "locust":
        from .load.locust_engine import remote_worker_command

        port = args.master_port or (5557 if args.remote_workers else None)
        if args.remote_workers:
            print(
                f"waiting for {args.remote_workers} remote worker(s); on each other machine run:\n  "
                f"{remote_worker_command('<this host>', port)}",
                flush=True,
            )
        options = {
            "workers": 1 if args.workers is None else args.workers,
            "extra_workers": args.remote_workers,
            "bind_host": args.master_bind,
            "master_port": port,
        }
    study.run(params, run_dir, args.url, progress=not args.no_progress, engine=engine, engine_options=options)
    from .studies.load.sections import screen

    # The one load analysis (with the alert report when Prometheus ran); the screen is one of its sections.
    summary = dict(screen(load.analyse_load(run_dir, params)).data)
    write_summary(run_dir, summary)
    print(f"records: {run_dir / summary['records']}")
    print(format_summary(summary))
    outcome = summary_outcome(summary)  # exit status: qrbench.load.outcome
    print(outcome.message, file=sys.stderr if outcome.code else sys.stdout)
    return outcome.code


def _machine_noise(run_dir: str) -> float | None:
    from pathlib import Path

    from .stats import noise_cv
    from .studies import RunFolder

    folder = RunFolder(Path(run_dir))
    noise = folder.calibration_s if folder.file("run.json").is_file() else None
    return noise_cv(noise) if noise else None


def _add_probe(sub) -> None:
    p = sub.add_parser(
        "probe",
        help="say what a running service offers (contract endpoints, health paths, /metrics, local process)",
        description="Probe a running QuantumRerank-compatible service and print one paragraph: which contract "
        "endpoints answer, which health path to use, which metric families /metrics exposes, whether its process "
        "is local and Python (py-spy), whether it is qrbench's reference engine, whether it needs an API key. "
        "Exit 2 when the URL does not speak the contract.",
    )
    p.add_argument("--url", required=True, help="the service (loopback unless --allow-remote)")
    p.add_argument("--api-key", help="sent as X-API-Key")
    p.add_argument("--allow-remote", action="store_true", help="permit a non-loopback URL")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per probe request (default 30)")
    p.set_defaults(func=_probe)


def _probe(args) -> int:
    from .deploy import check_contract, probe_target
    from .load import check_target

    url = check_target(args.url, allow_remote=args.allow_remote)
    headers = {"X-API-Key": args.api_key} if args.api_key else {}
    print(check_contract(probe_target(url, headers=headers, timeout_s=args.timeout)).paragraph())
    return 0


def _add_render(sub) -> None:
    p = sub.add_parser(
        "render",
        help="turn a run folder made by hand in JupyterLab into the HTML reports `qrbench study` writes",
        description="Analyse the run already in RUN_DIR (its study and parameters come from its run.json; nothing "
        "is measured) and write <study>.html, <study>-code.html and summary.json there; refresh the index.html "
        "of RUN_DIR's parent folder.",
    )
    p.add_argument("run_dir", help="the run folder, e.g. outputs/20261207T101500Z-load")
    p.add_argument("--no-progress", action="store_true", help="no progress lines on the terminal")
    p.set_defaults(func=_render)


def _render(args) -> int:
    from .report.execute import render_run
    from .studies import read_summary

    run_dir = render_run(args.run_dir, progress=not args.no_progress, say=_say)
    html = sorted(p for p in run_dir.glob("*.html") if not p.stem.endswith("-code"))
    print(f"verdict {read_summary(run_dir).get('verdict', 'unknown')}")
    print(f"report: {html[0] if html else run_dir}  (with code: the -code.html beside it)")
    print(f"index:  {run_dir.parent / 'index.html'}")
    return 0


def _add_init(sub) -> None:
    p = sub.add_parser("init", help="copy the notebooks and parameter files into a folder, to edit in JupyterLab")
    p.add_argument("dir", help="folder to create (or an empty one)")
    p.set_defaults(func=_init)


def _init(args) -> int:
    import shutil
    from pathlib import Path

    from .resources import bundled

    target = Path(args.dir)
    if target.exists() and any(target.iterdir()):
        raise ParameterError(f"{target} is not empty; give a new or an empty folder.")
    # The notebooks beside parameters/: run from DIR, their "parameters/..." files are the copies, not the shipped.
    target.mkdir(parents=True, exist_ok=True)
    for notebook in sorted(bundled("notebooks").glob("*.ipynb")):
        shutil.copy2(notebook, target / notebook.name)
    shutil.copytree(bundled("parameters"), target / "parameters", ignore=shutil.ignore_patterns("__pycache__"))
    print(f"copied the study notebooks and parameters/ into {target}; open them with: jupyter lab {target}")
    return 0


def format_summary(summary: Mapping[str, Any]) -> str:
    """`qrbench load`'s one screen of text from its summary (the load analysis's "screen" section's data)."""
    from .studies.load.sections import screen_text

    return screen_text(summary)


_UNITS = {"": 1.0, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def parse_duration(text: str) -> float:
    """Seconds from "30s", "5m", "1h", "1.5h" or a plain number of seconds."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*(s|m|min|h)?\s*", str(text))
    if not match:
        raise ParameterError(f"The duration {text!r} is not understood; use e.g. 30s, 5m, 1h or a number of seconds.")
    return float(match.group(1)) * _UNITS[match.group(2) or ""]


def parse_weights(text: str, *, option: str = "--mix") -> dict[str, float]:
    """{"rerank_small": 1.0, ...} from "rerank_small=1,similarity=0"."""
    out: dict[str, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise ParameterError(f"{option} item {item!r} is not NAME=WEIGHT, e.g. rerank_small=0.5.")
    return out


def _add_alerts(sub) -> None:
    p = sub.add_parser("alerts", help="Prometheus alerting rules from the PRD thresholds")
    alerts = p.add_subparsers(dest="alerts_command", required=True)
    r = alerts.add_parser("render", help="print Prometheus recording and alerting rules (YAML) to stdout")
    r.add_argument(
        "-t", "--thresholds", default="parameters/thresholds.yaml", help="thresholds file (its `load` section)"
    )
    r.add_argument("--rate-window", type=float, default=60.0, help="seconds of every rate() window (default 60)")
    r.add_argument("--warning-for", type=float, default=120.0, help="seconds a warning condition must hold (120)")
    r.add_argument("--critical-for", type=float, default=60.0, help="seconds a critical condition must hold (60)")
    r.add_argument("--interval", type=float, default=15.0, help="seconds between rule evaluations (15)")
    r.set_defaults(func=_alerts_render)


def _alerts_render(args) -> int:
    from .monitor.alerts import RuleWindows, load_thresholds, rules_yaml
    from .resources import resolve_params_file

    path = resolve_params_file(args.thresholds)
    windows = RuleWindows(
        rate_window_s=args.rate_window,
        warning_for_s=args.warning_for,
        critical_for_s=args.critical_for,
        evaluation_interval_s=args.interval,
    )
    print(rules_yaml(load_thresholds(path), windows, source=str(args.thresholds)), end="")
    return 0


def _add_export(sub) -> None:
    p = sub.add_parser("export", help="write a load scenario as another tool's script")
    tools = p.add_subparsers(dest="export_tool", required=True)
    a = tools.add_parser("artillery", help="an Artillery script (stdout, or -o FILE) and its CSV payload file")
    a.add_argument("-p", "--params", required=True, help="load scenario YAML, e.g. parameters/load_peak.yaml")
    a.add_argument(
        "-o",
        "--out",
        default=None,
        help="script path (its payload goes beside it, .csv); default: stdout, payload in the working "
        "directory as <scenario>.csv",
    )
    a.add_argument(
        "--url", default=None, help="target base URL (default: the scenario's target.url, else http://127.0.0.1:8000)"
    )
    a.set_defaults(func=_export_artillery)


def _export_artillery(args) -> int:
    from pathlib import Path

    from .load.artillery import ARTILLERY_DIR, artillery_script, script_text, write_artillery, write_payload
    from .load.data import DataManager
    from .studies import get_study
    from .studies.load import plan_load

    params = get_study("load").load_params(args.params)
    data = DataManager.from_dir(seed=params.seed)
    plan = plan_load(params, data.day)
    pool = data.mix_sampler(
        params.mix, params.methods, seed=params.seed, pool_size=params.pool_size, new_queries=params.new_queries
    )
    target = args.url or params.target.url or "http://127.0.0.1:8000"
    comment = (
        f"Artillery script of qrbench scenario {params.name!r} ({args.params}), written by "
        f"`qrbench export artillery`.\nRun: npx --prefix {ARTILLERY_DIR} artillery run <this file>; the "
        f"payload CSV must stay beside it. Mapping of qrbench's model: see qrbench/load/artillery.py."
    )
    options = dict(target=target, timeout_s=params.request_timeout_s, seed=params.seed)
    if args.out:
        _, payload = write_artillery(plan.model, pool, args.out, comment=comment, **options)
    else:
        payload = Path.cwd() / f"{params.name}.csv"
        script, rows = artillery_script(plan.model, pool, payload_path=payload.name, **options)
        write_payload(payload, rows)
        print(script_text(script, comment), end="")
    print(f"qrbench: the payload file is {payload}; keep it beside the script.", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qrbench",
        description=DESCRIPTION.format(quick_min=expected_minutes("quick")),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_serve(sub)
    _add_suite(sub)
    _add_study(sub)
    _add_compare(sub)
    _add_ab(sub)
    _add_load(sub)
    _add_init(sub)
    _add_probe(sub)
    _add_render(sub)
    _add_alerts(sub)
    _add_export(sub)
    return parser


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so every `with` block (the embedded service, the kernel) cleans up."""


def _terminate(signum, frame) -> None:
    raise _Terminated()


def main(argv: list[str] | None = None) -> int:
    import signal
    import threading

    try:
        parser = build_parser()  # reads the registry, and the modules $QRBENCH_STUDIES names
    except QrbenchError as exc:
        print(f"qrbench: {exc}", file=sys.stderr)
        return 2
    args = parser.parse_args(argv)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        return args.func(args)
    except QrbenchError as exc:
        print(f"qrbench: {exc}", file=sys.stderr)
        return 2
    except _Terminated:
        print("qrbench: stopped (SIGTERM); the run folder keeps what was measured.", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("qrbench: stopped (Ctrl-C); the run folder keeps what was measured.", file=sys.stderr)
        return 130
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)  # main() called in-process (tests) leaves the handler as it was
