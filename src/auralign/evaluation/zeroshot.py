"""Zero-shot classification and retrieval of an embedding model over a manifest.

Class names become text prompts; with several templates, a class's text embedding is the
normalised mean over templates (a prompt ensemble, as CLIP does). Templates are a choice to make on
a validation split, never on the test split.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from auralign.data.feature_cache import FeatureCache
from auralign.data.manifest import ManifestRow, label_vocabulary
from auralign.errors import AuralignError
from auralign.evaluation.embedding import ClipEmbeddings, embed_clips, embed_texts, per_clip_mean
from auralign.evaluation.metrics import evaluate_multi_label, evaluate_single_label, retrieval_metrics
from auralign.evaluation.text_cache import cached_text_matrix
from auralign.models.base import AudioTextEmbedder, CandidateScorer

DEFAULT_TEMPLATES = ("This is a sound of {label}.",)


def class_embeddings(model: AudioTextEmbedder, class_names: Sequence[str],
                     templates: Sequence[str] = DEFAULT_TEMPLATES) -> np.ndarray:
    """(C, E) text embeddings of the classes, averaged over templates and re-normalised.

    Computed once per (model weights, class names, templates), then read from memory or disk
    (`auralign.evaluation.text_cache`); the returned matrix is read-only."""
    if not templates or any("{label}" not in t for t in templates):
        raise AuralignError("every prompt template must contain '{label}'")
    texts = [t.format(label=name) for name in class_names for t in templates]

    def compute() -> np.ndarray:
        vectors = embed_texts(model, texts).reshape(len(class_names), len(templates), -1).mean(axis=1)
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True).clip(min=1e-12)

    return cached_text_matrix(model, f"classes x{len(templates)}", texts, compute)


def clip_scores(model: Any, cache: FeatureCache, paths: Sequence[str | Path], class_names: Sequence[str],
                templates: Sequence[str] = DEFAULT_TEMPLATES, method: str = "auto",
                progress: bool = True) -> ClipEmbeddings:
    """(n_ok, C) class scores per clip that loaded.

    `method`: "embedding" = cosine between clip and prompt embeddings (CLAP, CoLLAT, SLIT stage 1);
    "ranking" = the model's own candidate scores (SLIT's log-likelihood ranking, MATS's text
    matching); "auto" = ranking when the model has it, else embedding.
    """
    use_ranking = method == "ranking" or (method == "auto" and isinstance(model, CandidateScorer))
    if use_ranking:
        if not isinstance(model, CandidateScorer):
            raise AuralignError(f"{type(model).__name__} cannot rank candidates")
        model.eval()
        return per_clip_mean(lambda t, m: model.score_candidates(t, m, list(class_names)), cache, paths,
                             batch_size=16, progress=progress)
    if not isinstance(model, AudioTextEmbedder):
        raise AuralignError(f"{type(model).__name__} has no joint audio-text embedding")
    clips = embed_clips(model, cache, paths, progress=progress)
    if clips.index:
        clips.vectors = clips.vectors @ class_embeddings(model, class_names, templates).T
    return clips


def evaluate_zeroshot(model: Any, rows: Sequence[ManifestRow], cache: FeatureCache,
                      class_names: Sequence[str] | None = None,
                      templates: Sequence[str] = DEFAULT_TEMPLATES,
                      confusion_png: str | Path | None = None, progress: bool = True,
                      method: str = "auto") -> dict[str, Any]:
    """Single-label top-1/top-5/per-class accuracy (every row has one label) or multi-label mAP."""
    rows = [row for row in rows if row.labels]
    if not rows:
        raise AuralignError("zero-shot evaluation needs rows with labels")
    class_names = list(class_names or label_vocabulary(rows))
    known = set(class_names)
    unknown = sorted({label for row in rows for label in row.labels} - known)
    if unknown:
        raise AuralignError(f"labels not in the class list: {', '.join(unknown[:10])}")
    clips = clip_scores(model, cache, [row.audio for row in rows], class_names, templates, method, progress)
    if not clips.index:
        raise AuralignError("no clip could be loaded")
    scores = clips.vectors
    kept = [rows[i] for i in clips.index]
    column = {name: c for c, name in enumerate(class_names)}
    multi_label = any(len(row.labels) > 1 for row in kept)
    if multi_label:
        targets = np.zeros(scores.shape, dtype=bool)
        for r, row in enumerate(kept):
            targets[r, [column[label] for label in row.labels]] = True
        result = evaluate_multi_label(scores, targets, class_names).as_dict()
    else:
        targets = np.array([column[row.labels[0]] for row in kept])
        result = evaluate_single_label(scores, targets, class_names).as_dict()
        if confusion_png:
            from auralign.evaluation.metrics import confusion_matrix
            from auralign.evaluation.plots import save_confusion_matrix_png

            save_confusion_matrix_png(confusion_matrix(scores, targets), class_names, confusion_png)
    return {"task": "zeroshot", "n": len(kept), "n_classes": len(class_names),
            "multi_label": multi_label, "templates": list(templates), **result,
            "failures": [{"audio": str(p), "reason": r} for p, r in clips.failures]}


def evaluate_retrieval(model: AudioTextEmbedder, rows: Sequence[ManifestRow], cache: FeatureCache,
                       progress: bool = True) -> dict[str, Any]:
    """Text-to-audio and audio-to-text retrieval with every caption of every clip as a query."""
    rows = [row for row in rows if row.captions]
    if not rows:
        raise AuralignError("retrieval evaluation needs rows with captions")
    clips = embed_clips(model, cache, [row.audio for row in rows], progress=progress)
    kept = [rows[i] for i in clips.index]
    captions = [caption for row in kept for caption in row.captions]
    caption_to_clip = np.array([i for i, row in enumerate(kept) for _ in row.captions])
    sim = embed_texts(model, captions) @ clips.vectors.T
    return {"task": "retrieval", "n": len(kept), "n_captions": len(captions),
            **retrieval_metrics(sim, caption_to_clip),
            "failures": [{"audio": str(p), "reason": r} for p, r in clips.failures]}


@dataclass
class Classification:
    predictions: list[dict[str, Any]]  # {"audio": path, "top": [{"label", "score"}, ...]}
    failures: list[tuple[Path, str]]


def classify_files(model: Any, files: Sequence[Path], class_names: Sequence[str],
                   templates: Sequence[str] = DEFAULT_TEMPLATES, top_k: int = 3,
                   cache: FeatureCache | None = None) -> Classification:
    """Top-k labels per file; scores are softmax probabilities (at the model's logit scale if it has one)."""
    with ExitStack() as stack:
        if cache is None:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="auralign-features-"))
            cache = FeatureCache(model.audio_encoder, root=tmp)
        clips = clip_scores(model, cache, list(files), class_names, templates)
    if not clips.index:
        return Classification(predictions=[], failures=clips.failures)
    scale = float(model.logit_scale().detach()) if hasattr(model, "logit_scale") else 1.0
    probs = _softmax(scale * clips.vectors)
    top = np.argsort(-probs, axis=1, kind="stable")[:, :top_k]
    predictions = [
        {"audio": str(files[i]),
         "top": [{"label": class_names[c], "score": float(probs[row, c])} for c in top[row]]}
        for row, i in enumerate(clips.index)
    ]
    return Classification(predictions=predictions, failures=clips.failures)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)
