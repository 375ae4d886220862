"""Caption quality without paired reference captions: does the caption name the sound, is it true to the
audio, is it varied, does it loop.

- **label recall**: a caption recalls its clip's label when its sentence embedding is within a cosine
  threshold of one of the label's texts (the label, its AudioSet synonyms, templates and ontology
  parent: `positive_texts`). The threshold is chosen on a dev split (`choose_threshold`) and then
  applied unchanged.
- **label accuracy**: the caption, matched against every label of the split by the same texts, ranks
  the clip's own label first (MATS's text-matching protocol; no threshold).
- **CLAPScore**: cosine between the clip's audio embedding and the caption's text embedding in an
  audio-text model's joint space.
- **distinct-n** (unique n-grams / all n-grams over the whole set) and the **repeated-trigram rate**
  (the share of captions in which some word trigram occurs twice).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from auralign.data.label_text import positive_texts
from auralign.data.manifest import ManifestRow

Embedder = Callable[[list[str]], np.ndarray]


def words(text: str) -> list[str]:
    return "".join(c.lower() if c.isalnum() or c == "'" else " " for c in text).split()


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Unique n-grams over all n-grams of the set (0 when no text is n words long)."""
    grams = [gram for text in texts for gram in ngrams(words(text), n)]
    return len(set(grams)) / len(grams) if grams else 0.0


def repeats_a_trigram(text: str) -> bool:
    grams = ngrams(words(text), 3)
    return len(set(grams)) < len(grams)


def repeated_trigram_rate(texts: Sequence[str]) -> float:
    return sum(map(repeats_a_trigram, texts)) / len(texts) if texts else 0.0


def _unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


class LabelMatcher:
    """Sentence similarity of texts to labels, each label represented by all its `positive_texts`."""

    def __init__(self, embed: Embedder, labels: Sequence[str]) -> None:
        self.embed = embed
        self.labels = sorted(set(labels))
        texts = [positive_texts([label]) or [label] for label in self.labels]
        flat = [text for group in texts for text in group]
        self.owner = np.repeat(np.arange(len(self.labels)), [len(group) for group in texts])
        self.vectors = _unit(np.asarray(embed(flat), dtype=np.float32))

    def similarities(self, texts: Sequence[str]) -> np.ndarray:
        """(N, n_labels): for each text, its best cosine to any text of each label."""
        cosines = _unit(np.asarray(self.embed(list(texts)), dtype=np.float32)) @ self.vectors.T
        best = np.full((len(texts), len(self.labels)), -1.0, dtype=np.float32)
        for label_index in range(len(self.labels)):
            best[:, label_index] = cosines[:, self.owner == label_index].max(axis=1)
        return best

    def column(self, label: str) -> int:
        return self.labels.index(label)


def choose_threshold(positive: np.ndarray, negative: np.ndarray) -> float:
    """The cosine threshold that best separates matching from non-matching (text, label) pairs
    (maximum balanced accuracy; the midpoint between neighbouring scores)."""
    scores = np.sort(np.unique(np.concatenate([positive, negative])))
    candidates = (scores[:-1] + scores[1:]) / 2 if len(scores) > 1 else scores
    accuracy = [((positive >= t).mean() + (negative < t).mean()) / 2 for t in candidates]
    return float(candidates[int(np.argmax(accuracy))])


def dev_threshold(matcher: LabelMatcher, rows: Sequence[ManifestRow], seed: int = 0) -> float:
    """Threshold from a dev split's own captions: each caption against its label (positive) and
    against a random other label of the split (negative)."""
    rng = np.random.default_rng(seed)
    pairs = [(caption, row.labels[0]) for row in rows if len(row.labels) == 1 for caption in row.captions]
    similarities = matcher.similarities([caption for caption, _ in pairs])
    own = np.array([matcher.column(label) for _, label in pairs])
    other = (own + rng.integers(1, len(matcher.labels), size=len(own))) % len(matcher.labels)
    rows_index = np.arange(len(pairs))
    return choose_threshold(similarities[rows_index, own], similarities[rows_index, other])


def label_scores(matcher: LabelMatcher, captions: Sequence[str], labels: Sequence[str],
                 threshold: float) -> dict[str, float]:
    """Label recall at `threshold` and label accuracy (own label ranked first) of one caption per clip."""
    similarities = matcher.similarities(captions)
    own = np.array([matcher.column(label) for label in labels])
    own_score = similarities[np.arange(len(own)), own]
    return {"label_recall": float((own_score >= threshold).mean()),
            "label_accuracy": float((similarities.argmax(axis=1) == own).mean())}


def diversity(captions: Sequence[str]) -> dict[str, float]:
    return {"distinct_1": distinct_n(captions, 1), "distinct_2": distinct_n(captions, 2),
            "repeated_trigram_rate": repeated_trigram_rate(captions),
            "mean_words": float(np.mean([len(words(c)) for c in captions])) if captions else 0.0}
