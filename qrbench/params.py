"""Parameter files: YAML in, validated frozen dataclasses out, with errors that name the key.

A study's parameters are nested frozen dataclasses; `build` checks every key against the fields
(unknown keys are errors, so a typo never silently falls back to a default) and every value against
the field's type, recursing into nested dataclasses. A field's allowed values are declared with it
(`rule`: bounds, choices, weights); the top-level dataclass calls `validate` on itself, which checks every
declared field by its dotted key, and `require` for the few rules that relate several fields.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from .errors import ParameterError

__all__ = ["load_yaml", "build", "to_dict", "Rule", "rule", "validate", "require", "TARGET_RULES"]

T = TypeVar("T")


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"Parameter file {path} does not exist.")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ParameterError(f"Parameter file {path} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParameterError(f"Parameter file {path} must hold a mapping of keys to values at its top level.")
    return data


def build(cls: type[T], mapping: dict[str, Any] | None, *, where: str) -> T:
    """An instance of dataclass `cls` from `mapping`; `where` names the place in messages ("baseline.yaml")."""
    mapping = mapping or {}
    if not isinstance(mapping, dict):
        raise ParameterError(f"{where} must be a mapping of keys to values, not {type(mapping).__name__}.")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(mapping) - set(fields))
    if unknown:
        raise ParameterError(f"{where}: unknown key(s) {', '.join(unknown)}; valid keys are {', '.join(fields)}.")
    hints = typing.get_type_hints(cls)
    kwargs = {name: _convert(value, hints[name], f"{where}: {name}") for name, value in mapping.items()}
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ParameterError(f"{where}: {exc}") from exc
    except ParameterError as exc:
        raise ParameterError(f"{where}: {exc}") from exc


def _convert(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return build(hint, value, where=where)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        last: ParameterError | None = None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, where)
            except ParameterError as exc:
                last = exc
        raise last or ParameterError(f"{where} has an invalid value {value!r}.")
    if origin is typing.Literal:
        if value not in args:
            raise ParameterError(f"{where} is {value!r}; valid values are {', '.join(map(repr, args))}.")
        return value
    if origin in (tuple, list):
        if not isinstance(value, list | tuple):
            raise ParameterError(f"{where} must be a list, not {value!r}.")
        item = args[0] if args else Any
        return tuple(_convert(v, item, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, dict):
            raise ParameterError(f"{where} must be a mapping, not {value!r}.")
        kt, vt = args or (Any, Any)
        return {_convert(k, kt, where): _convert(v, vt, f"{where}.{k}") for k, v in value.items()}
    if hint is Any:
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ParameterError(f"{where} must be a number, not {value!r}.")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParameterError(f"{where} must be a whole number, not {value!r}.")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ParameterError(f"{where} must be true or false, not {value!r}.")
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ParameterError(f"{where} must be a string, not {value!r}.")
        return value
    return value


def to_dict(obj: Any) -> Any:
    """Plain dicts/lists of a parameters dataclass, for summary.json and papermill."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, tuple | list):
        return [to_dict(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_dict(v) for k, v in obj.items()}
    return obj


# ------------------------------------------------------------------------------------------- rules

UNITS = {"_s": "seconds", "_ms": "milliseconds", "_rps": "requests per second"}  # by the key's suffix


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """The values a field allows: bounds (gt, ge, lt, le) or choices, for a number or for each item of a
    list (each value of a mapping); nonempty/distinct for the list itself; weights: a mapping of these names
    to weights that sum to 1. unit: of the number (default by the key's suffix); note: said after the rule."""

    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None
    choices: tuple[Any, ...] = ()
    nonempty: bool = False
    distinct: bool = False
    weights: tuple[str, ...] = ()
    unit: str | None = None
    note: str = ""

    def check(self, key: str, value: Any, *, optional: bool) -> None:
        if self.weights:
            _check_weights(key, value, self.weights)
            return
        many = isinstance(value, tuple | list | dict)
        items = list(value.values() if isinstance(value, dict) else value) if many else [value]
        ok = all(v is None or self._allows(v) for v in items)
        if (self.nonempty and not items) or (self.distinct and len(set(items)) < len(items)) or not ok:
            raise ParameterError(f"{key} must be {self.describe(key, value, optional)}; got {value!r}.")

    def _allows(self, x: Any) -> bool:
        if self.choices:
            return x in self.choices
        if (self.gt, self.ge, self.lt, self.le) == (None, None, None, None):
            return True
        return (
            math.isfinite(x)
            and (self.gt is None or x > self.gt)
            and (self.ge is None or x >= self.ge)
            and (self.lt is None or x < self.lt)
            and (self.le is None or x <= self.le)
        )

    def describe(self, key: str, value: Any, optional: bool) -> str:
        """What the field must be, in words: "a positive number of seconds", "a list of values, each 1 to 16"."""
        unit = self.unit if self.unit is not None else next((u for s, u in UNITS.items() if key.endswith(s)), "")
        low = f"at least {self.ge}" if self.ge is not None else f"more than {self.gt}" if self.gt is not None else ""
        high = f"at most {self.le}" if self.le is not None else f"below {self.lt}" if self.lt is not None else ""
        if self.choices:
            text = ", ".join(map(str, self.choices[:-1])) + f" or {self.choices[-1]}"
        elif self.ge is not None and self.le is not None:
            text = f"{self.ge} to {self.le}"
        elif (low, high) == ("more than 0", ""):
            text = "a positive number" + (f" of {unit}" if unit else "")
            unit = ""
        else:
            text = " and ".join(part for part in (low, high) if part)
            text = "0 or more" if text == "at least 0" else text
        text = f"{text} {unit}" if text and unit else text
        if isinstance(value, tuple | list | dict):
            kind = "mapping of names to values" if isinstance(value, dict) else "list of values"
            kind = kind.replace("values", "distinct values") if self.distinct else kind
            text = "a " + ("non-empty " if self.nonempty else "") + kind + (f", each {text}" if text else "")
        text = f"{text}, or null" if optional else text
        return f"{text} ({self.note})" if self.note else text


def rule(default: Any = dataclasses.MISSING, *, factory: Any = dataclasses.MISSING, **allowed: Any) -> Any:
    """A dataclass field with its default (or default factory) and the Rule of the values it allows."""
    return dataclasses.field(default=default, default_factory=factory, metadata={"rule": Rule(**allowed)})


# The fields of a study's `target:` section (qrbench.deploy.TargetParams) that its embedded service needs valid.
TARGET_RULES = {
    "target.qubits": Rule(choices=(2, 3, 4)),
    "target.max_concurrency": Rule(ge=1, note="null: the service's default"),
}


def validate(obj: Any, extra: Mapping[str, Rule] | None = None, prefix: str = "") -> None:
    """ParameterError naming the first field of dataclass `obj` (nested ones and lists of them included, by
    dotted key) whose value its Rule does not allow; `extra`: rules by dotted key for fields declared elsewhere."""
    extra = extra or {}
    for f in dataclasses.fields(obj):
        key, value = prefix + f.name, getattr(obj, f.name)
        found = f.metadata.get("rule") or extra.get(key)
        if found is not None and value is not None:
            found.check(key, value, optional="None" in str(f.type))
        if dataclasses.is_dataclass(value):
            validate(value, extra, f"{key}.")
        for i, item in enumerate(value if isinstance(value, tuple) else ()):
            if dataclasses.is_dataclass(item):
                validate(item, extra, f"{key}[{i}].")


def require(obj: Any, rules: Iterable[tuple[str, bool, str]]) -> None:
    """The rules that relate several fields: (dotted key, holds, what the key must be); the first broken one fails."""
    for key, holds, valid in rules:
        if not holds:
            value = obj
            for part in key.split("."):
                value = getattr(value, part, None)
            raise ParameterError(f"{key} must be {valid}; got {value!r}.")


def _check_weights(key: str, weights: Mapping[str, float], valid: tuple[str, ...]) -> None:
    if not weights:
        raise ParameterError(f"{key} is empty; give weights for some of {', '.join(valid)} that sum to 1.")
    for name, w in weights.items():
        if name not in valid:
            raise ParameterError(f"{key}.{name} is unknown; {key} takes {', '.join(valid)}.")
        if not (math.isfinite(w) and w >= 0):
            raise ParameterError(f"{key}.{name} is {w!r}; a weight must be a finite number of at least 0.")
    total = sum(weights.values())
    if abs(total - 1.0) > 1e-6:
        raise ParameterError(f"{key} must sum to 1 (within 1e-6); its weights sum to {total:.9g}.")
