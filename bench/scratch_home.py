"""A private AURALIGN_HOME for benchmarks that run `auralign` commands: it links to the real home's
backbones and weights but keeps its own feature and text-embedding caches, so a benchmark starts cold
and never fills the user's caches."""

from __future__ import annotations

from pathlib import Path

from auralign.paths import auralign_home


def scratch_home(root: Path) -> Path:
    home = root / "home"
    home.mkdir()
    real = auralign_home()
    if real.is_dir():
        for entry in real.iterdir():
            if entry.name not in ("features", "text-embeddings"):
                (home / entry.name).symlink_to(entry.resolve())
    return home
