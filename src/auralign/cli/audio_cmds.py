"""`auralign embed`, `embed-text` and `classify`: batch commands over files and folders.

Batch commands go on past bad files, list every failure at the end, and exit non-zero only when
nothing succeeded (or on the first failure with `--strict`).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.table import Table

from auralign.audio.io import find_audio_files
from auralign.cli.common import (
    FORCE,
    MAX_SECONDS,
    atomic_file,
    bound_heap_growth,
    check_output,
    console,
    print_json,
    shown,
    stdout,
    user_errors,
)
from auralign.errors import AuralignError

PRECISION = typer.Option("fp32", help="Audio encoder precision: fp32 (exact), or the opt-in bf16 / int8 "
                         "(not exact, and slower on CPUs without bf16/VNNI units: docs/performance.md).")


def with_precision(encoder: Any, precision: str) -> Any:
    """Set the aiSFX encoder's precision; other encoders only run fp32."""
    if hasattr(encoder, "use_precision"):
        return encoder.use_precision(precision)
    if precision != "fp32":
        raise AuralignError(f"--precision {precision} needs the aiSFX audio encoder")
    return encoder


def report_failures(failures: list[tuple[Path, str]], n_ok: int, strict: bool) -> None:
    for path, reason in failures:
        console.print(f"[red]failed:[/red] {shown(path)}: {shown(reason)}", highlight=False, soft_wrap=True)
    if failures:
        console.print(f"{n_ok} succeeded, {len(failures)} failed", highlight=False)
    if n_ok == 0 or (strict and failures):
        raise typer.Exit(1)


def _inputs(paths: list[Path]) -> list[Path]:
    files = find_audio_files(paths)
    if not files:
        raise AuralignError("no audio files found in the given paths")
    return files


def _save_embeddings(out: Path, files: list[Path], vectors: np.ndarray) -> None:
    with atomic_file(out) as tmp, open(tmp, "wb") as handle:
        if out.suffix == ".npy":
            np.save(handle, vectors)
        else:
            np.savez(handle, paths=np.array([str(f) for f in files]), embeddings=vectors)
    console.print(f"wrote {len(files)} embeddings to {shown(out)}", highlight=False)


def embed(
    inputs: list[Path] = typer.Argument(..., help="Audio files or folders."),
    model: str | None = typer.Option(None, help="A model name or checkpoint: joint-space embeddings. "
                                     "Default: the audio encoder's own 512-d clip embedding."),
    out: Path | None = typer.Option(None, help="Write embeddings to .npz (paths + embeddings) or .npy."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    window_seconds: float = typer.Option(10.0, help="Long files are embedded in windows of this length."),
    strict: bool = typer.Option(False, help="Exit non-zero if any file fails."),
    force: bool = FORCE,
    max_seconds: float | None = MAX_SECONDS,
    precision: str = PRECISION,
) -> None:
    """Audio embeddings of files and folders."""
    _embed(inputs, model, out, as_json, window_seconds, strict, force, max_seconds, precision)


@user_errors
def _embed(inputs: list[Path], model_name: str | None, out: Path | None, as_json: bool,
           window_seconds: float, strict: bool, force: bool = False,
           max_seconds: float | None = None, precision: str = "fp32") -> None:
    from auralign.evaluation.embedding import embed_clips, encoder_clip_embeddings

    bound_heap_growth()
    files = _inputs(inputs)
    if out is not None:
        check_output(out, [*inputs, *files], force=force)
    if model_name is None:
        from auralign.backbones.factory import load_audio_encoder

        result = encoder_clip_embeddings(with_precision(load_audio_encoder(), precision), files,
                                         window_seconds=window_seconds, max_seconds=max_seconds)
    else:
        from auralign.data.feature_cache import FeatureCache, WindowPolicy
        from auralign.models.factory import load_model

        model = load_model(model_name)
        with_precision(model.audio_encoder, precision)
        with tempfile.TemporaryDirectory(prefix="auralign-features-") as tmp:
            cache = FeatureCache(model.audio_encoder, root=tmp, policy=WindowPolicy(window_seconds),
                                 max_seconds=max_seconds)
            result = embed_clips(model, cache, files)
    ok_files = [files[i] for i in result.index]
    if out is not None and ok_files:
        _save_embeddings(out, ok_files, result.vectors)
    if as_json:
        print_json({"embeddings": [{"audio": str(f), "embedding": v} for f, v in zip(ok_files, result.vectors,
                                                                                      strict=True)],
                    "dim": int(result.vectors.shape[1]) if ok_files else None,
                    "failures": [{"audio": str(p), "reason": r} for p, r in result.failures]})
    elif out is None:
        for file, vector in zip(ok_files, result.vectors, strict=True):
            stdout.print(f"{shown(file)}: dim {len(vector)}, norm {np.linalg.norm(vector):.3f}", highlight=False)
    report_failures(result.failures, len(ok_files), strict)


def embed_text(
    texts: list[str] = typer.Argument(..., help="Texts to embed."),
    model: str = typer.Option("general", help="A model name or checkpoint (joint-space embeddings), or "
                              "'backbone' for the text encoder's own sentence embedding."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Text embeddings."""
    _embed_text(texts, None if model == "backbone" else model, as_json)


@user_errors
def _embed_text(texts: list[str], model_name: str | None, as_json: bool) -> None:
    import torch

    if model_name is None:
        from auralign.backbones.factory import load_text_encoder

        with torch.inference_mode():
            vectors = load_text_encoder().encode_texts(texts).pooled.numpy()
    else:
        from auralign.evaluation.embedding import embed_texts
        from auralign.models.factory import load_model

        vectors = embed_texts(load_model(model_name), texts)
    if as_json:
        print_json({"embeddings": [{"text": t, "embedding": v} for t, v in zip(texts, vectors, strict=True)],
                    "dim": int(vectors.shape[1])})
    else:
        for text, vector in zip(texts, vectors, strict=True):
            stdout.print(f"{shown(repr(text))}: dim {len(vector)}, norm {np.linalg.norm(vector):.3f}", highlight=False)


def _parse_labels(labels: str | None, labels_file: Path | None) -> list[str]:
    names: list[str] = []
    if labels:
        names += [part.strip() for part in labels.split(",") if part.strip()]
    if labels_file:
        if not labels_file.is_file():
            raise AuralignError(f"labels file not found: {labels_file}")
        names += [line.strip() for line in labels_file.read_text().splitlines() if line.strip()]
    names = list(dict.fromkeys(names))
    if len(names) < 2:
        raise AuralignError("give at least two candidate labels (--labels 'a, b, c' or --labels-file)")
    return names


def classify(
    inputs: list[Path] = typer.Argument(..., help="Audio files or folders."),
    labels: str | None = typer.Option(None, help="Comma-separated candidate labels."),
    labels_file: Path | None = typer.Option(None, help="A file with one label per line."),
    model: str = typer.Option("general", help="Shipped model name or checkpoint path."),
    top_k: int = typer.Option(3, help="How many labels to show per file."),
    template: list[str] = typer.Option(None, help="Prompt template(s) with '{label}' (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    strict: bool = typer.Option(False, help="Exit non-zero if any file fails."),
    max_seconds: float | None = MAX_SECONDS,
    precision: str = PRECISION,
) -> None:
    """Zero-shot classification of sounds among free-text labels."""
    _classify(inputs, labels, labels_file, model, top_k, template, as_json, strict, max_seconds, precision)


@user_errors
def _classify(inputs: list[Path], labels: str | None, labels_file: Path | None, model_name: str, top_k: int,
              templates: list[str] | None, as_json: bool, strict: bool,
              max_seconds: float | None = None, precision: str = "fp32") -> None:
    from auralign.data.feature_cache import FeatureCache
    from auralign.evaluation.zeroshot import DEFAULT_TEMPLATES, classify_files
    from auralign.models.factory import load_model

    bound_heap_growth()
    names = _parse_labels(labels, labels_file)
    files = _inputs(inputs)
    model = load_model(model_name)
    with_precision(model.audio_encoder, precision)
    with tempfile.TemporaryDirectory(prefix="auralign-features-") as tmp:
        cache = FeatureCache(model.audio_encoder, root=tmp, max_seconds=max_seconds)
        result = classify_files(model, files, names, templates or DEFAULT_TEMPLATES, top_k=top_k, cache=cache)
    if as_json:
        print_json({"task": "classify", "model": model_name, "labels": names, "predictions": result.predictions,
                    "failures": [{"audio": str(p), "reason": r} for p, r in result.failures]})
    else:
        table = Table(show_header=True)
        table.add_column("audio")
        table.add_column(f"top {top_k}")
        for prediction in result.predictions:
            table.add_row(shown(prediction["audio"]), ", ".join(f"{shown(p['label'])} ({p['score']:.2f})"
                                                         for p in prediction["top"]))
        stdout.print(table)
    report_failures(result.failures, len(result.predictions), strict)
