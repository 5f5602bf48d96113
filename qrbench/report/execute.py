"""Execute a study notebook with papermill into a run folder and render it to HTML."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ParameterError, RunError
from ..resources import bundled
from ..studies import SUMMARY_FILE, RunFolder, get_entry, new_run_dir, read_summary, write_summary
from .index import write_index
from .progress import NotebookWatch

__all__ = ["run_study", "render_run", "render_html", "notebook_parameters", "scale_of"]

# ipykernel warns on every start that its loopback TCP sockets are unencrypted; the kernel is local and private
# to this run, so the warning says nothing to a user. Raising the kernel's log level keeps its real errors.
_KERNEL_ARGS = ["--IPKernelApp.log_level=ERROR"]


def render_html(notebook: Path, *, with_code: bool) -> Path:
    """HTML of an executed notebook, with or without code (qrbench.report.html says what each version keeps)."""
    from .html import write_notebook_html

    probe = RunFolder(notebook.parent).target_probe
    title = "A/B comparison" if notebook.stem == "ab" else f"{notebook.stem.capitalize()} study"
    note = probe.paragraph() if probe is not None else ""
    return write_notebook_html(notebook, with_code=with_code, title=title, note=note)


def _notebook(study: str) -> Path:
    """The study's notebook: its registry entry's, else the shipped notebooks/<study>.ipynb."""
    entry = get_entry(study)  # ParameterError naming the studies when there is none
    source = Path(entry.notebook) if entry.notebook else bundled("notebooks") / f"{study}.ipynb"
    if not source.is_file():
        raise RunError(f"The {study} study's notebook {source} does not exist.")
    return source


def notebook_parameters(study: str) -> frozenset[str]:
    """The parameters notebooks/<study>.ipynb declares (its cell tagged `parameters`)."""
    import papermill

    return frozenset(papermill.inspect_notebook(str(_notebook(study))))


def run_study(
    study: str,
    *,
    parameters: dict[str, Any],
    out_root: str | Path = "outputs",
    run_dir: str | Path | None = None,
    progress: bool = True,
    index: bool = True,
    say: Callable[[str], None] | None = None,
    expected_s: float | None = None,
) -> Path:
    """Execute the study's notebook with `parameters` (plus run_dir) into run_dir (default: a new
    `<out_root>/<UTC time>-<study>/`) and render its two HTML versions; returns the run folder.

    Parameters the notebook does not declare are dropped when None and refused otherwise (before a kernel
    starts). With progress, the kernel's stderr is copied to ours and `say` gets a line every 30 s (section, time
    spent and left, from expected_s). The HTML and the index are written even when the notebook failed, so a
    failed study still leaves a readable report of how far it got.
    """
    import papermill

    source = _notebook(study)
    declared = notebook_parameters(study)
    unknown = sorted(k for k, v in parameters.items() if k not in declared and v is not None)
    if unknown:
        raise ParameterError(
            f"The {study} study does not take {', '.join(unknown)}; it takes "
            f"{', '.join(sorted(declared - {'run_dir'}))}."
        )
    given = {k: v for k, v in parameters.items() if k in declared}
    if run_dir is None:
        run_dir = new_run_dir(out_root, study)
    # Absolute: the notebook runs with the run folder as its current folder.
    run_dir = Path(run_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    executed = run_dir / f"{study}.ipynb"
    failure: Exception | None = None
    watch = NotebookWatch(study, executed, say, expected_s=expected_s) if progress and say else None
    try:
        with watch or contextlib.nullcontext():
            papermill.execute_notebook(
                str(source),
                str(executed),
                parameters={**given, "run_dir": str(run_dir)},
                progress_bar=False,
                cwd=str(run_dir),
                kernel_name="python3",
                stderr_file=sys.stderr if progress else None,
                extra_arguments=_KERNEL_ARGS,
            )
    except papermill.PapermillExecutionError as exc:
        failure = exc
    if (run_dir / SUMMARY_FILE).is_file() and parameters.get("params_file"):
        summary = read_summary(run_dir)  # the run index shows the scale
        write_summary(run_dir, {"scale": scale_of(parameters["params_file"]), **summary})
    if executed.is_file():
        for with_code in (False, True):
            render_html(executed, with_code=with_code)
    if index:
        write_index(out_root)
    if failure is not None:
        raise RunError(
            f"The {study} study failed in cell {failure.exec_count}: {failure.ename}: {failure.evalue}. "
            f"The partial report is in {run_dir}."
        ) from None
    read_summary(run_dir)  # the notebook's last cell must have recorded its numbers
    return run_dir


def scale_of(params_file: str | Path) -> str:
    """The scale a parameter file stands for: its folder's name under parameters/ (smoke, quick), "full" for
    the files at the top of parameters/, else "custom"."""
    path = Path(params_file)
    if path.parent.name in ("smoke", "quick"):
        return path.parent.name
    return "full" if path.parent.name == "parameters" else "custom"


def render_run(run_dir: str | Path, *, progress: bool = True, say: Callable[[str], None] | None = None) -> Path:
    """The reports `qrbench study` writes, for a run measured elsewhere (a notebook run by hand): executes the
    study's notebook with render_only=True into run_dir, which analyses the run there and measures nothing."""
    run_dir = Path(run_dir).resolve()
    try:
        study = RunFolder(run_dir).facts["study"]
    except (RunError, OSError, ValueError, KeyError, TypeError):
        raise RunError(
            f"{run_dir} holds no run.json naming its study: give a run folder a study notebook wrote "
            "(outputs/<UTC time>-<study>/)."
        ) from None
    return run_study(
        study,
        parameters={"render_only": True},
        out_root=run_dir.parent,
        run_dir=run_dir,
        progress=progress,
        say=say,
    )
