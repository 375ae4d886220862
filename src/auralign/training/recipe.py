"""One way to train every method: a recipe is a run config class and a `build(config)` that returns
(model, dataset, collate, eval_fn); `run` does the rest the same way for all of them.

`RECIPES` names the methods (`auralign train METHOD` is generated from it) and imports a method's
module only when its recipe is used, so listing the methods stays cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from auralign.errors import AuralignError

# build(config) -> (model, train dataset, collate_fn, eval_fn or None)
Build = Callable[[Any], tuple[Any, Any, Callable[[list[Any]], Any], Callable[[Any, int], dict[str, float]] | None]]


@dataclass(frozen=True)
class Recipe:
    module: str  # holds the run config class and `build`
    config_name: str  # the run config class's name in `module`
    summary: str  # one line for `auralign train --help`

    @property
    def config_class(self) -> type:
        return getattr(importlib.import_module(self.module), self.config_name)

    @property
    def build(self) -> Build:
        return importlib.import_module(self.module).build


RECIPES: dict[str, Recipe] = {
    "clap": Recipe("auralign.training.clap", "ClapRunConfig", "Train the CLAP baseline."),
    "collat": Recipe("auralign.training.collat", "CollatRunConfig", "Train CoLLAT (token-level locked-language tuning)."),
    "slit": Recipe("auralign.training.slit", "SlitRunConfig",
                   "Train one SLIT stage (model.stage=1|2|3; init_from=the earlier stage)."),
    "mats": Recipe("auralign.training.mats", "MatsRunConfig",
                   "Train MATS on (text, instruction, answer) rows; no audio is read."),
}


def recipe(method: str) -> Recipe:
    if method not in RECIPES:
        raise AuralignError(f"unknown method {method!r}; known: {', '.join(RECIPES)}")
    return RECIPES[method]


def method_of(config: Any) -> str:
    for method, entry in RECIPES.items():
        if type(config) is entry.config_class:
            return method
    raise AuralignError(f"{type(config).__name__} is not the run config of any method ({', '.join(RECIPES)})")


def load_run_config(method: str, config_file: str | Path | None = None, overrides: list[str] | tuple[str, ...] = ()):
    """The method's run config from an optional YAML file, then `key=value` overrides (strict)."""
    from auralign.config import load_config

    return load_config(recipe(method).config_class, config_file, overrides)


def run(config: Any, resume: bool | str | Path = False) -> Path:
    """Train the method `config` belongs to and return the folder of the final model (`output_dir/final`).
    `resume` continues from the latest checkpoint in `output_dir` (or the one named)."""
    from auralign.training.trainer import Trainer

    model, dataset, collate, eval_fn = recipe(method_of(config)).build(config)
    Trainer(model, config.train, dataset, collate_fn=collate, eval_fn=eval_fn, run_config=config,
            resume=resume).fit()
    return Path(config.train.output_dir) / "final"


def train(method: str, config_file: str | Path | None = None, overrides: list[str] | tuple[str, ...] = (),
          resume: bool = False, overwrite: bool = False) -> Path:
    """`auralign train METHOD`: load the run config, refuse a non-empty `train.output_dir` unless
    resuming or overwriting it (never a silent second run in it), seed every RNG before the model is
    built, run. Returns the final model's folder."""
    from auralign.training.checkpoint import prepare_output_dir

    config = load_run_config(method, config_file, overrides)
    prepare_output_dir(Path(config.train.output_dir), resume=resume, overwrite=overwrite, seed=config.train.seed)
    return run(config, resume=resume)
