"""`auralign data ...`: write manifests."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import typer

from auralign.cli import corpus_cmd, shards_cmd
from auralign.cli.common import console, user_errors
from auralign.data.manifest import rows_from_folder, write_manifest

app = typer.Typer(help="Build manifests and corpora.", no_args_is_help=True)
app.command("shards")(shards_cmd.shards)
app.command("build-corpus")(corpus_cmd.build_corpus)


@app.command("from-folder")
@user_errors
def from_folder(
    folder: Path = typer.Argument(..., help="A folder of audio files; sub-folder names become labels."),
    out: Path = typer.Option(None, help="Manifest to write (.jsonl or .csv). Default: FOLDER/manifest.jsonl"),
) -> None:
    """Write a manifest of every audio file under FOLDER, labelled by sub-folder."""
    rows = rows_from_folder(folder)
    path = write_manifest(rows, out or folder / "manifest.jsonl")
    labels = Counter(label for row in rows for label in row.labels)
    console.print(f"wrote {len(rows)} rows with {len(labels)} labels to {path}")


@app.command("fsdd")
@user_errors
def fsdd(
    out: Path = typer.Option(Path("runs/fsdd/manifest.jsonl"), help="Manifest to write."),
    root: Path | None = typer.Option(None, help="FSDD recordings folder (default: ../shared/data/fsdd)."),
) -> None:
    """Write the Free Spoken Digit Dataset manifest with speaker-disjoint train/val/test splits."""
    from auralign.data.fsdd import fsdd_rows

    rows = fsdd_rows(root)
    path = write_manifest(rows, out)
    splits = Counter(row.split for row in rows)
    console.print(f"wrote {len(rows)} rows to {path}: " + ", ".join(f"{k} {v}" for k, v in sorted(splits.items())))
