"""The general model's evaluation: one JSON object with every number of docs/general.md's table.

For each requested split of a corpus manifest: zero-shot top-1/top-5 over the split's own label
vocabulary; the same restricted to real instrument and drum recordings with only their labels as
candidates ("name the instrument"); and multi-label mAP on the split's mixtures. Every accuracy
comes with n, the number of classes and chance level. With `--teacher-weights`, each number is also
given for the model with the aiSFX teacher's ConSE prior attached at each weight
(`auralign.evaluation.teacher_prior.attach_prior`, what `models export --teacher-prior` ships). Choose anything (templates, teacher weight, checkpoint) on
`lso_dev` / `val`; run `lso_test` / `test` once.

    python bench/eval_general.py --manifest runs/corpus-general/manifest.jsonl \
        --mixtures runs/corpus-general/mixtures.jsonl --model general --splits lso_dev,val,test_unseen
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from auralign.data.feature_cache import FeatureCache
from auralign.data.manifest import ManifestRow, label_vocabulary, read_manifest
from auralign.data.sampling import cap_clips_per_label
from auralign.evaluation.embedding import embed_clips
from auralign.evaluation.metrics import evaluate_multi_label, evaluate_single_label
from auralign.evaluation.zeroshot import DEFAULT_TEMPLATES, class_embeddings
from auralign.models.factory import load_model

INSTRUMENT_KINDS = frozenset({"instrument", "drum", "music"})
Scorer = Callable[[Sequence[ManifestRow], Sequence[str]], tuple[dict[float, np.ndarray], list[int]]]


def is_real_instrument(row: ManifestRow) -> bool:
    synthetic = str(row.extra.get("is_synthetic", "false")).lower() == "true"
    return str(row.extra.get("kind", "")) in INSTRUMENT_KINDS and not synthetic


def make_scorer(model: Any, cache: FeatureCache, templates: Sequence[str], weights: Sequence[float]) -> Scorer:
    """rows, class names -> ({teacher weight: (n_ok, C) scores}, index of the rows that loaded). A weight
    above 0 scores the model with the teacher prior attached at that weight, as `models export
    --teacher-prior` would ship it."""
    from auralign.evaluation.teacher_prior import attach_prior

    models = {w: attach_prior(model, w) if w > 0 else model for w in weights}

    def score(rows: Sequence[ManifestRow], class_names: Sequence[str]) -> tuple[dict[float, np.ndarray], list[int]]:
        paths = [row.audio for row in rows]
        classes = class_embeddings(model, class_names, templates)  # the prior leaves the text side as it is
        out, index = {}, []
        for weight, scored in models.items():
            clips = embed_clips(scored, cache, paths, progress=False)
            out[weight], index = clips.vectors @ classes.T, clips.index
        return out, index

    return score


def single_label(score: Scorer, rows: Sequence[ManifestRow]) -> dict[str, Any]:
    rows = [row for row in rows if len(row.labels) == 1]
    if not rows:
        return {"n": 0}
    names = label_vocabulary(rows)
    column = {name: c for c, name in enumerate(names)}
    by_weight, index = score(rows, names)
    targets = np.array([column[rows[i].labels[0]] for i in index])
    result: dict[str, Any] = {"n": len(index), "n_classes": len(names), "chance_top1": round(1 / len(names), 4)}
    for weight, scores in by_weight.items():
        measured = evaluate_single_label(scores, targets, names)
        key = "" if weight == 0 else f"@teacher{weight:g}"
        result[f"top1{key}"] = round(measured.top1, 4)
        result[f"top5{key}"] = round(measured.top5, 4)
    return result


def mixtures_map(score: Scorer, rows: Sequence[ManifestRow]) -> dict[str, Any]:
    if not rows:
        return {"n": 0}
    names = label_vocabulary(rows)
    column = {name: c for c, name in enumerate(names)}
    by_weight, index = score(rows, names)
    targets = np.zeros((len(index), len(names)), dtype=bool)
    for r, i in enumerate(index):
        targets[r, [column[label] for label in rows[i].labels]] = True
    result: dict[str, Any] = {"n": len(index), "n_classes": len(names)}
    for weight, scores in by_weight.items():
        result["mAP" + ("" if weight == 0 else f"@teacher{weight:g}")] = round(
            evaluate_multi_label(scores, targets, names).mAP, 4)
    return result


def evaluate_split(score: Scorer, rows: Sequence[ManifestRow], mixtures: Sequence[ManifestRow],
                   split: str, max_per_label: int | None = None) -> dict[str, Any]:
    chosen = cap_clips_per_label([row for row in rows if row.split == split and row.labels], max_per_label)
    return {
        "all": single_label(score, chosen),
        "real_instruments": single_label(score, [row for row in chosen if is_real_instrument(row)]),
        "mixtures": mixtures_map(score, [row for row in mixtures if row.split == split and row.labels]),
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", required=True, type=Path)
    parser.add_argument("--mixtures", type=Path, default=None)
    parser.add_argument("--model", default="general")
    parser.add_argument("--splits", default="lso_dev,val,test_unseen")
    parser.add_argument("--template", action="append", default=None,
                        help="prompt template with {label} (repeatable: ensemble)")
    parser.add_argument("--max-per-label", type=int, default=None,
                        help="evaluate at most this many clips per label of each split (a seeded choice)")
    parser.add_argument("--teacher-weights", default="0", help="comma-separated weights of the teacher prior")
    args = parser.parse_args(argv)
    model = load_model(args.model)
    templates = tuple(args.template or DEFAULT_TEMPLATES)
    weights = [float(w) for w in args.teacher_weights.split(",")]
    score = make_scorer(model, FeatureCache(model.audio_encoder), templates, weights)
    rows = read_manifest(args.manifest)
    mixtures = read_manifest(args.mixtures) if args.mixtures else []
    report = {"model": args.model, "manifest": str(args.manifest), "templates": list(templates),
              "max_per_label": args.max_per_label,
              "splits": {split: evaluate_split(score, rows, mixtures, split, args.max_per_label) for split in args.splits.split(",")}}
    json.dump(report, sys.stdout, indent=1, allow_nan=False)
    print()
    return report


if __name__ == "__main__":
    main()
