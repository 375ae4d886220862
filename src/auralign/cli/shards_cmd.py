"""`auralign data shards`: pack a manifest's clips into WebDataset tar shards."""

from __future__ import annotations

from pathlib import Path

import typer

from auralign.cli.audio_cmds import report_failures
from auralign.cli.common import FORCE, check_output_folder, console, user_errors
from auralign.data.manifest import read_manifest


@user_errors
def shards(
    manifest: Path = typer.Argument(..., help="CSV or JSONL manifest of the clips to pack."),
    out_dir: Path = typer.Argument(..., help="Empty folder to write shard-000000.tar, ... into."),
    max_count: int = typer.Option(1000, help="Clips per shard."),
    max_size_mb: float = typer.Option(1000.0, help="Start a new shard once one reaches this size (MB)."),
    original: bool = typer.Option(False, "--original", help="Store the files' own bytes instead of FLAC."),
    split: str | None = typer.Option(None, help="Only rows of this split."),
    strict: bool = typer.Option(False, help="Exit non-zero if any clip fails."),
    force: bool = FORCE,
) -> None:
    """Write WebDataset shards (audio + JSON metadata per clip); bad clips are listed and left out."""
    from auralign.data.shards import write_shards  # imports torch: only when the command runs

    check_output_folder(out_dir, force=force)
    rows = read_manifest(manifest, split)
    failures: list[tuple[Path, str]] = []
    written = write_shards(rows, out_dir, max_count=max_count, max_size=int(max_size_mb * 1e6),
                           encode_audio="original" if original else "flac",
                           on_failure=lambda path, reason: failures.append((Path(path), reason)))
    n_ok = len(rows) - len(failures)
    if written:
        console.print(f"wrote {n_ok} clips in {len(written)} shards to {out_dir}", highlight=False)
    report_failures(failures, n_ok, strict)
