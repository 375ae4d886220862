"""Clip and text embeddings of a model, read through the feature cache.

A clip longer than one window is embedded window by window; its embedding is the normalised mean of
its window embeddings (deterministic, independent of batch composition).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from auralign.data.feature_cache import FeatureCache, pad_tokens
from auralign.errors import AudioLoadError
from auralign.models.base import AudioTextEmbedder


@dataclass
class ClipEmbeddings:
    """Embeddings of the clips that loaded; `index[i]` is the position of row i in the input list."""

    vectors: np.ndarray  # (n_ok, E), L2-normalised
    index: list[int]
    failures: list[tuple[Path, str]]


@torch.inference_mode()
def embed_clips(model: AudioTextEmbedder, cache: FeatureCache, paths: Sequence[str | Path],
                batch_size: int = 64, progress: bool = True) -> ClipEmbeddings:
    """Embed clips (computing missing frame tokens once); bad files are listed, not fatal."""
    failures = cache.ensure(list(paths), progress=progress)
    failed = {Path(p) for p, _ in failures}
    windows: list[np.ndarray] = []
    owner: list[int] = []
    index: list[int] = []
    for position, path in enumerate(paths):
        if Path(path) in failed:
            continue
        try:
            clip = cache.get(path)
        except AudioLoadError as error:
            failures.append((Path(path), error.reason))
            continue
        index.append(position)
        for window in clip.windows():
            windows.append(window)
            owner.append(len(index) - 1)
    model.eval()
    vectors = torch.zeros(len(index), 0)
    if windows:
        parts = [model.embed_audio_tokens(*pad_tokens(windows[i:i + batch_size]))
                 for i in range(0, len(windows), batch_size)]
        per_window = torch.cat(parts)
        summed = torch.zeros(len(index), per_window.shape[1]).index_add_(0, torch.tensor(owner), per_window)
        vectors = F.normalize(summed, dim=-1)
    return ClipEmbeddings(vectors=vectors.numpy(), index=index, failures=failures)


@torch.inference_mode()
def embed_texts(model: AudioTextEmbedder, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
    model.eval()
    parts = [model.embed_text(list(texts[i:i + batch_size])) for i in range(0, len(texts), batch_size)]
    return torch.cat(parts).numpy() if parts else np.zeros((0, 0), dtype=np.float32)
