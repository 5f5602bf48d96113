"""The two HTML versions of an executed notebook: the stakeholder one carries no dumps, warnings or progress."""

from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from qrbench.report.browser import forbidden_text
from qrbench.report.html import CODE_ONLY_TAG, PROGRESS_TAG, write_notebook_html


def _executed_notebook(path):
    cells = [
        new_markdown_cell("# Baseline study"),
        new_code_cell(
            "params",
            metadata={"tags": [CODE_ONLY_TAG]},
            outputs=[
                new_output(
                    "execute_result", data={"text/plain": "BaselineParams(url=None, repeats=3)"}, execution_count=1
                )
            ],
        ),
        new_code_cell(
            "run()",
            metadata={"tags": [PROGRESS_TAG]},
            outputs=[new_output("stream", name="stdout", text="stage 3/26 ...")],
        ),
        new_code_cell(
            "cost",
            outputs=[
                new_output(
                    "execute_result", data={"text/plain": "{'requests': 15, 'slope': -0.0335}"}, execution_count=3
                ),
                new_output("stream", name="stderr", text="UserWarning: TCP without encryption\n"),
            ],
        ),
        new_code_cell(
            "table",
            outputs=[
                new_output(
                    "display_data",
                    data={"text/html": "<table><tr><td>p95 412 ms</td></tr></table>", "text/plain": "frame"},
                )
            ],
        ),
        new_code_cell("print", outputs=[new_output("stream", name="stdout", text="verdict: pass\n")]),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


def test_no_code_version_drops_dumps_and_keeps_the_reading(tmp_path):
    notebook = _executed_notebook(tmp_path / "baseline.ipynb")
    plain = write_notebook_html(notebook, with_code=False, title="Baseline study")
    html = plain.read_text()
    assert plain.name == "baseline.html"
    for gone in ("Params(", "slope", "TCP without encryption", "stage 3/26", "run()"):
        assert gone not in html, gone
    assert forbidden_text(html) == []
    for kept in (
        "p95 412 ms",
        "verdict: pass",
        'class="qr-report-header"',
        "Baseline study",
        'href="baseline-code.html"',
        ".qr-table-wrap{overflow-x:auto",
    ):
        assert kept in html, kept


def test_code_version_keeps_everything(tmp_path):
    notebook = _executed_notebook(tmp_path / "baseline.ipynb")
    code = write_notebook_html(notebook, with_code=True, title="Baseline study")
    html = code.read_text()
    assert code.name == "baseline-code.html"
    for kept in ("BaselineParams(", "slope", "stage 3/26", "TCP without encryption", 'href="baseline.html"'):
        assert kept in html, kept


def test_a_failed_study_reads_as_its_error_and_what_to_do(tmp_path):
    cells = [
        new_markdown_cell("An Exception was encountered at 'In [5]'.", metadata={"tags": ["papermill-error-cell-tag"]}),
        new_code_cell(
            "run()",
            outputs=[
                new_output(
                    "error",
                    ename="RunError",
                    evalue="The service at http://127.0.0.1:9 did not answer.",
                    traceback=[
                        "\x1b[0;31m----\x1b[0m",
                        "Traceback (most recent call last)",
                        "RunError: did not answer",
                    ],
                )
            ],
        ),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "load.ipynb")
    html = write_notebook_html(tmp_path / "load.ipynb", with_code=False).read_text()
    assert "The study stopped:</b> RunError: The service at http://127.0.0.1:9 did not answer." in html
    assert "What to do:" in html
    assert "An Exception was encountered" not in html and "Traceback" not in html
    code = write_notebook_html(tmp_path / "load.ipynb", with_code=True).read_text()
    assert "Traceback" in code
