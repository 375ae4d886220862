"""QA metrics on hand-computed cases."""

from __future__ import annotations

import numpy as np
import pytest

from auralign.errors import AuralignError
from auralign.evaluation.qa_metrics import (
    accuracy,
    balanced_binary_accuracy,
    binary_accuracy,
    match_to_labels,
    normalize_answer,
    text_matching_accuracy,
    yes_no_label,
)


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("The Dog!", "dog"),
        ("  a   bird's  song. ", "birds song"),
        ("Yes.", "yes"),
        ("“An” owl…", "owl"),
        ("theatre", "theatre"),  # articles only as whole words
    ],
)
def test_normalize_answer(text: str, normalised: str) -> None:
    assert normalize_answer(text) == normalised


def test_accuracy_counts_normalised_exact_matches() -> None:
    predictions = ["A dog.", "cat", "Rain!", "thunder storm"]
    references = ["dog", "bird", "rain", ["storm", "thunder storm"]]
    assert accuracy(predictions, references) == pytest.approx(3 / 4)


def test_accuracy_rejects_mismatched_lengths_and_empty_input() -> None:
    with pytest.raises(AuralignError, match="2 predictions but 1 references"):
        accuracy(["a", "b"], ["a"])
    with pytest.raises(AuralignError, match="no predictions"):
        accuracy([], [])


def test_yes_no_label_reads_the_first_word() -> None:
    assert yes_no_label("Yes, a dog barks.") == "yes"
    assert yes_no_label("No") == "no"
    assert yes_no_label("Nobody is there") is None
    assert yes_no_label("I think yes") is None


def test_binary_accuracy_uses_only_yes_no_questions() -> None:
    predictions = ["yes", "No.", "yes", "no", "dog", "maybe"]
    references = ["yes", "no", "no", "no", "dog", "yes"]
    # yes/no subset: (yes,yes) ok, (no,no) ok, (yes,no) wrong, (no,no) ok, (maybe,yes) wrong -> 3/5.
    assert binary_accuracy(predictions, references) == pytest.approx(3 / 5)


def test_balanced_binary_accuracy_is_the_mean_of_per_class_recall() -> None:
    predictions = ["yes", "No.", "yes", "no", "dog", "maybe"]
    references = ["yes", "no", "no", "no", "dog", "yes"]
    # recall(yes) = 1/2, recall(no) = 2/3 -> (1/2 + 2/3) / 2.
    assert balanced_binary_accuracy(predictions, references) == pytest.approx((1 / 2 + 2 / 3) / 2)


def test_balanced_and_plain_binary_accuracy_differ_on_an_imbalanced_always_yes_model() -> None:
    references = ["yes", "yes", "yes", "no"]
    predictions = ["yes"] * 4
    assert binary_accuracy(predictions, references) == pytest.approx(0.75)
    assert balanced_binary_accuracy(predictions, references) == pytest.approx(0.5)


def test_binary_accuracy_needs_yes_no_questions() -> None:
    with pytest.raises(AuralignError, match="no yes/no questions"):
        binary_accuracy(["dog"], ["cat"])


VOCABULARY = ["dog", "bark", "cat", "meow", "rain"]


def bag_of_words_embed(texts: list[str]) -> np.ndarray:
    """A transparent stand-in for a text encoder: counts of a few vocabulary words."""
    return np.array(
        [[text.lower().split().count(word) for word in VOCABULARY] for text in texts], dtype=float
    )


def test_match_to_labels_picks_the_most_cosine_similar_label() -> None:
    labels = ["dog bark", "cat meow", "rain"]
    answers = ["a dog and a dog bark", "meow", "heavy rain rain", "silence"]
    # "silence" embeds to zeros: every similarity is 0 and the first label wins.
    assert match_to_labels(answers, labels, bag_of_words_embed) == [
        "dog bark",
        "cat meow",
        "rain",
        "dog bark",
    ]


def test_match_to_labels_uses_cosine_not_dot_product() -> None:
    labels = ["dog dog dog dog bark", "dog"]
    # Dot products: 4 vs 1 favour the long label; cosines: 0.97 vs 1.0 favour "dog".
    assert match_to_labels(["dog"], labels, bag_of_words_embed) == ["dog"]


def test_text_matching_accuracy() -> None:
    labels = ["dog bark", "cat meow", "rain"]
    answers = ["a dog", "the cat says meow", "it is raining"]
    targets = ["dog bark", "cat meow", "rain"]
    # "raining" is not in the vocabulary, so the third answer matches the first label and is wrong.
    assert text_matching_accuracy(answers, targets, labels, bag_of_words_embed) == pytest.approx(2 / 3)


def test_text_matching_accuracy_rejects_targets_outside_the_labels_and_bad_embeddings() -> None:
    with pytest.raises(AuralignError, match="not among the candidate labels"):
        text_matching_accuracy(["dog"], ["wolf"], ["dog bark"], bag_of_words_embed)
    with pytest.raises(AuralignError, match="embed returned shape"):
        match_to_labels(["dog"], ["dog bark"], lambda texts: np.zeros(3))
