"""The instances part of the scalability study keeps going when a step fails: the failure is recorded in
configs.json, and every nginx it started is stopped (stub servers stand in for the service instances)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
from types import SimpleNamespace

import psutil

from qrbench.deploy import engine_settings
from qrbench.errors import RunError
from qrbench.load import DataManager, start_stub_server
from qrbench.resources import bundled
from qrbench.studies import get_study
from qrbench.studies.scalability import run as scalability


def nginx_processes(folder) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["name", "cmdline"]):
        with contextlib.suppress(psutil.Error):
            if (
                p.info["name"] == "nginx"
                and str(folder) in " ".join(p.info["cmdline"] or [])
                and p.status() != psutil.STATUS_ZOMBIE
            ):
                found.append(p)
    return found


def test_a_failing_step_is_recorded_and_nginx_is_stopped(tmp_path, monkeypatch):
    params = get_study("scalability").load_params(bundled("parameters") / "smoke/scalability.yaml")
    params = dataclasses.replace(params, requests=dataclasses.replace(params.requests, warmup_requests=0, pool_size=4))
    data = DataManager.from_dir(seed=0)
    base = list(data.mix_sampler(params.requests.mix, params.requests.methods, seed=0, pool_size=4, length="short"))
    study = scalability._Study(
        params=params,
        run_dir=tmp_path,
        progress=False,
        data=data,
        base=base,
        index=scalability._Index(tmp_path),
        headers={},
    )
    seen_nginx: list[int] = []

    def failing_step(url, *args, **kwargs):
        seen_nginx.extend(p.pid for p in nginx_processes(tmp_path))
        raise RunError("the driver failed in the middle of a step")

    with start_stub_server() as a, start_stub_server() as b:

        @contextlib.contextmanager
        def stub_targets(settings, n, folder, **kwargs):
            yield [SimpleNamespace(url=u, pid=os.getpid()) for u in (a, b)[:n]]

        monkeypatch.setattr(scalability, "started_targets", stub_targets)
        monkeypatch.setattr(scalability, "run_load", failing_step)
        scalability._instances(study, engine_settings(params.target))

    entries = json.loads((tmp_path / "configs.json").read_text())
    assert [e["name"] for e in entries] == [
        "instances-1-round_robin",
        "instances-2-round_robin",
        "instances-2-least_conn",
    ]
    assert all(e["status"] == "failed" and "failed in the middle of a step" in e["error"] for e in entries)
    assert seen_nginx, "nginx was running while the steps ran"
    assert nginx_processes(tmp_path) == []
    for e in entries:
        assert (tmp_path / e["dir"] / "nginx" / "nginx.conf").is_file()
