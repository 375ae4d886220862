"""The data side every audio recipe shares (CLAP, CoLLAT, SLIT): the `data` config section, the
manifest's rows of one split, the feature cache over the model's frozen audio encoder, and the
training pairs drawn as the config says."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from auralign.audio.augment import AugmentConfig
from auralign.data.augmented import background_files, write_variants
from auralign.data.feature_cache import FeatureCache, WindowPolicy
from auralign.data.label_text import ontology_texts
from auralign.data.manifest import ManifestRow, read_manifest
from auralign.data.pairs import CachedPairs, texts_of
from auralign.data.sampling import (
    Balance,
    WeightedDraws,
    cap_clips_per_label,
    draw_weights,
    epoch_shares,
    matches_any,
)
from auralign.errors import AuralignError


@dataclass
class DataConfig:
    manifest: str = ""
    train_split: str = "train"
    val_split: str = "val"
    val_max_clips: int | None = None  # validation clips scored at each evaluation (None: all)
    window_seconds: float = 10.0
    crop_tokens: int | None = 54  # ~10 s of aiSFX tokens
    cache_dir: str | None = None  # default: $AURALIGN_HOME/features
    augment_variants: int = 0  # augmented copies per training clip, written and encoded once (0: off)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    texts: Literal["captions", "ontology"] = "captions"  # "ontology": + AudioSet synonyms, parents, templates
    balance: Balance = "none"  # draws per label set: "none" (as the clips fall), "sqrt", "label" (equal)
    speech_share: float | None = None  # at most this share of draws are speech clips (None: no cap)
    max_clips_per_label: int | None = None  # train on at most this many clips of one label set
    # leave out training rows matching any of these: "field=value" (e.g. source=timgm6mb) or "field" (set)
    exclude_rows: list[str] = field(default_factory=list)


def manifest_rows(data: DataConfig) -> list[ManifestRow]:
    if not data.manifest:
        raise AuralignError("set data.manifest (a CSV or JSONL manifest with a split column)")
    return read_manifest(data.manifest)


def split_rows(rows: list[ManifestRow], split: str) -> list[ManifestRow]:
    chosen = [row for row in rows if row.split == split]
    if not chosen:
        raise AuralignError(f"the manifest has no rows in split {split!r}")
    return chosen


def feature_cache(model: Any, data: Any) -> FeatureCache:
    """The cache of `model.audio_encoder`'s frame tokens where `data.cache_dir` says, windowed by
    `data.window_seconds` (any data section with those two keys)."""
    return FeatureCache(model.audio_encoder, data.cache_dir, WindowPolicy(data.window_seconds))


def training_pairs(rows: list[ManifestRow], cache: FeatureCache, data: DataConfig,
                   seed: int) -> CachedPairs | WeightedDraws:
    """The training pairs of `rows`, with `data.augment_variants` augmented copies of each clip,
    drawn as `data.balance` and `data.speech_share` say."""
    rows = cap_clips_per_label([row for row in rows if not matches_any(row, data.exclude_rows)],
                               data.max_clips_per_label, seed)
    variants = write_variants(rows, data.augment_variants, data.augment, seed=seed,
                              backgrounds=background_files(rows, data.train_split))
    text_source = ontology_texts if data.texts == "ontology" else texts_of
    pairs = CachedPairs(rows, cache, seed=seed, crop_tokens=data.crop_tokens, variants=variants,
                        text_source=text_source)
    if data.balance == "none" and data.speech_share is None:
        return pairs
    weights = draw_weights(pairs.rows, data.balance, data.speech_share)
    print(f"training draws ({data.balance}, speech_share={data.speech_share}): "
          f"{epoch_shares(pairs.rows, weights)}")
    return WeightedDraws(pairs, weights, seed=seed)
