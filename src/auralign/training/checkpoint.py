"""Training checkpoints: safetensors + JSON only (never pickle), written atomically.

A checkpoint is a folder `ckpt-000123/` under the run's `checkpoints/` folder:

    model.safetensors        weights the model chose (`state_dict_for_checkpoint()`, else state_dict())
    config.json              the run configuration
    optimizer.safetensors    optimizer tensors, keyed `state.<param index>.<name>`
    optimizer.json           optimizer non-tensor state and param groups
    scheduler.json           LR scheduler state
    trainer_state.json       step, epoch and position inside the epoch
    rng-<rank>.safetensors   torch (and CUDA) RNG state of each process
    rng-<rank>.json          python and numpy RNG state of each process
    manifest.json            size and sha256 of every other file, written last


Files are written into `ckpt-000123.tmp/`, which is renamed to `ckpt-000123/` only once complete,
after which the `latest` pointer file is replaced (also atomically). A run killed at any moment
therefore leaves either a complete checkpoint or an ignored `.tmp` folder. Storage damage after the
fact (a truncated or altered file) is caught on resume by `verify_checkpoint`, and resuming falls
back to the newest checkpoint that verifies and loads.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file
from torch import Tensor, nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

from auralign.backbones.registry import sha256_of
from auralign.errors import CheckpointError
from auralign.tensors_io import load_tensors
from auralign.training.config import config_to_dict

LATEST_POINTER = "latest"
MANIFEST = "manifest.json"
_CHECKPOINT_NAME = re.compile(r"^ckpt-(\d+)$")
_TMP_SUFFIX = ".tmp"
_REQUIRED_FILES = (
    "model.safetensors",
    "optimizer.safetensors",
    "optimizer.json",
    "scheduler.json",
    "trainer_state.json",
)


@dataclass
class TrainingState:
    """Where training stands: optimizer steps done, current epoch, steps already done in that epoch."""

    step: int = 0
    epoch: int = 0
    step_in_epoch: int = 0


# What a run writes into its output folder; `--overwrite` removes exactly these, nothing else.
RUN_OUTPUTS = ("checkpoints", "final", "log.jsonl", "tensorboard")


def prepare_output_dir(output_dir: Path, *, resume: bool, overwrite: bool, seed: int | None = None) -> None:
    """Refuse to train into a non-empty folder unless resuming it or told to overwrite it.

    A second run started in a used folder would replace `final/` and old checkpoints and append its
    rows to the first run's `log.jsonl`. With `overwrite`, the previous run's outputs are removed.
    With `seed`, every RNG is seeded here, before the caller builds its model, so two runs with one
    seed start from the same weights.
    """
    if seed is not None:
        from accelerate.utils import set_seed

        set_seed(seed)
    if resume or not output_dir.is_dir() or not any(output_dir.iterdir()):
        return
    if not overwrite:
        raise CheckpointError(
            f"{output_dir} is not empty; use --resume to continue its run, --overwrite to replace it, "
            "or choose another train.output_dir"
        )
    for name in RUN_OUTPUTS:
        path = output_dir / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        elif path.exists() or path.is_symlink():
            path.unlink()


def checkpoint_dir(root: Path, step: int) -> Path:
    return root / f"ckpt-{step:06d}"


def staging_dir(root: Path, step: int) -> Path:
    """Where the checkpoint of `step` is assembled before it is renamed into place."""
    return root / f"ckpt-{step:06d}{_TMP_SUFFIX}"


def model_state_for_checkpoint(model: nn.Module) -> dict[str, Tensor]:
    """The model decides what to save (e.g. skip a frozen backbone) via `state_dict_for_checkpoint()`."""
    hook = getattr(model, "state_dict_for_checkpoint", None)
    return hook() if callable(hook) else model.state_dict()


def prepare_staging(root: Path, step: int) -> Path:
    """Create an empty staging folder for `step` (dropping a leftover from a killed run)."""
    staging = staging_dir(root, step)
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    return staging


def write_training_files(
    staging: Path,
    model: nn.Module,
    optimizer: Optimizer,
    scheduler: LRScheduler,
    state: TrainingState,
    config: Any,
) -> None:
    """Write everything but the per-process RNG states (done by `write_rng_state` on each process)."""
    weights = {
        name: tensor.detach().cpu().clone().contiguous()
        for name, tensor in model_state_for_checkpoint(model).items()
    }
    save_file(weights, staging / "model.safetensors")
    config_dict = config if isinstance(config, dict) else config_to_dict(config)
    _write_json(staging / "config.json", config_dict)
    optimizer_tensors, optimizer_json = flatten_optimizer_state(optimizer.state_dict())
    save_file(optimizer_tensors, staging / "optimizer.safetensors")
    _write_json(staging / "optimizer.json", optimizer_json)
    _write_json(staging / "scheduler.json", scheduler.state_dict())
    _write_json(
        staging / "trainer_state.json",
        {"step": state.step, "epoch": state.epoch, "step_in_epoch": state.step_in_epoch},
    )


def commit_checkpoint(root: Path, step: int, keep_last: int) -> Path:
    """Rename the staging folder into place, point `latest` at it, and prune old checkpoints."""
    final = checkpoint_dir(root, step)
    if final.exists():  # only when re-training from an earlier checkpoint over a later one
        shutil.rmtree(final)
    _write_manifest(staging_dir(root, step))
    os.replace(staging_dir(root, step), final)
    pointer_tmp = root / (LATEST_POINTER + _TMP_SUFFIX)
    pointer_tmp.write_text(final.name + "\n")
    os.replace(pointer_tmp, root / LATEST_POINTER)
    _prune(root, keep_last, keep=final)
    return final


def find_latest_checkpoint(root: Path) -> Path | None:
    """The checkpoint `latest` names, else the complete one with the highest step; `.tmp` folders never count."""
    pointer = root / LATEST_POINTER
    if pointer.is_file():
        named = root / pointer.read_text().strip()
        if _CHECKPOINT_NAME.match(named.name) and named.is_dir():
            return named
    complete = _complete_checkpoints(root)
    return complete[-1] if complete else None


def resume_candidates(root: Path) -> list[Path]:
    """Complete checkpoints, newest first, the one `latest` names leading (it is the newest normally)."""
    complete = _complete_checkpoints(root)[::-1]
    latest = find_latest_checkpoint(root)
    return ([latest] if latest is not None else []) + [path for path in complete if path != latest]


def verify_checkpoint(path: Path) -> str | None:
    """Why `path` cannot be resumed from (missing file, size or checksum differing from save time), or None.

    A checkpoint written before manifests existed is checked for its required files only."""
    missing = [name for name in _REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        return f"missing {', '.join(missing)}"
    manifest_file = path / MANIFEST
    if not manifest_file.is_file():
        return None
    try:
        manifest = json.loads(manifest_file.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return f"{MANIFEST} is damaged"
    for name, expected in manifest.items():
        file = path / name
        if not file.is_file():
            return f"missing {name}"
        size = file.stat().st_size
        if size != expected["size"]:
            return f"{name} has {size} bytes, {expected['size']} when saved"
        if sha256_of(file) != expected["sha256"]:
            return f"{name} differs from its checksum at save time"
    return None


def load_checkpoint(
    path: Path, model: nn.Module, optimizer: Optimizer, scheduler: LRScheduler, rank: int
) -> TrainingState:
    """Restore model, optimizer, scheduler and this process's RNG state; return the training position."""
    path = Path(path)
    missing = [name for name in _REQUIRED_FILES if not (path / name).is_file()]
    if missing:
        raise CheckpointError(f"{path} is not a complete training checkpoint: missing {', '.join(missing)}")
    load_model_weights(model, path / "model.safetensors")
    optimizer.load_state_dict(
        unflatten_optimizer_state(
            load_tensors(path / "optimizer.safetensors"), _read_json(path / "optimizer.json")
        )
    )
    scheduler.load_state_dict(_read_json(path / "scheduler.json"))
    restore_rng_state(path, rank)
    saved = _read_json(path / "trainer_state.json")
    return TrainingState(step=saved["step"], epoch=saved["epoch"], step_in_epoch=saved["step_in_epoch"])


def load_model_weights(model: nn.Module, weights_file: Path) -> None:
    """Load saved weights, requiring exactly the keys the model would save."""
    weights = load_tensors(weights_file)
    expected = set(model_state_for_checkpoint(model))
    missing, unexpected = expected - set(weights), set(weights) - expected
    if missing or unexpected:
        raise CheckpointError(
            f"{weights_file} does not match the model: missing {sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}"
        )
    model.load_state_dict(weights, strict=False)


def flatten_optimizer_state(state_dict: dict[str, Any]) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Split `optimizer.state_dict()` into safetensors tensors and a JSON-ready remainder."""
    tensors: dict[str, Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for param_index, param_state in state_dict["state"].items():
        for name, value in param_state.items():
            if isinstance(value, Tensor):
                tensors[f"state.{param_index}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(param_index), {})[name] = value
    return tensors, {"param_groups": state_dict["param_groups"], "scalars": scalars}


def unflatten_optimizer_state(tensors: dict[str, Tensor], saved_json: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, tensor in tensors.items():
        _, param_index, name = key.split(".", 2)
        state.setdefault(int(param_index), {})[name] = tensor
    for param_index, values in saved_json["scalars"].items():
        state.setdefault(int(param_index), {}).update(values)
    return {"state": state, "param_groups": saved_json["param_groups"]}


def write_rng_state(directory: Path, rank: int) -> None:
    tensors = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for index, cuda_state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"cuda.{index}"] = cuda_state
    save_file(tensors, directory / f"rng-{rank}.safetensors")
    version, mt_state, gauss_next = random.getstate()
    name, keys, position, has_gauss, cached_gaussian = np.random.get_state(legacy=True)
    _write_json(
        directory / f"rng-{rank}.json",
        {
            "python": [version, list(mt_state), gauss_next],
            "numpy": [name, keys.tolist(), position, has_gauss, cached_gaussian],
        },
    )


def restore_rng_state(directory: Path, rank: int) -> None:
    """Restore this process's RNG; a process without a saved state (larger world size) keeps its own."""
    if not (directory / f"rng-{rank}.json").is_file():
        return
    tensors = load_tensors(directory / f"rng-{rank}.safetensors")
    torch.set_rng_state(tensors["torch"])
    cuda_states = [tensors[f"cuda.{i}"] for i in range(len(tensors) - 1)]
    if cuda_states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda_states[: torch.cuda.device_count()])
    saved = _read_json(directory / f"rng-{rank}.json")
    version, mt_state, gauss_next = saved["python"]
    random.setstate((version, tuple(mt_state), gauss_next))
    name, keys, position, has_gauss, cached_gaussian = saved["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), position, has_gauss, cached_gaussian))


def _write_manifest(directory: Path) -> None:
    files = sorted(p for p in directory.iterdir() if p.is_file() and p.name != MANIFEST)
    manifest = {p.name: {"size": p.stat().st_size, "sha256": sha256_of(p)} for p in files}
    _write_json(directory / MANIFEST, manifest)



def _complete_checkpoints(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    found = [path for path in root.iterdir() if path.is_dir() and _CHECKPOINT_NAME.match(path.name)]
    return sorted(found, key=lambda path: int(_CHECKPOINT_NAME.match(path.name).group(1)))  # type: ignore[union-attr]


def _prune(root: Path, keep_last: int, keep: Path) -> None:
    """Drop leftover staging folders and all but the newest `keep_last` checkpoints (0 keeps all)."""
    for leftover in root.glob(f"ckpt-*{_TMP_SUFFIX}"):
        shutil.rmtree(leftover, ignore_errors=True)
    if keep_last <= 0:
        return
    for old in _complete_checkpoints(root)[:-keep_last]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1))


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise CheckpointError(f"cannot read {path}: {error}") from error
