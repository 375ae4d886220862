"""Linear probe of a frozen audio encoder over a manifest: the upper reference for zero-shot numbers.

Features: per window, the concatenation of the mean and the max of the encoder's frame tokens (as
read from the feature cache); per clip, the mean over its windows. Mean + max rather than the
encoder's own pooled vector because the tokens are what every auralign model is trained on (so
the probe measures what the heads can use), they are already cached, and the max keeps short
events that a mean over a long clip would dilute.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from auralign.backbones.base import masked_max, masked_mean
from auralign.data.feature_cache import FeatureCache
from auralign.data.manifest import ManifestRow
from auralign.errors import AuralignError
from auralign.evaluation.embedding import ClipEmbeddings, per_clip_mean
from auralign.evaluation.linear_probe import Split, linear_probe


def mean_max_tokens(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, T, D) tokens + (B, T) mask -> (B, 2D): mean and max over the valid tokens."""
    return torch.cat([masked_mean(tokens, mask), masked_max(tokens, mask)], dim=-1)


def pooled_token_features(cache: FeatureCache, paths: Sequence[str | Path], progress: bool = True) -> ClipEmbeddings:
    """(n_ok, 2D) probe features of the clips that loaded (not normalised: the probe standardises)."""
    return per_clip_mean(mean_max_tokens, cache, paths, progress=progress)


def _single_labels(rows: Sequence[ManifestRow]) -> np.ndarray:
    multi = [row.id for row in rows if len(row.labels) != 1]
    if multi:
        raise AuralignError(f"the linear probe needs exactly one label per row; not so for {multi[:3]}")
    return np.array([row.labels[0] for row in rows])


def _groups(rows: Sequence[ManifestRow]) -> np.ndarray | None:
    """Row groups when every row has one (then no group straddles folds), else None."""
    if any(row.group is None for row in rows):
        return None
    return np.array([row.group for row in rows])


def _fixed_split(rows: Sequence[ManifestRow], test_split: str) -> Split:
    is_test = np.array([row.split == test_split for row in rows])
    if not is_test.any() or is_test.all():
        raise AuralignError(f"split {test_split!r} must select some rows but not all of them")
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def _given_splits(rows: Sequence[ManifestRow], test_split: str | None, split_folds: bool) -> list[Split] | None:
    """(train, test) pairs fixed by the manifest, or None for cross-validation over all rows."""
    if split_folds:
        names = sorted({str(row.split) for row in rows}, key=_natural_key)
        if len(names) < 2 or any(row.split is None for row in rows):
            raise AuralignError("--split-folds needs every row in a split and at least two splits (the folds)")
        return [_fixed_split(rows, name) for name in names]
    return [_fixed_split(rows, test_split)] if test_split else None


def _natural_key(name: str) -> tuple[str, int]:
    """fold2 before fold10."""
    stem = name.rstrip("0123456789")
    return stem, int(name[len(stem):] or 0)


def _probe(features: np.ndarray, labels: np.ndarray, groups: np.ndarray | None, splits: list[Split] | None,
           cv_folds: int, seed: int) -> tuple[list[float], list[float]]:
    """Test accuracy and chosen C of every evaluation fold."""
    try:
        if splits is None:
            result = linear_probe(features, labels, groups=groups, cv_folds=cv_folds, seed=seed)
            return list(result.fold_accuracies), list(result.chosen_c_per_fold)
        results = [linear_probe(features, labels, groups=groups, split=split, seed=seed) for split in splits]
    except ValueError as error:
        raise AuralignError(f"linear probe: {error}") from None
    return [r.mean_accuracy for r in results], [r.chosen_c for r in results]


def evaluate_linear_probe(rows: Sequence[ManifestRow], cache: FeatureCache, cv_folds: int = 5,
                          test_split: str | None = None, seed: int = 0, split_folds: bool = False,
                          progress: bool = True) -> dict[str, Any]:
    """Nested-CV logistic-regression accuracy on frozen features.

    By default ``cv_folds`` stratified folds over all rows, group-aware when every row has a
    ``group``. ``test_split``: trained on every other row, scored once on that split's rows.
    ``split_folds``: every split value is one test fold in turn (ESC-50's and UrbanSound8K's
    official cross-validation).
    """
    rows = [row for row in rows if row.labels]
    if not rows:
        raise AuralignError("the linear probe needs rows with labels")
    features = pooled_token_features(cache, [row.audio for row in rows], progress)
    kept = [rows[i] for i in features.index]
    if not kept:
        raise AuralignError("no clip could be loaded")
    labels = _single_labels(kept)
    groups = _groups(kept)
    splits = _given_splits(kept, test_split, split_folds)
    smallest_class = min(np.unique(labels, return_counts=True)[1])
    if splits is None and smallest_class < cv_folds:
        raise AuralignError(f"a class has only {smallest_class} clip(s), fewer than --cv-folds {cv_folds}")
    accuracies, chosen = _probe(features.vectors, labels, groups, splits, cv_folds, seed)
    if split_folds:
        protocol = f"one test fold per split ({len(accuracies)} folds)"
    else:
        protocol = f"test split {test_split!r}" if test_split else f"{cv_folds}-fold cross-validation"
    return {"task": "linear_probe", "n": len(kept), "n_classes": len(set(labels.tolist())),
            "features": "mean+max of frozen encoder tokens, averaged over windows",
            "feature_dim": int(features.vectors.shape[1]), "grouped": groups is not None, "protocol": protocol,
            "accuracy": float(np.mean(accuracies)), "std": float(np.std(accuracies)),
            "fold_accuracies": accuracies, "chosen_C_per_fold": chosen,
            "failures": [{"audio": str(p), "reason": r} for p, r in features.failures]}
