"""Train MATS on text only (MATS, sections 3.1 and 3.5).

The recipe reads (text, instruction, answer) rows, embeds every distinct text once with the frozen
alignment model's text tower, fills Santa's memory from those embeddings (noise added), and trains
mapper + LoRA with fresh Gaussian noise on every step. No audio is read while training; audio is
only touched before it, to set the noise level by the paper's rule when `model.noise_std` is not
given (30 paired clips), and by the optional validation (zero-shot accuracy on a few val clips).

Rows come from a JSONL corpus (`{"text", "instruction", "answer", "task"}`, as MATS Table S8), from a
labelled manifest's captions (-> label, classification) and from caption CSVs (-> caption,
captioning); whichever the data config names are used together.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch.utils.data import Dataset

from auralign.data.captions import read_captions
from auralign.data.feature_cache import FeatureCache
from auralign.data.manifest import ManifestRow, label_vocabulary, read_manifest
from auralign.data.pairs import texts_of
from auralign.data.text_rows import TextRow, read_text_corpus
from auralign.errors import AuralignError
from auralign.evaluation.embedding import embed_clips
from auralign.evaluation.validation import zeroshot_validation
from auralign.models.base import CAPTION_INSTRUCTION, read_config
from auralign.models.mats import CLASSIFY_INSTRUCTION, MatsConfig, MatsModel
from auralign.training.config import TrainConfig
from auralign.training.data import feature_cache

SIGMA_PAIRS = 30


@dataclass
class MatsDataConfig:
    text_corpus: str = ""  # JSONL of {"text", "instruction", "answer", "task"}; rows of all three sources add up
    label_manifest: str = ""  # a manifest whose captions -> labels become classification rows
    label_split: str = "train"
    caption_files: list[str] = field(default_factory=list)  # AudioCaps/Clotho caption CSVs -> captioning rows
    max_caption_rows: int | None = None
    tasks: list[str] | None = None  # keep only these corpus tasks
    splits: list[str] | None = None  # keep only these corpus splits (rows with a "split" field)
    max_rows: int | None = None  # random subset of the rows (seeded by train.seed)
    max_rows_per_task: int | None = None  # random subset of each task's rows, so no task drowns the others
    exclude_labels_manifest: str = ""  # drop rows whose answer is a label of this manifest's split below:
    exclude_labels_split: str = "test_unseen"  # keeps the unseen-label split unseen by the text too
    sigma_manifest: str = ""  # paired audio/text manifest for the noise rule (when model.noise_std is unset)
    sigma_split: str = "train"
    val_manifest: str = ""  # zero-shot text-matching accuracy on `val_split` during training
    val_split: str = "val"
    val_max_clips: int = 60
    window_seconds: float = 10.0
    cache_dir: str | None = None


@dataclass
class MatsRunConfig:
    model: MatsConfig = field(default_factory=MatsConfig)
    data: MatsDataConfig = field(default_factory=MatsDataConfig)
    init_mapper_from: str = ""  # a MATS checkpoint whose mapper starts this run (see load_mapper_weights)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        output_dir="runs/mats", lr=3e-4, weight_decay=0.01, warmup_steps=50, batch_size=8, max_steps=1000,
        save_every=100, log_every=5))


# -- rows ----------------------------------------------------------------------------------------


def label_rows(manifest_rows: list[ManifestRow]) -> list[TextRow]:
    """Each distinct caption of a single-label clip -> its label ('a person saying seven' -> 'seven')."""
    pairs = {(text, row.labels[0]) for row in manifest_rows if len(row.labels) == 1 for text in texts_of(row)}
    return [TextRow(text, CLASSIFY_INSTRUCTION, label, "cls") for text, label in sorted(pairs)]


def caption_rows(csv_path: str | Path) -> list[TextRow]:
    """Captions of an AudioCaps (`caption`) or Clotho (`caption_1..5`) CSV -> captioning rows."""
    return [TextRow(caption, CAPTION_INSTRUCTION, caption, "cap") for caption in read_captions(csv_path)]


def training_rows(data: MatsDataConfig, seed: int) -> list[TextRow]:
    """The corpus rows, the label rows and the caption rows the data config names, together."""
    rows = read_text_corpus(data.text_corpus, data.tasks, data.splits) if data.text_corpus else []
    if data.label_manifest:
        rows += label_rows(read_manifest(data.label_manifest, data.label_split))
    captions = [row for path in data.caption_files for row in caption_rows(path)]
    if data.max_caption_rows is not None:
        captions = random.Random(seed).sample(captions, min(len(captions), data.max_caption_rows))
    rows += captions
    if not rows:
        raise AuralignError("no training text: set data.text_corpus, data.label_manifest or data.caption_files")
    if data.exclude_labels_manifest:
        rows = without_answers(rows, label_vocabulary(read_manifest(data.exclude_labels_manifest,
                                                                    data.exclude_labels_split)))
    if data.max_rows_per_task is not None:
        rows = cap_per_task(rows, data.max_rows_per_task, seed)
    if data.max_rows is not None and len(rows) > data.max_rows:
        rows = random.Random(seed).sample(rows, data.max_rows)
    return rows


def without_answers(rows: list[TextRow], labels: list[str]) -> list[TextRow]:
    """Rows whose answer is none of `labels` (compared case-insensitively)."""
    excluded = {label.lower() for label in labels}
    return [row for row in rows if row.answer.lower() not in excluded]


def cap_per_task(rows: list[TextRow], limit: int, seed: int) -> list[TextRow]:
    """At most `limit` rows of each task, a seeded random choice; the original order is kept."""
    by_task: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        by_task.setdefault(row.task, []).append(index)
    rng = random.Random(seed)
    kept = sorted(i for indices in by_task.values() for i in (indices if len(indices) <= limit
                                                               else rng.sample(indices, limit)))
    return [rows[i] for i in kept]


# -- embeddings, noise level, memory -------------------------------------------------------------


def text_embedding_table(model: MatsModel, texts: list[str], cache_file: Path | None = None,
                         batch_size: int = 256) -> torch.Tensor:
    """(N, E) clean text embeddings of `texts`, computed once (and reused from `cache_file` on resume)."""
    digest = hashlib.sha256("\n".join([model.config.alignment_model, *texts]).encode()).hexdigest()
    if cache_file is not None and cache_file.is_file():
        stored = load_file(str(cache_file))
        if stored.get("digest") is not None and bytes(stored["digest"].tolist()).decode() == digest:
            return stored["embeddings"]
    parts = [model.embed_text(texts[i:i + batch_size]).float() for i in range(0, len(texts), batch_size)]
    table = torch.cat(parts)
    if cache_file is not None:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        save_file({"embeddings": table.contiguous(), "digest": torch.tensor(list(digest.encode()), dtype=torch.uint8)},
                  str(cache_file))
    return table


def noise_std_by_rule(model: MatsModel, rows: list[ManifestRow], cache: FeatureCache, pairs: int = SIGMA_PAIRS,
                      seed: int = 0) -> float:
    """The paper's rule: the mean L-infinity distance between the audio and text embeddings of
    `pairs` random paired clips (following Deshmukh et al., 2024). Used as the noise std."""
    usable = [row for row in rows if texts_of(row)]
    if not usable:
        raise AuralignError("the noise rule needs paired clips (rows with captions or labels)")
    chosen = random.Random(seed).sample(usable, min(pairs, len(usable)))
    clips = embed_clips(model.alignment, cache, [row.audio for row in chosen], progress=False)
    if not clips.index:
        raise AuralignError("the noise rule could not load any of its clips")
    texts = [texts_of(chosen[i])[0] for i in clips.index]
    audio = torch.from_numpy(clips.vectors)
    text = model.embed_text(texts).float()
    return float((audio - text).abs().amax(dim=1).mean())


def memory_embeddings(table: torch.Tensor, size: int, seed: int) -> torch.Tensor:
    """`size` random rows of the text table (the texts Santa remembers). A corpus with fewer distinct
    texts than `size` contributes each text several times; each copy gets its own noise later."""
    generator = torch.Generator().manual_seed(seed)
    order = torch.cat([torch.randperm(table.shape[0], generator=generator)
                       for _ in range(-(-size // table.shape[0]))])
    return table[order[:size]]


# -- dataset, validation, recipe -----------------------------------------------------------------


class TextInstructionDataset(Dataset):
    """Rows with an index into the precomputed text-embedding table (texts are deduplicated)."""

    def __init__(self, rows: list[TextRow], table: torch.Tensor, position: dict[str, int]) -> None:
        self.rows = rows
        self.table = table
        self.position = position

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, Any]:
        row = self.rows[index]
        return {"text_embedding": self.table[self.position[row.text]], "instruction": row.instruction,
                "answer": row.answer}


def collate_text_rows(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"text_embedding": torch.stack([item["text_embedding"] for item in items]),
            "instruction": [item["instruction"] for item in items],
            "answer": [item["answer"] for item in items]}


def prepare_model(config: MatsRunConfig, rows: list[TextRow]) -> tuple[MatsModel, torch.Tensor, dict[str, int]]:
    """Resolve the noise level (`model.noise_std` unset: the paper's rule) and the memory size, build
    the model, embed the texts, fill Santa."""
    texts = sorted({row.text for row in rows})
    config.model.santa.clusters = min(config.model.santa.clusters, config.model.santa.memory_size)
    model = MatsModel(config.model)
    if config.model.noise_std is None:
        if not config.data.sigma_manifest:
            raise AuralignError("model.noise_std unset asks for the paper's rule: set data.sigma_manifest "
                                "(or model.noise_std)")
        sigma_rows = read_manifest(config.data.sigma_manifest, config.data.sigma_split)
        model.config.noise_std = noise_std_by_rule(model, sigma_rows, feature_cache(model, config.data),
                                                   seed=config.train.seed)
        print(f"model.noise_std by the paper's rule: {model.config.noise_std:.4f}")
    table = text_embedding_table(model, texts, Path(config.train.output_dir) / "text_embeddings.safetensors")
    model.build_memory(memory_embeddings(table, config.model.santa.memory_size, config.train.seed),
                       seed=config.train.seed)
    return model, table, {text: i for i, text in enumerate(texts)}


def load_mapper_weights(model: MatsModel, directory: str | Path) -> None:
    """Start the mapper from an earlier MATS run on the same alignment model.

    This is the second half of a two-stage recipe (not in the paper): first the mapper alone learns
    with the LLM frozen (`model.lora_rank=0`), then LoRA is switched on. Trained jointly from scratch
    on the corpus, LoRA let the LLM answer from the instruction and the label prior and ignore the
    soft prompt (docs/mats.md)."""
    earlier = read_config(directory).get("alignment_model")
    if earlier != model.config.alignment_model:
        raise AuralignError(f"{directory}: its mapper was trained on alignment model {earlier!r}, "
                            f"this run uses {model.config.alignment_model!r}")
    model.load_weights(directory, prefix="mapper.")


def build(config: MatsRunConfig):
    torch.manual_seed(config.train.seed)
    rows = training_rows(config.data, config.train.seed)
    model, table, position = prepare_model(config, rows)
    if config.init_mapper_from:
        load_mapper_weights(model, config.init_mapper_from)
    eval_fn = None
    if config.data.val_manifest:
        eval_fn = zeroshot_validation(read_manifest(config.data.val_manifest, config.data.val_split),
                                      feature_cache(model, config.data), method="ranking",
                                      max_clips=config.data.val_max_clips, seed=config.train.seed)
    return model, TextInstructionDataset(rows, table, position), collate_text_rows, eval_fn
