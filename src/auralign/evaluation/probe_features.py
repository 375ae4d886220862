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
from auralign.evaluation.linear_probe import linear_probe


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


def _fixed_split(rows: Sequence[ManifestRow], test_split: str) -> tuple[np.ndarray, np.ndarray]:
    is_test = np.array([row.split == test_split for row in rows])
    if not is_test.any() or is_test.all():
        raise AuralignError(f"--test-split {test_split!r} must select some rows but not all of them")
    return np.flatnonzero(~is_test), np.flatnonzero(is_test)


def evaluate_linear_probe(rows: Sequence[ManifestRow], cache: FeatureCache, cv_folds: int = 5,
                          test_split: str | None = None, seed: int = 0, progress: bool = True) -> dict[str, Any]:
    """Nested-CV logistic-regression accuracy on frozen features.

    Without ``test_split``: ``cv_folds`` stratified folds over all rows, group-aware when every row
    has a ``group``. With it: trained on every other row, scored once on the rows of that split.
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
    split = _fixed_split(kept, test_split) if test_split else None
    smallest_class = min(np.unique(labels, return_counts=True)[1])
    if split is None and smallest_class < cv_folds:
        raise AuralignError(f"a class has only {smallest_class} clip(s), fewer than --cv-folds {cv_folds}")
    try:
        result = linear_probe(features.vectors, labels, groups=groups, split=split, cv_folds=cv_folds, seed=seed)
    except ValueError as error:
        raise AuralignError(f"linear probe: {error}") from None
    return {"task": "linear_probe", "n": len(kept), "n_classes": len(set(labels.tolist())),
            "features": "mean+max of frozen encoder tokens, averaged over windows",
            "feature_dim": int(features.vectors.shape[1]), "grouped": groups is not None,
            "protocol": f"test split {test_split!r}" if test_split else f"{cv_folds}-fold cross-validation",
            "accuracy": result.mean_accuracy, "std": result.std_accuracy,
            "fold_accuracies": list(result.fold_accuracies), "chosen_C": result.chosen_c,
            "failures": [{"audio": str(p), "reason": r} for p, r in features.failures]}
