"""Run folders under outputs/: naming, summary.json, and reading them back."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

from ..errors import RunError

__all__ = [
    "new_run_dir",
    "interactive_run_dir",
    "outputs_root",
    "write_summary",
    "read_summary",
    "jsonable",
    "SUMMARY_FILE",
]

SUMMARY_FILE = "summary.json"


def new_run_dir(out_root: str | Path, study: str) -> Path:
    """outputs/<UTC timestamp>-<study>/, created; a suffix keeps two runs in the same second apart."""
    out_root = Path(out_root)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    for i in range(100):
        path = out_root / (f"{stamp}-{study}" + (f"-{i}" if i else ""))
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            continue
    raise RunError(f"Could not create a new run folder under {out_root}.")


def interactive_run_dir(study: str, start: str | Path | None = None) -> Path:
    """A new run folder for a notebook run by hand (JupyterLab): `outputs/<UTC time>-<study>/` beside the
    nearest `parameters/` folder above `start` (default: the current folder), i.e. the checkout's or the
    `qrbench init` folder's outputs/, never notebooks/outputs/; the current folder's outputs/ when none is found."""
    return new_run_dir(outputs_root(start), study)


def outputs_root(start: str | Path | None = None) -> Path:
    """The outputs/ folder beside the nearest `parameters/` folder above `start` (default: the current folder),
    where notebooks run by hand write their runs; the current folder's outputs/ when none is found."""
    here = Path(start or Path.cwd()).resolve()
    root = next((d for d in (here, *here.parents) if (d / "parameters").is_dir()), here)
    return root / "outputs"


def jsonable(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if hasattr(value, "item"):  # numpy scalars
        return jsonable(value.item())
    return value


def write_summary(run_dir: str | Path, summary: dict[str, Any]) -> Path:
    """Write summary.json (infinite interval bounds as "inf"/"-inf", NaN as null)."""
    path = Path(run_dir) / SUMMARY_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(jsonable(summary), indent=2, sort_keys=False))
    tmp.replace(path)
    return path


def read_summary(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / SUMMARY_FILE
    if not path.is_file():
        raise RunError(f"{run_dir} holds no {SUMMARY_FILE}: it is not a finished qrbench run folder.")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise RunError(f"{path} is not valid JSON: {exc}.") from exc
