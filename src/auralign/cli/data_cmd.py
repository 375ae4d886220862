"""`auralign data ...`: write manifests."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import typer

from auralign.cli import corpus_cmd, shards_cmd
from auralign.cli.common import FORCE, check_output, console, shown, user_errors
from auralign.data.manifest import rows_from_folder, write_manifest

app = typer.Typer(help="Build manifests and corpora.", no_args_is_help=True)
app.command("shards")(shards_cmd.shards)
app.command("build-corpus")(corpus_cmd.build_corpus)


@app.command("from-folder")
@user_errors
def from_folder(
    folder: Path = typer.Argument(..., help="A folder of audio files; sub-folder names become labels."),
    out: Path = typer.Option(None, help="Manifest to write (.jsonl or .csv). Default: FOLDER/manifest.jsonl"),
    force: bool = FORCE,
) -> None:
    """Write a manifest of every audio file under FOLDER, labelled by sub-folder."""
    target = out or folder / "manifest.jsonl"
    check_output(target, [folder], force=force)
    rows = rows_from_folder(folder)
    path = write_manifest(rows, target)
    labels = Counter(label for row in rows for label in row.labels)
    console.print(f"wrote {len(rows)} rows with {len(labels)} labels to {shown(path)}", highlight=False)


@app.command("fsdd")
@user_errors
def fsdd(
    out: Path = typer.Option(Path("runs/fsdd/manifest.jsonl"), help="Manifest to write."),
    root: Path | None = typer.Option(None, help="FSDD recordings folder (default: ../shared/data/fsdd)."),
    force: bool = FORCE,
) -> None:
    """Write the Free Spoken Digit Dataset manifest with speaker-disjoint train/val/test splits."""
    from auralign.data.fsdd import fsdd_rows

    check_output(out, [root] if root else [], force=force)
    rows = fsdd_rows(root)
    path = write_manifest(rows, out)
    splits = Counter(row.split for row in rows)
    console.print(f"wrote {len(rows)} rows to {shown(path)}: " + ", ".join(f"{k} {v}" for k, v in sorted(splits.items())))
