"""The A/B comparison's parameters (parameters/ab.yaml): blocks, workload, verdict, and the two targets."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from ...deploy import TargetParams
from ...errors import ParameterError
from ...params import build, load_yaml
from ...resources import resolve_params_file

__all__ = ["ABParams", "with_targets", "load_target_file", "kind_request"]

Method = Literal["classical", "quantum", "hybrid"]
_RERANK = re.compile(r"rerank_(\d+)")


def kind_request(kind: str) -> tuple[str, int]:
    """("similarity", 1) or ("rerank", n) for a workload kind "similarity" or "rerank_<n>" (n 1..100)."""
    if kind == "similarity":
        return "similarity", 1
    m = _RERANK.fullmatch(kind)
    if m and 1 <= int(m.group(1)) <= 100:
        return "rerank", int(m.group(1))
    raise ParameterError(f"kinds has {kind!r}; each kind must be 'similarity' or 'rerank_<n>' with n from 1 to 100.")


@dataclass(frozen=True, slots=True, kw_only=True)
class ABParams:
    """Targets A (the reference, e.g. main) and B (the candidate) measured in `pairs` pairs of blocks; each
    block sends `requests_per_kind` requests of every kind (interleaved) to one target, one at a time."""

    seed: int = 0
    pairs: int = 32  # pairs of blocks (one A, one B each, in random order)
    requests_per_kind: int = 40  # per block and kind; a block's median and p95 come from these
    kinds: tuple[str, ...] = ("similarity", "rerank_50")  # "similarity" or "rerank_<n>"
    method: Method = "hybrid"
    # Measuring stops starting new pairs when the next would end past this many seconds (the verdict
    # then rests on the pairs done and says so); the targets' start and the warm-up are not counted.
    time_budget_s: float = 480.0
    threshold: float = 0.10  # a slowdown of B this large (10 %) is a regression
    alpha: float = 0.05  # family-wise error over the rows (Holm)
    power: float = 0.80  # the detectable change is the slowdown found with this probability
    request_timeout_s: float = 30.0
    a: TargetParams = field(default_factory=TargetParams)
    b: TargetParams = field(default_factory=TargetParams)

    def __post_init__(self) -> None:
        for kind in self.kinds:
            kind_request(kind)
        checks = [
            ("pairs", 2 <= self.pairs <= 1000, "2 to 1000"),
            ("requests_per_kind", 1 <= self.requests_per_kind <= 10_000, "1 to 10000"),
            ("kinds", len(self.kinds) >= 1 and len(set(self.kinds)) == len(self.kinds), "one or more distinct kinds"),
            ("time_budget_s", self.time_budget_s > 0, "a positive number of seconds"),
            ("threshold", 0 < self.threshold < 10, "a fraction above 0 (0.10 = 10 %)"),
            ("alpha", 0 < self.alpha < 0.5, "between 0 and 0.5"),
            ("power", 0 < self.power < 1, "between 0 and 1"),
            ("request_timeout_s", self.request_timeout_s > 0, "a positive number of seconds"),
        ]
        for key, ok, valid in checks:
            if not ok:
                raise ParameterError(f"{key} is invalid; it must be {valid}.")


def load_target_file(path: str | Path) -> TargetParams:
    """A target's parameters from a YAML file: TargetParams keys (e.g. `encoder: onnx`) at the top, or under a
    `target:` section (so a study's parameter file works too)."""
    path = resolve_params_file(path)
    data: Any = load_yaml(path)
    if isinstance(data, dict) and "target" in data:
        data = data["target"]
    return build(TargetParams, data or {}, where=str(path))


def with_targets(
    params: ABParams,
    *,
    url_a: str | None = None,
    url_b: str | None = None,
    a_params: str | Path | None = None,
    b_params: str | Path | None = None,
    threshold: float | None = None,
) -> ABParams:
    """The parameters with the command line's choices applied: a target file replaces a side's target
    settings, a URL points that side at a running service, a threshold replaces the file's."""
    a = load_target_file(a_params) if a_params else params.a
    b = load_target_file(b_params) if b_params else params.b
    a = replace(a, url=url_a) if url_a else a
    b = replace(b, url=url_b) if url_b else b
    changed = replace(params, a=a, b=b)
    return replace(changed, threshold=float(threshold)) if threshold is not None else changed
