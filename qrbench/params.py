"""Parameter files: YAML in, validated frozen dataclasses out, with errors that name the key.

A study's parameters are nested frozen dataclasses; `build` checks every key against the fields
(unknown keys are errors, so a typo never silently falls back to a default) and every value against
the field's type, recursing into nested dataclasses.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from .errors import ParameterError

__all__ = ["load_yaml", "build", "to_dict"]

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
