"""outputs/index.html: every run with its date, study, verdict and links."""

from __future__ import annotations

import html
from pathlib import Path

from ..errors import RunError
from .runs import SUMMARY_FILE, read_summary

__all__ = ["write_index"]

_COLOURS = {"pass": "#1b7f3b", "warn": "#b36b00", "fail": "#b00020", "insufficient": "#555"}


def write_index(out_root: str | Path) -> Path:
    out_root = Path(out_root)
    rows = []
    for run in sorted((p for p in out_root.iterdir() if p.is_dir()), reverse=True):
        try:
            summary = read_summary(run) if (run / SUMMARY_FILE).is_file() else None
        except RunError:
            summary = None
        verdict = (summary or {}).get("verdict", "incomplete")
        study = (summary or {}).get("study", run.name.split("-", 1)[-1])
        links = " ".join(
            f'<a href="{html.escape(run.name)}/{html.escape(f.name)}">{html.escape(f.name)}</a>'
            for f in sorted(run.glob("*.html"))
        )
        colour = _COLOURS.get(verdict, "#555")
        rows.append(
            f"<tr><td>{html.escape(run.name.split('-', 1)[0])}</td><td>{html.escape(study)}</td>"
            f'<td style="color:{colour};font-weight:bold">{html.escape(verdict)}</td><td>{links}</td>'
            f'<td><a href="{html.escape(run.name)}/">folder</a></td></tr>'
        )
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><title>qrbench runs</title>"
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:.3em 1em;text-align:left}"
        "tr:nth-child(even){background:#f4f4f4}</style></head><body><h1>qrbench runs</h1>"
        "<table><tr><th>started (UTC)</th><th>study</th><th>verdict</th><th>reports</th><th></th></tr>"
        + "".join(rows) + "</table></body></html>"
    )
    path = out_root / "index.html"
    path.write_text(page)
    return path
