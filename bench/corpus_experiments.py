"""Two corpus experiments with CLAP, each a table of zero-shot numbers.

`labels`: how the unseen-label zero-shot accuracy grows with the number of training labels. For
each N, train and val keep only the clips of N training labels (a seeded permutation, so the
smaller sets are subsets of the larger ones: `restrict_training_labels`); test_unseen is the same
for every run. Every run gets the same budget (steps, batch, learning rate) and is evaluated at its
last step, so nothing is selected on any evaluation split.

    python bench/corpus_experiments.py labels --manifest runs/corpus/manifest.jsonl --labels 50 100 0 \
        --steps 1000 --out runs/label-scaling          # 0 = every training label

`augment`: how much waveform augmentation closes the gap between rendered and real clips. CLAP is
trained on the rendered (`is_synthetic`) training clips only, once without augmentation and once
with `--variants` augmented copies per clip; both are evaluated zero-shot over the rendered
vocabulary on the rendered val clips and on every real clip whose label is in that vocabulary (the
model never trained on a real clip, so all of them are held out from it).

    python bench/corpus_experiments.py augment --manifest runs/corpus/manifest.jsonl --variants 2 \
        --steps 1000 --out runs/augment-gap

Runs already trained in `--out` are reused; results go to `<out>/results.json` and a markdown table.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from auralign.corpus.splits import restrict_training_labels
from auralign.data.feature_cache import FeatureCache, WindowPolicy
from auralign.data.manifest import ManifestRow, label_vocabulary, read_manifest, write_manifest
from auralign.evaluation.zeroshot import evaluate_zeroshot
from auralign.models.factory import load_model
from auralign.training.recipe import load_run_config, run

CLAP_SETTINGS = ["model.audio_layers=1", "train.batch_size=64", "train.lr=1e-3", "train.warmup_steps=100",
                 "train.eval_every=0", "train.log_every=25"]


def train(manifest: Path, folder: Path, steps: int, extra: list[str]) -> tuple[Path, float]:
    """Train CLAP once into `folder` (resumed or reused if already there); returns (final, seconds)."""
    final, timing = folder / "final", folder / "train_seconds.json"
    if not (final.is_dir() and timing.is_file()):
        started = time.monotonic()
        overrides = [f"data.manifest={manifest}", f"train.output_dir={folder}", f"train.max_steps={steps}",
                     f"train.save_every={max(steps // 4, 1)}", *CLAP_SETTINGS, *extra]
        run(load_run_config("clap", None, overrides), resume=True)
        timing.write_text(json.dumps({"seconds": round(time.monotonic() - started, 1)}) + "\n")
    return final, json.loads(timing.read_text())["seconds"]


def zeroshot(model_path: Path, rows: list[ManifestRow], class_names: list[str]) -> dict[str, float]:
    model = load_model(str(model_path))
    cache = FeatureCache(model.audio_encoder, None, WindowPolicy(10.0))
    result = evaluate_zeroshot(model, rows, cache, class_names, progress=False)
    return {"top1": round(float(result["top1"]), 4), "top5": round(float(result["top5"]), 4), "n": len(rows)}


def label_scaling(args: argparse.Namespace) -> dict[str, dict]:
    rows = read_manifest(args.manifest)
    unseen = [row for row in rows if row.split == "test_unseen" and len(row.labels) == 1]
    unseen_names = label_vocabulary(unseen)
    all_train = len({label for row in rows if row.split == "train" for label in row.labels})
    results = {}
    for n in args.labels:
        n = n or all_train
        folder = args.out / f"labels{n}"
        manifest = folder / "manifest.jsonl"
        if not manifest.is_file():
            write_manifest(restrict_training_labels(rows, n, seed=args.seed), manifest)
        train_rows = [row for row in read_manifest(manifest) if row.split == "train"]
        final, seconds = train(manifest, folder, args.steps, [f"train.seed={args.seed}"])
        name = f"{n} training labels ({len(train_rows)} clips)"
        results[name] = {"train_seconds": seconds, "test_unseen": zeroshot(final, unseen, unseen_names)}
        print(json.dumps({name: results[name]}), flush=True)
    return results


def augment_gap(args: argparse.Namespace) -> dict[str, dict]:
    rows = read_manifest(args.manifest)
    rendered = [row for row in rows if row.extra.get("is_synthetic") and len(row.labels) == 1]
    vocabulary = label_vocabulary(rendered)
    manifest = args.out / "rendered_manifest.jsonl"
    if not manifest.is_file():
        write_manifest([row for row in rendered if row.split in ("train", "val")], manifest)
    eval_sets = {
        "rendered val": [row for row in rendered if row.split == "val"],
        "real (labels in the rendered vocabulary)": [
            row for row in rows if not row.extra.get("is_synthetic") and len(row.labels) == 1
            and row.labels[0] in vocabulary],
    }
    results = {}
    for name, variants in (("no augmentation", 0), (f"{args.variants} augmented variants", args.variants)):
        folder = args.out / f"variants{variants}"
        final, seconds = train(manifest, folder, args.steps,
                               [f"data.augment_variants={variants}", f"train.seed={args.seed}"])
        results[name] = {"train_seconds": seconds,
                         **{split: zeroshot(final, eval_rows, vocabulary) for split, eval_rows in eval_sets.items()}}
        print(json.dumps({name: results[name]}), flush=True)
    return results


def markdown(results: dict[str, dict]) -> str:
    columns = sorted({key for row in results.values() for key, value in row.items() if isinstance(value, dict)})
    lines = ["| run | " + " | ".join(f"{c} top-1 (n)" for c in columns) + " | train s |",
             "|---|" + "---|" * (len(columns) + 1)]
    for name, row in results.items():
        cells = [f"{row[c]['top1']:.3f} ({row[c]['n']})" for c in columns]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {row['train_seconds']:.0f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("experiment", choices=["labels", "augment"])
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--labels", type=int, nargs="+", default=[50, 100, 0], help="0 = every training label")
    parser.add_argument("--variants", type=int, default=2)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    results = label_scaling(args) if args.experiment == "labels" else augment_gap(args)
    (args.out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    table = markdown(results)
    (args.out / "results.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
