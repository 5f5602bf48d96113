"""qrbench: a performance-analysis workbench for quantum-inspired semantic rerankers.

The one name at the top: `open_run(path)`, a run folder opened for exploration in a notebook
(qrbench.report.explore). Everything else lives in its subpackage (see the README's architecture section).
"""

from __future__ import annotations

from typing import Any

__all__ = ["open_run"]


def __getattr__(name: str) -> Any:
    # Imported on first use: `import qrbench.stats` must not pull in pandas, matplotlib and the studies.
    if name == "open_run":
        from .report.explore import open_run

        return open_run
    raise AttributeError(f"module 'qrbench' has no attribute {name!r}")
