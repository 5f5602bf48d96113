"""Console scripts (py-spy) are found next to the running interpreter first, as in an unactivated venv."""

from __future__ import annotations

import os

from qrbench.resources import console_script


def _script(folder, name):
    path = folder / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


def test_the_interpreters_scripts_folder_comes_before_path(tmp_path, monkeypatch):
    venv_bin, on_path = tmp_path / "venv-bin", tmp_path / "path-bin"
    venv_bin.mkdir()
    on_path.mkdir()
    ours = _script(venv_bin, "py-spy")
    _script(on_path, "py-spy")
    monkeypatch.setenv("PATH", str(on_path))  # the venv is not activated: its bin/ is not on PATH
    assert console_script("py-spy", scripts_dir=venv_bin) == str(ours)


def test_path_is_the_fallback_and_none_when_nowhere(tmp_path, monkeypatch):
    empty, on_path = tmp_path / "empty", tmp_path / "path-bin"
    empty.mkdir()
    on_path.mkdir()
    monkeypatch.setenv("PATH", str(on_path))
    assert console_script("py-spy", scripts_dir=empty) is None
    found = _script(on_path, "py-spy")
    assert console_script("py-spy", scripts_dir=empty) == str(found)
    (empty / "py-spy").write_text("not executable")
    assert os.access(empty / "py-spy", os.X_OK) is False
    assert console_script("py-spy", scripts_dir=empty) == str(found)
