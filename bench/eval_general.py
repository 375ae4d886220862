"""The general model's evaluation: one JSON object with every number of docs/general.md's table.

For each requested split of a corpus manifest: zero-shot top-1/top-5 over the split's own label
vocabulary; the same restricted to real instrument and drum recordings with only their labels as
candidates ("name the instrument"); and multi-label mAP on the split's mixtures. Every accuracy
comes with n, the number of classes and chance level. Choose anything (templates, teacher weight,
checkpoint) on `lso_dev` / `val`; run `lso_test` / `test` once.

    python bench/eval_general.py --manifest runs/corpus-general/manifest.jsonl \
        --mixtures runs/corpus-general/mixtures.jsonl --model general --splits lso_dev,val,test_unseen
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from auralign.data.feature_cache import FeatureCache
from auralign.data.manifest import ManifestRow, label_vocabulary, read_manifest
from auralign.evaluation.zeroshot import DEFAULT_TEMPLATES, evaluate_zeroshot
from auralign.models.factory import load_model

INSTRUMENT_KINDS = frozenset({"instrument", "drum", "music"})


def is_real_instrument(row: ManifestRow) -> bool:
    synthetic = str(row.extra.get("is_synthetic", "false")).lower() == "true"
    return str(row.extra.get("kind", "")) in INSTRUMENT_KINDS and not synthetic


def single_label(model: Any, rows: Sequence[ManifestRow], cache: FeatureCache,
                 templates: Sequence[str]) -> dict[str, Any]:
    rows = [row for row in rows if len(row.labels) == 1]
    if not rows:
        return {"n": 0}
    result = evaluate_zeroshot(model, rows, cache, label_vocabulary(rows), templates, progress=False)
    return {"top1": round(result["top1"], 4), "top5": round(result["top5"], 4), "n": result["n"],
            "n_classes": result["n_classes"], "chance_top1": round(1 / result["n_classes"], 4),
            "failures": len(result["failures"])}


def mixtures_map(model: Any, rows: Sequence[ManifestRow], cache: FeatureCache,
                 templates: Sequence[str]) -> dict[str, Any]:
    if not rows:
        return {"n": 0}
    result = evaluate_zeroshot(model, rows, cache, label_vocabulary(rows), templates, progress=False)
    return {"mAP": round(result["mAP"], 4), "n": result["n"], "n_classes": result["n_classes"]}


def evaluate_split(model: Any, rows: Sequence[ManifestRow], mixtures: Sequence[ManifestRow], split: str,
                   cache: FeatureCache, templates: Sequence[str]) -> dict[str, Any]:
    chosen = [row for row in rows if row.split == split and row.labels]
    return {
        "all": single_label(model, chosen, cache, templates),
        "real_instruments": single_label(model, [row for row in chosen if is_real_instrument(row)], cache,
                                         templates),
        "mixtures": mixtures_map(model, [row for row in mixtures if row.split == split], cache, templates),
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--manifest", required=True, type=Path)
    parser.add_argument("--mixtures", type=Path, default=None)
    parser.add_argument("--model", default="general")
    parser.add_argument("--splits", default="lso_dev,val,test_unseen")
    parser.add_argument("--template", action="append", default=None,
                        help="prompt template with {label} (repeatable: ensemble)")
    args = parser.parse_args(argv)
    model = load_model(args.model)
    cache = FeatureCache(model.audio_encoder)
    rows = read_manifest(args.manifest)
    mixtures = read_manifest(args.mixtures) if args.mixtures else []
    templates = tuple(args.template or DEFAULT_TEMPLATES)
    report = {"model": args.model, "manifest": str(args.manifest), "templates": list(templates),
              "splits": {split: evaluate_split(model, rows, mixtures, split, cache, templates)
                         for split in args.splits.split(",")}}
    json.dump(report, sys.stdout, indent=1, allow_nan=False)
    print()
    return report


if __name__ == "__main__":
    main()
