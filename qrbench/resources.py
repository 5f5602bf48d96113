"""The folders that ship with qrbench: notebooks/, parameters/ and data/.

In a checkout they sit at the top of the repository, beside the package; a built wheel carries copies inside
the package (qrbench/_bundled/<name>/, put there by setup.py's build step). Both are found from the package's
own location through importlib.resources, so the code never counts parent folders.
"""

from __future__ import annotations

import os
import shutil
import sysconfig
from importlib.resources import files
from pathlib import Path

from .errors import ParameterError, QrbenchError

__all__ = ["bundled", "resolve_params_file", "scaled_params_file", "BUNDLED", "SCALES", "console_script"]

BUNDLED = ("notebooks", "parameters", "data")
SCALES = ("smoke", "quick", "full")  # parameters/smoke/, parameters/quick/, parameters/


def bundled(name: str) -> Path:
    """The folder `name` (one of BUNDLED) of this installation: the wheel's copy, else the checkout's."""
    if name not in BUNDLED:
        raise QrbenchError(f"{name!r} is not a folder qrbench ships; it ships {', '.join(BUNDLED)}.")
    package = Path(str(files("qrbench")))
    for folder in (package / "_bundled" / name, package.parent / name):
        if folder.is_dir():
            return folder
    raise QrbenchError(
        f"This qrbench installation has no {name}/ folder (looked in {package / '_bundled'} and "
        f"{package.parent}); reinstall it from a wheel or a checkout."
    )


def resolve_params_file(path: str | Path) -> Path:
    """A parameter file named on the command line or in a parameter file: as given when it exists (relative to
    the current folder), else the shipped one, so `parameters/thresholds.yaml` works from any folder."""
    path = Path(path)
    if path.is_absolute() or path.is_file():
        return path.resolve()
    parts = path.parts
    if parts and parts[0] == "parameters":
        shipped = bundled("parameters").joinpath(*parts[1:])
        if shipped.is_file():
            return shipped
    return path.resolve()  # missing: load_yaml names the path the user gave, resolved from here


def console_script(name: str, *, scripts_dir: str | Path | None = None) -> str | None:
    """The path of console script `name` (e.g. "py-spy"): next to the running interpreter first (the
    environment qrbench is installed in, activated or not: sysconfig's "scripts" folder), then on PATH;
    None when neither has it. scripts_dir: another folder to look in first (tests)."""
    folder = Path(scripts_dir) if scripts_dir is not None else Path(sysconfig.get_path("scripts"))
    for candidate in (folder / name, folder / f"{name}.exe"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which(name)


def scaled_params_file(params_file: str | Path, scale: str | None) -> str:
    """The parameter file of the same name at `scale`: "smoke" and "quick" are parameters/<scale>/<name>, "full"
    parameters/<name> (current folder first, else the shipped one, as resolve_params_file); None keeps
    params_file as given. How a notebook opened in JupyterLab picks the smoke run without editing a path."""
    if scale is None:
        return str(params_file)
    if scale not in SCALES:
        raise ParameterError(f"scale is {scale!r}; use one of {', '.join(SCALES)}, or None to keep params_file.")
    name = Path(params_file).name
    wanted = Path("parameters", *(() if scale == "full" else (scale,)), name)
    if not resolve_params_file(wanted).is_file():
        folder = resolve_params_file(wanted).parent
        shipped = bundled("parameters").joinpath(*wanted.parts[1:-1])
        names = sorted(p.name for p in (folder if folder.is_dir() else shipped).glob("*.yaml"))
        raise ParameterError(
            f"scale {scale!r} has no {name}: {wanted} does not exist. The {scale} files are {', '.join(names)}."
        )
    return str(wanted)
