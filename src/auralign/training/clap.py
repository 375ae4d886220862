"""Train CLAP on a manifest: cached frozen-encoder tokens, precomputed frozen text vectors, the shared
trainer, and zero-shot accuracy on the validation split as the periodic evaluation."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from auralign.audio.augment import AugmentConfig
from auralign.data.augmented import background_files, write_variants
from auralign.data.feature_cache import FeatureCache, WindowPolicy
from auralign.data.label_text import ontology_texts
from auralign.data.manifest import ManifestRow, label_vocabulary, read_manifest
from auralign.data.pairs import CachedPairs, TextFeatureTable, pair_collator, texts_of
from auralign.data.sampling import (
    Balance,
    WeightedDraws,
    cap_clips_per_label,
    draw_weights,
    epoch_shares,
    matches_any,
)
from auralign.errors import AuralignError
from auralign.evaluation.zeroshot import DEFAULT_TEMPLATES, evaluate_zeroshot
from auralign.models.clap import ClapConfig, ClapModel
from auralign.training.config import TrainConfig
from auralign.training.trainer import Trainer


@dataclass
class DataConfig:
    manifest: str = ""
    train_split: str = "train"
    val_split: str = "val"
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


@dataclass
class ClapRunConfig:
    model: ClapConfig = field(default_factory=ClapConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(output_dir="runs/clap"))


def split_rows(rows: list[ManifestRow], split: str) -> list[ManifestRow]:
    chosen = [row for row in rows if row.split == split]
    if not chosen:
        raise AuralignError(f"the manifest has no rows in split {split!r}")
    return chosen


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


def zeroshot_eval_fn(rows: list[ManifestRow], cache: FeatureCache):
    """Validation top-1 (single-label) or mAP (multi-label) with the default prompt."""
    class_names = label_vocabulary(rows)

    def evaluate(model: ClapModel, step: int) -> dict[str, float]:
        result = evaluate_zeroshot(model, rows, cache, class_names, DEFAULT_TEMPLATES, progress=False)
        key = "mAP" if result["multi_label"] else "top1"
        return {f"val_{key}": float(result[key])}

    return evaluate


def train_clap(config: ClapRunConfig, resume: bool | str | Path = False) -> Path:
    """Train and return the folder of the final model (`output_dir/final`)."""
    if not config.data.manifest:
        raise AuralignError("set data.manifest (a CSV or JSONL manifest with a split column)")
    rows = read_manifest(config.data.manifest)
    model = ClapModel(config.model)
    cache = FeatureCache(model.audio_encoder, config.data.cache_dir, WindowPolicy(config.data.window_seconds))
    dataset = training_pairs(split_rows(rows, config.data.train_split), cache, config.data, config.train.seed)
    text_table = TextFeatureTable(dataset.all_texts(), model.text_features) if model.text_is_frozen else None
    val_rows = [row for row in rows if row.split == config.data.val_split and row.labels]
    trainer = Trainer(model, config.train, dataset, collate_fn=pair_collator(text_table),
                      eval_fn=zeroshot_eval_fn(val_rows, cache) if val_rows else None,
                      run_config=config, resume=resume)
    trainer.fit()
    return Path(config.train.output_dir) / "final"
