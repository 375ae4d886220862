"""MATS ablation in the spirit of the paper's Table 4: which modality transfer feeds the mapper at inference.

Variants (one trained model unless noted):
  memory-only       audio replaced by the softmax mix of its top-L memory entries, no k-means (DRCap-like)
  noise-only        the raw audio embedding (Santa off; the model was trained with noise)
  santa             the full method: nearest k-means cluster, top-L members, lambda blend with the audio
  santa w/o k-means top-L over the whole memory
  w/o memory bank   identical to noise-only by construction (Santa without a memory is the identity)
  w/o audio emb.    lambda = 1 with k-means: only memory entries reach the mapper
  w/o Gaussian noise a second model trained with model.noise_std=0, evaluated with full Santa

Metrics: zero-shot top-1 by the paper's text matching (generate an answer to "Classify events in the
audio clip.", match it to the class names with the text encoder) on each `--eval` manifest split, and
caption metrics where the rows have captions and `--captions` is given. CLAP embeddings of every clip
are computed once; each variant only re-runs Santa, the mapper and the LLM.

    python bench/ablate_mats.py --model runs/mats-fsdd/final --no-noise-model runs/mats-fsdd-nogn/final \\
        --eval runs/fsdd/manifest.jsonl:test --max-clips 100 --out bench/results/mats_ablation

`--balances 0.1 0.5 --variants lambda` evaluates only Santa at those lambdas: the lambda search, on val.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from auralign.data.feature_cache import FeatureCache
from auralign.data.manifest import ManifestRow, label_vocabulary, read_manifest
from auralign.evaluation.embedding import per_clip_mean
from auralign.evaluation.qa_metrics import match_to_labels
from auralign.evaluation.validation import spread_sample
from auralign.models.factory import load_model
from auralign.models.mats import MatsModel


@dataclass(frozen=True)
class Variant:
    name: str
    enabled: bool = True
    use_kmeans: bool = True
    balance: float | None = None  # None: the model's own lambda
    no_noise_model: bool = False


VARIANTS = [
    Variant("memory-only (DRCap-like)", use_kmeans=False, balance=1.0),
    Variant("noise-only (no Santa)", enabled=False),
    Variant("Santa (MATS)"),
    Variant("- w/o k-means", use_kmeans=False),
    Variant("- w/o memory bank", enabled=False),
    Variant("- w/o audio embedding", balance=1.0),
    Variant("- w/o Gaussian noise", no_noise_model=True),
]


def audio_embeddings(model: MatsModel, rows: list[ManifestRow]) -> tuple[torch.Tensor, list[ManifestRow]]:
    clips = per_clip_mean(model.embed_audio_tokens, FeatureCache(model.audio_encoder), [r.audio for r in rows],
                          progress=False)
    return torch.from_numpy(clips.vectors), [rows[i] for i in clips.index]


def generate_all(model: MatsModel, embeddings: torch.Tensor, instruction: str, max_new_tokens: int,
                 batch_size: int) -> list[str]:
    out: list[str] = []
    for start in range(0, len(embeddings), batch_size):
        transferred = model.transfer(embeddings[start:start + batch_size])
        out += model.generate_from_embeddings(transferred, instruction, max_new_tokens)
    return out


def configure(model: MatsModel, variant: Variant, default_balance: float) -> None:
    santa = model.config.santa
    santa.enabled = variant.enabled
    santa.use_kmeans = variant.use_kmeans
    santa.balance = default_balance if variant.balance is None else variant.balance


def evaluate_variant(model: MatsModel, embeddings: torch.Tensor, rows: list[ManifestRow], class_names: list[str],
                     captions: bool, batch_size: int) -> dict:
    answers = generate_all(model, embeddings, model.config.classify_instruction, model.config.answer_tokens,
                           batch_size)
    matched = match_to_labels(answers, class_names, lambda t: model.match_vectors(t).numpy())
    top1 = sum(m == row.labels[0] for m, row in zip(matched, rows, strict=True)) / len(rows)
    examples = [{"audio": str(r.audio), "label": r.labels[0], "answer": a}
                for r, a in list(zip(rows, answers, strict=True))[:10]]
    result = {"top1": top1, "distinct_answers": len(set(answers)), "examples": examples}
    if captions and all(row.captions for row in rows):
        from auralign.evaluation.caption_metrics import score_captions

        generated = generate_all(model, embeddings, model.config.default_instruction, 20, batch_size)
        scores = score_captions({str(i): c for i, c in enumerate(generated)},
                                {str(i): row.captions for i, row in enumerate(rows)})
        result["captioning"] = scores.to_json() if hasattr(scores, "to_json") else scores
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="mats")
    parser.add_argument("--no-noise-model", default=None, help="MATS trained with model.noise_std=0")
    parser.add_argument("--eval", action="append", required=True, help="MANIFEST:SPLIT (repeatable)")
    parser.add_argument("--max-clips", type=int, default=None)
    parser.add_argument("--captions", action="store_true", help="also caption and score against row captions")
    parser.add_argument("--variants", nargs="*", default=None, help="only variants whose name contains one of these")
    parser.add_argument("--balances", type=float, nargs="*", default=[],
                        help="also evaluate full Santa at each of these lambdas (a search to run on val only)")
    parser.add_argument("--batch-size", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("bench/results/mats_ablation"))
    args = parser.parse_args()
    models = {False: load_model(args.model)}
    if args.no_noise_model:
        models[True] = load_model(args.no_noise_model)
    default_balance = {key: model.config.santa.balance for key, model in models.items()}
    results: dict[str, dict] = {}
    for spec in args.eval:
        manifest, _, split = spec.rpartition(":")
        rows = spread_sample(read_manifest(manifest, split), args.max_clips, args.seed)
        class_names = label_vocabulary(read_manifest(manifest, split))
        embeddings = {key: audio_embeddings(model, rows) for key, model in models.items()}
        for variant in VARIANTS + [Variant(f"Santa, lambda={b:g}", balance=b) for b in args.balances]:
            if variant.no_noise_model not in models:
                continue
            if args.variants and not any(part in variant.name for part in args.variants):
                continue
            model = models[variant.no_noise_model]
            configure(model, variant, default_balance[variant.no_noise_model])
            vectors, kept = embeddings[variant.no_noise_model]
            start = time.time()
            outcome = evaluate_variant(model, vectors, kept, class_names, args.captions, args.batch_size)
            outcome["seconds"] = round(time.time() - start, 1)
            outcome["n"] = len(kept)
            results.setdefault(variant.name, {})[spec] = outcome
            print(f"{spec} | {variant.name} | top1 {outcome['top1']:.3f} | {outcome['distinct_answers']} distinct "
                  f"answers | {outcome['seconds']} s", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown_table(results, args.eval))
    print(markdown_table(results, args.eval))


def markdown_table(results: dict[str, dict], specs: list[str]) -> str:
    header = "| variant | " + " | ".join(f"top-1 {spec}" for spec in specs) + " |\n"
    header += "|---|" + "---|" * len(specs) + "\n"
    lines = []
    for name, per_spec in results.items():
        cells = [f"{per_spec[s]['top1']:.3f} (n={per_spec[s]['n']})" if s in per_spec else "-" for s in specs]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return header + "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
