"""`qrbench ab` for real: two loopback proxies in front of one reference service, one of which holds every
answer back by a known factor, optionally while another program switches on and off on the machine.

It starts the embedded reference service once, proxy A (factor 1) and proxy B (factor --factor, e.g. 1.1:
each answer held for 0.1 x its upstream time) in front of it (qrbench.load.delay_proxy), and, with
--contention ON,OFF, a busy loop (`python -c 'while 1: pass'`) that runs ON seconds, pauses OFF seconds,
again and again, for the whole comparison. Then it runs the A/B comparison of parameters/ab.yaml (or -p)
through the library (the same run_ab and analyse_ab as `qrbench ab`, no notebook) `--repeats` times and
prints each run's rows (change, interval, detectable change, verdict), its duration and the machine's
calibration noise, and the share of runs that found the regression.

    python benchmarks/ab_proxies.py --factor 1.1 --contention 20,20 [--repeats 1] [-p parameters/ab.yaml]
    python benchmarks/ab_proxies.py --factor 1.0 --contention 20,20      # identical targets

Run it alone on the machine (the busy loop is the only disturbance it should see). The same by hand:
    qrbench serve --port 8000 &
    python qrbench/load/delay_proxy.py --upstream http://127.0.0.1:8000 --factor 1.0 --port 8101 &
    python qrbench/load/delay_proxy.py --upstream http://127.0.0.1:8000 --factor 1.1 --port 8102 &
    qrbench ab --a http://127.0.0.1:8101 --b http://127.0.0.1:8102
"""

from __future__ import annotations

import argparse
import contextlib
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from qrbench import stats
from qrbench.cli import format_ab_table
from qrbench.deploy import TargetParams, engine_settings
from qrbench.load import start_delay_proxy
from qrbench.studies import get_study
from qrbench.studies.ab import with_targets
from qrbench.target import EmbeddedTarget


@contextlib.contextmanager
def busy_loop(on_s: float, off_s: float):
    """A busy loop switched on for on_s and off for off_s seconds, again and again, until the block exits."""
    stop = threading.Event()

    def toggle() -> None:
        while not stop.is_set():
            proc = subprocess.Popen([sys.executable, "-c", "while 1: pass"])
            stop.wait(on_s)
            proc.kill()
            proc.wait()
            stop.wait(off_s)

    thread = threading.Thread(target=toggle, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=on_s + off_s + 5)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--factor", type=float, default=1.1, help="B's delay factor (1.1: 10 %% slower; 1: identical)")
    p.add_argument("--contention", default="", help="ON,OFF seconds of a busy loop during the runs (e.g. 20,20)")
    p.add_argument("--repeats", type=int, default=1, help="A/B runs in a row (default 1)")
    p.add_argument("-p", "--params", default="parameters/ab.yaml")
    p.add_argument("--out", default=None, help="folder for the run folders (default: a temporary one)")
    args = p.parse_args()
    study = get_study("ab")
    out = Path(args.out or tempfile.mkdtemp(prefix="ab-proxies-"))
    on_off = tuple(float(x) for x in args.contention.split(",")) if args.contention else None
    with EmbeddedTarget(engine_settings(TargetParams()), log_path=out / "service.log") as service:
        with start_delay_proxy(service.url, 1.0) as url_a, start_delay_proxy(service.url, args.factor) as url_b:
            disturbance = busy_loop(*on_off) if on_off else contextlib.nullcontext()
            print(
                f"A: {url_a} (factor 1), B: {url_b} (factor {args.factor:g}) in front of {service.url}; "
                + (f"busy loop {on_off[0]:g} s on / {on_off[1]:g} s off" if on_off else "no busy loop")
            )
            found = 0
            with disturbance:
                for i in range(args.repeats):
                    params = with_targets(study.load_params(args.params), url_a=url_a, url_b=url_b)
                    t0 = time.monotonic()
                    folder = study.run(params, out / f"run-{i}", progress=False)
                    seconds = time.monotonic() - t0
                    report = study.analyse(folder)
                    cv = stats.noise_cv(folder.calibration_s or [])
                    print(f"\nrun {i + 1}: {seconds / 60:.1f} min, calibration noise {cv:.0%}, {folder.path}")
                    print(format_ab_table(report.table))
                    print(report.headline)
                    found += report.verdict == "regression"
    print(f"\n{found} of {args.repeats} run(s) found a regression (true factor {args.factor:g}).")


if __name__ == "__main__":
    main()
