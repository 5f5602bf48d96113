"""check_target: loopback passes, anything else needs allow_remote; no traffic is sent anywhere."""

import pytest

from qrbench.errors import ParameterError, UnsafeTargetError
from qrbench.load import ClosedModel, RequestSpec, check_target, cycle_source, run_load


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8000", "http://127.1.2.3:9/", "https://localhost:8443", "http://[::1]:8000", "http://localhost"],
)
def test_loopback_targets_pass(url):
    assert check_target(url) == url.rstrip("/")


@pytest.mark.parametrize("url", ["http://10.1.2.3:8000", "http://0.0.0.0:8000", "http://[2001:db8::1]:80"])
def test_remote_targets_are_refused_with_a_hint(url):
    with pytest.raises(UnsafeTargetError, match="allow_remote=True") as info:
        check_target(url)
    assert url.split("//")[1].split(":8")[0].strip("[]") in str(info.value)


def test_remote_target_allowed_when_asked_without_resolving():
    assert check_target("http://10.1.2.3:8000/", allow_remote=True) == "http://10.1.2.3:8000"
    assert check_target("https://example.com", allow_remote=True) == "https://example.com"


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/", "127.0.0.1:8000", "http://", "http://127.0.0.1:99999"])
def test_bad_urls_are_parameter_errors(url):
    with pytest.raises(ParameterError):
        check_target(url)


def test_run_load_refuses_a_remote_target_before_sending(tmp_path):
    spec = RequestSpec(kind="k", endpoint="/v1/similarity", method="classical", n_candidates=1, body=b"{}")
    with pytest.raises(UnsafeTargetError):
        run_load(
            "http://10.1.2.3:8000",
            cycle_source([spec]),
            ClosedModel(users=1, iterations=1),
            out_dir=tmp_path / "run",
            progress=False,
        )
    assert not (tmp_path / "run").exists()
