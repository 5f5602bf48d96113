"""The progress line names the stages a time budget cut."""

from __future__ import annotations

import json

from qrbench.report.progress import cut_stages


def test_progress_names_the_stages_cut_by_their_budget(tmp_path):
    assert cut_stages(tmp_path) == []
    (tmp_path / "stages.json").write_text(json.dumps([{"name": "warmup"}, {"name": "rerank/hybrid/50", "cut": True}]))
    (tmp_path / "info.json").write_text(json.dumps({"costs": {"cut_by_budget": True}}))
    assert cut_stages(tmp_path) == ["rerank/hybrid/50", "cost by request kind and size"]
    (tmp_path / "stages.json").write_text("[{")  # half written
    assert cut_stages(tmp_path) == []
