"""Training configuration, and a loader that turns YAML + `key=value` overrides into any dataclass.

Each method defines its own config dataclass holding a `train: TrainConfig` next to its model fields;
`load_config(ClapConfig, "clap.yaml", ["train.lr=3e-4", "train.max_steps=1000"])` fills it, checks
every key and converts every value to the declared field type, so a typo fails before training.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

import torch
import yaml

from auralign.errors import AuralignError

T = TypeVar("T")


@dataclass
class TrainConfig:
    """Optimisation and bookkeeping settings shared by every method.

    `batch_size` is the global batch of one optimizer step, summed over processes and accumulation
    micro-steps: each process sees micro-batches of batch_size / (num_processes * grad_accum_steps),
    so a contrastive loss sees batch_size / grad_accum_steps candidates per micro-step.
    Training runs `max_steps` optimizer steps when set, else `epochs` passes over the data.
    Intervals (`eval_every`, `save_every`, `log_every`) count optimizer steps; 0 means only at the end.
    """

    lr: float = 1e-4
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-6
    warmup_steps: int = 0
    max_steps: int | None = None
    epochs: int = 1
    schedule: Literal["cosine", "linear", "constant"] = "cosine"
    batch_size: int = 64
    grad_accum_steps: int = 1
    max_grad_norm: float = 1.0
    mixed_precision: Literal["auto", "no", "bf16"] = "auto"
    seed: int = 0
    eval_every: int = 0
    save_every: int = 1000
    keep_last: int = 3
    log_every: int = 10
    num_workers: int = 0
    output_dir: str = "runs/default"
    tensorboard: bool = False

    def __post_init__(self) -> None:
        positive = {
            "batch_size": self.batch_size,
            "grad_accum_steps": self.grad_accum_steps,
            "epochs": self.epochs,
        }
        if self.max_steps is not None:
            positive["max_steps"] = self.max_steps
        non_negative = {
            "warmup_steps": self.warmup_steps,
            "eval_every": self.eval_every,
            "save_every": self.save_every,
            "log_every": self.log_every,
            "num_workers": self.num_workers,
            "keep_last": self.keep_last,
            "lr": self.lr,
            "weight_decay": self.weight_decay,
            "max_grad_norm": self.max_grad_norm,
        }
        for name, value in positive.items():
            if value < 1:
                raise AuralignError(f"train config: {name} must be >= 1, got {value}")
        for name, value in non_negative.items():
            if value < 0:
                raise AuralignError(f"train config: {name} must be >= 0, got {value}")

    def resolved_mixed_precision(self) -> str:
        """'auto' means bf16 on a GPU that supports it, else none: bf16 autocast on CPU is slower."""
        if self.mixed_precision != "auto":
            return self.mixed_precision
        return "bf16" if torch.cuda.is_available() and torch.cuda.is_bf16_supported() else "no"


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


def config_from_dict(cls: type[T], data: dict[str, Any], prefix: str = "") -> T:
    """Instantiate dataclass `cls` from a (nested) mapping, checking keys and converting values."""
    if not isinstance(data, dict):
        raise AuralignError(
            f"config section {prefix.rstrip('.') or '<root>'} must be a mapping, got {data!r}"
        )
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise AuralignError(
            f"unknown config key {prefix}{unknown[0]}; valid keys{' in ' + prefix.rstrip('.') if prefix else ''}: "
            f"{', '.join(sorted(fields))}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {name: _coerce(value, hints[name], f"{prefix}{name}") for name, value in data.items()}
    try:
        return cls(**kwargs)
    except TypeError as error:  # a required field without a value
        raise AuralignError(f"config {prefix.rstrip('.') or cls.__name__}: {error}") from error


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


def _coerce(value: Any, hint: Any, key: str) -> Any:
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
        return config_from_dict(hint, value, prefix=f"{key}.")
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
