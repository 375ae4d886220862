"""`auralign train METHOD --config FILE [key=value ...]`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from auralign.cli import collat_cmd, slit_cmd
from auralign.cli.common import console, user_errors

if TYPE_CHECKING:
    from auralign.training.config import TrainConfig

app = typer.Typer(help="Train a model (configs are YAML files; key=value arguments override them).",
                  no_args_is_help=True)

EXTRA_ARGS = {"allow_extra_args": True, "ignore_unknown_options": True}
CONFIG = typer.Option(None, "--config", "-c", help="YAML config file.")
RESUME = typer.Option(False, "--resume", help="Continue from the latest checkpoint in train.output_dir.")
OVERWRITE = typer.Option(False, "--overwrite", help="Replace the run in a non-empty train.output_dir.")


def prepare_output(train: TrainConfig, resume: bool, overwrite: bool) -> None:
    """A non-empty output folder needs --resume or --overwrite (never a silent second run in it); the
    RNGs are seeded before the model is built."""
    from auralign.training.checkpoint import prepare_output_dir

    prepare_output_dir(Path(train.output_dir), resume=resume, overwrite=overwrite, seed=train.seed)


@app.command("clap", context_settings=EXTRA_ARGS)
@user_errors
def clap(overrides: list[str] = typer.Argument(None, help="key=value overrides, e.g. train.lr=3e-4"),
         config: Path | None = CONFIG, resume: bool = RESUME, overwrite: bool = OVERWRITE) -> None:
    """Train the CLAP baseline."""
    from auralign.training.clap import ClapRunConfig, train_clap
    from auralign.training.config import load_config

    run_config = load_config(ClapRunConfig, config, overrides or [])
    prepare_output(run_config.train, resume, overwrite)
    final = train_clap(run_config, resume=resume)
    console.print(f"final model: {final}")


@app.command("collat", context_settings=EXTRA_ARGS)
@user_errors
def collat(overrides: list[str] = typer.Argument(None, help="key=value overrides, e.g. train.lr=3e-4"),
           config: Path | None = CONFIG, resume: bool = RESUME, overwrite: bool = OVERWRITE) -> None:
    """Train CoLLAT (token-level locked-language tuning)."""
    final = collat_cmd.train(overrides or [], config, resume, overwrite)
    console.print(f"final model: {final}")


app.command("slit", context_settings=EXTRA_ARGS)(slit_cmd.train)


@app.command("mats", context_settings=EXTRA_ARGS)
@user_errors
def mats(overrides: list[str] = typer.Argument(None, help="key=value overrides, e.g. train.max_steps=200"),
         config: Path | None = CONFIG, resume: bool = RESUME, overwrite: bool = OVERWRITE) -> None:
    """Train MATS on (text, instruction, answer) rows; no audio is read while training."""
    from auralign.training.config import load_config
    from auralign.training.mats import MatsRunConfig, train_mats

    run_config = load_config(MatsRunConfig, config, overrides or [])
    prepare_output(run_config.train, resume, overwrite)
    final = train_mats(run_config, resume=resume)
    console.print(f"final model: {final}")
