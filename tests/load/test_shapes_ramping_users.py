"""The driver follows a users schedule: virtual users join, wait above the target, and come back.

Against a loopback stub server; the machine is shared and noisy, so every time check has slack and
looks at who sent in the middle of a stage, not at its edges.
"""

import numpy as np
import pytest

from qrbench.load import (
    ClosedModel,
    RequestSpec,
    cycle_source,
    load_records,
    ramp_steady,
    run_load,
    spike,
    start_stub_server,
)

SPEC = RequestSpec.from_payload(
    kind="similarity", endpoint="/v1/similarity", payload={"text1": "a", "text2": "b", "method": "classical"}
)


@pytest.fixture(scope="module")
def url():
    with start_stub_server() as u:
        yield u


def senders(df, start, end):
    """Users that started a request in [start, end) seconds."""
    return set(df.loc[(df["t_start"] >= start) & (df["t_start"] < end), "user"])


def test_users_reach_leave_and_return_to_their_targets(url, tmp_path):
    # 0 -> 6 users over 1 s, hold to 3 s, drop to 2 at once, hold to 5 s, up to 5 at once, hold to 6.5 s.
    model = ClosedModel(stages=[(1, 6), (2, 6), (0, 2), (2, 2), (0, 5), (1.5, 5)], think_time_s=0.05)
    result = run_load(url, cycle_source([SPEC]), model, out_dir=tmp_path / "run", progress=False)
    df = load_records(tmp_path / "run")
    assert result.n_errors == 0 and result.n_requests > 200
    assert senders(df, 1.6, 2.8) == {0, 1, 2, 3, 4, 5}  # reached 6
    assert senders(df, 3.4, 4.8) == {0, 1}  # left: only users below the target send
    assert not senders(df, 3.2, 5.0) - {0, 1}
    assert senders(df, 5.5, 6.4) == {0, 1, 2, 3, 4}  # users 2-4 came back; user 5 stays above the target
    assert df["t_start"].max() < 6.5 + 0.2
    # The ramp brings users in in order, user i at about i/6 s.
    first = df.groupby("user")["t_start"].min()
    assert list(first.sort_values().index) == [0, 1, 2, 3, 4, 5]
    assert first[0] < 0.15 and 0.7 < first[5] < 1.3


def test_a_users_spike_from_the_shapes(url, tmp_path):
    shape = spike(ramp_steady(3, ramp_up_s=0, steady_s=3), 3, 1, 1)  # 3 users, 9 from 1 s to 2 s, then 3
    model = ClosedModel(stages=shape.closed_stages(), think_time_s=0.05)
    run_load(url, cycle_source([SPEC]), model, out_dir=tmp_path / "run", progress=False)
    df = load_records(tmp_path / "run")
    active = [len(senders(df, a, a + 0.5)) for a in np.arange(0.0, 3.0, 0.5)]
    assert active[0] == 3 and active[3] == 9 and active[5] == 3, active


def test_sessions_pause_between_runs_of_requests(url, tmp_path):
    sessions = {"mean_requests": 3, "distribution": "constant", "pause_s": 0.4}
    model = ClosedModel(users=1, duration_s=2.0, sessions=sessions, think_time_s=0.01)
    run_load(url, cycle_source([SPEC]), model, out_dir=tmp_path / "run", progress=False)
    gaps = np.diff(np.sort(load_records(tmp_path / "run")["t_start"].to_numpy()))
    assert len(gaps) >= 5
    long = gaps >= 0.35
    assert list(np.flatnonzero(long) % 3) == [2] * int(long.sum())  # after every third request
    assert long.sum() >= 2 and gaps[~long].max() < 0.3


def test_a_long_pause_does_not_hold_the_run_open(url, tmp_path):
    model = ClosedModel(users=2, duration_s=1.0, think_time_s=30.0)
    result = run_load(url, cycle_source([SPEC]), model, out_dir=tmp_path / "run", progress=False)
    assert result.n_requests == 2 and result.duration_s < 5
