"""Model-independent metrics for zero-shot classification and cross-modal retrieval.

Everything here works on plain numpy score matrices: the model-facing evaluation code computes
embeddings and similarities, these functions turn them into numbers.

Tie handling is the same everywhere and is *pessimistic*: when the score of a relevant item
(the target class, the matching clip, a matching caption) equals the score of an irrelevant one,
the irrelevant one is ranked first. A model that gives every candidate the same score therefore
gets the worst possible rank instead of a lucky one, and results never depend on the order of
the candidates. The rank of a target is thus ``1 + #(candidates scoring >= the target, excluding it)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

RETRIEVAL_RECALL_KS: tuple[int, ...] = (1, 5, 10)
RETRIEVAL_MAP_CUTOFF = 10


# --------------------------------------------------------------------------- input checks


def _as_score_matrix(scores: np.ndarray, name: str = "scores") -> np.ndarray:
    array = np.asarray(scores, dtype=np.float64)
    if array.ndim != 2 or array.shape[0] == 0 or array.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def _as_class_indices(targets: np.ndarray, n_rows: int, n_classes: int) -> np.ndarray:
    array = np.asarray(targets)
    if array.shape != (n_rows,):
        raise ValueError(f"targets must have shape ({n_rows},), got {array.shape}")
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"targets must be integer class indices, got dtype {array.dtype}")
    if array.size and (array.min() < 0 or array.max() >= n_classes):
        raise ValueError(f"targets must lie in [0, {n_classes}), got range [{array.min()}, {array.max()}]")
    return array.astype(np.int64)


def _as_multi_hot(targets: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    array = np.asarray(targets)
    if array.shape != shape:
        raise ValueError(f"multi-label targets must have shape {shape}, got {array.shape}")
    if not np.all((array == 0) | (array == 1)):
        raise ValueError("multi-label targets must contain only 0/1 (or booleans)")
    return array.astype(bool)


def _resolve_class_names(class_names: Sequence[str] | None, n_classes: int) -> list[str]:
    if class_names is None:
        return [str(index) for index in range(n_classes)]
    if len(class_names) != n_classes:
        raise ValueError(f"got {len(class_names)} class names for {n_classes} score columns")
    return list(class_names)


# --------------------------------------------------------------------------- ranking core


def _relevance_in_ranked_order(scores: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """Reorder each row's relevance flags by descending score, irrelevant items first on ties."""
    order = np.lexsort((relevant, -scores), axis=1)
    return np.take_along_axis(relevant, order, axis=1)


def target_ranks(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """1-based pessimistic rank of each row's target column in a (N, C) score matrix."""
    scores = _as_score_matrix(scores)
    targets = _as_class_indices(targets, scores.shape[0], scores.shape[1])
    target_scores = scores[np.arange(scores.shape[0]), targets]
    return np.sum(scores >= target_scores[:, None], axis=1)


# --------------------------------------------------------------------------- classification


def top_k_accuracy(scores: np.ndarray, targets: np.ndarray, k: int) -> float:
    """Fraction of rows whose target is among the k best-scored classes; k > C counts every row."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    return float(np.mean(target_ranks(scores, targets) <= k))


def per_class_accuracy(
    scores: np.ndarray, targets: np.ndarray, class_names: Sequence[str] | None = None
) -> dict[str, float]:
    """Top-1 accuracy within each class; classes without any example are left out."""
    scores = _as_score_matrix(scores)
    names = _resolve_class_names(class_names, scores.shape[1])
    hits = target_ranks(scores, targets) == 1
    targets = np.asarray(targets)
    return {names[c]: float(np.mean(hits[targets == c])) for c in np.unique(targets)}


def balanced_accuracy(scores: np.ndarray, targets: np.ndarray) -> float:
    """Mean of the per-class top-1 accuracies over the classes that have examples."""
    return float(np.mean(list(per_class_accuracy(scores, targets).values())))


def confusion_matrix(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(C, C) counts, rows = true class, columns = predicted class.

    The prediction is the arg-max column; on a tie the lowest class index wins, so with tied
    top scores the diagonal can differ from the pessimistic top-1 accuracy.
    """
    scores = _as_score_matrix(scores)
    n_classes = scores.shape[1]
    targets = _as_class_indices(targets, scores.shape[0], n_classes)
    predictions = np.argmax(scores, axis=1)
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (targets, predictions), 1)
    return matrix


def average_precision(scores: np.ndarray, relevant: np.ndarray) -> float:
    """Area under the precision-recall step curve, as sklearn's ``average_precision_score``.

    Tied scores form one threshold (they enter the curve together), exactly as in sklearn.
    Returns NaN when nothing is relevant, since AP is undefined then.
    """
    scores = np.asarray(scores, dtype=np.float64).ravel()
    relevant = np.asarray(relevant, dtype=bool).ravel()
    n_relevant = int(relevant.sum())
    if n_relevant == 0:
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    sorted_scores, sorted_relevant = scores[order], relevant[order]
    threshold_ends = np.r_[np.flatnonzero(np.diff(sorted_scores)), sorted_scores.size - 1]
    true_positives = np.cumsum(sorted_relevant)[threshold_ends]
    precision = true_positives / (threshold_ends + 1)
    recall_steps = np.diff(np.r_[0, true_positives]) / n_relevant
    return float(np.sum(recall_steps * precision))


@dataclass(frozen=True)
class MultiLabelAP:
    """Average precision per class, their mean (macro mAP) and the micro-averaged AP."""

    mean_ap: float | None
    micro_ap: float | None
    per_class: dict[str, float]
    classes_without_positives: list[str]


def multi_label_average_precision(
    scores: np.ndarray, targets: np.ndarray, class_names: Sequence[str] | None = None
) -> MultiLabelAP:
    """Macro mAP over classes that have at least one positive; the others are listed, not averaged.

    The micro AP pools every (example, class) pair into one ranking, as sklearn's ``average="micro"``.
    """
    scores = _as_score_matrix(scores)
    relevant = _as_multi_hot(targets, scores.shape)
    names = _resolve_class_names(class_names, scores.shape[1])
    per_class: dict[str, float] = {}
    without_positives: list[str] = []
    for column, name in enumerate(names):
        if relevant[:, column].any():
            per_class[name] = average_precision(scores[:, column], relevant[:, column])
        else:
            without_positives.append(name)
    if not per_class:
        return MultiLabelAP(None, None, {}, without_positives)
    return MultiLabelAP(
        mean_ap=float(np.mean(list(per_class.values()))),
        micro_ap=average_precision(scores, relevant),
        per_class=per_class,
        classes_without_positives=without_positives,
    )


@dataclass(frozen=True)
class ClassificationResult:
    """Zero-shot classification metrics; ``as_dict`` gives the stable, JSON-ready keys.

    Single-label: ``top1``/``top5``/``balanced_acc``/``per_class`` (accuracy per class name) are set;
    the AP fields are only filled when requested. Multi-label: the accuracy fields are ``None`` and
    ``per_class`` is empty; ``mAP``, ``micro_mAP`` and ``per_class_ap`` are set.
    """

    top1: float | None
    top5: float | None
    balanced_acc: float | None
    mAP: float | None  # key spelled as the rest of the toolkit reports it
    micro_mAP: float | None
    per_class: dict[str, float] = field(default_factory=dict)
    per_class_ap: dict[str, float] = field(default_factory=dict)
    classes_without_positives: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def evaluate_single_label(
    scores: np.ndarray,
    targets: np.ndarray,
    class_names: Sequence[str] | None = None,
    *,
    with_map: bool = False,
) -> ClassificationResult:
    """Top-1/top-5, balanced and per-class accuracy; one-vs-rest mAP as well if ``with_map``."""
    scores = _as_score_matrix(scores)
    targets = _as_class_indices(targets, *scores.shape)
    ap = MultiLabelAP(None, None, {}, [])
    if with_map:
        one_hot = np.eye(scores.shape[1], dtype=bool)[targets]
        ap = multi_label_average_precision(scores, one_hot, class_names)
    per_class = per_class_accuracy(scores, targets, class_names)
    return ClassificationResult(
        top1=top_k_accuracy(scores, targets, 1),
        top5=top_k_accuracy(scores, targets, 5),
        balanced_acc=float(np.mean(list(per_class.values()))),
        mAP=ap.mean_ap,
        micro_mAP=ap.micro_ap,
        per_class=per_class,
        per_class_ap=ap.per_class,
        classes_without_positives=ap.classes_without_positives,
    )


def evaluate_multi_label(
    scores: np.ndarray, targets: np.ndarray, class_names: Sequence[str] | None = None
) -> ClassificationResult:
    """Macro and micro mAP plus per-class AP for (N, C) scores and (N, C) 0/1 targets."""
    ap = multi_label_average_precision(scores, targets, class_names)
    return ClassificationResult(
        top1=None,
        top5=None,
        balanced_acc=None,
        mAP=ap.mean_ap,
        micro_mAP=ap.micro_ap,
        per_class_ap=ap.per_class,
        classes_without_positives=ap.classes_without_positives,
    )


# --------------------------------------------------------------------------- retrieval


def _ranking_metrics(ranked_relevance: np.ndarray) -> dict[str, float]:
    """R@k, mAP@10, MRR and median rank from per-query relevance flags in ranked order.

    R@k is a hit rate: a query counts when at least one relevant item is in its top k. MRR and
    the median rank use the first relevant item. AP@10 sums precision at each relevant position
    within the top 10 and divides by min(#relevant, 10), so a single relevant item at rank r
    scores 1/r when r <= 10 and 0 otherwise (the DCASE 2022+ Task 6b convention).
    """
    first_rank = np.argmax(ranked_relevance, axis=1) + 1
    top = ranked_relevance[:, :RETRIEVAL_MAP_CUTOFF]
    precision_at = np.cumsum(top, axis=1) / np.arange(1, top.shape[1] + 1)
    n_relevant = ranked_relevance.sum(axis=1)
    ap_at_cutoff = (precision_at * top).sum(axis=1) / np.minimum(n_relevant, RETRIEVAL_MAP_CUTOFF)
    metrics = {f"R@{k}": float(np.mean(first_rank <= k)) for k in RETRIEVAL_RECALL_KS}
    metrics[f"mAP@{RETRIEVAL_MAP_CUTOFF}"] = float(np.mean(ap_at_cutoff))
    metrics["MRR"] = float(np.mean(1.0 / first_rank))
    metrics["median_rank"] = float(np.median(first_rank))
    return metrics


def retrieval_metrics(sim: np.ndarray, caption_to_clip: np.ndarray) -> dict[str, dict[str, float]]:
    """Text-to-audio and audio-to-text retrieval metrics, Clotho/AudioCaps style.

    ``sim`` is (n_captions, n_clips); ``caption_to_clip[i]`` is the clip caption i describes.
    Text-to-audio: every caption is a query with exactly one relevant clip. Audio-to-text: every
    clip that has captions is a query and all its captions are relevant; ``R@k`` then means at
    least one of them is in the top k (the CLAP / AudioCaps convention) and MRR / median rank use
    the best-ranked caption. Clips without captions still act as distractors for text-to-audio.
    Ties are broken pessimistically (see the module docstring); ranks are 1-based.
    """
    sim = _as_score_matrix(sim, "sim")
    n_captions, n_clips = sim.shape
    caption_to_clip = _as_class_indices(caption_to_clip, n_captions, n_clips)
    relevance = caption_to_clip[:, None] == np.arange(n_clips)[None, :]
    clips_with_captions = relevance.any(axis=0)
    return {
        "t2a": _ranking_metrics(_relevance_in_ranked_order(sim, relevance)),
        "a2t": _ranking_metrics(
            _relevance_in_ranked_order(sim.T[clips_with_captions], relevance.T[clips_with_captions])
        ),
    }
