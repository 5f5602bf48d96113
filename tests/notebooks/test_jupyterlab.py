"""JupyterLab in a real browser: Playwright driving Debian's chromium, as a new user works.

One JupyterLab server on a free loopback port, with a token and throw-away settings, workspace, runtime and
config folders, serving a temporary copy of the shipped notebooks and parameters/. The load notebook, set to
the smoke scale as a user would edit its parameters cell, is run with Run > Run All Cells; the test reads the
page: the live title (a text line above the live figure) goes from waiting to a request count to finished,
every cell ends without an error output, the headline is rendered, figures are images, wide tables scroll
inside their box, and opening a notebook does not mark it modified. The baseline notebook is opened; the
explore notebook is run over two load runs (the real one and a copy of it under an earlier name, so the
test measures once). Screenshots go to the test's tmp folder (their paths are printed); a failure names them.

No browser is downloaded: `playwright install` is never run; chromium comes from apt (.ci/run installs it).
The test fails, not skips, when chromium or playwright is missing.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from qrbench.resources import bundled

pytestmark = pytest.mark.timeout(900)

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TOKEN = "qrbench-browser-test"
VIEWPORT = {"width": 1400, "height": 900}
# Generous bounds on waiting for events (never assertions on speed): a busy 2-core machine is slow.
SERVER_START_S = 120
RUN_ALL_S = 600


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _set_parameter(notebook: Path, name: str, value: str) -> None:
    """Edit `name = ...` in the notebook's parameters cell, as a user types it (no papermill cell injected)."""
    nb = json.loads(notebook.read_text())
    (cell,) = [c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", [])]
    source = "".join(cell["source"])
    edited, n = re.subn(rf"(?m)^{name}(: \w+)? = [^#\n]*", rf"{name}\1 = {value}  ", source, count=1)
    assert n == 1, f"the parameters cell of {notebook.name} has no line `{name} = ...`"
    cell["source"] = edited
    notebook.write_text(json.dumps(nb, indent=1) + "\n")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """(base URL, root folder) of a JupyterLab server on loopback, stopped at the end."""
    base = tmp_path_factory.mktemp("lab")
    root = base / "root"
    (root / "notebooks").mkdir(parents=True)
    for notebook in bundled("notebooks").glob("*.ipynb"):
        shutil.copy(notebook, root / "notebooks" / notebook.name)
    shutil.copytree(bundled("parameters"), root / "parameters")
    _set_parameter(root / "notebooks" / "load.ipynb", "scale", '"smoke"')
    _set_parameter(root / "notebooks" / "load.ipynb", "refresh_s", "1.0")
    env = {
        **os.environ,
        "JUPYTERLAB_SETTINGS_DIR": str(base / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "JUPYTER_CONFIG_DIR": str(base / "config"),
    }
    # No "Would you like to get notified about official Jupyter news?" toast over the page (nothing is fetched).
    news = base / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text(json.dumps({"fetchNews": "false"}))
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = (base / "jupyterlab.log").open("w")
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter",
            "lab",
            "--no-browser",
            "--allow-root",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--ServerApp.token={TOKEN}",
            f"--ServerApp.root_dir={root}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=root,
    )
    try:
        deadline = time.monotonic() + SERVER_START_S
        while True:
            assert server.poll() is None, f"JupyterLab exited; its log: {base / 'jupyterlab.log'}"
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=5) as answer:
                    if answer.status == 200:
                        break
            assert time.monotonic() < deadline, f"JupyterLab did not answer; its log: {base / 'jupyterlab.log'}"
            time.sleep(0.5)
        yield url, root
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def browser():
    # Imported here so that a missing playwright fails this test (with its name) instead of collection.
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is not installed (apt-get install chromium; .ci/run installs it)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Notebook:
    """A notebook opened in the browser, with the screenshots taken of it."""

    def __init__(self, browser, lab, path: str, shots: Path):
        url, self.root = lab
        self.page = browser.new_page(viewport=VIEWPORT)
        self.shots = shots
        self.taken: list[Path] = []
        self.page.goto(f"{url}/lab/tree/{path}?token={TOKEN}&reset")
        self.page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell", timeout=120_000)
        # The kernel is connected once the toolbar names it; idle once its indicator says so.
        self.page.wait_for_selector(".jp-NotebookPanel .jp-KernelName:has-text('Python 3')", timeout=120_000)
        self.wait_idle()

    def wait_idle(self, timeout_s: float = 120) -> None:
        self.page.wait_for_function(
            "() => { const s = document.querySelector('.jp-NotebookPanel .jp-Notebook-ExecutionIndicator');"
            " return s && s.getAttribute('data-status') === 'idle'; }",
            timeout=timeout_s * 1000,
        )

    def shot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path))
        self.taken.append(path)
        print(f"screenshot: {path}")
        return path

    def why(self, message: str) -> str:
        return f"{message} (screenshots: {', '.join(str(p) for p in self.taken + [self.shot('failure')])})"

    def dirty(self) -> bool:
        return self.page.locator(".lm-TabBar-tab.jp-mod-dirty").count() > 0

    def run_all(self) -> None:
        self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        self.page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()

    def texts(self, selector: str) -> list[str]:
        """textContent of every match: JupyterLab skips rendering off-screen cells (content-visibility), and
        innerText, which Playwright's locators read, is empty there."""
        # tqdm writes figure spaces (U+2007) into its widgets' text; JavaScript's \\s covers them.
        script = "s => [...document.querySelectorAll(s)].map(e => e.textContent.replace(/\\s+/g, ' ').trim())"
        return self.page.evaluate(script, selector)

    def prompts(self) -> list[str]:
        return self.texts(".jp-CodeCell .jp-InputPrompt")

    def wait_done(self, timeout_s: float) -> None:
        """Until every code cell shows an execution count (none queued `[*]`, none unrun `[ ]`)."""
        deadline = time.monotonic() + timeout_s
        while True:
            prompts = self.prompts()
            if prompts and all(re.fullmatch(r"\[\d+\]:", p) for p in prompts):
                break
            assert time.monotonic() < deadline, self.why(f"cells still running or unrun: {prompts}")
            time.sleep(1)
        self.wait_idle()

    def errors(self) -> list[str]:
        """The text of every error output on the page (a traceback's first line)."""
        outputs = self.texts(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        texts = [t for t in outputs if re.search(r"Traceback|Error\b", t)]
        return [t.strip().splitlines()[0] for t in texts]

    def save(self) -> dict:
        self.page.keyboard.press("Control+s")
        self.page.wait_for_function("() => !document.querySelector('.lm-TabBar-tab.jp-mod-dirty')", timeout=60_000)
        path = self.root / self.page.url.split("/lab/tree/")[1].split("?")[0]
        return json.loads(path.read_text())

    def scroll_to(self, selector: str, nth: int = 0) -> None:
        found = self.page.evaluate(
            "([s, n]) => { const e = document.querySelectorAll(s)[n]; if (e) e.scrollIntoView(); return !!e; }",
            [selector, nth],
        )
        assert found, self.why(f"nothing on the page matches {selector} (#{nth})")
        time.sleep(0.5)


def _error_outputs(nb: dict) -> list[str]:
    return [
        f"cell {i}: {o.get('ename')}: {o.get('evalue')}"
        for i, cell in enumerate(nb["cells"])
        for o in cell.get("outputs", [])
        if o.get("output_type") == "error"
    ]


def _live_titles(notebook: Notebook, timeout_s: float) -> list[str]:
    """The live view's title lines as they change, until it says finished; a screenshot mid-run.

    Read with scripts, not locators: the live view replaces its output every refresh, so an element found
    one moment is detached the next (a locator's action would wait for it to be stable)."""
    page, seen, mid_shot, counting = notebook.page, [], False, 0
    deadline = time.monotonic() + timeout_s
    while not (seen and re.search(r"\((\d+ s), (finished|interrupted)\)", seen[-1])):
        assert time.monotonic() < deadline, notebook.why(f"the live view never said finished; it said {seen}")
        text = page.evaluate("() => document.querySelector('.qrbench-live-status')?.textContent ?? ''").strip()
        if text and (not seen or seen[-1] != text):
            seen.append(text)
            print(f"live title: {text}")
            counting += bool(re.search(r"\d+ requests?, \d+ errors? \(\d+ s, live\)", text))
        if not mid_shot and counting >= 2:  # the second counting picture: the figure has data by then
            page.evaluate("() => document.querySelector('.qrbench-live-status')?.scrollIntoView()")
            page.mouse.move(800, 500)  # over the notebook, which scrolls under the wheel
            page.mouse.wheel(0, 40)  # the title at the top, the figure below it
            time.sleep(0.5)
            notebook.shot("live-view-mid-run")
            mid_shot = True
        time.sleep(0.5)
    return seen


def test_load_baseline_and_explore_notebooks_in_jupyterlab(browser, lab, tmp_path):
    url, root = lab
    load = Notebook(browser, lab, "notebooks/load.ipynb", tmp_path)
    assert not load.dirty(), load.why("the load notebook shows unsaved changes as soon as it opened")
    load.shot("load-opened")

    load.run_all()
    titles = _live_titles(load, RUN_ALL_S)
    load.wait_done(RUN_ALL_S)
    counting = [t for t in titles if re.search(r": \d+ requests?, \d+ errors? \(\d+ s, live\)", t)]
    assert re.search(r"starting the service under test|waiting for the first records|warming up", titles[0]), titles
    assert counting, load.why(f"the live title never counted requests while live: {titles}")
    assert re.search(r": \d+ requests?, \d+ errors? \(\d+ s, finished\)", titles[-1]), titles
    assert "warm-up apart" in titles[-1], titles  # the smoke scenario warms the caches up first, counted apart

    assert load.errors() == [], load.why(f"error outputs: {load.errors()}")
    # The progress bars say what they count and how much is planned: "load: 19 of ~40 requests, 0 errors".
    bars = [t for t in load.texts(".jupyter-widgets .widget-html-content") if " requests" in t]
    assert any(re.match(r"warm-up: \d+ of ~?\d+ requests, \d+ errors?", t) for t in bars), bars
    assert any(re.match(r"load: \d+ of ~?\d+ requests, \d+ errors?", t) for t in bars), bars
    load.scroll_to(".qr-headline")
    load.page.mouse.move(800, 500)
    load.page.mouse.wheel(0, -40)
    time.sleep(0.5)
    load.shot("load-finished-headline")
    assert load.texts(".jp-OutputArea-output .qr-headline [data-verdict]"), load.why("no headline")
    # One request count: the live title's number is the sentence's under the headline.
    n_live = int(re.search(r": (\d+) requests?", titles[-1]).group(1))
    said = " ".join(load.texts(".jp-RenderedMarkdown"))
    assert re.search(rf"\b{n_live} requests? in the run", said), load.why(
        f"the report does not say the live view's {n_live} requests"
    )
    images = load.page.locator(".jp-OutputArea-output.jp-RenderedImage img")
    assert images.count() >= 3, load.why(f"only {images.count()} figures are images")
    reprs = [t for t in load.texts(".jp-OutputArea-output") if re.search(r"<Figure size|<matplotlib\.", t)]
    assert reprs == [], load.why(f"a figure is shown as its text repr: {reprs}")
    # Wide tables scroll inside their box instead of being cut at the output area's right edge.
    boxes = load.page.evaluate(
        "() => [...document.querySelectorAll('.qr-table-scroll')].map(b => ({"
        " overflow: getComputedStyle(b).overflowX, right: b.getBoundingClientRect().right,"
        " area: b.closest('.jp-OutputArea-output').getBoundingClientRect().right}))"
    )
    assert boxes and all(b["overflow"] == "auto" and b["right"] <= b["area"] + 1 for b in boxes), boxes

    saved = load.save()
    assert _error_outputs(saved) == [], _error_outputs(saved)
    runs = sorted((root / "outputs").glob("*-load"))
    assert len(runs) == 1 and (runs[0] / "summary.json").is_file(), runs

    baseline = Notebook(browser, lab, "notebooks/baseline.ipynb", tmp_path)
    assert not baseline.dirty(), baseline.why("the baseline notebook shows unsaved changes as soon as it opened")
    assert any(t.startswith("scale = None") for t in baseline.texts(".jp-CodeMirrorEditor .cm-line")), baseline.why(
        "no scale parameter"
    )
    baseline.shot("baseline-opened")

    # A second run to compare with: the same folder under an earlier name (measuring twice would double the time).
    earlier = runs[0].with_name("20000101T000000Z-load")
    shutil.copytree(runs[0], earlier)
    explore = Notebook(browser, lab, "notebooks/explore.ipynb", tmp_path)
    assert not explore.dirty(), explore.why("the explore notebook shows unsaved changes as soon as it opened")
    explore.run_all()
    explore.wait_done(RUN_ALL_S)
    assert explore.errors() == [], explore.why(f"error outputs: {explore.errors()}")
    assert earlier.name in " ".join(explore.texts(".jp-OutputArea-output")), explore.why("the 2nd run is not shown")
    assert explore.page.locator(".jp-OutputArea-output.jp-RenderedImage img").count() >= 4, explore.why("figures")
    explore.scroll_to(".jp-OutputArea-output.jp-RenderedImage img", nth=2)
    explore.shot("explore-two-runs")
