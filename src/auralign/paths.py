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


def shared_data_dir() -> Path:
    """The project's shared data folder: `$AURALIGN_SHARED_DATA`, else `../shared/data` beside the
    source checkout (`<checkout>/src/auralign` -> `<checkout>/../shared/data`), else beside the current
    folder (an installed, non-editable package)."""
    env = os.environ.get("AURALIGN_SHARED_DATA")
    if env:
        return Path(env).expanduser()
    checkout = PACKAGE_DIR.parents[1]
    candidates = [checkout.parent / "shared" / "data", Path.cwd().parent / "shared" / "data"]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    return candidates[0]


def text_embeddings_dir() -> Path:
    """Label / prompt embedding matrices, one file per (model weights, labels, templates)."""
    return auralign_home() / "text-embeddings"


def compiled_dir() -> Path:
    """Compiled or exported audio-encoder graphs (ONNX), one per encoder fingerprint and precision."""
    return auralign_home() / "compiled"
