"""Training-time validation, one function for every method: zero-shot accuracy on the validation
rows, by embedding similarity (CLAP, CoLLAT, SLIT stage 1) or by candidate ranking (SLIT stages 2-3
and MATS, which run the LLM once per clip, hence `max_clips`).

Single-label rows give `val_top1` over their own vocabulary, multi-label rows `val_mAP` over theirs.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

from auralign.data.feature_cache import FeatureCache
from auralign.data.manifest import ManifestRow, label_vocabulary
from auralign.evaluation.zeroshot import DEFAULT_TEMPLATES, evaluate_zeroshot

EvalFn = Callable[[Any, int], dict[str, float]]


def spread_sample(rows: Sequence[ManifestRow], limit: int | None, seed: int) -> list[ManifestRow]:
    """Up to `limit` single-label rows (all when None), round-robin over labels so every class is represented."""
    rows = [row for row in rows if len(row.labels) == 1]
    if limit is None or limit >= len(rows):
        return rows
    by_label: dict[str, list[ManifestRow]] = {}
    for row in random.Random(seed).sample(rows, len(rows)):
        by_label.setdefault(row.labels[0], []).append(row)
    chosen: list[ManifestRow] = []
    while len(chosen) < limit and any(by_label.values()):
        for label in sorted(by_label):
            if by_label[label] and len(chosen) < limit:
                chosen.append(by_label[label].pop())
    return chosen


def zeroshot_validation(rows: Sequence[ManifestRow], cache: FeatureCache, method: str = "auto",
                        max_clips: int | None = None, seed: int = 0) -> EvalFn | None:
    """`eval_fn(model, step)` for the trainer, or None when no row has a label.

    `max_clips` draws a fixed subset of the single-label rows (every class before any twice) and
    leaves the multi-label rows out; the candidates stay the whole split's vocabulary. `method` is
    `evaluate_zeroshot`'s: "ranking" for models that score candidates with an LLM."""
    single = [row for row in rows if len(row.labels) == 1]
    multi = [] if max_clips is not None else [row for row in rows if len(row.labels) > 1]
    if not single and not multi:
        return None
    single_names = label_vocabulary(single)
    if max_clips is not None:
        single = spread_sample(single, max_clips, seed)

    def evaluate(model: Any, step: int) -> dict[str, float]:
        metrics = {}
        if single:
            result = evaluate_zeroshot(model, single, cache, single_names, DEFAULT_TEMPLATES, progress=False,
                                       method=method)
            metrics["val_top1"] = float(result["top1"])
        if multi:
            result = evaluate_zeroshot(model, multi, cache, label_vocabulary(multi), DEFAULT_TEMPLATES,
                                       progress=False, method=method)
            metrics["val_mAP"] = float(result["mAP"])
        return metrics

    return evaluate
