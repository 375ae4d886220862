"""The SLIT recipe, one stage a run, over cached frozen-encoder tokens.

* Stage 1 trains the Q-Former alone on (clip, caption) pairs (ATC + ATM + ATG); clips that share a
  label set are positives of each other in ATC and are never mined as ATM negatives.
* Stage 2 starts from a stage-1 model and trains the Q-Former + LLM projection on captions behind a
  fixed captioning prompt.
* Stage 3 starts from a stage-1 (the paper's "1+3") or stage-2 model ("1+2+3") and instruction-tunes
  on a mix of tasks in the spirit of the paper's Table 1: each epoch, every clip is paired with one of
  the tasks its manifest row can answer (its labels, a caption, NSynth-style instrument / family /
  note fields, a spoken digit), drawn uniformly from a generator seeded by (seed, epoch, index).

`model.stage` picks the stage and `init_from` names the earlier stage's model folder; `--resume`
continues an interrupted run from its latest checkpoint (the trainer restores weights, optimizer,
schedule and data order over those of `init_from`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from auralign.data.feature_cache import FeatureCache, pad_tokens
from auralign.data.manifest import ManifestRow
from auralign.data.pairs import pair_collator, texts_of
from auralign.errors import AuralignError
from auralign.evaluation.validation import zeroshot_validation
from auralign.models.base import CAPTION_INSTRUCTION
from auralign.models.slit import CLASSIFICATION_INSTRUCTION, SlitConfig, SlitModel
from auralign.training.config import TrainConfig
from auralign.training.data import DataConfig, feature_cache, manifest_rows, split_rows, training_pairs

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
    val_max_clips: int | None = 64  # validation clips ranked at each evaluation (the LLM makes it slow on CPU)


@dataclass
class SlitRunConfig:
    """One stage's run: `model.stage` (1, 2 or 3) and `init_from`, the earlier stage's model folder
    (stages 2 and 3). `train.output_dir` left empty is `runs/slit-stage{N}`, so the stages run in turn
    keep all three (and `--resume` never picks up another stage's checkpoint)."""

    model: SlitConfig = field(default_factory=SlitConfig)
    data: SlitDataConfig = field(default_factory=SlitDataConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(output_dir=""))
    init_from: str = ""

    def __post_init__(self) -> None:
        if not self.train.output_dir:
            self.train.output_dir = f"runs/slit-stage{self.model.stage}"


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
    """The stage's tasks, the caption and label tasks prompted as the model config says (the prompts
    the model is asked with at inference)."""
    if config.model.stage == 2:
        tasks = [caption_task()]
    else:
        unknown = sorted(set(config.data.tasks) - set(TASKS))
        if unknown:
            raise AuralignError(f"unknown SLIT task(s) {unknown}; known: {', '.join(TASKS)}")
        tasks = [TASKS[name] for name in config.data.tasks]
    prompts = {"caption": config.model.caption_instruction, "label": config.model.classification_instruction}
    return [replace(task, instruction=prompts.get(task.name, task.instruction)) for task in tasks]


def build(config: SlitRunConfig):
    rows = manifest_rows(config.data)
    train_rows = split_rows(rows, config.data.train_split)
    if config.model.stage >= 2 and not config.init_from:
        raise AuralignError(f"stage {config.model.stage} starts from an earlier stage: set init_from")
    model = SlitModel(config.model)
    if config.init_from:
        model.load_weights(config.init_from, allow_missing=True)
    cache = feature_cache(model, config.data)
    if config.model.stage == 1:
        dataset: Dataset = training_pairs(train_rows, cache, config.data, config.train.seed)
        collate = pair_collator()
    else:
        dataset = InstructionExamples(train_rows, cache, stage_tasks(config), seed=config.train.seed,
                                      crop_tokens=config.data.crop_tokens)
        collate = collate_examples
    val_rows = [row for row in rows if row.split == config.data.val_split]
    return (model, dataset, collate, zeroshot_validation(val_rows, cache, method="ranking",
                                                         max_clips=config.data.val_max_clips, seed=config.train.seed))
