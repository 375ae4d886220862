"""The CLAP recipe: cached frozen-encoder tokens, precomputed frozen text vectors, and zero-shot
accuracy on the validation split as the periodic evaluation."""

from __future__ import annotations

from dataclasses import dataclass, field

from auralign.data.pairs import TextFeatureTable, pair_collator
from auralign.evaluation.validation import zeroshot_validation
from auralign.models.clap import ClapConfig, ClapModel
from auralign.training.config import TrainConfig
from auralign.training.data import DataConfig, feature_cache, manifest_rows, split_rows, training_pairs


@dataclass
class ClapRunConfig:
    model: ClapConfig = field(default_factory=ClapConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(output_dir="runs/clap"))


def build(config: ClapRunConfig):
    rows = manifest_rows(config.data)
    model = ClapModel(config.model)
    cache = feature_cache(model, config.data)
    dataset = training_pairs(split_rows(rows, config.data.train_split), cache, config.data, config.train.seed)
    text_table = TextFeatureTable(dataset.all_texts(), model.text_features) if model.text_is_frozen else None
    val_rows = [row for row in rows if row.split == config.data.val_split]
    return (model, dataset, pair_collator(text_table),
            zeroshot_validation(val_rows, cache, max_clips=config.data.val_max_clips, seed=config.train.seed))

