"""The A/B comparison's parameters (parameters/ab.yaml): blocks, workload, verdict, and the two targets."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from ...deploy import TargetParams
from ...errors import ParameterError
from ...params import build, load_yaml, rule, validate
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
    pairs: int = rule(32, ge=2, le=1000)  # pairs of blocks (one A, one B each, in random order)
    requests_per_kind: int = rule(40, ge=1, le=10_000)  # per block and kind; a block's median and p95 come from these
    kinds: tuple[str, ...] = rule(("similarity", "rerank_50"), nonempty=True, distinct=True)  # or "rerank_<n>"
    method: Method = "hybrid"
    # Measuring stops starting new pairs when the next would end past this many seconds (the verdict
    # then rests on the pairs done and says so); the targets' start and the warm-up are not counted.
    time_budget_s: float = rule(480.0, gt=0)
    # a slowdown of B this large is a regression
    threshold: float = rule(0.10, gt=0, lt=10, note="a fraction: 0.10 = 10 %")
    alpha: float = rule(0.05, gt=0, lt=0.5)  # family-wise error over the rows (Holm)
    power: float = rule(0.80, gt=0, lt=1)  # the detectable change is the slowdown found with this probability
    request_timeout_s: float = rule(30.0, gt=0)
    a: TargetParams = field(default_factory=TargetParams)
    b: TargetParams = field(default_factory=TargetParams)

    def __post_init__(self) -> None:
        for kind in self.kinds:
            kind_request(kind)
        validate(self)


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
