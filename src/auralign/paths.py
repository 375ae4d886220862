"""Where auralign keeps converted backbones, caches and shipped weights."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
SHIPPED_WEIGHTS_DIR = PACKAGE_DIR / "weights"


def auralign_home() -> Path:
    """Root of auralign's cache: `$AURALIGN_HOME`, else `~/.cache/auralign`."""
    env = os.environ.get("AURALIGN_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "auralign"


def backbones_dir() -> Path:
    return auralign_home() / "backbones"


def features_dir() -> Path:
    return auralign_home() / "features"
