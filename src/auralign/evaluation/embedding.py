"""Clip and text embeddings of a model, read through the feature cache.

A clip longer than one window is embedded window by window; its embedding is the normalised mean of
its window embeddings (deterministic, independent of batch composition).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from auralign.audio.streaming import stream_clips
from auralign.backbones.base import AudioEncoder
from auralign.data.feature_cache import FeatureCache, file_size_or_zero, pad_tokens, pad_waveforms
from auralign.errors import AudioLoadError
from auralign.models.base import AudioTextEmbedder
from auralign.progress import progress_bar


@dataclass
class ClipEmbeddings:
    """Embeddings of the clips that loaded; `index[i]` is the position of row i in the input list."""

    vectors: np.ndarray  # (n_ok, E), L2-normalised
    index: list[int]
    failures: list[tuple[Path, str]]


WindowFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@torch.inference_mode()
def per_clip_mean(fn: WindowFn, cache: FeatureCache, paths: Sequence[str | Path], batch_size: int = 64,
                  progress: bool = True) -> ClipEmbeddings:
    """Apply `fn(tokens, mask) -> (B, K)` to every window of every clip and average per clip.

    Frame tokens come from the cache (computed once if missing); bad files are listed, not fatal.
    Windows are streamed in order, `batch_size` at a time (a batch may span clips), into per-clip sums:
    only one batch of windows is held, whatever the number or length of the clips.
    """
    failures = cache.ensure(list(paths), progress=progress)
    failed = {Path(p) for p, _ in failures}
    index: list[int] = []
    sums = _WindowSums(len(paths))
    batch: list[np.ndarray] = []
    owner: list[int] = []
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
            batch.append(window)
            owner.append(position)
            if len(batch) == batch_size:
                sums.add(fn(*pad_tokens(batch)).float(), owner)
                batch, owner = [], []
    if batch:
        sums.add(fn(*pad_tokens(batch)).float(), owner)
    clips = ClipEmbeddings(vectors=sums.means(index), index=index, failures=failures)
    return _without_non_finite(clips, paths)


class _WindowSums:
    """Per-clip sums and counts of window outputs, added one batch at a time in window order."""

    def __init__(self, n_clips: int) -> None:
        self.n_clips = n_clips
        self.sums = torch.zeros(n_clips, 0)
        self.counts = torch.zeros(n_clips, dtype=torch.long)

    def add(self, outputs: torch.Tensor, owner: list[int]) -> None:
        if self.sums.shape[1] == 0:
            self.sums = torch.zeros(self.n_clips, outputs.shape[1])
        rows = torch.tensor(owner)
        self.sums.index_add_(0, rows, outputs)
        self.counts += torch.bincount(rows, minlength=self.n_clips)

    def means(self, index: list[int]) -> np.ndarray:
        """(len(index), K) means of the clips at these positions (K = 0 when nothing was added)."""
        rows = torch.tensor(index, dtype=torch.long)
        return (self.sums[rows] / self.counts[rows].unsqueeze(1)).numpy()


def _without_non_finite(clips: ClipEmbeddings, paths: Sequence[str | Path]) -> ClipEmbeddings:
    """Move clips whose vector is not finite to the failures: a NaN is never a result."""
    finite = np.isfinite(clips.vectors).all(axis=1) if len(clips.vectors) else np.ones(0, dtype=bool)
    if finite.all():
        return clips
    failures = clips.failures + [(Path(paths[i]), "non-finite embedding")
                                 for i, ok in zip(clips.index, finite, strict=True) if not ok]
    return ClipEmbeddings(vectors=clips.vectors[finite], index=[i for i, ok in zip(clips.index, finite, strict=True)
                                                                 if ok], failures=failures)


def embed_clips(model: AudioTextEmbedder, cache: FeatureCache, paths: Sequence[str | Path],
                batch_size: int = 64, progress: bool = True) -> ClipEmbeddings:
    """L2-normalised clip embeddings: the normalised mean of the clip's window embeddings."""
    model.eval()
    result = per_clip_mean(model.embed_audio_tokens, cache, paths, batch_size, progress)
    if len(result.vectors):
        result.vectors = F.normalize(torch.from_numpy(result.vectors), dim=-1).numpy()
    return result


@torch.inference_mode()
def embed_texts(model: AudioTextEmbedder, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
    model.eval()
    parts = [model.embed_text(list(texts[i:i + batch_size])) for i in range(0, len(texts), batch_size)]
    return torch.cat(parts).numpy() if parts else np.zeros((0, 0), dtype=np.float32)


@torch.inference_mode()
def encoder_clip_embeddings(encoder: AudioEncoder, paths: Sequence[str | Path], window_seconds: float = 10.0,
                            batch_size: int = 16, max_seconds: float | None = None) -> ClipEmbeddings:
    """The audio encoder's own pooled vector per clip (mean over its windows), no model head.

    Files are taken in order of size, so a batch holds windows of similar length, and their windows are
    decoded in a worker thread (`stream_clips`) into batches of `batch_size` that span files; each clip
    keeps only a running sum. Memory is bounded by a few batches of windows, whatever the clips' number
    or length. A clip longer than `max_seconds` is a failure (see `iter_windows`)."""
    order = sorted(range(len(paths)), key=lambda i: file_size_or_zero(paths[i]))
    total = torch.zeros(len(paths), encoder.dim, dtype=torch.float64)
    count = torch.zeros(len(paths), dtype=torch.long)
    errors: dict[int, str] = {}
    batch: list[np.ndarray] = []
    owners: list[int] = []

    def flush() -> None:
        pooled = encoder(*pad_waveforms(batch)).pooled.double()
        keep = [row for row, owner in enumerate(owners) if owner not in errors]
        rows = torch.tensor([owners[row] for row in keep], dtype=torch.long)
        total.index_add_(0, rows, pooled[keep])
        count.index_add_(0, rows, torch.ones(len(keep), dtype=torch.long))
        batch.clear()
        owners.clear()

    with progress_bar(len(paths), "embedding") as advance:
        for event in stream_clips([paths[i] for i in order], encoder.sample_rate, window_seconds=window_seconds,
                                  max_seconds=max_seconds, depth=batch_size):
            position = order[event.position]
            if event.samples is not None:
                batch.append(event.samples)
                owners.append(position)
                if len(batch) == batch_size:
                    flush()
            else:
                if event.error is not None:
                    errors[position] = event.error.reason
                advance(1)
        if batch:
            flush()
    index = [i for i in range(len(paths)) if i not in errors]  # no window at all: NaN, a failure below
    vectors = (total[index] / count[index].unsqueeze(1)).float().numpy() if index else \
        np.zeros((0, encoder.dim), dtype=np.float32)
    failures = [(Path(paths[i]), errors[i]) for i in sorted(errors)]
    return _without_non_finite(ClipEmbeddings(vectors=vectors, index=index, failures=failures), paths)
