"""The two HTML versions of a study report (nbconvert), and the page chrome they share.

The version without code is for stakeholders: no inputs or prompts, no cells tagged `code-only` (parameter and
profiler dumps), no outputs of cells tagged `progress`, no stderr, no bare reprs, an error shown as its message
and what to do (no traceback). The version with code keeps everything. Both get the report CSS (wide tables
scroll inside their cell, long text wraps) and a header naming the study and the run, linking to the other.
"""

from __future__ import annotations

import html
from pathlib import Path

from .format import TABLE_CSS

__all__ = ["CODE_ONLY_TAG", "PROGRESS_TAG", "REPORT_CSS", "exporter", "write_notebook_html", "page"]

CODE_ONLY_TAG = "code-only"  # the cell (input and output) appears only in the version with code
PROGRESS_TAG = "progress"  # the cell's outputs (progress bars, terminal chatter) appear only with code
PAPERMILL_ERROR_TAG = "papermill-error-cell-tag"  # papermill's "An Exception was encountered" cell

REPORT_CSS = (
    TABLE_CSS
    + """
body{max-width:1280px;margin:0 auto;padding:0 1.2em}
.qr-report-header{font-family:system-ui,sans-serif;border-bottom:1px solid #ddd;padding:.6em 0;margin-bottom:.8em;
  display:flex;gap:1.5em;align-items:baseline;flex-wrap:wrap}
.qr-report-header .qr-title{font-size:1.15em;font-weight:700}
.qr-report-header a{color:#1a5fb4}
.qr-report-header .qr-probe{flex-basis:100%;font-size:.9em;color:#444}
.jp-OutputArea-output,.output_html,.jp-RenderedHTMLCommon{overflow-x:auto;max-width:100%}
.jp-RenderedHTMLCommon table,.dataframe{display:block;overflow-x:auto;max-width:100%}
.jp-RenderedHTMLCommon td,.jp-RenderedHTMLCommon th{white-space:normal;overflow-wrap:break-word}
.jp-RenderedHTMLCommon th{white-space:nowrap}
.jp-OutputArea-output pre{white-space:pre-wrap;overflow-wrap:break-word}
.jp-RenderedImage img,.jp-OutputArea-output img{max-width:100%;height:auto}
.qr-error{border:1px solid #6a1b9a;background:#f6effa;padding:.4em 1em;margin:.6em 0;font-family:system-ui,sans-serif}
"""
)


def exporter(*, with_code: bool):
    """A configured nbconvert HTMLExporter for the version with or without code."""
    from nbconvert import HTMLExporter
    from nbconvert.preprocessors import Preprocessor, TagRemovePreprocessor

    class _ForReaders(Preprocessor):
        """Warnings on stderr are for the engineer; so is a cell's bare repr (an execute_result with only
        text/plain: a dataclass, dict or list printed by Python). Tables, figures and printed sentences stay.
        A failure reads as the error's message and what to do, not a traceback."""

        def preprocess_cell(self, cell, resources, index):
            if PAPERMILL_ERROR_TAG in cell.get("metadata", {}).get("tags", []):
                cell.source = (
                    "**The study stopped with an error** (below). The results up to that point are "
                    "shown; the version with code shows the cell that failed and its full traceback."
                )
            if cell.get("cell_type") == "code":
                cell.outputs = [
                    _readable_error(o) if o.get("output_type") == "error" else o
                    for o in cell.get("outputs", [])
                    if not _is_dump(o)
                ]
            return cell, resources

    exp = HTMLExporter(
        exclude_input=not with_code, exclude_input_prompt=not with_code, exclude_output_prompt=not with_code
    )
    if not with_code:
        exp.register_preprocessor(
            TagRemovePreprocessor(remove_cell_tags={CODE_ONLY_TAG}, remove_all_outputs_tags={PROGRESS_TAG}),
            enabled=True,
        )
        exp.register_preprocessor(_ForReaders(), enabled=True)
    return exp


def _is_dump(output) -> bool:
    if output.get("output_type") == "stream":
        return output.get("name") == "stderr"
    if output.get("output_type") == "execute_result":
        return set(output.get("data", {})) <= {"text/plain"}
    return False


def _readable_error(output):
    from nbformat.v4 import new_output

    text = (
        f'<div class="qr-error"><p><b>The study stopped:</b> {html.escape(str(output.get("ename", "")))}: '
        f"{html.escape(str(output.get('evalue', '')))}</p><p><b>What to do:</b> fix the cause this message names "
        "(a parameter, the target's URL, a missing tool) and rerun the study; the version with code shows the "
        "cell that failed.</p></div>"
    )
    return new_output("display_data", data={"text/html": text})


def _inject(body: str, header: str) -> str:
    """The report CSS at the end of <head> (so it wins over nbconvert's), the header first in <body>."""
    body = body.replace("</head>", f"<style>{REPORT_CSS}</style></head>", 1)
    end = body.index(">", body.index("<body")) + 1
    return body[:end] + header + body[end:]


def write_notebook_html(
    notebook: str | Path, *, with_code: bool, title: str = "", subtitle: str = "", note: str = ""
) -> Path:
    """Write <stem>.html (no code) or <stem>-code.html next to the executed notebook, each linking to the other,
    under a header: title (e.g. "Baseline study"), subtitle (default: the run folder's name), note (a line
    under it: what the target offered)."""
    import nbformat

    notebook = Path(notebook)
    plain, code = notebook.stem + ".html", notebook.stem + "-code.html"
    executed = nbformat.read(str(notebook), as_version=4)  # not run data: the notebook papermill wrote
    body, _ = exporter(with_code=with_code).from_notebook_node(executed)
    other, label = (
        (plain, "version without code") if with_code else (code, "version with code (parameters, raw tables, profiles)")
    )
    note_html = f'<div class="qr-probe">{html.escape(note)}</div>' if note else ""
    header = (
        f'<header class="qr-report-header"><span class="qr-title">{html.escape(title or notebook.stem)}</span>'
        f"<span>{html.escape(subtitle or notebook.parent.name)}</span>"
        f'<a href="{html.escape(other)}">{html.escape(label)}</a>{note_html}</header>'
    )
    out = notebook.with_name(code if with_code else plain)
    out.write_text(_inject(body, header), encoding="utf-8")  # not run data: the renderer's own page
    return out


def page(title: str, body: str, *, css: str = "") -> str:
    """A complete, self-contained HTML page with the report CSS."""
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{REPORT_CSS}{css}</style></head>"
        f"<body>{body}</body></html>"
    )
