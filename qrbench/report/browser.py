"""Look at a rendered report the way a reader does: in headless Chromium (Debian's `chromium`).

`check_report` checks that the verdict (its `data-verdict` badge, else the first PASS/WARN/FAIL/INSUFFICIENT
word) is inside the first 1400x900 viewport, measured by a script added to a copy of the page, and that the
visible text holds no `inf`, `nan`, `{'` or `Params(` (numbers without words, object dumps).
`figure_problems` checks that every axes of a matplotlib figure that draws data has both axis labels.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from ..errors import QrbenchError

__all__ = ["FORBIDDEN_TEXT", "VIEWPORT", "PageCheck", "screenshot", "check_report", "forbidden_text", "figure_problems"]

VIEWPORT = (1400, 900)
# A word `inf`/`nan` (any case, also "-inf"), a dict's repr, a dataclass repr of the studies' parameters.
FORBIDDEN_TEXT = {
    "inf": r"(?<![\w.])-?inf(?![\w])",
    "nan": r"(?<![\w.])nan(?![\w])",
    "{'": r"\{'",
    "Params(": r"Params\(",
}
_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
_TIMEOUT_S = 120  # a page that takes longer than this to render is itself a failure

_PROBE = """<script>
window.addEventListener('load', function () {
  var el = document.querySelector('[data-verdict]');
  if (!el) {
    var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    var re = /\\b(PASS|WARN|FAIL|INSUFFICIENT)\\b/;
    while (walker.nextNode()) {
      var p = walker.currentNode.parentElement;
      if (re.test(walker.currentNode.textContent) && p && p.tagName !== 'SCRIPT' && p.tagName !== 'STYLE') {
        el = p; break;
      }
    }
  }
  var out = 'none';
  if (el) {
    var r = el.getBoundingClientRect();
    out = [r.top, r.bottom, r.left, r.right, window.innerWidth, window.innerHeight].join(',');
  }
  document.documentElement.setAttribute('data-qr-verdict-rect', out);
});
</script>"""


def _run(args: list[str], url: str) -> str:
    chromium = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    if chromium is None:
        raise QrbenchError("No Chromium found on PATH; install the Debian package `chromium` to check reports.")
    with tempfile.TemporaryDirectory(prefix="qrbench-chromium-") as profile:
        cmd = [
            chromium,
            *_FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}",
            *args,
            url,
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=_TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise QrbenchError(f"Chromium could not render {url} (exit {done.returncode}): {done.stderr[-800:]}")
    return done.stdout


def screenshot(path: str | Path, png: str | Path) -> Path:
    """A PNG of the first viewport (VIEWPORT pixels) of the page."""
    png = Path(png).resolve()
    _run([f"--screenshot={png}"], Path(path).resolve().as_uri())
    if not png.is_file():
        raise QrbenchError(f"Chromium wrote no screenshot of {path} to {png}.")
    return png


class _Text(HTMLParser):
    """The visible text of a page: no script, style or attribute values (base64 images hold any letters)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "head", "title"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style", "head", "title") and self._skip:
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def forbidden_text(page_html: str) -> list[str]:
    """Each forbidden mark found in the visible text, with a little context: "'inf' in '... p95 inf ms ...'"."""
    parser = _Text()
    parser.feed(page_html)
    text = " ".join(parser.parts)
    found = []
    for mark, pattern in FORBIDDEN_TEXT.items():
        for m in re.finditer(pattern, text, flags=re.IGNORECASE if mark in ("inf", "nan") else 0):
            context = " ".join(text[max(0, m.start() - 40) : m.end() + 40].split())
            found.append(f"{mark!r} in '...{context}...'")
    return found


@dataclass(frozen=True, kw_only=True)
class PageCheck:
    """What the browser saw. verdict_rect: (top, bottom, left, right, viewport width, viewport height) in
    CSS pixels, or None when no verdict was found."""

    page: Path
    verdict_rect: tuple[float, ...] | None
    forbidden: tuple[str, ...]
    screenshot: Path | None

    @property
    def verdict_in_first_viewport(self) -> bool:
        if self.verdict_rect is None:
            return False
        top, bottom, left, right, width, height = self.verdict_rect
        return top >= 0 and left >= 0 and bottom <= min(height, VIEWPORT[1]) and right <= min(width, VIEWPORT[0])

    @property
    def problems(self) -> list[str]:
        out = []
        if self.verdict_rect is None:
            out.append(f"{self.page.name}: no verdict found on the page.")
        elif not self.verdict_in_first_viewport:
            out.append(
                f"{self.page.name}: the verdict is outside the first {VIEWPORT[0]}x{VIEWPORT[1]} viewport "
                f"(at {self.verdict_rect[:4]})."
            )
        out += [f"{self.page.name}: {f}" for f in self.forbidden]
        return out


def check_report(path: str | Path, *, screenshot_to: str | Path | None = None) -> PageCheck:
    """Render `path` in headless Chromium and check it (see the module docstring); the probe runs on a copy
    in the same folder, so relative links and images resolve as in the original, and is removed after."""
    path = Path(path).resolve()
    source = path.read_text(encoding="utf-8")  # not run data: the rendered page checked
    probe = path.with_name(f".{path.stem}.probe.html")
    marked = source.replace("</body>", _PROBE + "</body>", 1) if "</body>" in source else source + _PROBE
    probe.write_text(marked, encoding="utf-8")  # not run data: a copy of that page, removed below
    try:
        dom = _run(["--dump-dom"], probe.as_uri())  # the DOM after its scripts ran
    finally:
        probe.unlink(missing_ok=True)
    m = re.search(r'data-qr-verdict-rect="([^"]*)"', dom)
    rect = None
    if m and m.group(1) != "none":
        rect = tuple(float(x) for x in m.group(1).split(","))
    shot = screenshot(path, screenshot_to) if screenshot_to is not None else None
    return PageCheck(page=path, verdict_rect=rect, forbidden=tuple(forbidden_text(source)), screenshot=shot)


def figure_problems(fig) -> list[str]:
    """Axes of a matplotlib figure that draw data but lack an x or y label (twin axes count together)."""
    problems = []
    title = fig.get_suptitle()
    for i, ax in enumerate(fig.axes):
        if not ax.axison or not (ax.lines or ax.collections or ax.patches or ax.images):
            continue
        # Twin axes share the box; panels stacked on a shared x axis are labelled once, at the bottom.
        siblings = [a for a in fig.axes if a is not ax and a.bbox.bounds == ax.bbox.bounds]
        siblings += [a for a in ax.get_shared_x_axes().get_siblings(ax) if a is not ax]
        xlabel = ax.get_xlabel() or any(a.get_xlabel() for a in siblings)
        ylabel = ax.get_ylabel() or (ax.get_yaxis().get_visible() is False)
        name = ax.get_title() or title or f"axes {i}"
        if not xlabel:
            problems.append(f"{name!r}: no x-axis label.")
        if not ylabel and not _categorical_y(ax):
            problems.append(f"{name!r}: no y-axis label.")
    return problems


def _categorical_y(ax) -> bool:
    """A horizontal bar chart whose y ticks name the bars needs no y label."""
    labels = [t.get_text() for t in ax.get_yticklabels()]
    return any(labels) and not all(re.fullmatch(r"[\d.,−\-e+]*", t) for t in labels)
