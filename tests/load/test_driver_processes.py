"""run_load_processes: spawned driver processes split the workload and their records merge."""

import numpy as np
import pytest

from qrbench.errors import ParameterError
from qrbench.load import (
    ClosedModel,
    OpenModel,
    RequestSpec,
    cycle_source,
    load_records,
    load_run_info,
    run_load_processes,
    start_stub_server,
)

SPECS = [
    RequestSpec(kind=f"k{i}", endpoint="/v1/similarity", method="classical", n_candidates=1, body=b"{}")
    for i in range(4)
]


@pytest.fixture(scope="module")
def url():
    with start_stub_server(cpus=[1]) as url:
        yield url


def test_closed_model_split_over_processes(url, tmp_path):
    model = ClosedModel(users=5, iterations=20)
    result = run_load_processes(
        url, cycle_source(SPECS), model, processes=2, cpus=[0], out_dir=tmp_path / "run", progress=False
    )
    df = load_records(tmp_path / "run")
    assert result.processes == 2 and result.n_requests == result.n_ok == len(df) == 100
    assert df.groupby("worker")["user"].unique().map(sorted).to_dict() == {0: [0, 2, 4], 1: [1, 3]}
    assert (df.groupby("user").size() == 20).all()
    for _, part in df.groupby("worker"):
        assert sorted(part["seq"]) == list(range(len(part)))
    # for_worker staggers the cycle: the two processes do not start on the same spec.
    firsts = df.sort_values("seq").groupby("worker")["kind"].first()
    assert firsts[0] != firsts[1]
    assert load_run_info(tmp_path / "run")["settings"]["processes"] == 2


def test_open_model_rate_split_interleaves(url, tmp_path):
    model = OpenModel(rate_rps=200, duration_s=1.5, arrivals="uniform")
    result = run_load_processes(url, cycle_source(SPECS), model, processes=2, out_dir=tmp_path / "run", progress=True)
    df = load_records(tmp_path / "run")
    assert result.n_requests == result.n_ok == 300
    assert df.groupby("worker").size().to_dict() == {0: 150, 1: 150}
    # Two 100 rps streams offset by half a gap make one even 200 rps stream on the shared clock.
    np.testing.assert_allclose(np.diff(np.sort(df["t_intended"])), 0.005, atol=1e-6)
    # The generator keeps the schedule, or says it did not (on a busy machine it may not): never a silent lag.
    assert result.generator_cpu_s > 0
    assert result.send_lag_p99_ms == pytest.approx(np.percentile(df["late_ms"], 99))
    assert result.send_lag_p99_ms <= model.late_threshold_ms or result.saturated


def test_more_processes_than_users_are_not_started(url, tmp_path):
    result = run_load_processes(
        url,
        cycle_source(SPECS),
        ClosedModel(users=1, iterations=5),
        processes=3,
        out_dir=tmp_path / "r",
        progress=False,
    )
    assert result.processes == 1 and result.n_requests == 5


def test_unpicklable_sources_and_bad_cpus_are_refused(url, tmp_path):
    model = ClosedModel(users=2, iterations=1)
    with pytest.raises(ParameterError, match="pickled"):
        run_load_processes(url, lambda: SPECS[0], model, processes=2, out_dir=tmp_path / "a", progress=False)
    with pytest.raises(ParameterError, match="cpus"):
        run_load_processes(
            url, cycle_source(SPECS), model, processes=2, cpus=[999], out_dir=tmp_path / "b", progress=False
        )
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
