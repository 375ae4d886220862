"""`auralign train METHOD --config FILE [key=value ...]`, one command per method of
`auralign.training.recipe.RECIPES`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer

from auralign.cli.common import console, user_errors
from auralign.training.recipe import RECIPES

app = typer.Typer(help="Train a model (configs are YAML files; key=value arguments override them).",
                  no_args_is_help=True)

EXTRA_ARGS = {"allow_extra_args": True, "ignore_unknown_options": True}
OVERRIDES = typer.Argument(None, help="key=value overrides, e.g. train.lr=3e-4 train.max_steps=200")
CONFIG = typer.Option(None, "--config", "-c", help="YAML config file (configs/ has the shipped models' recipes).")
RESUME = typer.Option(False, "--resume", help="Continue from the latest checkpoint in train.output_dir.")
OVERWRITE = typer.Option(False, "--overwrite", help="Replace the run in a non-empty train.output_dir.")


def train_command(method: str) -> Callable[..., None]:
    @user_errors
    def train(overrides: list[str] = OVERRIDES, config: Path | None = CONFIG, resume: bool = RESUME,
              overwrite: bool = OVERWRITE) -> None:
        from auralign.training.recipe import train as train_method

        console.print(f"final model: {train_method(method, config, overrides or [], resume, overwrite)}")

    return train


for _method, _recipe in RECIPES.items():
    app.command(_method, context_settings=EXTRA_ARGS, help=_recipe.summary)(train_command(_method))
