"""Metrics: hand-computed cases, then agreement with sklearn and torchmetrics where definitions coincide."""

from __future__ import annotations

import matplotlib.image
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn import metrics as skm
from torchmetrics.retrieval import (
    RetrievalHitRate,
    RetrievalMAP,
    RetrievalMRR,
    RetrievalRecall,
)

from auralign.evaluation.metrics import (
    average_precision,
    balanced_accuracy,
    confusion_matrix,
    evaluate_multi_label,
    evaluate_single_label,
    multi_label_average_precision,
    per_class_accuracy,
    retrieval_metrics,
    target_ranks,
    top_k_accuracy,
)
from auralign.evaluation.plots import save_confusion_matrix_png

# ----------------------------------------------------------------------------- hand-computed: classification

# 4 examples, 4 classes; "cow" (column 3) never occurs as a target.
#   row 0: target cat,  cat scores best                  -> rank 1, predicted cat
#   row 1: target bird, dog 0.5 > bird 0.3 > cat 0.2     -> rank 2, predicted dog
#   row 2: target bird, bird scores best                 -> rank 1, predicted bird
#   row 3: target dog,  cat 0.6 > dog 0.3                -> rank 2, predicted cat
HAND_SCORES = np.array(
    [
        [0.9, 0.05, 0.05, 0.0],
        [0.2, 0.5, 0.3, 0.0],
        [0.1, 0.2, 0.7, 0.0],
        [0.6, 0.3, 0.1, 0.0],
    ]
)
HAND_TARGETS = np.array([0, 2, 2, 1])
HAND_NAMES = ["cat", "dog", "bird", "cow"]


def test_hand_ranks_and_top_k() -> None:
    assert target_ranks(HAND_SCORES, HAND_TARGETS).tolist() == [1, 2, 1, 2]
    assert top_k_accuracy(HAND_SCORES, HAND_TARGETS, 1) == 0.5
    assert top_k_accuracy(HAND_SCORES, HAND_TARGETS, 2) == 1.0
    assert top_k_accuracy(HAND_SCORES, HAND_TARGETS, 5) == 1.0  # k larger than the number of classes


def test_hand_per_class_and_balanced_accuracy() -> None:
    per_class = per_class_accuracy(HAND_SCORES, HAND_TARGETS, HAND_NAMES)
    assert per_class == {"cat": 1.0, "dog": 0.0, "bird": 0.5}  # cow has no example: omitted
    assert balanced_accuracy(HAND_SCORES, HAND_TARGETS) == pytest.approx(0.5)


def test_hand_confusion_matrix() -> None:
    expected = np.array(
        [
            [1, 0, 0, 0],  # true cat  -> cat
            [1, 0, 0, 0],  # true dog  -> cat
            [0, 1, 1, 0],  # true bird -> dog, bird
            [0, 0, 0, 0],  # true cow: none
        ]
    )
    np.testing.assert_array_equal(confusion_matrix(HAND_SCORES, HAND_TARGETS), expected)


def test_hand_evaluate_single_label_keys_and_values() -> None:
    result = evaluate_single_label(HAND_SCORES, HAND_TARGETS, HAND_NAMES).as_dict()
    assert {"top1", "top5", "balanced_acc", "mAP", "per_class"} <= set(result)
    assert result["top1"] == 0.5
    assert result["top5"] == 1.0
    assert result["balanced_acc"] == pytest.approx(0.5)
    assert result["mAP"] is None
    assert result["per_class"] == {"cat": 1.0, "dog": 0.0, "bird": 0.5}


def test_hand_single_label_map_on_request() -> None:
    # one-vs-rest AP per class: cat: rel rows {0}, ranking 0.9(r0) -> 1.0
    # dog: rel {3}, ranking 0.5(r1) 0.3(r3) -> 1/2;  bird: rel {1,2}, ranking 0.7(r2) 0.3(r1) -> 1.0
    result = evaluate_single_label(HAND_SCORES, HAND_TARGETS, HAND_NAMES, with_map=True)
    assert result.per_class_ap == pytest.approx({"cat": 1.0, "dog": 0.5, "bird": 1.0})
    assert result.mAP == pytest.approx(2.5 / 3)
    assert result.classes_without_positives == ["cow"]


def test_ties_are_pessimistic() -> None:
    tied = np.array([[0.5, 0.5, 0.1], [0.5, 0.5, 0.1]])
    assert target_ranks(tied, np.array([0, 1])).tolist() == [2, 2]
    assert top_k_accuracy(tied, np.array([0, 1]), 1) == 0.0
    constant = np.zeros((3, 4))
    assert target_ranks(constant, np.array([0, 2, 3])).tolist() == [4, 4, 4]


def test_hand_average_precision_without_and_with_ties() -> None:
    # ranking rel,irr,rel,irr -> precision 1 at recall 1/2, 2/3 at recall 1
    assert average_precision(np.array([0.9, 0.8, 0.7, 0.6]), np.array([1, 0, 1, 0])) == pytest.approx(5 / 6)
    # thresholds 0.9 (tp 0/1), 0.5 (tp 1/3, recall 1/2), 0.1 (tp 2/4, recall 1): 1/2*1/3 + 1/2*1/2
    assert average_precision(np.array([0.9, 0.5, 0.5, 0.1]), np.array([0, 1, 0, 1])) == pytest.approx(5 / 12)
    assert np.isnan(average_precision(np.array([0.3, 0.2]), np.array([0, 0])))


def test_hand_multi_label_map() -> None:
    scores = np.array([[0.9, 0.2, 0.3], [0.4, 0.8, 0.1], [0.7, 0.6, 0.2]])
    targets = np.array([[1, 1, 0], [0, 1, 0], [0, 0, 0]])
    # class a: 0.9 is the only positive and ranks first -> 1
    # class b: ranking 0.8(pos) 0.6(neg) 0.2(pos) -> 1/2*1 + 1/2*2/3 = 5/6
    # class c: no positives -> skipped and reported
    # micro: 9 pairs ranked .9+ .8+ .7 .6 .4 .3 {.2+ .2} .1 -> 1/3*1 + 1/3*1 + 1/3*3/8
    result = evaluate_multi_label(scores, targets, ["a", "b", "c"])
    assert result.per_class_ap == pytest.approx({"a": 1.0, "b": 5 / 6})
    assert result.mAP == pytest.approx((1 + 5 / 6) / 2)
    assert result.micro_mAP == pytest.approx(2 / 3 + 1 / 8)
    assert result.classes_without_positives == ["c"]
    assert result.top1 is None and result.per_class == {}


def test_invalid_inputs_are_rejected() -> None:
    with pytest.raises(ValueError, match="targets must lie"):
        top_k_accuracy(HAND_SCORES, np.array([0, 1, 2, 4]), 1)
    with pytest.raises(ValueError, match="NaN"):
        top_k_accuracy(np.array([[np.nan, 1.0]]), np.array([0]), 1)
    with pytest.raises(ValueError, match="class names"):
        per_class_accuracy(HAND_SCORES, HAND_TARGETS, ["cat"])
    with pytest.raises(ValueError, match="0/1"):
        multi_label_average_precision(np.ones((2, 2)), np.array([[2, 0], [0, 1]]))


# ----------------------------------------------------------------------------- hand-computed: retrieval

# 3 clips, 2 captions each. Rows are captions, columns clips.
HAND_SIM = np.array(
    [
        [0.9, 0.1, 0.2],  # caption 0 of clip 0: rank 1
        [0.3, 0.5, 0.6],  # caption 1 of clip 0: rank 3
        [0.2, 0.8, 0.1],  # caption 0 of clip 1: rank 1
        [0.6, 0.7, 0.1],  # caption 1 of clip 1: rank 1
        [0.1, 0.3, 0.2],  # caption 0 of clip 2: rank 2
        [0.5, 0.5, 0.5],  # caption 1 of clip 2: three-way tie -> rank 3 (pessimistic)
    ]
)
HAND_CAPTION_TO_CLIP = np.array([0, 0, 1, 1, 2, 2])


def test_hand_text_to_audio() -> None:
    # ranks 1, 3, 1, 1, 2, 3
    t2a = retrieval_metrics(HAND_SIM, HAND_CAPTION_TO_CLIP)["t2a"]
    reciprocal_sum = 1 + 1 / 3 + 1 + 1 + 1 / 2 + 1 / 3
    assert t2a == pytest.approx(
        {
            "R@1": 3 / 6,
            "R@5": 1.0,
            "R@10": 1.0,
            "mAP@10": reciprocal_sum / 6,  # one relevant clip: AP@10 = 1/rank
            "MRR": reciprocal_sum / 6,
            "median_rank": 1.5,
        }
    )


def test_hand_audio_to_text() -> None:
    # clip 0 column .9 .3 .2 .6 .1 .5: ranked c0+ c3 c5 c1+ c2 c4 -> relevant at 1, 4: AP (1 + 2/4)/2
    # clip 1 column .1 .5 .8 .7 .3 .5: ranked c2+ c3+ ...          -> relevant at 1, 2: AP 1
    # clip 2 column .2 .6 .1 .1 .2 .5: ranked c1 c5+ {c0 c4+} ...  -> tie puts c4 after c0:
    #                                                                 relevant at 2, 4: AP (1/2 + 2/4)/2
    a2t = retrieval_metrics(HAND_SIM, HAND_CAPTION_TO_CLIP)["a2t"]
    assert a2t == pytest.approx(
        {
            "R@1": 2 / 3,
            "R@5": 1.0,
            "R@10": 1.0,
            "mAP@10": (0.75 + 1.0 + 0.5) / 3,
            "MRR": (1 + 1 + 1 / 2) / 3,
            "median_rank": 1.0,
        }
    )


def test_map_at_10_cutoff_and_divisor() -> None:
    # t2a: the single relevant clip at rank 11 of 12 -> AP@10 = 0 but MRR = 1/11
    sim = np.tile(np.arange(12, 0, -1, dtype=float), (1, 1))
    t2a = retrieval_metrics(sim, np.array([10]))["t2a"]
    assert t2a["mAP@10"] == 0.0
    assert t2a["MRR"] == pytest.approx(1 / 11)
    assert t2a["R@10"] == 0.0
    # a2t: clip 0 has 12 captions, all ranked first -> AP@10 divides by min(12, 10) and is exactly 1
    caption_to_clip = np.array([0] * 12 + [1])
    sim = np.zeros((13, 2))
    sim[:12, 0] = 1.0
    sim[12, 1] = 1.0
    assert retrieval_metrics(sim, caption_to_clip)["a2t"]["mAP@10"] == 1.0


def test_clip_without_captions_is_a_distractor_only() -> None:
    sim = np.array([[0.2, 0.1, 0.9], [0.1, 0.8, 0.3]])  # clip 2 has no caption but wins for caption 0
    result = retrieval_metrics(sim, np.array([0, 1]))
    assert result["t2a"]["R@1"] == 0.5
    assert result["a2t"]["R@1"] == 1.0  # only clips 0 and 1 are queries


# ----------------------------------------------------------------------------- agreement with sklearn

SEEDS = range(5)


def _random_single_label(seed: int, n: int = 60, n_classes: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    # class 6 never occurs, to exercise classes without examples
    return rng.normal(size=(n, n_classes)), rng.integers(0, n_classes - 1, size=n)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("k", [1, 3, 5])
def test_top_k_matches_sklearn(seed: int, k: int) -> None:
    scores, targets = _random_single_label(seed)
    expected = skm.top_k_accuracy_score(targets, scores, k=k, labels=np.arange(scores.shape[1]))
    assert top_k_accuracy(scores, targets, k) == pytest.approx(expected)


@pytest.mark.filterwarnings("ignore:y_pred contains classes not in y_true")
@pytest.mark.parametrize("seed", SEEDS)
def test_balanced_accuracy_and_confusion_match_sklearn(seed: int) -> None:
    scores, targets = _random_single_label(seed)
    predictions = scores.argmax(axis=1)
    assert balanced_accuracy(scores, targets) == pytest.approx(
        skm.balanced_accuracy_score(targets, predictions)
    )
    expected = skm.confusion_matrix(targets, predictions, labels=np.arange(scores.shape[1]))
    np.testing.assert_array_equal(confusion_matrix(scores, targets), expected)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("with_ties", [False, True])
def test_average_precision_matches_sklearn(seed: int, with_ties: bool) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.random((40, 6))
    if with_ties:
        scores = np.round(scores, 1)
    targets = (rng.random((40, 6)) < 0.3).astype(int)
    targets[:, 5] = 0  # a class without positives
    result = multi_label_average_precision(scores, targets)
    with_positives = targets.any(axis=0)
    assert result.classes_without_positives == ["5"]
    for column in np.flatnonzero(with_positives):
        expected = skm.average_precision_score(targets[:, column], scores[:, column])
        assert result.per_class[str(column)] == pytest.approx(expected)
    macro = skm.average_precision_score(
        targets[:, with_positives], scores[:, with_positives], average="macro"
    )
    assert result.mean_ap == pytest.approx(macro)
    assert result.micro_ap == pytest.approx(skm.average_precision_score(targets, scores, average="micro"))


# ----------------------------------------------------------------------------- agreement with torchmetrics


def _random_retrieval(seed: int, n_clips: int, captions_per_clip: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    caption_to_clip = rng.permutation(np.repeat(np.arange(n_clips), captions_per_clip))
    # strictly positive scores: torchmetrics' AP treats non-positive predictions as irrelevant
    return rng.uniform(0.01, 1.0, size=(caption_to_clip.size, n_clips)), caption_to_clip


def _torchmetrics_value(metric: object, sim: np.ndarray, relevance: np.ndarray) -> float:
    """Evaluate a torchmetrics retrieval metric with one query per row of ``sim``."""
    indexes = torch.arange(sim.shape[0]).repeat_interleave(sim.shape[1])
    value = metric(torch.from_numpy(sim.ravel()), torch.from_numpy(relevance.ravel()), indexes=indexes)
    return float(value)


def _both_directions(
    sim: np.ndarray, caption_to_clip: np.ndarray
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    relevance = caption_to_clip[:, None] == np.arange(sim.shape[1])[None, :]
    return {"t2a": (sim, relevance), "a2t": (sim.T.copy(), relevance.T.copy())}


@pytest.mark.parametrize("seed", range(3))
def test_retrieval_matches_torchmetrics(seed: int) -> None:
    sim, caption_to_clip = _random_retrieval(seed, n_clips=30, captions_per_clip=5)
    ours = retrieval_metrics(sim, caption_to_clip)
    for direction, (queries, relevance) in _both_directions(sim, caption_to_clip).items():
        assert ours[direction]["MRR"] == pytest.approx(
            _torchmetrics_value(RetrievalMRR(), queries, relevance)
        )
        for k in (1, 5, 10):
            hit_rate = _torchmetrics_value(RetrievalHitRate(top_k=k), queries, relevance)
            assert ours[direction][f"R@{k}"] == pytest.approx(hit_rate)
    # with one relevant clip per caption, recall@k, hit rate@k and DCASE AP@10 all coincide with torchmetrics
    queries, relevance = _both_directions(sim, caption_to_clip)["t2a"]
    for k in (1, 5, 10):
        assert ours["t2a"][f"R@{k}"] == pytest.approx(
            _torchmetrics_value(RetrievalRecall(top_k=k), queries, relevance)
        )
    assert ours["t2a"]["mAP@10"] == pytest.approx(
        _torchmetrics_value(RetrievalMAP(top_k=10), queries, relevance)
    )


@pytest.mark.parametrize("seed", range(3))
def test_audio_to_text_map_matches_torchmetrics_when_all_captions_fit_in_top_10(seed: int) -> None:
    # with <= 10 captions in total, AP@10 / min(#relevant, 10) is the plain AP torchmetrics computes;
    # with more, torchmetrics divides by the relevant items retrieved instead, so they differ.
    sim, caption_to_clip = _random_retrieval(seed, n_clips=3, captions_per_clip=3)
    queries, relevance = _both_directions(sim, caption_to_clip)["a2t"]
    expected = _torchmetrics_value(RetrievalMAP(), queries, relevance)
    assert retrieval_metrics(sim, caption_to_clip)["a2t"]["mAP@10"] == pytest.approx(expected)


def _first_relevant_ranks_by_loop(sim: np.ndarray, caption_to_clip: np.ndarray) -> list[int]:
    """Audio-to-text first-relevant rank, spelled out: 1 + captions scoring strictly better."""
    ranks = []
    for clip in range(sim.shape[1]):
        column = sim[:, clip]
        best_relevant = column[caption_to_clip == clip].max()
        ranks.append(1 + int(np.sum(column > best_relevant)))
    return ranks


@pytest.mark.parametrize("seed", range(3))
def test_median_rank_matches_a_direct_count(seed: int) -> None:
    sim, caption_to_clip = _random_retrieval(seed, n_clips=25, captions_per_clip=5)
    ours = retrieval_metrics(sim, caption_to_clip)
    assert ours["a2t"]["median_rank"] == np.median(_first_relevant_ranks_by_loop(sim, caption_to_clip))
    assert ours["t2a"]["median_rank"] == np.median(target_ranks(sim, caption_to_clip))


# ----------------------------------------------------------------------------- properties


@settings(max_examples=40, deadline=None)
@given(
    sim=arrays(np.float64, (8, 4), elements=st.integers(0, 3).map(float)),  # small integers: many ties
    caption_to_clip=arrays(np.int64, 8, elements=st.integers(0, 3)),
    permutation_seed=st.integers(0, 2**16),
)
def test_retrieval_is_invariant_to_candidate_order(
    sim: np.ndarray, caption_to_clip: np.ndarray, permutation_seed: int
) -> None:
    """Pessimistic tie-breaking never looks at positions, so shuffling clips and captions changes nothing."""
    rng = np.random.default_rng(permutation_seed)
    clip_order, caption_order = rng.permutation(4), rng.permutation(8)
    new_index_of_clip = np.argsort(clip_order)
    shuffled_sim = sim[caption_order][:, clip_order]
    shuffled_targets = new_index_of_clip[caption_to_clip[caption_order]]
    original, shuffled = (
        retrieval_metrics(sim, caption_to_clip),
        retrieval_metrics(shuffled_sim, shuffled_targets),
    )
    for direction in ("t2a", "a2t"):
        assert shuffled[direction] == pytest.approx(original[direction])


@settings(max_examples=40, deadline=None)
@given(
    scores=arrays(np.float64, (6, 5), elements=st.integers(0, 2).map(float)),
    targets=arrays(np.int64, 6, elements=st.integers(0, 4)),
)
def test_top_k_accuracy_is_monotone_and_bounded(scores: np.ndarray, targets: np.ndarray) -> None:
    values = [top_k_accuracy(scores, targets, k) for k in range(1, 7)]
    assert all(0.0 <= v <= 1.0 for v in values)
    assert values == sorted(values)
    assert values[-1] == 1.0


# ----------------------------------------------------------------------------- confusion-matrix PNG

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("n_classes", [3, 60])
def test_confusion_matrix_png_is_a_valid_image(tmp_path, n_classes: int) -> None:
    rng = np.random.default_rng(n_classes)
    scores = rng.normal(size=(5 * n_classes, n_classes))
    targets = np.arange(5 * n_classes) % n_classes
    names = [f"class {i} with a rather long descriptive name" for i in range(n_classes)]
    path = save_confusion_matrix_png(confusion_matrix(scores, targets), names, tmp_path / "plots" / "cm.png")
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    height, width, _ = matplotlib.image.imread(path).shape
    assert min(height, width) >= 500  # large enough for 60 rotated tick labels to stay legible


def test_confusion_matrix_png_rejects_mismatched_names(tmp_path) -> None:
    with pytest.raises(ValueError, match="class names"):
        save_confusion_matrix_png(np.eye(3), ["a", "b"], tmp_path / "cm.png")
