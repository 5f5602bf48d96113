"""nginx in front of service instances: the generated configuration, balancing by policy, per-instance shares
from each instance's /metrics, and teardown on success, on an exception in the body, and on a failed start."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor

import httpx
import pandas as pd
import psutil
import pytest

from qrbench.deploy.nginx import NginxBalancer, find_nginx, nginx_config
from qrbench.errors import ParameterError, TargetError
from qrbench.load import start_stub_server
from qrbench.monitor import scrape
from qrbench.studies.scalability.analysis import instance_shares


def read_access_log(path) -> pd.DataFrame:
    """nginx's access log (the balancer's log_format: time, upstream, status, ...) as a frame, to count which
    instance answered each request."""
    columns = ["t_unix", "upstream", "status", "request_s", "upstream_s", "request_bytes", "response_bytes"]
    rows = [line.split() for line in path.read_text(errors="replace").splitlines()]
    frame = pd.DataFrame([r for r in rows if len(r) == len(columns)], columns=columns)
    frame["status"] = pd.to_numeric(frame["status"], errors="coerce").astype("Int64")
    return frame


def _refused(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


@pytest.fixture(scope="module")
def stubs():
    with start_stub_server() as fast, start_stub_server(delay_s=0.3) as slow:
        yield fast, slow


def test_config_keeps_every_file_in_the_run_folder(tmp_path):
    text = nginx_config(
        ["http://127.0.0.1:8001", "http://localhost:8002"],
        listen_port=9000,
        prefix=tmp_path,
        balance="least_conn",
        keepalive=16,
    )
    assert "least_conn;" in text and "keepalive 16;" in text
    assert "server 127.0.0.1:8001 max_fails=0;" in text and "server 127.0.0.1:8002 max_fails=0;" in text
    assert "listen 127.0.0.1:9000" in text and "proxy_next_upstream off;" in text
    for line in text.splitlines():
        for directive in ("pid ", "error_log ", "_temp_path ", "access_log "):
            if line.strip().startswith(directive) and "off" not in line:
                assert str(tmp_path.resolve()) in line, line
    assert "/etc/" not in text and "/var/" not in text
    assert "least_conn" not in nginx_config(["http://127.0.0.1:8001"], listen_port=9000, prefix=tmp_path)


def test_config_refuses_bad_policies_and_remote_instances(tmp_path):
    with pytest.raises(ParameterError, match="round_robin, least_conn"):
        nginx_config(["http://127.0.0.1:8001"], listen_port=9000, prefix=tmp_path, balance="random")
    with pytest.raises(ParameterError, match="not on loopback"):
        nginx_config(["http://10.0.0.5:8001"], listen_port=9000, prefix=tmp_path)
    with pytest.raises(ParameterError, match="empty"):
        nginx_config([], listen_port=9000, prefix=tmp_path)


def test_missing_nginx_says_how_to_install_it():
    with pytest.raises(TargetError, match="apt-get install nginx-light"):
        find_nginx("/nonexistent/nginx")


def test_round_robin_alternates_and_nginx_is_stopped_after(stubs, tmp_path):
    fast, slow = stubs
    with NginxBalancer([fast, slow], run_dir=tmp_path, access_log=True) as nginx:
        pid, port = nginx.pid, nginx.port
        for _ in range(20):
            assert httpx.post(nginx.url + "/v1/rerank", content=b"{}").status_code == 200
    assert _gone(pid) and _refused(port)
    log = read_access_log(nginx.access_log_path)
    counts = log[log["status"] == 200]["upstream"].value_counts()
    # 20 requests plus the readiness probe(s), alternating between the two instances.
    assert len(counts) == 2 and abs(counts.iloc[0] - counts.iloc[1]) <= 1


def test_least_conn_sends_more_to_the_idle_instance(stubs, tmp_path):
    fast, slow = stubs
    with NginxBalancer([fast, slow], run_dir=tmp_path, balance="least_conn", access_log=True) as nginx:
        with ThreadPoolExecutor(8) as pool:
            codes = list(
                pool.map(
                    lambda _: httpx.post(nginx.url + "/v1/rerank", content=b"{}", timeout=10).status_code, range(40)
                )
            )
    assert codes == [200] * 40
    log = read_access_log(nginx.access_log_path)
    fast_port = fast.rsplit(":", 1)[1]
    share = (log["upstream"].str.endswith(":" + fast_port)).mean()
    assert share > 0.6, f"least_conn sent only {share:.0%} to the idle instance"


def test_torn_down_when_the_body_raises(stubs, tmp_path):
    with pytest.raises(RuntimeError, match="a step failed"):
        with NginxBalancer(list(stubs), run_dir=tmp_path) as nginx:
            pid, port = nginx.pid, nginx.port
            raise RuntimeError("a step failed")
    assert _gone(pid) and _refused(port)


def test_failed_start_names_the_cause_and_leaves_nothing(stubs, tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        balancer = NginxBalancer(list(stubs), run_dir=tmp_path, port=taken.getsockname()[1], ready_timeout_s=5)
        with pytest.raises(TargetError, match="nginx exited"):
            balancer.start()
    assert balancer.process is not None and balancer.process.poll() is not None


def test_shares_come_from_each_instance_metrics(make_service, tmp_path):
    (a, _), (b, _) = make_service(), make_service()
    body = {"query": "what is a qubit", "candidates": ["a qubit is a two-level system", "pasta"], "method": "classical"}
    with NginxBalancer([a, b], run_dir=tmp_path) as nginx:
        before = {"instance-0": scrape(a), "instance-1": scrape(b)}
        with httpx.Client(base_url=nginx.url) as client:
            for _ in range(10):
                assert client.post("/v1/rerank", json=body).status_code == 200
        after = {"instance-0": scrape(a), "instance-1": scrape(b)}
    shares = instance_shares([{"step": 0, "rate_rps": 1.0, "metrics_before": before, "metrics_after": after}], "x")
    assert shares["requests"].sum() == 10
    assert shares["share"].tolist() == [0.5, 0.5]
    # The first instance saw the texts first; the second embedded them again: caches are per instance.
    assert shares["embedding_hit_rate"].notna().all()
