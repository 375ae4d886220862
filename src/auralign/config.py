"""Configs as dataclasses, loaded from YAML + `key=value` overrides, with every key checked.

`load_config(ClapRunConfig, "clap.yaml", ["train.lr=3e-4", "train.max_steps=1000"])` fills a
(nested) dataclass, converts every value to the declared field type, and fails on a typo before any
work starts. Checkpoints are read back with `strict=False`, so a config written by an older version
with a since-removed field still loads.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

import yaml

from auralign.errors import AuralignError

T = TypeVar("T")


class _Text(str):
    """A value typed on the command line: parsed according to the field type, not taken as-is."""


def load_config(
    cls: type[T], yaml_path: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()
) -> T:
    """Build `cls` from an optional YAML file, then `key=value` overrides (dotted keys for nesting)."""
    data: dict[str, Any] = {}
    if yaml_path is not None:
        data = _read_yaml(Path(yaml_path))
    for override in overrides:
        _apply_override(data, override)
    return config_from_dict(cls, data)


def config_from_dict(cls: type[T], data: dict[str, Any], prefix: str = "", strict: bool = True) -> T:
    """Instantiate dataclass `cls` from a (nested) mapping, converting values; unknown keys are an
    error when `strict`, else ignored."""
    if not isinstance(data, dict):
        raise AuralignError(
            f"config section {prefix.rstrip('.') or '<root>'} must be a mapping, got {data!r}"
        )
    data, base = _preset_values(cls, data, prefix)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown and not strict:
        data = {key: value for key, value in data.items() if key in fields}
    elif unknown:
        raise AuralignError(
            f"unknown config key {prefix}{unknown[0]}; valid keys{' in ' + prefix.rstrip('.') if prefix else ''}: "
            f"{', '.join(sorted(fields))}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {name: _coerce(value, hints[name], f"{prefix}{name}", strict) for name, value in data.items()}
    try:
        return cls(**{**base, **kwargs})
    except TypeError as error:  # a required field without a value
        raise AuralignError(f"config {prefix.rstrip('.') or cls.__name__}: {error}") from error


def _preset_values(cls: type, data: dict[str, Any], prefix: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A dataclass with a `presets()` classmethod ({name: instance}) takes a `preset` key: its other
    keys are set over that instance's values, whatever their order. Returns (other keys, preset values)."""
    presets = getattr(cls, "presets", None)
    if presets is None or "preset" not in data:
        return data, {}
    name, named = str(data["preset"]), presets()
    if name not in named:
        raise AuralignError(f"config {prefix}preset: {name!r} is not one of {', '.join(map(repr, named))}")
    preset = named[name]
    rest = {key: value for key, value in data.items() if key != "preset"}
    return rest, {f.name: getattr(preset, f.name) for f in dataclasses.fields(preset) if f.init}


def config_to_dict(config: Any) -> dict[str, Any]:
    """Plain JSON-ready dict of a dataclass config (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(config), default=str))


def save_config_json(config: Any, path: str | Path) -> None:
    Path(path).write_text(json.dumps(config_to_dict(config), indent=2) + "\n")


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as error:
        raise AuralignError(f"cannot read config {path}: {error.strerror}") from error
    except yaml.YAMLError as error:
        raise AuralignError(f"config {path} is not valid YAML: {error}") from error
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise AuralignError(f"config {path} must hold a mapping of keys to values")
    return data


def _apply_override(data: dict[str, Any], override: str) -> None:
    key, sep, value = override.partition("=")
    if not sep or not key.strip():
        raise AuralignError(f"override {override!r} must look like key=value")
    *parents, leaf = key.strip().split(".")
    node = data
    for part in parents:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise AuralignError(f"override {override!r}: {part} is not a config section")
        node = child
    node[leaf] = _Text(value)


def _coerce(value: Any, hint: Any, key: str, strict: bool = True) -> Any:
    """Convert `value` to the type `hint`, or raise an AuralignError naming the key."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (Union, types.UnionType):
        return _coerce_union(value, args, key)
    if origin is Literal:
        text = str(value) if isinstance(value, _Text) else value
        if text not in args:
            raise AuralignError(f"config {key}: {text!r} is not one of {', '.join(map(repr, args))}")
        return text
    if dataclasses.is_dataclass(hint):
        return config_from_dict(hint, value, prefix=f"{key}.", strict=strict)
    if isinstance(value, _Text) and hint is not str:
        value = _parse_text(value)
    if origin in (list, tuple):
        return _coerce_sequence(value, origin, args, key)
    if hint is Any or hint is dict or origin is dict:
        return value
    return _coerce_scalar(value, hint, key)


def _parse_text(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def _coerce_union(value: Any, args: tuple[Any, ...], key: str) -> Any:
    if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "null", "~")):
        if type(None) in args:
            return None
        raise AuralignError(f"config {key}: a value is required")
    errors = []
    for arg in args:
        if arg is type(None):
            continue
        try:
            return _coerce(value, arg, key)
        except AuralignError as error:
            errors.append(str(error))
    raise AuralignError(errors[0] if len(errors) == 1 else f"config {key}: cannot use {value!r}")


def _coerce_sequence(value: Any, origin: type, args: tuple[Any, ...], key: str) -> Any:
    if isinstance(value, str):
        value = [_parse_text(part.strip()) for part in value.split(",") if part.strip()]
    if not isinstance(value, list | tuple):
        raise AuralignError(f"config {key}: expected a list, got {value!r}")
    if origin is tuple and args and args[-1] is not Ellipsis:
        if len(value) != len(args):
            raise AuralignError(f"config {key}: expected {len(args)} values, got {len(value)}")
        return tuple(
            _coerce(item, arg, f"{key}[{i}]") for i, (item, arg) in enumerate(zip(value, args, strict=True))
        )
    item_hint = args[0] if args else Any
    items = [_coerce(item, item_hint, f"{key}[{i}]") for i, item in enumerate(value)]
    return tuple(items) if origin is tuple else items


def _coerce_scalar(value: Any, hint: Any, key: str) -> Any:
    if hint is bool:
        if isinstance(value, bool):
            return value
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML reads 1e-4 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
    elif hint is str:
        if isinstance(value, str):
            return str(value)
    elif hint is Path:
        if isinstance(value, str | Path):
            return Path(value)
    else:
        raise AuralignError(f"config {key}: unsupported field type {hint!r}")
    raise AuralignError(f"config {key}: expected {hint.__name__}, got {value!r}")
