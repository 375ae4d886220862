"""Train SLIT's three stages on a manifest, over cached frozen-encoder tokens and the shared trainer.

* Stage 1 trains the Q-Former alone on (clip, caption) pairs (ATC + ATM + ATG); clips that share a
  label set are positives of each other in ATC and are never mined as ATM negatives.
* Stage 2 starts from a stage-1 model and trains the Q-Former + LLM projection on captions behind a
  fixed captioning prompt.
* Stage 3 starts from a stage-1 (the paper's "1+3") or stage-2 model ("1+2+3") and instruction-tunes
  on a mix of tasks in the spirit of the paper's Table 1: each epoch, every clip is paired with one of
  the tasks its manifest row can answer (its labels, a caption, NSynth-style instrument / family /
  note fields, a spoken digit), drawn uniformly from a generator seeded by (seed, epoch, index).

`init_from` names the earlier stage's model folder; `--resume` continues an interrupted run from its
latest checkpoint instead (the trainer restores weights, optimizer, schedule and data order).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from auralign.data.feature_cache import FeatureCache, WindowPolicy, pad_tokens
from auralign.data.manifest import ManifestRow, label_vocabulary, read_manifest
from auralign.data.pairs import pair_collator, texts_of
from auralign.errors import AuralignError
from auralign.evaluation.zeroshot import evaluate_zeroshot
from auralign.models.slit import CAPTION_INSTRUCTION, CLASSIFICATION_INSTRUCTION, SlitConfig, SlitModel
from auralign.training.clap import DataConfig, training_pairs
from auralign.training.config import TrainConfig
from auralign.training.trainer import Trainer

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


@dataclass(frozen=True)
class Task:
    """An instruction template and how to read its answer off a manifest row (None: not applicable)."""

    name: str
    instruction: str
    answers: Callable[[ManifestRow], list[str]]


def _labels(row: ManifestRow) -> list[str]:
    return [", ".join(row.labels)] if row.labels else []


def _extra(key: str) -> Callable[[ManifestRow], list[str]]:
    def read(row: ManifestRow) -> list[str]:
        value = row.extra.get(key)
        return [str(value)] if value not in (None, "") else []

    return read


def spoken_digit(row: ManifestRow) -> list[str]:
    """The digit word of a spoken-digit clip, labelled either 'seven' (FSDD) or 'spoken digit seven'."""
    for label in row.labels:
        word = label.removeprefix("spoken digit ").strip()
        if word in DIGIT_WORDS and (label != word or row.extra.get("source") == "fsdd"):
            return [word]
    return []


TASKS: dict[str, Task] = {task.name: task for task in [
    Task("label", CLASSIFICATION_INSTRUCTION, _labels),
    Task("caption", CAPTION_INSTRUCTION, lambda row: list(row.captions)),
    Task("instrument", "The most prominent instrument in this music is", _extra("instrument")),
    Task("family", "The instrument family of this note is", _extra("family")),
    Task("note", "The pitch of this note is", _extra("note")),
    Task("digit", "Which digit is spoken?", spoken_digit),
]}


@dataclass
class SlitDataConfig(DataConfig):
    tasks: list[str] = field(default_factory=lambda: list(TASKS))  # stage 3's task mix
    eval_clips: int = 64  # validation clips ranked at each evaluation (the LLM makes it slow on CPU)


@dataclass
class SlitRunConfig:
    model: SlitConfig = field(default_factory=SlitConfig)
    data: SlitDataConfig = field(default_factory=SlitDataConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(output_dir="runs/slit"))
    init_from: str = ""  # the previous stage's model folder (stages 2 and 3)


@dataclass
class Example:
    tokens: np.ndarray
    instruction: str
    answer: str
    match_id: int


class InstructionExamples(Dataset):
    """(clip tokens, instruction, answer) triples; each epoch draws one applicable task per clip."""

    def __init__(self, rows: Sequence[ManifestRow], cache: FeatureCache, tasks: Sequence[Task],
                 seed: int = 0, crop_tokens: int | None = None, progress: bool = True) -> None:
        failures = cache.ensure([row.audio for row in rows], progress=progress)
        failed = {str(path) for path, _ in failures}
        self.items = [(row, applicable) for row in rows if str(row.audio) not in failed
                      if (applicable := [t for t in tasks if t.answers(row)])]
        if not self.items:
            raise AuralignError(f"no clip can answer any of the tasks {[t.name for t in tasks]}")
        self.cache = cache
        self.seed = seed
        self.crop_tokens = crop_tokens
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.items)

    def task_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _, tasks in self.items:
            for task in tasks:
                counts[task.name] = counts.get(task.name, 0) + 1
        return counts

    def __getitem__(self, index: int) -> Example:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        row, tasks = self.items[index]
        windows = self.cache.get(row.audio).windows()
        tokens = windows[rng.integers(len(windows))]
        if self.crop_tokens and len(tokens) > self.crop_tokens:
            start = rng.integers(len(tokens) - self.crop_tokens + 1)
            tokens = tokens[start:start + self.crop_tokens]
        task = tasks[rng.integers(len(tasks))]
        answers = task.answers(row)
        return Example(np.asarray(tokens, dtype=np.float32), task.instruction,
                       answers[rng.integers(len(answers))], index)


def collate_examples(examples: list[Example]) -> dict[str, Any]:
    tokens, mask = pad_tokens([e.tokens for e in examples])
    return {"tokens": tokens, "mask": mask, "instructions": [e.instruction for e in examples],
            "answers": [e.answer for e in examples], "match_ids": torch.tensor([e.match_id for e in examples])}


def caption_task() -> Task:
    """Stage 2's single task: a caption (or the label template when a clip has none) after the
    captioning prompt."""
    return Task("caption", CAPTION_INSTRUCTION, texts_of)


def stage_tasks(config: SlitRunConfig) -> list[Task]:
    if config.model.stage == 2:
        return [caption_task()]
    unknown = sorted(set(config.data.tasks) - set(TASKS))
    if unknown:
        raise AuralignError(f"unknown SLIT task(s) {unknown}; known: {', '.join(TASKS)}")
    return [TASKS[name] for name in config.data.tasks]


def validation_fn(rows: list[ManifestRow], cache: FeatureCache, max_clips: int, seed: int):
    """Top-1 on a fixed random subset of labelled validation clips: ATC similarity at stage 1, LLM
    vocabulary ranking at stages 2-3 (the ranking runs the LLM once per clip, hence the subset)."""
    rows = [row for row in rows if len(row.labels) == 1]
    if not rows:
        return None
    class_names = label_vocabulary(rows)
    subset = random.Random(seed).sample(rows, min(max_clips, len(rows)))

    def evaluate(model: SlitModel, step: int) -> dict[str, float]:
        result = evaluate_zeroshot(model, subset, cache, class_names, method="ranking", progress=False)
        return {"val_top1": float(result["top1"])}

    return evaluate


def build_model(config: SlitRunConfig) -> SlitModel:
    model = SlitModel(config.model)
    if config.model.stage >= 2 and not config.init_from:
        raise AuralignError(f"stage {config.model.stage} starts from an earlier stage: set init_from")
    if config.init_from:
        model.load_previous_stage(config.init_from)
    return model


def train_slit(config: SlitRunConfig, resume: bool | str | Path = False) -> Path:
    """Train one stage and return the folder of its final model (`output_dir/final`)."""
    if not config.data.manifest:
        raise AuralignError("set data.manifest (a CSV or JSONL manifest with a split column)")
    rows = read_manifest(config.data.manifest)
    train_rows = [row for row in rows if row.split == config.data.train_split]
    if not train_rows:
        raise AuralignError(f"the manifest has no rows in split {config.data.train_split!r}")
    model = build_model(config)
    cache = FeatureCache(model.audio_encoder, config.data.cache_dir, WindowPolicy(config.data.window_seconds))
    if config.model.stage == 1:
        dataset: Dataset = training_pairs(train_rows, cache, config.data, config.train.seed)
        collate = pair_collator()
    else:
        dataset = InstructionExamples(train_rows, cache, stage_tasks(config), seed=config.train.seed,
                                      crop_tokens=config.data.crop_tokens)
        collate = collate_examples
    val_rows = [row for row in rows if row.split == config.data.val_split]
    trainer = Trainer(model, config.train, dataset, collate_fn=collate,
                      eval_fn=validation_fn(val_rows, cache, config.data.eval_clips, config.train.seed),
                      run_config=config, resume=resume)
    trainer.fit()
    return Path(config.train.output_dir) / "final"
