"""The CoLLAT recipe: a manifest (plus, optionally, a manifest of multi-source mixtures).

Audio comes from the feature cache (frozen encoder tokens), text is CoLLAT's template caption
("This is a sound of A, B and C."); a mixture's labels appear in every order across its captions,
so each epoch draws one order (the greedy matching makes the token loss order-agnostic, the
template order should not matter either). The locked text side is computed once per caption: token
ids for the token loss and the pooled sentence vector z^t. Periodic evaluation: zero-shot top-1 on
the single-label validation rows and mAP on the multi-label ones.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import islice, permutations
from typing import Any, Literal

import torch

from auralign.data.manifest import ManifestRow, read_manifest
from auralign.data.pairs import Pair, label_caption, pair_collator
from auralign.errors import AuralignError
from auralign.evaluation.validation import zeroshot_validation
from auralign.models.collat import CollatConfig, CollatModel
from auralign.training.config import TrainConfig
from auralign.training.data import DataConfig, feature_cache, manifest_rows, split_rows, training_pairs

MAX_LABEL_ORDERS = 6  # captions per clip when its labels are written in different orders


@dataclass
class CollatDataConfig(DataConfig):
    mixtures: str = ""  # optional manifest of multi-source mixtures (multi-label rows), same splits
    captions: Literal["template", "manifest"] = "template"  # the paper trains on template captions


@dataclass
class CollatRunConfig:
    model: CollatConfig = field(default_factory=CollatConfig)
    data: CollatDataConfig = field(default_factory=CollatDataConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(output_dir="runs/collat"))


def template_captions(labels: Sequence[str]) -> list[str]:
    """The template caption of a label set, once per label order (at most MAX_LABEL_ORDERS)."""
    return [label_caption(list(order)) for order in islice(permutations(labels), MAX_LABEL_ORDERS)]


def with_template_captions(rows: Sequence[ManifestRow]) -> list[ManifestRow]:
    return [dataclasses.replace(row, captions=template_captions(row.labels)) for row in rows if row.labels]


def read_rows(data: CollatDataConfig) -> list[ManifestRow]:
    rows = manifest_rows(data)
    if data.mixtures:
        rows += read_manifest(data.mixtures)
    return rows


class CaptionTable:
    """The locked text side of a fixed set of captions, computed once: token ids padded to the
    longest caption and the pooled sentence vectors f_t(E_t x^t)."""

    def __init__(self, model: CollatModel, texts: Sequence[str], batch_size: int = 256) -> None:
        self.position = {text: i for i, text in enumerate(texts)}
        tokens = model.text_encoder.tokenize(list(texts))
        longest = int(tokens.attention_mask.sum(dim=1).max())
        if longest > model.config.num_tokens:
            worst = texts[int(tokens.attention_mask.sum(dim=1).argmax())]
            raise AuralignError(f"caption {worst!r} has {longest} tokens, more than model.num_tokens="
                                f"{model.config.num_tokens}; raise model.num_tokens")
        self.ids = tokens.input_ids[:, :longest]
        self.mask = tokens.attention_mask[:, :longest]
        with torch.inference_mode():
            parts = [model.text_features(list(texts[i:i + batch_size])) for i in range(0, len(texts), batch_size)]
        self.features = torch.cat(parts).clone()

    def lookup(self, texts: list[str]) -> dict[str, torch.Tensor]:
        index = torch.tensor([self.position[t] for t in texts])
        mask = self.mask[index]
        width = int(mask.sum(dim=1).max())
        return {"text_ids": self.ids[index, :width], "text_mask": mask[:, :width],
                "text_features": self.features[index]}


def collat_collator(table: CaptionTable) -> Callable[[list[Pair]], dict[str, Any]]:
    base = pair_collator()

    def collate(pairs: list[Pair]) -> dict[str, Any]:
        batch = base(pairs)
        batch.update(table.lookup(batch["texts"]))
        return batch

    return collate


def build(config: CollatRunConfig):
    rows = read_rows(config.data)
    model = CollatModel(config.model)
    cache = feature_cache(model, config.data)
    train_rows = split_rows(rows, config.data.train_split)
    if config.data.captions == "template":
        train_rows = with_template_captions(train_rows)
    if not train_rows:
        raise AuralignError(f"no labelled rows in split {config.data.train_split!r}")
    dataset = training_pairs(train_rows, cache, config.data, config.train.seed)
    val_rows = [row for row in rows if row.split == config.data.val_split]
    return (model, dataset, collat_collator(CaptionTable(model, dataset.all_texts())),
            zeroshot_validation(val_rows, cache, max_clips=config.data.val_max_clips, seed=config.train.seed))
