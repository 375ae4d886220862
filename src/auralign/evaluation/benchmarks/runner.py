"""Run a benchmark's protocol(s) on a model and report a table comparable with the papers' tables.

Per task the full evaluation result is kept (JSON) and a few headline metrics go in the table:
zero-shot top-1 accuracy (single-label) or macro mAP (multi-label); retrieval R@1/5/10 both ways;
the captioning metrics; QA accuracy and yes/no accuracy. The JSON keeps fractions as every
``auralign eval`` command does; the markdown shows the percentages papers print (captioning
metrics stay raw, as the captioning papers print them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from auralign.data.feature_cache import FeatureCache
from auralign.errors import AuralignError
from auralign.evaluation.benchmarks.base import LoadedDataset
from auralign.evaluation.benchmarks.registry import Benchmark, get_benchmark
from auralign.evaluation.caption_metrics import CAPTION_METRICS
from auralign.evaluation.metrics import evaluate_multi_label
from auralign.evaluation.zeroshot import DEFAULT_TEMPLATES, clip_scores, evaluate_retrieval, evaluate_zeroshot
from auralign.models.base import AudioTextEmbedder, AudioTextGenerator, CandidateScorer

RETRIEVAL_HEADLINES = [(direction, f"R@{k}") for direction in ("t2a", "a2t") for k in (1, 5, 10)]
PERCENT_TASKS = {"zeroshot", "retrieval", "qa", "linear_probe"}


@dataclass
class TableRow:
    benchmark: str
    split: str
    task: str
    metric: str
    value: float | None
    n: int


@dataclass
class BenchmarkReport:
    benchmark: Benchmark
    split: str | None
    model: str
    n_clips: int
    missing_audio: list[str]
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    table: list[TableRow] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"benchmark": self.benchmark.name, "title": self.benchmark.title, "split": self.split or "all",
                "model": self.model, "n_clips": self.n_clips, "missing_audio": len(self.missing_audio),
                "missing_audio_examples": self.missing_audio[:10],
                "comparable_with": self.benchmark.comparable_with,
                "table": [vars(row) for row in self.table], "results": self.results}

    def to_markdown(self) -> str:
        lines = ["| Benchmark | Split | Task | Metric | Score | Clips |", "|---|---|---|---|---:|---:|"]
        lines += [f"| {r.benchmark} | {r.split} | {r.task} | {_metric_label(r)} | {_format(r)} | {r.n} |"
                  for r in self.table]
        notes = [f"Model `{self.model}`; comparable with: {self.benchmark.comparable_with}."]
        if self.missing_audio:
            notes.append(f"{len(self.missing_audio)} listed clip(s) had no audio and are not counted.")
        for task, result in self.results.items():
            notes += [f"{task} {metric}: n/a ({reason})" for metric, reason in result.get("unavailable", {}).items()]
            if result.get("failures"):
                notes.append(f"{task}: {len(result['failures'])} clip(s) could not be loaded and are not counted.")
        return "\n".join(lines) + "\n\n" + "\n".join(f"- {note}" for note in notes) + "\n"


def _metric_label(row: TableRow) -> str:
    return f"{row.metric} (%)" if row.task in PERCENT_TASKS else row.metric


def _format(row: TableRow) -> str:
    if row.value is None:
        return "n/a"
    return f"{100 * row.value:.2f}" if row.task in PERCENT_TASKS else f"{row.value:.4f}"


def supported_tasks(model: Any) -> set[str]:
    """The protocols a model can run: embedding or ranking models classify, embedders retrieve, generators write."""
    tasks = set()
    if isinstance(model, AudioTextEmbedder | CandidateScorer):
        tasks.add("zeroshot")
    if isinstance(model, AudioTextEmbedder):
        tasks.add("retrieval")
    if isinstance(model, AudioTextGenerator):
        tasks |= {"caption", "qa"}
    return tasks


def multi_label_zeroshot(model: Any, loaded: LoadedDataset, cache: FeatureCache,
                         templates: Sequence[str], progress: bool) -> dict[str, Any]:
    """Macro/micro mAP over the official class list, whatever the number of labels per clip."""
    rows = loaded.rows
    clips = clip_scores(model, cache, [row.audio for row in rows], loaded.class_names, templates, progress=progress)
    if not clips.index:
        raise AuralignError("no clip could be loaded")
    column = {name: c for c, name in enumerate(loaded.class_names)}
    targets = np.zeros(clips.vectors.shape, dtype=bool)
    for r, i in enumerate(clips.index):
        targets[r, [column[label] for label in rows[i].labels]] = True
    return {"task": "zeroshot", "n": len(clips.index), "n_classes": len(loaded.class_names), "multi_label": True,
            "templates": list(templates), **evaluate_multi_label(clips.vectors, targets, loaded.class_names).as_dict(),
            "failures": [{"audio": str(p), "reason": r} for p, r in clips.failures]}


def _run_task(task: str, model: Any, loaded: LoadedDataset, cache: FeatureCache, templates: Sequence[str],
              progress: bool) -> dict[str, Any]:
    from auralign.evaluation.captioning import evaluate_captioning, evaluate_qa

    if task == "zeroshot" and loaded.multi_label:
        return multi_label_zeroshot(model, loaded, cache, templates, progress)
    if task == "zeroshot":
        return evaluate_zeroshot(model, loaded.rows, cache, loaded.class_names or None, templates, progress=progress)
    if task == "retrieval":
        return evaluate_retrieval(model, loaded.rows, cache, progress=progress)
    if task == "caption":
        return evaluate_captioning(model, loaded.rows, cache, progress=progress)
    return evaluate_qa(model, loaded.rows, cache, progress=progress)


def headline_metrics(task: str, result: dict[str, Any]) -> list[tuple[str, float | None]]:
    if task == "zeroshot":
        return [("mAP", result["mAP"])] if result.get("multi_label") else [("top-1 accuracy", result["top1"])]
    if task == "retrieval":
        return [(f"{direction} {k}", result[direction][k]) for direction, k in RETRIEVAL_HEADLINES]
    if task == "caption":
        return [(metric, result.get(metric)) for metric in CAPTION_METRICS if metric not in ("BLEU_2", "BLEU_3")]
    if task == "linear_probe":
        return [("accuracy", result["accuracy"])]
    return [("accuracy", result["accuracy"]), ("binary accuracy", result["binary_accuracy"])]


def _linear_probe(loaded: LoadedDataset, cache: FeatureCache, progress: bool) -> dict[str, Any]:
    """The frozen encoder's probe: official folds when the rows span several (ESC-50, US8K), else
    group-aware 5-fold cross-validation inside the evaluated split."""
    from auralign.evaluation.probe_features import evaluate_linear_probe

    official_folds = len({row.split for row in loaded.rows}) > 1
    return evaluate_linear_probe(loaded.rows, cache, split_folds=official_folds, progress=progress)


def run_benchmark(dataset: str, root: str | Path, model: Any, split: str | None = None,
                  cache: FeatureCache | None = None, model_name: str = "model",
                  templates: Sequence[str] = DEFAULT_TEMPLATES, progress: bool = True,
                  linear_probe: bool = False) -> BenchmarkReport:
    """Load ``dataset`` from ``root`` in its official layout and run each protocol ``model`` supports.

    ``split`` defaults to the split papers report on (see the registry); pass another official
    split (e.g. ``fold1``) to evaluate that one instead. ``linear_probe`` adds, on single-label
    classification benchmarks, a logistic-regression probe of the model's frozen audio encoder:
    the reference its zero-shot accuracy can be compared with.
    """
    benchmark = get_benchmark(dataset)
    tasks = [task for task in benchmark.tasks if task in supported_tasks(model)]
    if linear_probe and "zeroshot" in benchmark.tasks:
        tasks.append("linear_probe")
    if not tasks:
        raise AuralignError(f"{benchmark.title} needs a model that can do {' or '.join(benchmark.tasks)}; "
                            f"{type(model).__name__} cannot")
    split = split or benchmark.eval_split
    root = Path(root).expanduser()
    if not root.is_dir():
        raise AuralignError(f"benchmark root is not a folder: {root}")
    loaded = benchmark.load(root, split)
    if not loaded.rows:
        raise AuralignError(f"{benchmark.title}: no clips with audio in split {split or 'all'} under {root}")
    cache = cache or FeatureCache(model.audio_encoder)
    report = BenchmarkReport(benchmark, split, model_name, len(loaded.rows), loaded.missing_audio)
    if "linear_probe" in tasks and loaded.multi_label:
        raise AuralignError(f"{benchmark.title} is multi-label; the linear probe needs one label per clip")
    for task in tasks:
        if task == "linear_probe":
            result = _linear_probe(loaded, cache, progress)
        else:
            result = _run_task(task, model, loaded, cache, templates, progress)
        report.results[task] = result
        report.table += [TableRow(benchmark.title, split or "all", task, metric, value, result["n"])
                         for metric, value in headline_metrics(task, result)]
    return report
