"""`auralign demo`: the main job on the built-in defaults, end to end on real recordings.

Classifies ten real recordings that ship with auralign (Scratch 1.4's sound library, CC BY-SA 3.0,
a source no shipped model was trained on) among free-text labels, and says which it got right;
then, where ../shared/data/fsdd is there, recognises spoken digits of a speaker never trained on.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import typer
from rich.markup import escape

from auralign.cli.common import console, print_json, stdout, user_errors

DEMO_DIR = Path(__file__).resolve().parent.parent / "resources" / "demo"
# file -> the free-text label a person would type for it (the demo's candidate list is all of them)
DEMO_LABELS = {
    "dog.flac": "a dog barking",
    "rooster.flac": "a rooster crowing",
    "cat.flac": "a cat meowing",
    "typing.flac": "typing on a keyboard",
    "running-water.flac": "running water",
    "baby-crying.flac": "a baby crying",
    "laughter.flac": "people laughing",
    "guitar.flac": "a guitar",
    "door-creak.flac": "a creaking door",
    "car-passing.flac": "a car passing by",
}


def demo(model: str = typer.Option("general", help="Shipped model name or checkpoint path."),
         as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Free-text classification of ten real recordings, then spoken digits of an unseen speaker."""
    _demo(model, as_json)


@user_errors
def _demo(model_name: str, as_json: bool) -> None:
    from auralign.data.feature_cache import FeatureCache
    from auralign.evaluation.zeroshot import classify_files
    from auralign.models.factory import load_model

    model = load_model(model_name)
    cache = FeatureCache(model.audio_encoder)
    labels = list(DEMO_LABELS.values())
    classified = classify_files(model, [DEMO_DIR / name for name in DEMO_LABELS], labels, top_k=2, cache=cache)
    right = [Path(p["audio"]).name for p in classified.predictions
             if p["top"][0]["label"] == DEMO_LABELS[Path(p["audio"]).name]]
    digits = _spoken_digits(model, cache, progress=not as_json)
    if as_json:
        print_json({"task": "demo", "model": model_name,
                    "real_sounds": {"n": len(classified.predictions), "right": len(right),
                                    "chance": round(1 / len(labels), 3), "predictions": classified.predictions},
                    "spoken_digits": digits})
        return
    console.print(f"model {model_name}: {len(DEMO_LABELS)} real recordings from Scratch 1.4 (never trained on), "
                  f"{len(labels)} free-text labels", soft_wrap=True)
    for prediction in classified.predictions:
        name = Path(prediction["audio"]).name
        mark = "right" if name in right else f"wrong (is: {DEMO_LABELS[name]})"
        best = ", ".join(f"{p['label']} ({p['score']:.2f})" for p in prediction["top"])
        stdout.print(escape(f"{name}: {best}  {mark}"), highlight=False, soft_wrap=True)
    stdout.print(f"right: {len(right)} of {len(classified.predictions)} (chance {1 / len(labels):.2f})")
    if digits:
        stdout.print(f"spoken digits, unseen speaker: top-1 {digits['top1']:.3f}, top-5 {digits['top5']:.3f} "
                     f"(n={digits['n']}, chance 0.100)")


def _spoken_digits(model, cache, progress: bool) -> dict[str, float] | None:
    """Zero-shot digit words on FSDD's held-out speaker, or None without ../shared/data/fsdd."""
    from auralign.data.fsdd import DIGIT_WORDS, fsdd_rows
    from auralign.errors import AuralignError
    from auralign.evaluation.zeroshot import evaluate_zeroshot

    try:
        test_rows = [row for row in fsdd_rows() if row.split == "test"]
    except AuralignError:
        return None
    # the corpus names FSDD's classes "spoken digit <word>" (docs/corpus.md), so the prompts do too
    names = {word: f"spoken digit {word}" for word in DIGIT_WORDS}
    rows = [dataclasses.replace(row, labels=[names[label] for label in row.labels]) for row in test_rows]
    result = evaluate_zeroshot(model, rows, cache, list(names.values()), progress=progress)
    return {key: result[key] for key in ("n", "top1", "top5")}
