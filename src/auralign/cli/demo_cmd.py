"""`auralign demo`: the main job on the built-in defaults, end to end on real recordings.

Builds the FSDD manifest from the shared data, evaluates the shipped model zero-shot on the test
speaker (a voice no training clip came from), and classifies a few of its clips among free-text labels.
"""

from __future__ import annotations

from pathlib import Path

import typer

from auralign.cli.common import console, print_json, stdout, user_errors


def demo(model: str = typer.Option("clap", help="Shipped model name or checkpoint path."),
         as_json: bool = typer.Option(False, "--json", help="Print one JSON object.")) -> None:
    """Zero-shot spoken-digit recognition on an unseen speaker, then free-text classification."""
    _demo(model, as_json)


@user_errors
def _demo(model_name: str, as_json: bool) -> None:
    from auralign.data.feature_cache import FeatureCache
    from auralign.data.fsdd import DIGIT_WORDS, fsdd_rows
    from auralign.evaluation.zeroshot import classify_files, evaluate_zeroshot
    from auralign.models.factory import load_model

    model = load_model(model_name)
    test_rows = [row for row in fsdd_rows() if row.split == "test"]
    cache = FeatureCache(model.audio_encoder)
    console.print(f"zero-shot on {len(test_rows)} FSDD clips of the held-out speaker, model {model_name}")
    result = evaluate_zeroshot(model, test_rows, cache, DIGIT_WORDS, progress=not as_json)
    examples = [Path(row.audio) for row in test_rows[::50]]
    labels = ["a person saying a number", "a dog barking", "rain falling", "a drum beat", "a car horn"]
    classified = classify_files(model, examples, labels, top_k=2, cache=cache)
    if as_json:
        print_json({"task": "demo", "model": model_name, "zeroshot": {k: result[k] for k in ("n", "top1", "top5")},
                    "classify": classified.predictions})
        return
    stdout.print(f"spoken digits, unseen speaker: top-1 {result['top1']:.3f}, top-5 {result['top5']:.3f} "
                 f"(n={result['n']}, chance 0.100)")
    for prediction in classified.predictions:
        best = ", ".join(f"{p['label']} ({p['score']:.2f})" for p in prediction["top"])
        stdout.print(f"{Path(prediction['audio']).name}: {best}", highlight=False)


