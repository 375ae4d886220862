"""`auralign mats santa-figure`: Figure 3 of the paper, text and audio embeddings before and after each
modality transfer, projected to 2-D. Training is `auralign train mats`."""

from __future__ import annotations

from pathlib import Path

import typer

from auralign.cli.common import FORCE, atomic_file, check_output, console, shown, user_errors

app = typer.Typer(help="MATS: the Santa figure (training is `auralign train mats`).", no_args_is_help=True)


@app.callback()
def mats() -> None:
    """MATS: the Santa figure (training is `auralign train mats`)."""


@app.command("santa-figure")
@user_errors
def santa_figure(
    manifest: Path = typer.Argument(..., help="Paired manifest (clips with captions or labels)."),
    out: Path = typer.Option(Path("santa_figure.png"), "--out", "-o", help="PNG to write."),
    model: str = typer.Option("mats", help="MATS model: shipped name or checkpoint folder."),
    split: str | None = typer.Option("train", help="Manifest split to draw from (paper: training data)."),
    clips: int = typer.Option(350, help="Random clips to draw (the paper shows 350)."),
    projection: str = typer.Option("tsne", help="tsne | pca"),
    seed: int = typer.Option(0),
    force: bool = FORCE,
) -> None:
    """Text (blue) and audio (red) embeddings: CLAP, + Gaussian noise, + memory only, + Santa."""
    import json

    from auralign.evaluation.santa_figure import santa_panels, save_santa_figure
    from auralign.models.factory import load_model
    from auralign.models.mats import MatsModel

    check_output(out, [manifest], force=force)
    mats = load_model(model)
    if not isinstance(mats, MatsModel):
        raise typer.BadParameter(f"{model} is not a MATS model")
    panels = santa_panels(mats, manifest, split, clips, seed)
    with atomic_file(out) as tmp:
        save_santa_figure(panels, tmp, projection, seed)
    console.print(f"wrote {shown(out)}", highlight=False)
    print(json.dumps({name: panel.stats() for name, panel in panels.items()}, indent=2))


if __name__ == "__main__":
    app()
