"""The suite: every registered study against one target, into one folder with an executive report.

    outputs/<UTC time>-suite/
      <study>/          each study's run folder (notebook, <study>.html, <study>-code.html, summary.json, ...)
      target.log        the shared embedded service's log (when no --url was given)
      report.html       the executive report (executive.write_executive_report): the answer on its first screen
      summary.json      the suite's verdict, scale, each study's verdict and duration, the key numbers

One target: the embedded reference service is started once here and its URL given to every study, or the
user's URL is. Studies that compare configurations they start themselves (their registry entry's
`own_targets`: scalability starts workers, instances and nginx) keep doing so; a user's URL still goes to them
(they then measure only it).
A study that fails does not stop the suite: its section in the report shows the error and what to do.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ..deploy import TargetParams, check_contract, open_target, probe_target
from ..errors import ParameterError, QrbenchError
from ..load import check_target
from ..resources import resolve_params_file
from ..studies import STUDIES, get_entry, get_study, new_run_dir, read_summary, write_summary
from .execute import notebook_parameters, run_study
from .executive import StudySummary, compare_with_previous, failed_study, from_summary, write_executive_report
from .index import write_index
from .progress import clock
from .scales import SCALES, expected_seconds


@dataclass(frozen=True, slots=True)
class SuitePlan:
    """The studies to run, in order, each with its validated parameter file (absolute path)."""

    scale: str
    studies: tuple[tuple[str, Path], ...]

    @property
    def expected_s(self) -> float:
        expected = expected_seconds(self.scale)
        return sum(expected.get(name, 0.0) for name, _ in self.studies)


@dataclass(frozen=True, slots=True)
class SuiteResult:
    folder: Path
    report: Path
    verdict: str
    reason: str
    studies: tuple[StudySummary, ...]


def _params_file(study: str, scale: str, params_dir: str | Path | None) -> Path:
    default = Path(get_study(study).default_params)  # parameters/<file>.yaml
    if params_dir is not None:
        return resolve_params_file(Path(params_dir) / default.name)
    if scale == "full":
        return resolve_params_file(default)
    return resolve_params_file(Path("parameters") / scale / default.name)


def usual_duration_s(study: str, params: Path) -> float | None:
    """The usual seconds of `study` when `params` holds the same parameters as one scale's shipped file, else None."""
    try:
        content = Path(params).read_bytes()  # not run data: a parameter file
    except OSError:
        return None
    usual = get_entry(study).expected_s
    for scale in SCALES:
        shipped = _params_file(study, scale, None)
        if scale in usual and shipped.is_file() and shipped.read_bytes() == content:  # not run data: parameters
            return float(usual[scale])
    return None


def plan_suite(
    scale: str = "quick", *, params_dir: str | Path | None = None, studies: tuple[str, ...] | None = None
) -> SuitePlan:
    """Every registered study (or those in `studies`, in the registry's order) with its parameter file for `scale`
    (or from params_dir), each validated: a bad file or study stops the suite before any folder or kernel exists."""
    if scale not in SCALES:
        raise ParameterError(f"--scale {scale!r} is not a scale; use one of {', '.join(SCALES)}.")
    unknown = sorted(set(studies or ()) - set(STUDIES))
    if unknown or studies == ():
        raise ParameterError(
            f"--studies names {', '.join(unknown) or 'no study'}; choose one or more of {', '.join(STUDIES)}."
        )
    files = []
    for name, study in STUDIES.items():
        if studies is not None and name not in studies:
            continue
        path = _params_file(name, scale, params_dir)
        study.load_params(path)
        files.append((name, path))
    return SuitePlan(scale=scale, studies=tuple(files))


def _baseline_folders(baseline: str | Path | None) -> dict[str, Path]:
    """study -> its run folder in a previous suite run."""
    if baseline is None:
        return {}
    root = Path(baseline)
    try:
        kind = read_summary(root).get("study")
    except QrbenchError:
        kind = None
    if kind != "suite":
        raise ParameterError(
            f"--baseline {baseline} is not a finished suite run folder (one holding report.html "
            "and a summary.json of study 'suite'); give an outputs/<UTC time>-suite/ folder."
        )
    return {name: (root / name).resolve() for name in STUDIES if (root / name / "summary.json").is_file()}


def _compared(current: StudySummary, previous_folder: Path, previous_run: str):
    """compare_with_previous against the study's folder in the previous suite run; None if it cannot be read."""
    try:
        before = from_summary(read_summary(previous_folder))
    except (QrbenchError, ValueError, KeyError, TypeError):
        return None
    return compare_with_previous(current, before, previous_run)


def _what_to_do(name: str, params: Path, error: str, url: str | None) -> str:
    rerun = f"then rerun the suite, or this study alone: qrbench study {name} -p {params}" + (
        f" --url {url}" if url else ""
    )
    if url and ("ConnectError" in error or "Connection refused" in error):
        return f"Check that the service at {url} is running and answers on that port, {rerun}."
    return (
        f"Open the {name} report linked below (it shows how far the study got), fix the cause the error names, {rerun}."
    )


def run_suite(
    plan: SuitePlan,
    *,
    url: str | None = None,
    baseline: str | Path | None = None,
    out_root: str | Path = "outputs",
    progress: bool = True,
    say: Callable[[str], None] = lambda line: None,
) -> SuiteResult:
    """Run every study of `plan` against one target (`url`, loopback only; None: the embedded reference service,
    started once) into a new `<out_root>/<UTC time>-suite/` folder with its report.html and summary.json, and
    refresh `<out_root>/index.html`. baseline: a previous suite folder to compare with; say: the progress lines."""
    if url:
        url = check_target(url)  # before any folder: a remote or malformed URL names itself
    previous = _baseline_folders(baseline)
    expected = expected_seconds(plan.scale)
    suite_dir = new_run_dir(out_root, "suite").resolve()
    started = dt.datetime.now(dt.UTC)
    t0 = time.monotonic()
    summaries: list[StudySummary] = []
    durations: dict[str, float] = {}
    say(
        f"qrbench suite: {len(plan.studies)} studies at {plan.scale} scale into {suite_dir}; expected about "
        f"{max(1, round(plan.expected_s / 60))} minutes on 2 idle cores"
        + (
            "; every stage has a time budget (a slow service gets a smaller sample, and a stage cut by its budget "
            "says so in its report)"
            if plan.scale in ("quick", "smoke")
            else ""
        )
    )
    with contextlib.ExitStack() as stack:
        target_url, target_text, probe = _open_suite_target(stack, url, suite_dir, say)
        if probe is not None:
            say(probe.paragraph())
        for i, (name, params) in enumerate(plan.studies, 1):
            # The remaining studies' usual durations, stretched as much as the finished ones ran over (a busy
            # machine slows every study alike), never shrunk by much: load stages last as long as they are told.
            done_expected = sum(expected.get(n, 0.0) for n in durations)
            pace = min(4.0, max(0.9, sum(durations.values()) / done_expected)) if done_expected else 1.0
            left = pace * sum(expected.get(n, 0.0) for n, _ in plan.studies[i - 1 :])
            own = get_entry(name).own_targets and not url
            say(
                f"[{i}/{len(plan.studies)}] {name}: started ({params.name}"
                + (", starting its own targets" if own else "")
                + f"); suite {clock(time.monotonic() - t0)} "
                f"elapsed, about {clock(left)} left"
            )
            t_study = time.monotonic()
            one = _one_study(
                name,
                params,
                suite_dir=suite_dir,
                url=url,
                target_url=None if own else target_url,
                previous=previous,
                baseline=baseline,
                out_root=out_root,
                progress=progress,
                say=say,
                expected_s=pace * expected[name] if name in expected else None,
            )
            durations[name] = time.monotonic() - t_study
            summaries.append(one)
            say(f"[{i}/{len(plan.studies)}] {name}: {one.verdict} after {clock(durations[name])}")
    report = write_executive_report(
        suite_dir,
        summaries,
        scale=plan.scale,
        started=f"{started:%Y-%m-%d %H:%M} UTC",
        target=target_text,
        probe=probe.paragraph() if probe is not None else "",
    )
    summary = read_summary(suite_dir)
    summary.update(
        durations_s=durations,
        target=target_text,
        probe=probe.to_dict() if probe is not None else None,
        folders={s.study: s.study for s in summaries},
        baseline=str(Path(baseline).resolve()) if baseline else None,
    )
    write_summary(suite_dir, summary)
    write_index(out_root)
    say(f"suite: {summary['verdict']} after {clock(time.monotonic() - t0)}")
    return SuiteResult(
        folder=suite_dir, report=report, verdict=summary["verdict"], reason=summary["reason"], studies=tuple(summaries)
    )


def _open_suite_target(stack: contextlib.ExitStack, url: str | None, suite_dir: Path, say):
    """(url, how the report names the target, its probe): the user's service, checked against the contract, or
    the embedded reference service started once for every study (closed by `stack`)."""
    if url:
        return url, f"the service at {url}", check_contract(probe_target(url))
    say("starting the embedded reference service (shared by the studies)")
    target = stack.enter_context(open_target(TargetParams(), log_dir=suite_dir))
    owners = sorted(name for name in STUDIES if get_entry(name).own_targets)
    own = f" ({' and '.join(owners)} starts the configurations it compares)" if owners else ""
    return target.url, "one embedded reference service shared by the studies" + own, target.probe


def _one_study(
    name: str,
    params: Path,
    *,
    suite_dir: Path,
    url: str | None,
    target_url: str | None,
    previous: dict[str, Path],
    baseline: str | Path | None,
    out_root: str | Path,
    progress: bool,
    say,
    expected_s: float | None,
) -> StudySummary:
    """Run one study of the suite into suite_dir/<name>/ and summarise it; a failure of any kind is its summary."""
    declared = notebook_parameters(name)
    parameters = {"params_file": str(params), "url": target_url, "progress": progress}
    if "baseline_run" in declared and name in previous:
        parameters["baseline_run"] = str(previous[name])
    study_dir = suite_dir / name
    try:
        run_study(
            name,
            parameters=parameters,
            out_root=out_root,
            run_dir=study_dir,
            progress=progress,
            index=False,
            say=say,
            expected_s=expected_s,
        )
        summary = read_summary(study_dir)
        figure = summary.get("key_figure")
        one = from_summary(
            summary, report_link=f"{name}/{name}.html", key_figure=f"{name}/{figure}" if figure else None
        )
        if one.regression is not None and name in previous:
            one = replace(one, regression=replace(one.regression, previous_run=Path(baseline).name))
        elif name in previous:  # a study that does not compare runs itself: its PRD metrics' intervals
            one = replace(one, regression=_compared(one, previous[name], Path(baseline).name))
    except Exception as exc:  # noqa: BLE001 - one study's failure, of any kind, must not stop the suite
        report = study_dir / f"{name}.html"
        error = str(exc) if isinstance(exc, QrbenchError) else f"{type(exc).__name__}: {exc}"
        one = failed_study(
            name,
            error,
            report_link=f"{name}/{name}.html" if report.is_file() else None,
            what_to_do=_what_to_do(name, params, error, url),
        )
    return one
