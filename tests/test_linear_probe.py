"""Linear probe: separable data is learned, random labels stay at chance, groups never leak."""

from __future__ import annotations

import numpy as np
import pytest

from auralign.evaluation.linear_probe import evaluation_splits, linear_probe

# a short grid keeps the nested cross-validation cheap on the shared CPU
FAST_C_GRID = (0.1, 10.0)


def _separable_blobs(seed: int = 0, per_class: int = 40, n_classes: int = 3, dim: int = 16):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=6.0, size=(n_classes, dim))
    labels = np.repeat(np.arange(n_classes), per_class)
    features = centers[labels] + rng.normal(size=(labels.size, dim))
    return features, labels


def _recordings_with_random_labels(seed: int = 0, n_groups: int = 30, per_group: int = 6, dim: int = 40):
    """Each group (recording) has its own fingerprint and one label drawn at random.

    The label is only predictable by recognising the recording, i.e. by leaking groups.
    """
    rng = np.random.default_rng(seed)
    group_labels = rng.permutation(np.arange(n_groups) % 2)
    fingerprints = rng.normal(scale=3.0, size=(n_groups, dim))
    groups = np.repeat(np.arange(n_groups), per_group)
    features = fingerprints[groups] + 0.3 * rng.normal(size=(groups.size, dim))
    return features, group_labels[groups], groups


def test_separable_data_is_learned() -> None:
    features, labels = _separable_blobs()
    result = linear_probe(features, labels, cv_folds=3, inner_folds=2, c_grid=FAST_C_GRID)
    assert result.mean_accuracy >= 0.97
    assert len(result.fold_accuracies) == 3
    assert result.chosen_c in FAST_C_GRID
    assert all(c in FAST_C_GRID for c in result.chosen_c_per_fold)


def test_random_labels_stay_near_chance() -> None:
    rng = np.random.default_rng(1)
    features = rng.normal(size=(200, 16))
    labels = rng.integers(0, 2, size=200)
    result = linear_probe(features, labels, cv_folds=3, inner_folds=2, c_grid=FAST_C_GRID)
    assert abs(result.mean_accuracy - 0.5) < 0.12


def test_evaluation_splits_keep_groups_on_one_side() -> None:
    _, labels, groups = _recordings_with_random_labels()
    splits = evaluation_splits(labels, groups=groups, cv_folds=5, seed=3)
    assert len(splits) == 5
    for train, test in splits:
        assert not set(groups[train]) & set(groups[test])
    all_test = np.sort(np.concatenate([test for _, test in splits]))
    np.testing.assert_array_equal(all_test, np.arange(labels.size))  # every sample tested exactly once


def test_groups_prevent_recording_leakage() -> None:
    features, labels, groups = _recordings_with_random_labels()
    leaky = linear_probe(features, labels, cv_folds=3, inner_folds=2, c_grid=FAST_C_GRID)
    grouped = linear_probe(features, labels, groups=groups, cv_folds=3, inner_folds=2, c_grid=FAST_C_GRID)
    assert leaky.mean_accuracy > 0.9  # same recordings in train and test: memorised
    assert grouped.mean_accuracy < 0.75  # unseen recordings: the label is a coin flip


def test_provided_split_is_respected() -> None:
    features, labels = _separable_blobs(per_class=30)
    test = np.arange(0, labels.size, 3)
    train = np.setdiff1d(np.arange(labels.size), test)
    result = linear_probe(features, labels, split=(train, test), c_grid=FAST_C_GRID)
    assert result.fold_accuracies == (result.mean_accuracy,)
    assert result.std_accuracy == 0.0
    assert result.mean_accuracy >= 0.97


def test_provided_split_rejects_straddling_groups() -> None:
    features, labels, groups = _recordings_with_random_labels()
    train, test = np.arange(0, 100), np.arange(99, labels.size)  # sample 99 on both sides
    with pytest.raises(ValueError, match="share samples"):
        linear_probe(features, labels, groups=groups, split=(train, test))
    train, test = np.arange(0, 100), np.arange(100, labels.size)  # 100 is mid-group (groups of 6)
    with pytest.raises(ValueError, match="groups occur in both"):
        linear_probe(features, labels, groups=groups, split=(train, test))


def test_shape_mismatch_is_rejected() -> None:
    with pytest.raises(ValueError, match="labels must have shape"):
        linear_probe(np.zeros((10, 3)), np.zeros(9, dtype=int))
