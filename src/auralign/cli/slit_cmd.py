"""`auralign train slit --stage N --config FILE [key=value ...]`: one SLIT training stage.

Registered in `auralign.cli.train_cmd` as
`app.command("slit", context_settings=EXTRA_ARGS)(slit_cmd.train)`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from auralign.cli.common import console, user_errors

if TYPE_CHECKING:
    from auralign.training.slit import SlitRunConfig

STAGE = typer.Option(..., "--stage", min=1, max=3,
                     help="1: Q-Former representation learning; 2: + frozen LLM; 3: instruction tuning.")
INIT_FROM = typer.Option(None, "--init-from", help="The previous stage's model folder (stages 2 and 3).")
CONFIG = typer.Option(None, "--config", "-c", help="YAML config file.")
RESUME = typer.Option(False, "--resume", help="Continue from the latest checkpoint in train.output_dir.")
OVERWRITE = typer.Option(False, "--overwrite", help="Replace the run in a non-empty train.output_dir.")


def stage_config(stage: int, init_from: Path | None, config: Path | None, overrides: list[str]) -> SlitRunConfig:
    """The run config of one stage: YAML, then --stage / --init-from, then key=value overrides.

    A config that leaves `train.output_dir` at its default writes to `runs/slit-stage{N}`, so running
    the stages in turn keeps all three (and `--resume` never picks up another stage's checkpoint).
    """
    from auralign.training.config import load_config
    from auralign.training.slit import SlitRunConfig

    extra = [f"model.stage={stage}", *([f"init_from={init_from}"] if init_from is not None else [])]
    run_config = load_config(SlitRunConfig, config, [*extra, *overrides])
    if run_config.train.output_dir == SlitRunConfig().train.output_dir:
        run_config.train.output_dir = f"runs/slit-stage{stage}"
    return run_config


@user_errors
def train(overrides: list[str] = typer.Argument(None, help="key=value overrides, e.g. train.lr=1e-4"),
          stage: int = STAGE, init_from: Path | None = INIT_FROM, config: Path | None = CONFIG,
          resume: bool = RESUME, overwrite: bool = OVERWRITE) -> None:
    """Train one SLIT stage (see docs/slit.md for the full recipe)."""
    from auralign.training.checkpoint import prepare_output_dir
    from auralign.training.slit import train_slit

    run_config = stage_config(stage, init_from, config, overrides or [])
    prepare_output_dir(Path(run_config.train.output_dir), resume=resume, overwrite=overwrite,
                       seed=run_config.train.seed)
    final = train_slit(run_config, resume=resume)
    console.print(f"final model: {final}")


if __name__ == "__main__":  # `python -m auralign.cli.slit_cmd --stage N ...`, same as `auralign train slit`
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    typer.run(train)
