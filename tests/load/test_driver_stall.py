"""Coordinated omission: a server stalling 0.6 s every 2 s shows in the open model's tail, hides in the closed one's."""

import numpy as np
import pytest

from qrbench.load import ClosedModel, OpenModel, RequestSpec, cycle_source, load_records, run_load, start_stub_server

STALL_S = 0.6
SPEC = RequestSpec(kind="similarity", endpoint="/v1/similarity", method="classical", n_candidates=1, body=b"{}")


@pytest.fixture(scope="module")
def stalling_url():
    with start_stub_server(stall_every_s=2.0, stall_s=STALL_S) as url:
        yield url


def p99(run_dir):
    df = load_records(run_dir)
    assert df["ok"].all()
    return float(np.percentile(df["latency_ms"], 99)) / 1000, float(df["latency_ms"].max()) / 1000


def test_open_model_sees_the_stall_that_the_closed_model_hides(stalling_url, tmp_path):
    # 4 s spans two whole stall periods whatever the phase, so each run meets 1.2 s of stall.
    open_model = OpenModel(rate_rps=200, duration_s=4.0, arrivals="uniform")
    run_load(stalling_url, cycle_source([SPEC]), open_model, out_dir=tmp_path / "open", progress=False)
    closed_model = ClosedModel(users=4, duration_s=4.0)
    run_load(stalling_url, cycle_source([SPEC]), closed_model, out_dir=tmp_path / "closed", progress=False)

    open_p99, open_max = p99(tmp_path / "open")
    closed_p99, closed_max = p99(tmp_path / "closed")
    # Open: every request due during a stall waits for its end, ~30 % of them, so p99 ~ the stall.
    assert open_p99 >= 0.75 * STALL_S
    # Closed: the 4 users wait once per stall and send nothing meanwhile; thousands of fast requests
    # bury those few, though the stall is there in the maximum.
    assert closed_max >= 0.3 * STALL_S
    assert closed_p99 < 0.2 * STALL_S
    assert open_p99 > 5 * closed_p99
