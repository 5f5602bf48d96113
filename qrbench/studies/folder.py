"""A run folder and the facts of its run: the one module of studies/ and report/ that opens a run's files
(tests/test_architecture.py). run.json holds the facts (`RunFolder.facts`: study, parameters, machine,
versions, git commit, target, start and end, calibration timings of the machine's noise); summary.json the key
numbers the study's `summary` returns; each study's package docstring lists its other files.

Analysis reads the folder alone: the machine's cores, the target's settings and the noise come from run.json,
never from the analysing machine or today's defaults, so the same folder gives the same numbers anywhere.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import RunError

__all__ = [
    "RunFolder",
    "RUN_FILE",
    "SUMMARY_FILE",
    "write_json",
    "new_run_dir",
    "interactive_run_dir",
    "outputs_root",
    "write_summary",
    "read_summary",
    "jsonable",
]

RUN_FILE = "run.json"
SUMMARY_FILE = "summary.json"
_REQUIRED = object()  # read_frame without a default: a missing table is an error
_PACKAGES = ("qrbench", "torch", "qiskit", "qiskit-aer", "numpy", "pandas", "scipy")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_facts() -> dict[str, Any]:
    """This machine: logical cores, the cores this process may use, CPU model, memory in bytes."""
    import psutil

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "cpu_model": _cpu_model(),
        "memory_bytes": psutil.virtual_memory().total,
        "platform": platform.platform(),
    }


def version_facts() -> dict[str, Any]:
    """Python and the versions of the packages whose changes move the numbers (None: not installed)."""
    from importlib import metadata  # here: it takes longer to import than the rest of the command line

    versions: dict[str, Any] = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _git_commit() -> str | None:
    """The commit of the checkout qrbench runs from (None when installed from a wheel or git is missing)."""
    source = Path(sys.modules["qrbench"].__file__ or ".").parent
    try:
        out = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def write_json(path: Path, value: Any) -> Path:
    """Write path as JSON atomically (a crash leaves the old file or the new one, never half of one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(value, indent=1, default=str) + "\n")
    os.replace(tmp, path)
    return path


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
    """A new run folder under `outputs_root(start)` for a notebook run by hand (never notebooks/outputs/)."""
    return new_run_dir(outputs_root(start), study)


def outputs_root(start: str | Path | None = None) -> Path:
    """The outputs/ folder beside the nearest `parameters/` folder above `start` (default: the current folder),
    i.e. the checkout's or the `qrbench init` folder's; the current folder's outputs/ when none is found."""
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


@dataclass(frozen=True, slots=True)
class RunFolder:
    """A run's folder. `create` starts a run (writes run.json); `RunFolder(path)` opens one to analyse. run.json
    is cached until this folder writes it or the file on disk is replaced (another `RunFolder` wrote it)."""

    path: Path
    _cache: dict[str, Any] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    @classmethod
    def create(
        cls, path: str | Path, *, study: str, params: dict[str, Any], calibration_s: list[float] | None = None
    ) -> RunFolder:
        """Make the folder (it may exist, e.g. made by `new_run_dir`) and record the run's facts in run.json."""
        folder = cls(Path(path))
        folder.path.mkdir(parents=True, exist_ok=True)
        folder.write_json(
            RUN_FILE,
            {
                "study": study,
                "params": params,
                "machine": machine_facts(),
                "versions": version_facts(),
                "git_commit": _git_commit(),
                "target": None,
                "started_unix": time.time(),
                "ended_unix": None,
                "calibration_s": calibration_s,
            },
        )
        return folder

    @property
    def facts(self) -> dict[str, Any]:
        """run.json; RunError when the folder has none (it is not a run folder, or a run from before run.json)."""
        path = self.path / RUN_FILE
        try:
            stat = path.stat()
        except OSError:
            raise RunError(f"{self.path} holds no {RUN_FILE}: it is not a qrbench run folder.") from None
        key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if self._cache.get("key") != key:
            self._cache.update(key=key, facts=json.loads(path.read_text()))
        return self._cache["facts"]

    def update(self, **facts: Any) -> None:
        """Add or replace top-level facts of run.json (e.g. target=..., calibration_s=...)."""
        self.write_json(RUN_FILE, {**self.facts, **facts})

    def finish(self) -> None:
        """Record the end time of the run."""
        self.update(ended_unix=time.time())

    @property
    def cores(self) -> int:
        """Logical cores the run's process could use on the machine it ran on."""
        machine = self.facts.get("machine") or {}
        return int(machine.get("usable_cores") or machine.get("cores") or 1)

    @property
    def calibration_s(self) -> list[float] | None:
        return self.facts.get("calibration_s")

    def target_setting(self, name: str, default: Any = None) -> Any:
        """An effective engine setting of the run's (embedded) target; `default` when unknown (a given URL)."""
        target = self.facts.get("target") or {}
        return (target.get("settings") or {}).get(name, default)

    @property
    def target_probe(self):
        """What the target offered when the study opened it (deploy.TargetProbe), or None (not probed)."""
        from ..deploy import probe_from_facts

        try:
            target = self.facts.get("target") or {}
        except RunError:
            return None
        return probe_from_facts(target.get("probe"))

    def file(self, name: str) -> Path:
        return self.path / name

    def write_json(self, name: str, value: Any) -> Path:
        if name == RUN_FILE:
            self._cache.clear()
        return write_json(self.path / name, value)

    def read_json(self, name: str, default: Any = None) -> Any:
        path = self.path / name
        return json.loads(path.read_text()) if path.is_file() else default

    def write_frame(self, name: str, frame: Any) -> Path:
        """A table of the run as <name>.parquet."""
        path = self.path / f"{name}.parquet"
        frame.to_parquet(path)
        return path

    def read_frame(self, name: str, default: Any = _REQUIRED) -> Any:
        """The table `write_frame(name, ...)` wrote; `default` when the run has none, else RunError."""
        import pandas as pd

        path = self.path / f"{name}.parquet"
        if not path.is_file():
            if default is _REQUIRED:
                raise RunError(f"{self.path} holds no {path.name}.")
            return default
        return pd.read_parquet(path)

    def write_figure(self, name: str, figure: Any, *, dpi: int = 100) -> Path:
        """A matplotlib figure of the run as the image file `name` (e.g. the key figure, key_figure.png)."""
        path = self.path / name
        figure.savefig(path, dpi=dpi, bbox_inches="tight")
        return path

    def write_note(self, name: str, text: str) -> Path:
        """A note of the run in plain text (e.g. why a monitor's data could not be read)."""
        path = self.path / name
        path.write_text(text)
        return path

    def read_raw(self, name: str) -> bytes | None:
        """A file of the run as bytes (e.g. a figure to embed); None when the run has none."""
        path = self.path / name
        return path.read_bytes() if path.is_file() else None
