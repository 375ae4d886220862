"""Captioning and audio question answering with a generative model (SLIT, MATS) over a manifest.

Long clips: a generator writes from one window only, the clip's *first* window as the feature
cache cut it (10 s by default), the same policy as ``auralign caption``. AudioCaps clips are 10 s so
nothing is lost; Clotho clips (15-30 s) are described from their first 10 s, which is what a
10-s-context model can see. Averaging window tokens would blur two events into one that never
happened, and captioning every window gives several captions where the metrics expect one.

QA manifest convention (the rows :func:`evaluate_qa` reads):

- ``question`` (required): the question about the clip, kept in ``row.extra``;
- ``answer`` (required): the reference answer; in JSONL it may be a list of acceptable answers
  (e.g. one per annotator), any of which counts as correct;
- ``choices`` (optional): the candidate answers for text matching, a JSONL list or a ``;``-separated
  string; when no row has any, the set of every row's (first) reference answer is the vocabulary.

Several rows may share a clip and a question (ClothoAQA has one row per annotator): the answer is
generated once and scored against every row, so each official row counts once, as in the paper.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from auralign.backbones.base import Decoding
from auralign.data.feature_cache import FeatureCache, pad_tokens
from auralign.data.manifest import ManifestRow
from auralign.errors import AudioLoadError, AuralignError
from auralign.evaluation.caption_metrics import score_captions
from auralign.evaluation.qa_metrics import (
    YES_NO,
    Embedder,
    accuracy,
    balanced_binary_accuracy,
    binary_accuracy,
    normalize_answer,
    text_matching_accuracy,
)
from auralign.models.base import AudioTextEmbedder, AudioTextGenerator
from auralign.progress import progress_bar

GENERATION_BATCH = 8
Failures = list[tuple[Path, str]]


def _require_generator(model: Any) -> AudioTextGenerator:
    if not isinstance(model, AudioTextGenerator):
        raise AuralignError(f"{type(model).__name__} cannot generate text (use a SLIT or MATS model)")
    return model


def first_windows(cache: FeatureCache, paths: Sequence[Path], progress: bool) -> tuple[dict[Path, np.ndarray], Failures]:
    """Each loadable clip's first window of frame tokens, keyed by path; failures are listed."""
    unique = list(dict.fromkeys(paths))
    failures = cache.ensure(unique, progress=progress)
    failed = {Path(p) for p, _ in failures}
    windows = {}
    for path in unique:
        if path in failed:
            continue
        try:
            windows[path] = cache.get(path).windows()[0]
        except AudioLoadError as error:
            failures.append((path, error.reason))
    return windows, failures


@torch.inference_mode()
def generate_texts(model: AudioTextGenerator, windows: Sequence[np.ndarray], instruction: str | None = None,
                   decoding: Decoding | None = None, progress: bool = False) -> list[str]:
    """One text per window, in batches: the one generation path of the CLI, the server, the Python API
    and evaluation. `instruction` None is the model's captioning prompt."""
    texts: list[str] = []
    with progress_bar(len(windows), "generating", enabled=progress) as advance:
        for start in range(0, len(windows), GENERATION_BATCH):
            chunk = windows[start:start + GENERATION_BATCH]
            texts.extend(model.generate(*pad_tokens(chunk), instruction=instruction, decoding=decoding))
            advance(len(chunk))
    return texts


def describe_files(model: Any, cache: FeatureCache, paths: Sequence[Path], instruction: str | None = None,
                   decoding: Decoding | None = None, progress: bool = False) -> tuple[list[tuple[Path, str]], Failures]:
    """(path, text) for every loadable file, from its first window; the files that failed, with why."""
    generator = _require_generator(model)
    windows, failures = first_windows(cache, paths, progress)
    kept = [path for path in dict.fromkeys(paths) if path in windows]
    generator.eval()
    texts = generate_texts(generator, [windows[path] for path in kept], instruction, decoding, progress)
    return list(zip(kept, texts, strict=True)), failures


def _failure_records(failures: Failures) -> list[dict[str, str]]:
    return [{"audio": str(path), "reason": reason} for path, reason in failures]


def evaluate_captioning(model: Any, rows: Sequence[ManifestRow], cache: FeatureCache,
                        instruction: str | None = None, decoding: Decoding | None = None,
                        progress: bool = True) -> dict[str, Any]:
    """One caption per clip (from its first window), scored against ``row.captions``.

    Returns ``{"task": "caption", "n", BLEU_1..4, METEOR, ROUGE_L, CIDEr, SPICE, SPIDEr,
    "unavailable": {metric: reason}, "predictions": [{"id", "audio", "caption"}], "failures"}``.
    """
    generator = _require_generator(model)
    rows = [row for row in rows if row.captions]
    if not rows:
        raise AuralignError("captioning evaluation needs rows with reference captions")
    duplicated = sorted(clip_id for clip_id, count in Counter(row.id for row in rows).items() if count > 1)
    if duplicated:
        raise AuralignError(f"clip ids must be unique for captioning, repeated: {duplicated[:3]}")
    windows, failures = first_windows(cache, [row.audio for row in rows], progress)
    kept = [row for row in rows if row.audio in windows]
    if not kept:
        raise AuralignError("no clip could be loaded")
    generator.eval()
    captions = generate_texts(generator, [windows[row.audio] for row in kept], instruction, decoding, progress)
    scores = score_captions({row.id: c for row, c in zip(kept, captions, strict=True)},
                            {row.id: row.captions for row in kept})
    predictions = [{"id": row.id, "audio": str(row.audio), "caption": caption}
                   for row, caption in zip(kept, captions, strict=True)]
    return {"task": "caption", "n": len(kept), **scores.to_json(), "predictions": predictions,
            "failures": _failure_records(failures)}


# ---------------------------------------------------------------------------------------------
# Question answering


def _answers(row: ManifestRow) -> list[str]:
    """The acceptable reference answers of a QA row (a string, or a list in JSONL)."""
    value: Any = row.extra.get("answer")
    answers = [value] if isinstance(value, str) else list(value or [])
    answers = [str(a) for a in answers if str(a).strip()]
    if not answers:
        raise AuralignError(f"{row.id}: a QA row needs a non-empty 'answer'")
    return answers


def _question(row: ManifestRow) -> str:
    question = row.extra.get("question")
    if not isinstance(question, str) or not question.strip():
        raise AuralignError(f"{row.id}: a QA row needs a non-empty 'question'")
    return question


def _choices(row: ManifestRow) -> list[str]:
    value: Any = row.extra.get("choices")
    if isinstance(value, str):
        return [part.strip() for part in value.split(";") if part.strip()]
    return [str(choice) for choice in value or []]


def model_text_embedder(model: Any) -> Embedder | None:
    """Text embeddings for text matching: the model's joint space, else its text encoder, else None."""
    if isinstance(model, AudioTextEmbedder):
        from auralign.evaluation.embedding import embed_texts

        return lambda texts: embed_texts(model, texts)
    encoder = getattr(model, "text_encoder", None)
    if encoder is not None and hasattr(encoder, "encode_texts"):
        def embed(texts: list[str]) -> np.ndarray:
            with torch.inference_mode():
                return encoder.encode_texts(texts).pooled.float().numpy()
        return embed
    return None


def _generate_answers(model: AudioTextGenerator, rows: Sequence[ManifestRow], windows: dict[Path, np.ndarray],
                      decoding: Decoding | None, progress: bool) -> list[str]:
    """One generated answer per row, generating once per distinct (clip, question), batched by question."""
    by_question: dict[str, list[Path]] = {}
    for row in rows:
        clips = by_question.setdefault(_question(row), [])
        if row.audio not in clips:
            clips.append(row.audio)
    answers: dict[tuple[Path, str], str] = {}
    with progress_bar(len(rows), "answering", enabled=progress) as advance:
        for question, clips in by_question.items():
            texts = generate_texts(model, [windows[clip] for clip in clips], question, decoding)
            answers.update({(clip, question): text for clip, text in zip(clips, texts, strict=True)})
            advance(sum(_question(row) == question for row in rows))
    return [answers[(row.audio, _question(row))] for row in rows]


def _binary_scores(predictions: list[str], references: list[list[str]]) -> dict[str, Any]:
    """B-ACC over the rows whose first reference answer is yes or no (None when there are none)."""
    firsts = [answers[0] for answers in references]
    n_binary = sum(normalize_answer(a) in YES_NO for a in firsts)
    if not n_binary:
        return {"binary_accuracy": None, "balanced_binary_accuracy": None, "n_binary": 0}
    return {"binary_accuracy": binary_accuracy(predictions, firsts),
            "balanced_binary_accuracy": balanced_binary_accuracy(predictions, firsts), "n_binary": n_binary}


def _text_matching(predictions: list[str], rows: Sequence[ManifestRow], references: list[list[str]],
                   embed: Embedder | None) -> tuple[float | None, str | None]:
    """MATS's text-matching accuracy over the choices (or the answer vocabulary); (None, why) if impossible.

    Answers and labels are compared after the same normalisation as exact-match accuracy.
    """
    if embed is None:
        return None, "the model has no text encoder to match answers to candidate labels"
    targets = [normalize_answer(answers[0]) for answers in references]
    labels = sorted({normalize_answer(c) for row in rows for c in _choices(row)} or set(targets))
    if not set(targets) <= set(labels):
        return None, "some reference answers are not among the rows' choices"
    answers = [normalize_answer(p) for p in predictions]
    return text_matching_accuracy(answers, targets, labels, embed), None


def evaluate_qa(model: Any, rows: Sequence[ManifestRow], cache: FeatureCache, decoding: Decoding | None = None,
                text_embedder: Embedder | None = None, progress: bool = True) -> dict[str, Any]:
    """Answer each row's question from its clip's first window and score the answers.

    Reports exact-match ``accuracy`` (after answer normalisation, any acceptable answer counts), the
    yes/no ``binary_accuracy`` and ``balanced_binary_accuracy`` over the yes/no rows, and
    ``text_matching_accuracy`` with ``text_embedder`` (default: the model's own text embeddings).
    A metric that cannot be computed is ``None`` with its reason in ``unavailable``.
    """
    generator = _require_generator(model)
    rows = [row for row in rows if "question" in row.extra]
    if not rows:
        raise AuralignError("QA evaluation needs rows with a 'question' and an 'answer'")
    references_all = [_answers(row) for row in rows]
    windows, failures = first_windows(cache, [row.audio for row in rows], progress)
    kept_index = [i for i, row in enumerate(rows) if row.audio in windows]
    if not kept_index:
        raise AuralignError("no clip could be loaded")
    kept = [rows[i] for i in kept_index]
    references = [references_all[i] for i in kept_index]
    generator.eval()
    predictions = _generate_answers(generator, kept, windows, decoding, progress)
    binary = _binary_scores(predictions, references)
    matching, matching_reason = _text_matching(predictions, kept, references,
                                               text_embedder or model_text_embedder(model))
    unavailable = {}
    if binary["binary_accuracy"] is None:
        unavailable["binary_accuracy"] = "no row has a yes/no reference answer"
    if matching_reason:
        unavailable["text_matching_accuracy"] = matching_reason
    outputs = [{"id": row.id, "audio": str(row.audio), "question": _question(row), "answer": answer}
               for row, answer in zip(kept, predictions, strict=True)]
    return {"task": "qa", "n": len(kept), "accuracy": accuracy(predictions, references), **binary,
            "text_matching_accuracy": matching, "unavailable": unavailable, "predictions": outputs,
            "failures": _failure_records(failures)}

