"""Audio question-answering metrics: exact-match accuracy, ClothoAQA's yes/no accuracy, and
MATS-style text-matching accuracy.

Answer normalisation (:func:`normalize_answer`), applied to predictions and references alike:
Unicode NFKC, lowercase, punctuation characters deleted (``"dog's"`` -> ``"dogs"``, ``"yes."`` ->
``"yes"``), the articles *a*, *an*, *the* removed as whole words, whitespace collapsed.

Yes/no questions. Clotho-AQA (Lipping et al., 2022) reports a binary classifier's accuracy on the
questions whose answer is "yes" or "no"; tables derived from it label this "B-ACC" / binary
accuracy, so :func:`binary_accuracy` is plain accuracy over that subset. The dataset's yes/no half
is built balanced (two "yes" and two "no" questions per clip), where plain and balanced accuracy
nearly coincide; :func:`balanced_binary_accuracy` (mean of the per-class recalls) is provided
separately for subsets that are not balanced. A free-form prediction is read as yes/no from its
first word after normalisation (``"Yes, a dog barks"`` -> yes); anything else counts as wrong.

Text matching (MATS). A generated answer is mapped to the candidate label whose text embedding is
most cosine-similar to the answer's embedding, then compared with the target label.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Callable, Sequence

import numpy as np

from auralign.errors import AuralignError

Answers = str | Sequence[str]
Embedder = Callable[[list[str]], np.ndarray]

_PUNCTUATION = str.maketrans("", "", string.punctuation + "\u2018\u2019\u201c\u201d\u2013\u2014\u2026")
_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
YES_NO = ("yes", "no")


def normalize_answer(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _acceptable(answers: Answers) -> set[str]:
    """One reference answer or several acceptable ones (e.g. one per annotator)."""
    return {normalize_answer(a) for a in ([answers] if isinstance(answers, str) else answers)}


def _check_lengths(predictions: Sequence[object], references: Sequence[object]) -> None:
    if len(predictions) != len(references):
        raise AuralignError(f"{len(predictions)} predictions but {len(references)} references")
    if not predictions:
        raise AuralignError("no predictions to score")


def accuracy(predictions: Sequence[str], references: Sequence[Answers]) -> float:
    """Share of predictions equal, after normalisation, to the (or any acceptable) reference answer."""
    _check_lengths(predictions, references)
    correct = [normalize_answer(p) in _acceptable(r) for p, r in zip(predictions, references, strict=True)]
    return sum(correct) / len(correct)


def yes_no_label(text: str) -> str | None:
    """'yes' or 'no' if that is the first word of the normalised text, else None."""
    words = normalize_answer(text).split()
    return words[0] if words and words[0] in YES_NO else None


def _yes_no_pairs(predictions: Sequence[str], references: Sequence[str]) -> list[tuple[str | None, str]]:
    """(predicted label, reference label) for the questions whose reference answer is yes or no."""
    _check_lengths(predictions, references)
    pairs = [
        (yes_no_label(p), normalize_answer(r))
        for p, r in zip(predictions, references, strict=True)
        if normalize_answer(r) in YES_NO
    ]
    if not pairs:
        raise AuralignError("no yes/no questions among the references")
    return pairs


def binary_accuracy(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Clotho-AQA's binary accuracy (B-ACC): accuracy over the questions answered yes or no."""
    pairs = _yes_no_pairs(predictions, references)
    return sum(predicted == reference for predicted, reference in pairs) / len(pairs)


def balanced_binary_accuracy(predictions: Sequence[str], references: Sequence[str]) -> float:
    """Mean of the recall on "yes" questions and the recall on "no" questions (those present)."""
    pairs = _yes_no_pairs(predictions, references)
    recalls = []
    for label in YES_NO:
        outcomes = [predicted == reference for predicted, reference in pairs if reference == label]
        if outcomes:
            recalls.append(sum(outcomes) / len(outcomes))
    return sum(recalls) / len(recalls)


def _unit_rows(embeddings: np.ndarray, what: str, expected_rows: int) -> np.ndarray:
    embeddings = np.asarray(embeddings, dtype=np.float64)
    if embeddings.ndim != 2 or embeddings.shape[0] != expected_rows:
        raise AuralignError(f"embed returned shape {embeddings.shape} for {expected_rows} {what}")
    norms = np.linalg.norm(embeddings, axis=1, keepdims=True)
    return embeddings / np.where(norms == 0, 1.0, norms)


def match_to_labels(answers: Sequence[str], labels: Sequence[str], embed: Embedder) -> list[str]:
    """The label whose embedding is most cosine-similar to each answer's (first label on ties)."""
    if not labels:
        raise AuralignError("no candidate labels to match answers to")
    if not answers:
        return []
    answer_vectors = _unit_rows(embed(list(answers)), "answers", len(answers))
    label_vectors = _unit_rows(embed(list(labels)), "labels", len(labels))
    best = np.argmax(answer_vectors @ label_vectors.T, axis=1)
    return [labels[i] for i in best]


def text_matching_accuracy(
    answers: Sequence[str], targets: Sequence[str], labels: Sequence[str], embed: Embedder
) -> float:
    """MATS's protocol: accuracy of the labels that free-form answers are matched to by ``embed``."""
    _check_lengths(answers, targets)
    unknown = sorted(set(targets) - set(labels))
    if unknown:
        raise AuralignError(f"target(s) not among the candidate labels: {unknown[:3]}")
    matched = match_to_labels(answers, labels, embed)
    return sum(m == t for m, t in zip(matched, targets, strict=True)) / len(targets)
