"""Linear probes on frozen features: standardised logistic regression, C picked by cross-validation.

Accuracy is estimated with nested cross-validation: every evaluation fold chooses C by an inner
stratified K-fold on its own training part only, so the reported accuracy never saw the test
fold while tuning. When ``groups`` is given (speaker, source recording, ...) both the outer and
the inner splits are group-aware (``StratifiedGroupKFold``): a group is never on both sides,
which would otherwise let the probe recognise the recording instead of the class.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

DEFAULT_C_GRID: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0)

Split = tuple[np.ndarray, np.ndarray]


@dataclass(frozen=True)
class LinearProbeResult:
    """Test accuracy per evaluation fold, their mean/std and the regularisation strength chosen.

    ``chosen_c`` is the C picked most often across folds (the smaller one on a tie);
    ``chosen_c_per_fold`` keeps every fold's choice.
    """

    mean_accuracy: float
    std_accuracy: float
    fold_accuracies: tuple[float, ...]
    chosen_c: float
    chosen_c_per_fold: tuple[float, ...]


def _stratified_splitter(n_splits: int, grouped: bool, seed: int) -> StratifiedKFold | StratifiedGroupKFold:
    if grouped:
        return StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    return StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)


def evaluation_splits(
    labels: np.ndarray, *, groups: np.ndarray | None = None, cv_folds: int = 5, seed: int = 0
) -> list[Split]:
    """The (train, test) index pairs of the outer folds ``linear_probe`` evaluates on."""
    if cv_folds < 2:
        raise ValueError(f"cv_folds must be >= 2, got {cv_folds}")
    labels = np.asarray(labels)
    splitter = _stratified_splitter(cv_folds, groups is not None, seed)
    placeholder_features = np.zeros((labels.size, 1))
    return list(splitter.split(placeholder_features, labels, groups))


def _check_inputs(features: np.ndarray, labels: np.ndarray, groups: np.ndarray | None) -> None:
    if features.ndim != 2:
        raise ValueError(f"features must be 2-D (N, D), got shape {features.shape}")
    if labels.shape != (features.shape[0],):
        raise ValueError(f"labels must have shape ({features.shape[0]},), got {labels.shape}")
    if groups is not None and groups.shape != labels.shape:
        raise ValueError(f"groups must have shape {labels.shape}, got {groups.shape}")
    if not np.all(np.isfinite(features)):
        raise ValueError("features contain NaN or infinite values")


def _check_split(split: Split, n_samples: int, groups: np.ndarray | None) -> Split:
    train, test = (np.asarray(part, dtype=np.int64) for part in split)
    if train.size == 0 or test.size == 0:
        raise ValueError("the provided train and test parts must both be non-empty")
    if min(train.min(), test.min()) < 0 or max(train.max(), test.max()) >= n_samples:
        raise ValueError(f"split indices must lie in [0, {n_samples})")
    if np.intersect1d(train, test).size:
        raise ValueError("the provided train and test parts share samples")
    if groups is not None:
        shared = np.intersect1d(groups[train], groups[test])
        if shared.size:
            raise ValueError(f"groups occur in both train and test: {shared[:5].tolist()}")
    return train, test


def _fit_with_tuned_c(
    features: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray | None,
    *,
    c_grid: Sequence[float],
    inner_folds: int,
    seed: int,
) -> GridSearchCV:
    """Standardise + logistic regression, C chosen by inner CV, refit on all given samples."""
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    search = GridSearchCV(
        probe,
        {"logisticregression__C": list(c_grid)},
        cv=_stratified_splitter(inner_folds, groups is not None, seed),
        scoring="accuracy",
        n_jobs=1,
    )
    search.fit(features, labels, groups=groups)
    return search


def _most_frequent_smallest_first(values: Sequence[float]) -> float:
    counts = Counter(values)
    return min(counts, key=lambda value: (-counts[value], value))


def linear_probe(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    groups: np.ndarray | None = None,
    split: Split | None = None,
    cv_folds: int = 5,
    inner_folds: int = 3,
    c_grid: Sequence[float] = DEFAULT_C_GRID,
    seed: int = 0,
) -> LinearProbeResult:
    """Accuracy of a logistic-regression probe on frozen (N, D) features.

    With ``split=(train_indices, test_indices)`` the probe is tuned on the train part and scored
    once on the test part (std is then 0). Otherwise ``cv_folds`` stratified outer folds are used,
    group-aware when ``groups`` is given.
    """
    features = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    groups = None if groups is None else np.asarray(groups)
    _check_inputs(features, labels, groups)
    if not c_grid:
        raise ValueError("c_grid must contain at least one value")
    if split is not None:
        splits = [_check_split(split, labels.size, groups)]
    else:
        splits = evaluation_splits(labels, groups=groups, cv_folds=cv_folds, seed=seed)

    accuracies: list[float] = []
    chosen: list[float] = []
    for train, test in splits:
        search = _fit_with_tuned_c(
            features[train],
            labels[train],
            None if groups is None else groups[train],
            c_grid=c_grid,
            inner_folds=inner_folds,
            seed=seed,
        )
        accuracies.append(float(search.score(features[test], labels[test])))
        chosen.append(float(search.best_params_["logisticregression__C"]))
    return LinearProbeResult(
        mean_accuracy=float(np.mean(accuracies)),
        std_accuracy=float(np.std(accuracies)),
        fold_accuracies=tuple(accuracies),
        chosen_c=_most_frequent_smallest_first(chosen),
        chosen_c_per_fold=tuple(chosen),
    )
