"""Which clips a training epoch draws: label-balanced draws with a cap on the share of speech.

The corpus is very unbalanced (a few coarse speech labels hold most of the clips, hundreds of sound
labels hold a handful each), so drawing clips uniformly teaches mostly "speech". `draw_weights`
gives each clip a weight that depends on how common its label set is, then scales the speech clips
so that they take at most `speech_share` of the draws. `WeightedDraws` turns those weights into
epochs of the same length as the dataset, drawn from a generator seeded by (seed, epoch, index),
so a resumed run or a run on more processes sees the same draws.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from torch.utils.data import Dataset

from auralign.data.manifest import ManifestRow
from auralign.errors import AuralignError

Balance = Literal["none", "sqrt", "label"]


def is_speech(row: ManifestRow) -> bool:
    return str(row.extra.get("kind", "")) == "speech"


def draw_weights(rows: Sequence[ManifestRow], balance: Balance = "none",
                 speech_share: float | None = None) -> np.ndarray:
    """Per-row draw probabilities (summing to 1).

    balance: "none" = every clip alike; "sqrt" = a label set with n clips gets sqrt(n) of the draws
    of a set of n=1, "label" = every label set gets the same share. speech_share: the most that
    speech clips (`extra["kind"] == "speech"`) may take together; None leaves it as it falls.
    """
    if not rows:
        raise AuralignError("no rows to draw from")
    keys = [tuple(sorted(row.labels)) or (row.id,) for row in rows]
    counts = Counter(keys)
    exponent = {"none": 0.0, "sqrt": 0.5, "label": 1.0}[balance]
    weights = np.array([counts[key] ** -exponent for key in keys], dtype=np.float64)
    weights /= weights.sum()
    if speech_share is not None:
        if not 0.0 <= speech_share <= 1.0:
            raise AuralignError(f"speech_share must lie in [0, 1], got {speech_share}")
        speech = np.array([is_speech(row) for row in rows])
        share = weights[speech].sum()
        if share > speech_share and share < 1.0:
            weights[speech] *= speech_share / share
            weights[~speech] *= (1.0 - speech_share) / (1.0 - share)
    return weights / weights.sum()


def matches_any(row: ManifestRow, patterns: Sequence[str]) -> bool:
    """Whether a row matches one of `patterns`: "field=value" (a manifest field equals value) or
    "field" (the field is set and not false/empty)."""
    for pattern in patterns:
        name, _, value = pattern.partition("=")
        found = row.split if name == "split" else row.extra.get(name)
        if (str(found) == value) if value else bool(found):
            return True
    return False


def cap_clips_per_label(rows: Sequence[ManifestRow], limit: int | None, seed: int = 0) -> list[ManifestRow]:
    """At most `limit` rows per label set, a seeded choice (so the frozen encoder never has to encode
    thousands of clips of one coarse label that a balanced epoch would rarely draw); order kept."""
    if limit is None:
        return list(rows)
    if limit < 1:
        raise AuralignError(f"max_clips_per_label must be >= 1, got {limit}")
    by_key: dict[tuple[str, ...], list[int]] = {}
    for position, row in enumerate(rows):
        by_key.setdefault(tuple(sorted(row.labels)) or (row.id,), []).append(position)
    rng = np.random.default_rng(seed)
    kept: set[int] = set()
    for key in sorted(by_key):
        positions = by_key[key]
        kept.update(positions if len(positions) <= limit else rng.choice(positions, limit, replace=False).tolist())
    return [row for position, row in enumerate(rows) if position in kept]


class WeightedDraws(Dataset):
    """`len(base)` draws per epoch from `base` with probabilities `weights` (with replacement)."""

    def __init__(self, base: Any, weights: np.ndarray, seed: int = 0) -> None:
        if len(weights) != len(base):
            raise AuralignError(f"{len(weights)} weights for {len(base)} items")
        self.base = base
        self.cumulative = np.cumsum(weights / weights.sum())
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.base.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.base)

    def drawn_index(self, index: int) -> int:
        rng = np.random.default_rng([self.seed, self.epoch, index, 0x5EED])
        return min(int(np.searchsorted(self.cumulative, rng.random(), side="right")), len(self.base) - 1)

    def __getitem__(self, index: int) -> Any:
        return self.base[self.drawn_index(index)]

    def all_texts(self) -> list[str]:
        return self.base.all_texts()


def epoch_shares(rows: Sequence[ManifestRow], weights: np.ndarray) -> dict[str, float]:
    """The expected share of speech draws and of the most drawn label set, for logs and docs."""
    speech = np.array([is_speech(row) for row in rows])
    keys = [tuple(sorted(row.labels)) for row in rows]
    per_key: Counter = Counter()
    for key, weight in zip(keys, weights, strict=True):
        per_key[key] += float(weight)
    top = per_key.most_common(1)[0][1] if per_key else 0.0
    return {"speech": round(float(weights[speech].sum()), 4), "largest_label_set": round(top, 4),
            "label_sets": len(per_key)}

