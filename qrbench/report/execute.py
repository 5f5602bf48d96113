"""Execute a study notebook with papermill into a run folder and render it to HTML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import RunError
from ..resources import bundled
from .index import write_index
from .runs import new_run_dir, read_summary

__all__ = ["run_study", "render_html"]


def render_html(notebook: Path, *, with_code: bool) -> Path:
    """HTML of an executed notebook: without code for stakeholders, or with code (qrbench.report.html says what
    each version keeps)."""
    from .html import write_notebook_html

    return write_notebook_html(notebook, with_code=with_code, title=f"{notebook.stem.capitalize()} study",
                               subtitle=notebook.parent.name)


def run_study(study: str, *, parameters: dict[str, Any], out_root: str | Path = "outputs",
              progress: bool = True) -> Path:
    """Execute notebooks/<study>.ipynb with `parameters` (plus run_dir) into a new run folder.

    Returns the run folder, which holds the executed notebook, <study>.html (no code), <study>-code.html
    and whatever the notebook wrote (records, summary.json). The HTML is rendered and the index refreshed
    even when the notebook failed, so a failed study still leaves a readable report of how far it got.
    """
    import papermill

    notebooks = bundled("notebooks")
    source = notebooks / f"{study}.ipynb"
    if not source.is_file():
        studies = sorted(p.stem for p in notebooks.glob("*.ipynb"))
        raise RunError(f"There is no study {study!r}; the studies are {', '.join(studies)}.")
    # Absolute: the notebook runs with the run folder as its current folder.
    run_dir = new_run_dir(out_root, study).resolve()
    executed = run_dir / f"{study}.ipynb"
    failure: Exception | None = None
    try:
        papermill.execute_notebook(
            str(source), str(executed), parameters={**parameters, "run_dir": str(run_dir)},
            progress_bar=progress, cwd=str(run_dir), kernel_name="python3",
        )
    except papermill.PapermillExecutionError as exc:
        failure = exc
    if executed.is_file():
        render_html(executed, with_code=False)
        render_html(executed, with_code=True)
    write_index(out_root)
    if failure is not None:
        raise RunError(f"The {study} study failed in cell {failure.exec_count}: {failure.ename}: {failure.evalue}. "
                       f"The partial report is in {run_dir}.") from None
    read_summary(run_dir)  # the notebook's last cell must have recorded its numbers
    return run_dir
