"""`auralign eval ...`: every evaluation takes `--manifest` and prints one JSON object with `--json`."""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from auralign.cli import decoding as opts
from auralign.cli.common import FORCE, MAX_SECONDS, check_output, print_json, stdout, user_errors
from auralign.data.manifest import read_manifest

if TYPE_CHECKING:
    from auralign.data.feature_cache import FeatureCache

app = typer.Typer(help="Evaluate a model on a manifest.", no_args_is_help=True)

MANIFEST = typer.Option(..., "--manifest", "-m", help="CSV or JSONL manifest of the clips to evaluate.")
MODEL = typer.Option("general", help="Shipped model name (general, clap-fsdd, ...) or checkpoint path.")
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


def _cache(stack: ExitStack, encoder: Any, persistent: bool, max_seconds: float | None) -> FeatureCache:
    from auralign.data.feature_cache import FeatureCache  # torch: imported when a command runs

    root = None if persistent else stack.enter_context(tempfile.TemporaryDirectory(prefix="auralign-features-"))
    return FeatureCache(encoder, root=root, max_seconds=max_seconds)


@app.command("zeroshot")
@user_errors
def zeroshot(
    manifest: Path = MANIFEST,
    model: str = MODEL,
    split: str | None = SPLIT,
    labels_file: Path | None = typer.Option(None, help="Class list, one per line (default: the manifest's labels)."),
    template: list[str] = typer.Option(None, help="Prompt template(s) with '{label}' (repeatable: ensemble)."),
    confusion_png: Path | None = typer.Option(None, help="Write a confusion-matrix PNG (single-label)."),
    cache: bool = CACHE, max_seconds: float | None = MAX_SECONDS,
    as_json: bool = JSON,
    force: bool = FORCE,
) -> None:
    """Zero-shot classification: top-1/top-5/per-class accuracy, or mAP for multi-label rows."""
    from auralign.evaluation.zeroshot import DEFAULT_TEMPLATES, evaluate_zeroshot
    from auralign.models.factory import load_model

    if confusion_png is not None:
        check_output(confusion_png, [manifest, *([labels_file] if labels_file else [])], force=force)
    rows = read_manifest(manifest, split)
    class_names = None
    if labels_file is not None:
        class_names = [line.strip() for line in labels_file.read_text().splitlines() if line.strip()]
    loaded = load_model(model)
    with ExitStack() as stack:
        result = evaluate_zeroshot(loaded, rows, _cache(stack, loaded.audio_encoder, cache, max_seconds), class_names,
                                   template or DEFAULT_TEMPLATES, confusion_png, progress=not as_json)
    result["model"] = model
    _emit(result, as_json, ["n", "n_classes", "top1", "top5", "balanced_acc", "mAP"])


@app.command("retrieval")
@user_errors
def retrieval(manifest: Path = MANIFEST, model: str = MODEL, split: str | None = SPLIT,
              cache: bool = CACHE, max_seconds: float | None = MAX_SECONDS, as_json: bool = JSON) -> None:
    """Text-to-audio and audio-to-text retrieval: R@1/5/10, mAP@10, MRR, median rank."""
    from auralign.evaluation.zeroshot import evaluate_retrieval
    from auralign.models.factory import load_model

    rows = read_manifest(manifest, split)
    loaded = load_model(model)
    with ExitStack() as stack:
        result = evaluate_retrieval(loaded, rows, _cache(stack, loaded.audio_encoder, cache, max_seconds),
                                    progress=not as_json)
    result["model"] = model
    _emit(result, as_json, ["n", "n_captions", "t2a", "a2t"])


CAPTION_KEYS = ["n", "BLEU_4", "METEOR", "ROUGE_L", "CIDEr", "SPICE", "SPIDEr"]


def _emit(result: dict[str, Any], as_json: bool, summary_keys: list[str]) -> None:
    """One JSON object with --json; otherwise the summary keys and any metric that could not run."""
    if as_json:
        print_json(result)
        return
    _print_summary(result, summary_keys)
    for metric, reason in result.get("unavailable", {}).items():
        stdout.print(f"{metric}: unavailable ({reason})", highlight=False)


@app.command("caption-scores")
@user_errors
def caption_scores(
    candidates: Path = typer.Option(..., help='JSONL of {"id": ..., "caption": "..."}, one per clip.'),
    references: Path = typer.Option(..., help='JSONL of {"id": ..., "captions": ["...", ...]}.'),
    as_json: bool = JSON,
) -> None:
    """Score captions written by any system: BLEU, METEOR, ROUGE-L, CIDEr-D, SPICE, SPIDEr (no model)."""
    from auralign.evaluation.caption_metrics import (
        load_candidates_jsonl,
        load_references_jsonl,
        score_captions,
    )

    reference_captions = load_references_jsonl(references)
    written = load_candidates_jsonl(candidates, reference_captions)
    result = {"task": "caption", "n": len(written), **score_captions(written, reference_captions).to_json()}
    _emit(result, as_json, CAPTION_KEYS)


@app.command("caption")
@user_errors
def caption(manifest: Path = MANIFEST, model: str | None = typer.Option(
                None, help="A captioner (default mats-caption; with --retrieve an embedding model, default general)."),
            retrieve: bool = typer.Option(False, "--retrieve", help="Score the retrieval floor of `model`."),
            split: str | None = SPLIT, instruction: str | None = typer.Option(
                None, help="Prompt for the model (default: its own captioning prompt)."),
            num_beams: int = opts.NUM_BEAMS, max_new_tokens: int = opts.MAX_NEW_TOKENS,
            min_new_tokens: int = opts.MIN_NEW_TOKENS, no_repeat_ngram_size: int = opts.NO_REPEAT_NGRAM,
            repetition_penalty: float = opts.REPETITION_PENALTY, sample: bool = opts.SAMPLE,
            temperature: float = opts.TEMPERATURE, top_p: float = opts.TOP_P, seed: int = opts.SEED,
            cache: bool = CACHE, max_seconds: float | None = MAX_SECONDS, as_json: bool = JSON) -> None:
    """Caption each clip (its first window) and score against the manifest's captions."""
    from auralign.evaluation.captioning import evaluate_captioning
    from auralign.models.factory import load_captioner

    decoding = opts.decoding(num_beams, max_new_tokens, min_new_tokens, no_repeat_ngram_size, repetition_penalty,
                             sample, temperature, top_p, seed)
    rows = read_manifest(manifest, split)
    loaded = load_captioner(model, retrieve)
    with ExitStack() as stack:
        result = evaluate_captioning(loaded, rows, _cache(stack, loaded.audio_encoder, cache, max_seconds), instruction,
                                     decoding, progress=not as_json)
    result["model"] = model
    _emit(result, as_json, CAPTION_KEYS)


@app.command("qa")
@user_errors
def qa(manifest: Path = MANIFEST, model: str | None = typer.Option(None, help="A generative model "
                                                                   "(default mats-caption; slit, path)."),
       split: str | None = SPLIT, num_beams: int = opts.NUM_BEAMS, max_new_tokens: int = opts.MAX_NEW_TOKENS,
       min_new_tokens: int = opts.MIN_NEW_TOKENS, no_repeat_ngram_size: int = opts.NO_REPEAT_NGRAM,
       repetition_penalty: float = opts.REPETITION_PENALTY, sample: bool = opts.SAMPLE,
       temperature: float = opts.TEMPERATURE, top_p: float = opts.TOP_P, seed: int = opts.SEED,
       cache: bool = CACHE, max_seconds: float | None = MAX_SECONDS, as_json: bool = JSON) -> None:
    """Answer each row's `question` about its clip; accuracy against `answer`, yes/no accuracy, text matching."""
    from auralign.evaluation.captioning import evaluate_qa
    from auralign.models.factory import load_captioner

    decoding = opts.decoding(num_beams, max_new_tokens, min_new_tokens, no_repeat_ngram_size, repetition_penalty,
                             sample, temperature, top_p, seed)
    rows = read_manifest(manifest, split)
    loaded = load_captioner(model)
    with ExitStack() as stack:
        result = evaluate_qa(loaded, rows, _cache(stack, loaded.audio_encoder, cache, max_seconds), decoding,
                             progress=not as_json)
    result["model"] = model
    _emit(result, as_json, ["n", "accuracy", "binary_accuracy", "balanced_binary_accuracy",
                                "text_matching_accuracy"])


@app.command("linear-probe")
@user_errors
def linear_probe(
    manifest: Path = MANIFEST,
    encoder: str | None = typer.Option(None, help="Audio backbone name or folder (default: the packaged one)."),
    split: str | None = SPLIT,
    cv_folds: int = typer.Option(5, help="Outer cross-validation folds (group-aware when rows have a group)."),
    test_split: str | None = typer.Option(None, help="Score once on this split, training on all other rows."),
    split_folds: bool = typer.Option(False, help="Each split is one test fold in turn (e.g. ESC-50's fold1..5)."),
    seed: int = typer.Option(0, help="Seed of the fold assignment."),
    cache: bool = CACHE, max_seconds: float | None = MAX_SECONDS,
    as_json: bool = JSON,
) -> None:
    """Logistic regression on frozen encoder features: the reference a zero-shot model is compared with."""
    from auralign.backbones.factory import load_audio_encoder
    from auralign.evaluation.probe_features import evaluate_linear_probe

    rows = read_manifest(manifest, split)
    audio_encoder = load_audio_encoder(encoder)
    with ExitStack() as stack:
        result = evaluate_linear_probe(rows, _cache(stack, audio_encoder, cache, max_seconds), cv_folds, test_split, seed,
                                       split_folds, progress=not as_json)
    result["encoder"] = encoder or "default"
    _emit(result, as_json, ["n", "n_classes", "protocol", "accuracy", "std"])
