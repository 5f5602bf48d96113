"""A driver killed with SIGKILL leaves records up to ~1 s before the kill; Ctrl-C keeps and merges them."""

import signal
import subprocess
import sys
import textwrap
import time

import pytest

from qrbench.load import finalize_run, load_records, load_run_info, start_stub_server

DRIVER = textwrap.dedent(
    """
    import sys
    from qrbench.load import ClosedModel, RequestSpec, cycle_source, run_load, run_load_processes
    spec = RequestSpec(kind="k", endpoint="/v1/similarity", method="classical", n_candidates=1, body=b"{}")
    model = ClosedModel(users=4, duration_s=60)
    try:
        if sys.argv[3] == "1":
            run_load(sys.argv[1], cycle_source([spec]), model, out_dir=sys.argv[2], progress=False)
        else:
            run_load_processes(sys.argv[1], cycle_source([spec]), model, processes=int(sys.argv[3]),
                               out_dir=sys.argv[2], progress=False)
    except KeyboardInterrupt:
        print("interrupted", flush=True)
        sys.exit(3)
    """
)


@pytest.fixture(scope="module")
def url():
    with start_stub_server(delay_s=0.002) as url:
        yield url


def start_driver(url, run_dir, processes=1):
    argv = [sys.executable, "-c", DRIVER, url, str(run_dir), str(processes)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)
    part = run_dir / "parts" / "records-w000.csv"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (part.exists() and part.stat().st_size > 10_000):
        time.sleep(0.05)
    assert part.exists(), "the driver never started writing records"
    time.sleep(1.0)  # well into the run
    return proc


def test_sigkill_loses_at_most_about_a_second(url, tmp_path):
    run_dir = tmp_path / "run"
    proc = start_driver(url, run_dir)
    with proc:
        killed_at = time.time()
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    t0_unix = load_run_info(run_dir)["t0_unix"]
    df = load_records(run_dir)  # from the part file: the run never finished
    assert not (run_dir / "records.parquet").exists()
    assert len(df) > 100 and df["ok"].all() and str(df["t_end"].dtype) == "float64"
    assert t0_unix + df["t_end"].max() >= killed_at - 1.5
    finalize_run(run_dir)
    assert len(load_records(run_dir)) == len(df)


@pytest.mark.parametrize("processes", [1, 2])
def test_ctrl_c_flushes_merges_and_reraises(url, tmp_path, processes):
    # SIGINT to the calling process only, as Jupyter's interrupt does: it must stop its workers itself.
    run_dir = tmp_path / "run"
    proc = start_driver(url, run_dir, processes)
    with proc:
        stopped_at = time.time()
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 3 and "interrupted" in out
    info = load_run_info(run_dir)
    assert info["finished"] is True and info["interrupted"] is True
    assert (run_dir / "records.parquet").exists() and not (run_dir / "parts").exists()
    df = load_records(run_dir)
    assert len(df) == info["result"]["n_requests"] > 100
    assert info["t0_unix"] + df["t_end"].max() >= stopped_at - 0.5  # everything up to the interrupt
    assert sorted(df["worker"].unique()) == list(range(processes))
