"""The general model minus each ingredient: train each variant of configs/general.yaml, evaluate it
with bench/eval_general.py, and print one markdown table (docs/general.md).

    python bench/ablate_general.py --steps 1000 --out runs/ablate-general            # every variant
    python bench/ablate_general.py --only general --only "- ontology text" ...         # some of them

Every variant trains with the same seed and budget and is evaluated at its last step (no checkpoint
choice), on lso_dev and test_unseen (at most --max-per-label clips per label) and their
mixtures. lso_test is never read here.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MULTI_SOURCE_INSTRUMENTS = ["source=musescore-sf", "source=timgm6mb", "source=avldrums", "phrase"]
VARIANTS: dict[str, list[str]] = {
    "general": [],
    "- ontology text (corpus captions only)": ["data.texts=captions"],
    "- teacher distillation": ["model.teacher_weight=0"],
    "- second and third sound font, AVL kits, phrases": [f"data.exclude_rows={','.join(MULTI_SOURCE_INSTRUMENTS)}"],
    "- balanced draws and speech cap": ["data.balance=none", "data.speech_share=null"],
    "- locked text space (projection head)": ["model.text_head=projection", "model.embed_dim=256"],
    "+ augmentation (recording preset, 1 copy)": ["data.augment_variants=1", "data.augment.preset=recording"],
}


def slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name).strip("-").replace("--", "-")


def run(command: list[str], log: Path, errors: Path | None = None) -> float:
    """Run `command`, its output in `log` (and its stderr in `errors` when given, else in `log` too)."""
    started = time.monotonic()
    with open(log, "w") as out, open(errors or log, "a") as err:
        subprocess.run(command, check=True, stdout=out, stderr=err if errors else subprocess.STDOUT, cwd=ROOT)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="configs/general.yaml")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=Path("runs/ablate-general"))
    parser.add_argument("--only", action="append", default=None)
    parser.add_argument("--max-per-label", type=int, default=10)
    parser.add_argument("--teacher-weights", default="0")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    manifest = "runs/corpus-general/manifest.jsonl"
    for name in args.only or list(VARIANTS):
        folder = args.out / slug(name)  # the run's output_dir: the trainer wants it new or empty
        result_file = folder / "eval.json"
        if result_file.is_file():
            continue
        if not (folder / "final").is_dir():
            seconds = run([str(Path(sys.executable).parent / "auralign"), "train", "clap", "--config", args.config,
                           *VARIANTS[name], f"train.max_steps={args.steps}", "train.eval_every=0",
                           f"train.save_every={args.steps}", f"train.output_dir={folder}"],
                          args.out / f"{slug(name)}.train.log")
            (folder / "train_seconds.txt").write_text(f"{seconds:.0f}\n")
        run([sys.executable, str(ROOT / "bench/eval_general.py"), "--manifest", manifest,
             "--mixtures", "runs/corpus-general/mixtures.jsonl", "--model", str(folder / "final"),
             "--splits", "lso_dev,test_unseen", "--max-per-label", str(args.max_per_label),
             "--teacher-weights", args.teacher_weights], folder / "eval.log", folder / "eval.err")
        report = json.loads((folder / "eval.log").read_text())
        result_file.write_text(json.dumps(report, indent=1))
    print_table(args.out, args.only or list(VARIANTS))


def print_table(out: Path, names: list[str]) -> None:
    print("| variant | lso_dev top-1 / top-5 | lso_dev top-1 with the teacher prior at 0.3 "
          "| lso_dev real instruments top-1 | test_unseen top-1 | test_unseen mixtures mAP | train s |")
    print("|---|---|---|---|---|---|---|")
    for name in names:
        folder = out / slug(name)
        if not (folder / "eval.json").is_file():
            continue
        splits = json.loads((folder / "eval.json").read_text())["splits"]
        dev, unseen = splits["lso_dev"], splits["test_unseen"]
        seconds = (folder / "train_seconds.txt").read_text().strip() if (folder / "train_seconds.txt").is_file() else "-"
        prior = dev["all"].get("top1@teacher0.3", float("nan"))
        print(f"| {name} | {dev['all']['top1']:.3f} / {dev['all']['top5']:.3f} (n={dev['all']['n']}) | {prior:.3f} "
              f"| {dev['real_instruments'].get('top1', float('nan')):.3f} (n={dev['real_instruments']['n']}) "
              f"| {unseen['all']['top1']:.3f} (n={unseen['all']['n']}) "
              f"| {unseen['mixtures'].get('mAP', float('nan')):.3f} | {seconds} |")


if __name__ == "__main__":
    main()
