"""`auralign eval ...`: every evaluation takes `--manifest` and prints one JSON object with `--json`."""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import typer

from auralign.cli.common import print_json, stdout, user_errors
from auralign.data.feature_cache import FeatureCache
from auralign.data.manifest import read_manifest

app = typer.Typer(help="Evaluate a model on a manifest.", no_args_is_help=True)

MANIFEST = typer.Option(..., "--manifest", "-m", help="CSV or JSONL manifest of the clips to evaluate.")
MODEL = typer.Option("clap", help="Shipped model name (clap, ...) or checkpoint path.")
SPLIT = typer.Option(None, help="Only rows of this split (e.g. test).")
JSON = typer.Option(False, "--json", help="Print one JSON object.")
CACHE = typer.Option(True, help="Reuse (and fill) the frame-token cache in $AURALIGN_HOME/features.")


def _print_summary(result: dict[str, Any], keys: list[str]) -> None:
    for key in keys:
        value = result.get(key)
        if isinstance(value, dict):
            stdout.print(f"{key}: " + ", ".join(f"{k} {v:.4f}" for k, v in value.items()), highlight=False)
        elif value is not None:
            stdout.print(f"{key}: {value:.4f}" if isinstance(value, float) else f"{key}: {value}", highlight=False)


def _cache(stack: ExitStack, encoder: Any, persistent: bool) -> FeatureCache:
    root = None if persistent else stack.enter_context(tempfile.TemporaryDirectory(prefix="auralign-features-"))
    return FeatureCache(encoder, root=root)


@app.command("zeroshot")
@user_errors
def zeroshot(
    manifest: Path = MANIFEST,
    model: str = MODEL,
    split: str | None = SPLIT,
    labels_file: Path | None = typer.Option(None, help="Class list, one per line (default: the manifest's labels)."),
    template: list[str] = typer.Option(None, help="Prompt template(s) with '{label}' (repeatable: ensemble)."),
    confusion_png: Path | None = typer.Option(None, help="Write a confusion-matrix PNG (single-label)."),
    cache: bool = CACHE,
    as_json: bool = JSON,
) -> None:
    """Zero-shot classification: top-1/top-5/per-class accuracy, or mAP for multi-label rows."""
    from auralign.evaluation.zeroshot import DEFAULT_TEMPLATES, evaluate_zeroshot
    from auralign.models.factory import load_model

    rows = read_manifest(manifest, split)
    class_names = None
    if labels_file is not None:
        class_names = [line.strip() for line in labels_file.read_text().splitlines() if line.strip()]
    loaded = load_model(model)
    with ExitStack() as stack:
        result = evaluate_zeroshot(loaded, rows, _cache(stack, loaded.audio_encoder, cache), class_names,
                                   template or DEFAULT_TEMPLATES, confusion_png, progress=not as_json)
    result["model"] = model
    if as_json:
        print_json(result)
    else:
        _print_summary(result, ["n", "n_classes", "top1", "top5", "balanced_acc", "mAP"])


@app.command("retrieval")
@user_errors
def retrieval(manifest: Path = MANIFEST, model: str = MODEL, split: str | None = SPLIT,
              cache: bool = CACHE, as_json: bool = JSON) -> None:
    """Text-to-audio and audio-to-text retrieval: R@1/5/10, mAP@10, MRR, median rank."""
    from auralign.evaluation.zeroshot import evaluate_retrieval
    from auralign.models.factory import load_model

    rows = read_manifest(manifest, split)
    loaded = load_model(model)
    with ExitStack() as stack:
        result = evaluate_retrieval(loaded, rows, _cache(stack, loaded.audio_encoder, cache), progress=not as_json)
    result["model"] = model
    if as_json:
        print_json(result)
    else:
        _print_summary(result, ["n", "n_captions", "t2a", "a2t"])
