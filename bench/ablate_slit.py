"""SLIT stage ablation in the spirit of the paper's Table 5, on a manifest's test splits.

Evaluates four trained SLIT models (train them with `auralign train slit`, see docs/slit.md):

* Stage 1: no LLM; classification by embedding similarity: the trained max-over-queries ATC score
  ("max") and the single-vector embedding of the shared evaluation ("mean" of the query projections);
* Stage 1+2, Stage 1+3, Stage 1+2+3: classification by vocabulary ranking (log-likelihood of each
  candidate label under the frozen LLM after "This is a sound of"), and captioning metrics (greedy)
  on the rows that have reference captions.

The candidates of a split are the labels that occur in it (single-label rows only). `--max-clips`
evaluates a fixed seeded subset of each split (the LLM runs once per clip on CPU). Prints a markdown
table and writes JSON:

    python bench/ablate_slit.py --manifest runs/fsdd/manifest.jsonl --splits test \
        --stage1 runs/slit-stage1/final --stage12 runs/slit-stage2/final \
        --stage13 runs/slit-stage3-from1/final --stage123 runs/slit-stage3/final --out runs/slit-ablation.json
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path
from typing import Any

import torch

from auralign.data.feature_cache import FeatureCache
from auralign.data.manifest import ManifestRow, label_vocabulary, read_manifest
from auralign.evaluation.captioning import evaluate_captioning
from auralign.evaluation.zeroshot import DEFAULT_TEMPLATES, evaluate_zeroshot
from auralign.models.factory import load_model

VARIANTS = {"stage1": "Stage 1", "stage12": "Stage 1+2", "stage13": "Stage 1+3", "stage123": "Stage 1+2+3"}
CAPTION_METRICS = ("BLEU_4", "METEOR", "ROUGE_L", "CIDEr")


def subset(rows: list[ManifestRow], max_clips: int | None, seed: int) -> list[ManifestRow]:
    if max_clips is None or len(rows) <= max_clips:
        return rows
    return random.Random(seed).sample(rows, max_clips)


def evaluate_variant(variant: str, folder: Path, splits: dict[str, list[ManifestRow]], cache_dir: str | None,
                     captions: bool) -> dict[str, Any]:
    model = load_model(folder).eval()
    cache = FeatureCache(model.audio_encoder, cache_dir)
    results: dict[str, Any] = {"model": str(folder)}
    for split, rows in splits.items():
        labelled = [row for row in rows if len(row.labels) == 1]
        class_names = label_vocabulary(labelled)
        started = time.monotonic()
        ranked = evaluate_zeroshot(model, labelled, cache, class_names, method="ranking", progress=False)
        entry: dict[str, Any] = {"n": ranked["n"], "n_classes": len(class_names), "top1": ranked["top1"],
                                 "seconds": round(time.monotonic() - started, 1)}
        if variant == "stage1":
            embedded = evaluate_zeroshot(model, labelled, cache, class_names, DEFAULT_TEMPLATES,
                                         method="embedding", progress=False)
            entry["top1_mean_embedding"] = embedded["top1"]
        captioned = [row for row in rows if row.captions]
        if captions and variant != "stage1" and captioned:
            started = time.monotonic()
            scored = evaluate_captioning(model, captioned, cache, progress=False)
            entry["caption"] = {name: scored[name] for name in CAPTION_METRICS}
            entry["caption"]["n"] = scored["n"]
            entry["caption"]["seconds"] = round(time.monotonic() - started, 1)
            entry["caption_examples"] = scored["predictions"][:5]
        results[split] = entry
        print(json.dumps({variant: {split: entry}}), flush=True)
    return results


def markdown_table(results: dict[str, dict[str, Any]], splits: list[str]) -> str:
    header = "| Variant | " + " | ".join(
        f"{split} top-1 | {split} CIDEr | {split} METEOR" for split in splits) + " |"
    lines = [header, "|" + "---|" * (1 + 3 * len(splits))]
    for variant, result in results.items():
        cells = []
        for split in splits:
            entry = result[split]
            top1 = f"{100 * entry['top1']:.1f}"
            if "top1_mean_embedding" in entry:
                top1 += f" (mean-emb {100 * entry['top1_mean_embedding']:.1f})"
            caption = entry.get("caption", {})
            cells += [top1, _fmt(caption.get("CIDEr")), _fmt(caption.get("METEOR"))]
        lines.append(f"| {VARIANTS[variant]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--splits", nargs="+", default=["test", "test_unseen"])
    for variant, title in VARIANTS.items():
        parser.add_argument(f"--{variant}", type=Path, help=f"{title} model folder")
    parser.add_argument("--max-clips", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-captions", action="store_true")
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("runs/slit-ablation.json"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = read_manifest(args.manifest)
    splits = {split: subset([row for row in rows if row.split == split], args.max_clips, args.seed)
              for split in args.splits}
    splits = {split: chosen for split, chosen in splits.items() if chosen}
    results = {variant: evaluate_variant(variant, getattr(args, variant), splits, args.cache_dir,
                                         not args.no_captions)
               for variant in VARIANTS if getattr(args, variant) is not None}
    table = markdown_table(results, list(splits))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"splits": {s: len(r) for s, r in splits.items()}, "results": results,
                                    "table": table}, indent=2) + "\n")
    print(table)


if __name__ == "__main__":
    main()
