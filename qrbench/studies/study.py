"""What every study is: a `StudyDef` (also named `Study`), which each study package fills in as its `STUDY`.

A study measures into a run folder (`run`), turns the folder alone into a report (`analyse`), and gives the
report's key numbers for summary.json, the run index and CI (`summary`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..params import build, load_yaml
from ..resources import resolve_params_file
from .folder import RunFolder

if TYPE_CHECKING:
    from .analysis import Section

__all__ = ["Study", "StudyDef"]


@dataclass(frozen=True, slots=True, kw_only=True)
class StudyDef:
    """A study from its package's functions. name: notebooks/<name>.ipynb renders it. default_params: its file
    under parameters/. run_fn(params, run_dir, *, url, progress) measures; analyse_fn(run_dir, params, **options)
    analyses (the params come from run.json); summary_fn(report) gives the key numbers. sections: the report's
    parts in order, name -> function(report) -> Section, one notebook cell each."""

    name: str
    params_type: type
    default_params: str
    run_fn: Callable[..., Any]
    analyse_fn: Callable[..., Any]
    summary_fn: Callable[[Any], dict[str, Any]]
    sections: Mapping[str, Callable[[Any], Section]] = field(default_factory=dict)

    def load_params(self, path: str | Path) -> Any:
        path = resolve_params_file(path)
        return build(self.params_type, load_yaml(path), where=str(path))

    def params_of(self, folder: str | Path | RunFolder) -> Any:
        """The parameters a run folder was measured with (run.json), validated again."""
        folder = folder if isinstance(folder, RunFolder) else RunFolder(Path(folder))
        return build(self.params_type, folder.facts["params"], where=str(folder.file("run.json")))

    def run(
        self,
        params: Any,
        folder: str | Path | RunFolder,
        target: str | None = None,
        *,
        progress: bool = True,
        **options: Any,
    ) -> RunFolder:
        """Measure into folder; options go to the study's run function (e.g. the load study's engine)."""
        path = folder.path if isinstance(folder, RunFolder) else Path(folder)
        self.run_fn(params, path, url=target, progress=progress, **options)
        return RunFolder(path)

    def analyse(self, folder: str | Path | RunFolder, **options: Any) -> Any:
        folder = folder if isinstance(folder, RunFolder) else RunFolder(Path(folder))
        return self.analyse_fn(folder.path, self.params_of(folder), **options)

    def summary(self, report: Any) -> dict[str, Any]:
        return self.summary_fn(report)

    def sections_of(self, report: Any) -> dict[str, Section]:
        """Every section of the report, in order (computed from the one analysis: nothing is read again)."""
        return {name: make(report) for name, make in self.sections.items()}


Study = StudyDef  # every study is a StudyDef; the name the registry and the README use
