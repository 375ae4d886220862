"""Training pairs (frame tokens of a clip, one of its texts) over the feature cache.

Each epoch draws, per clip, one window, one crop of at most `crop_tokens` tokens and one caption,
from a generator seeded by (seed, epoch, index): the data an epoch sees depends only on those, so
a resumed run or a run on more processes sees the same pairs. With augmented variants
(`auralign.data.augmented`) the same generator first picks the original or one of its variants.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from auralign.data.feature_cache import FeatureCache, pad_tokens
from auralign.data.manifest import ManifestRow
from auralign.errors import AuralignError

LABEL_TEMPLATE = "This is a sound of {label}."


def label_caption(labels: Sequence[str]) -> str:
    """CoLLAT's template caption: 'This is a sound of A, B and C.'"""
    if len(labels) == 1:
        return LABEL_TEMPLATE.format(label=labels[0])
    return LABEL_TEMPLATE.format(label=", ".join(labels[:-1]) + " and " + labels[-1])


def texts_of(row: ManifestRow) -> list[str]:
    return row.captions or ([label_caption(row.labels)] if row.labels else [])


@dataclass
class Pair:
    tokens: np.ndarray
    text: str
    match_id: int


class CachedPairs(Dataset):
    """(tokens, text) pairs of `rows`; `variants` maps a row id to augmented copies of its audio;
    `text_source` gives a row's texts (default `texts_of`, its captions), computed once per row, e.g.
    `auralign.data.label_text.ontology_texts`."""

    def __init__(self, rows: Sequence[ManifestRow], cache: FeatureCache, seed: int = 0,
                 crop_tokens: int | None = None, progress: bool = True,
                 variants: Mapping[str, Sequence[Path]] | None = None,
                 text_source: Callable[[ManifestRow], list[str]] = texts_of) -> None:
        failures = cache.ensure([row.audio for row in rows], progress=progress)
        failed = {str(path) for path, _ in failures}
        loaded = [row for row in rows if str(row.audio) not in failed]
        texts = [text_source(row) for row in loaded]
        self.rows = [row for row, row_texts in zip(loaded, texts, strict=True) if row_texts]
        self.texts = [row_texts for row_texts in texts if row_texts]
        if not self.rows:
            raise AuralignError("no usable training pairs (clips failed to load or have no text)")
        self.sources = [[row.audio] for row in self.rows]
        if variants:
            extra = [path for row in self.rows for path in variants.get(row.id, ())]
            broken = {str(path) for path, _ in cache.ensure(extra, progress=progress)}
            for row, sources in zip(self.rows, self.sources, strict=True):
                sources += [path for path in variants.get(row.id, ()) if str(path) not in broken]
        self.failures = failures
        self.cache = cache
        self.seed = seed
        self.crop_tokens = crop_tokens
        self.epoch = 0
        label_sets = [tuple(sorted(row.labels)) or ("#" + row.id,) for row in self.rows]
        ids = {key: i for i, key in enumerate(dict.fromkeys(label_sets))}
        self.match_ids = [ids[key] for key in label_sets]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> Pair:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        row, sources = self.rows[index], self.sources[index]
        # No draw without variants, so runs without augmentation keep their earlier data order.
        audio = sources[rng.integers(len(sources))] if len(sources) > 1 else row.audio
        windows = self.cache.get(audio).windows()
        tokens = windows[rng.integers(len(windows))]
        if self.crop_tokens and len(tokens) > self.crop_tokens:
            start = rng.integers(len(tokens) - self.crop_tokens + 1)
            tokens = tokens[start:start + self.crop_tokens]
        texts = self.texts[index]
        return Pair(np.asarray(tokens, dtype=np.float32), texts[rng.integers(len(texts))], self.match_ids[index])

    def all_texts(self) -> list[str]:
        return sorted({text for texts in self.texts for text in texts})


def text_id(text: str) -> int:
    """A stable integer per text (the same in every process), so that two items of a batch that drew
    the same text, such as a shared parent class "speech" for two languages, count as positives."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=7).digest(), "little")


def pair_collator(text_features: Callable[[list[str]], torch.Tensor] | None = None,
                  ) -> Callable[[list[Pair]], dict[str, Any]]:
    """Batch pairs; with `text_features` (a lookup of precomputed frozen-encoder vectors) the batch
    carries those instead of raw texts, so a locked text encoder never runs during training."""

    def collate(pairs: list[Pair]) -> dict[str, Any]:
        tokens, mask = pad_tokens([p.tokens for p in pairs])
        texts = [p.text for p in pairs]
        batch: dict[str, Any] = {"tokens": tokens, "mask": mask, "texts": texts,
                                 "match_ids": torch.tensor([p.match_id for p in pairs]),
                                 "text_ids": torch.tensor([text_id(text) for text in texts])}
        if text_features is not None:
            batch["text_features"] = text_features(texts)
        return batch

    return collate


class TextFeatureTable:
    """Frozen text-encoder vectors of a fixed set of texts, computed once in batches."""

    def __init__(self, texts: Sequence[str], encode: Callable[[list[str]], torch.Tensor],
                 batch_size: int = 256) -> None:
        self.position = {text: i for i, text in enumerate(texts)}
        with torch.inference_mode():
            parts = [encode(list(texts[i:i + batch_size])) for i in range(0, len(texts), batch_size)]
        self.table = torch.cat(parts).clone()

    def __call__(self, texts: list[str]) -> torch.Tensor:
        return self.table[[self.position[t] for t in texts]]
