"""Train / val / test splits by group, and an unseen-label test split.

* A group (one source recording, a speaker, a drum kit's instrument, a rendered instrument's octave)
  never spans two splits.
* Rows that already carry a split (`extra["preset_split"]`, e.g. FSDD's speaker split) keep it.
* `test_unseen`: a seeded choice of labels whose every clip goes to `test_unseen`, so those labels
  never occur in train or val. Only labels whose groups contain nothing else are eligible (moving
  them cannot pull a group apart), and only labels with at least `min_unseen_groups` groups (so
  the unseen test is not a handful of takes of one recording).
* Remaining groups are split per label (the label of the group's first row): of a label's groups,
  shuffled with the seed, ~`test_fraction` go to test and ~`val_fraction` to val when it has at least
  three groups; labels with fewer groups stay in train.
* Leave-source-out: rows of a held-out source (`extra["heldout_split"]`, one of `HELDOUT_SPLITS`) go
  to that split whole. They take no part in the choices above, so adding a held-out source changes
  no other row's split, and a held-out clip never reaches train, val, test or test_unseen.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from auralign.data.manifest import ManifestRow

SPLITS = ("train", "val", "test", "test_unseen")
HELDOUT_SPLITS = ("lso_dev", "lso_test")
ALL_SPLITS = SPLITS + HELDOUT_SPLITS


@dataclass(frozen=True)
class SplitConfig:
    seed: int = 0
    val_fraction: float = 0.1
    test_fraction: float = 0.1
    unseen_fraction: float = 0.1  # of eligible labels
    min_unseen_groups: int = 3


def _groups(rows: Sequence[ManifestRow]) -> dict[str, list[ManifestRow]]:
    groups: dict[str, list[ManifestRow]] = defaultdict(list)
    for row in rows:
        groups[row.group or row.id].append(row)
    return groups


def choose_unseen_labels(rows: Sequence[ManifestRow], config: SplitConfig) -> list[str]:
    groups = _groups(rows)
    groups_of: dict[str, set[str]] = defaultdict(set)
    blocked: set[str] = set()
    for key, members in groups.items():
        labels = {label for row in members for label in row.labels}
        preset = any(row.extra.get("preset_split") for row in members)
        for label in labels:
            groups_of[label].add(key)
            if len(labels) > 1 or preset:
                blocked.add(label)
    eligible = sorted(label for label, keys in groups_of.items()
                      if label not in blocked and len(keys) >= config.min_unseen_groups)
    count = round(config.unseen_fraction * len(eligible))
    rng = np.random.default_rng([config.seed, 7])
    return sorted(rng.choice(eligible, size=count, replace=False).tolist()) if count else []


def assign_splits(rows: Sequence[ManifestRow], config: SplitConfig | None = None,
                  unseen: Sequence[str] | None = None) -> list[str]:
    """Set `row.split` on every row; returns the unseen labels used."""
    config = config or SplitConfig()
    for row in rows:
        if row.extra.get("heldout_split"):
            row.split = str(row.extra["heldout_split"])
    rows = [row for row in rows if not row.extra.get("heldout_split")]
    unseen_labels = set(choose_unseen_labels(rows, config) if unseen is None else unseen)
    groups = _groups(rows)
    by_label: dict[str, list[str]] = defaultdict(list)
    for key, members in groups.items():
        preset = next((row.extra["preset_split"] for row in members if row.extra.get("preset_split")), None)
        if any(set(row.labels) & unseen_labels for row in members):
            _set(members, "test_unseen")
        elif preset:
            _set(members, str(preset))
        else:
            by_label[members[0].labels[0] if members[0].labels else ""].append(key)
    for label, keys in sorted(by_label.items()):
        order = sorted(keys)
        np.random.default_rng([config.seed, *label.encode()]).shuffle(order)
        n_test = round(config.test_fraction * len(order)) if len(order) >= 3 else 0
        n_val = round(config.val_fraction * len(order)) if len(order) >= 3 else 0
        n_test, n_val = max(n_test, 1 if len(order) >= 3 else 0), max(n_val, 1 if len(order) >= 3 else 0)
        for index, key in enumerate(order):
            _set(groups[key], "test" if index < n_test else "val" if index < n_test + n_val else "train")
    return sorted(unseen_labels)


def _set(rows: list[ManifestRow], split: str) -> None:
    for row in rows:
        row.split = split


def drop_duplicate_recordings(rows: Sequence[ManifestRow]) -> tuple[list[ManifestRow], int]:
    """One row per audio file. A package may list one sample under several names (a Hydrogen kit
    can use one hi-hat recording as both "closed" and "pedal" hi-hat): a file listed again with the
    same labels is kept once; a file listed with different labels is ambiguous and left out entirely.
    Returns the kept rows and the number of ambiguous files."""
    by_audio: dict[str, list[ManifestRow]] = defaultdict(list)
    for row in rows:
        by_audio[str(row.audio)].append(row)
    kept, ambiguous = [], 0
    for copies in by_audio.values():
        if len({tuple(sorted(row.labels)) for row in copies}) == 1:
            kept.append(copies[0])
        else:
            ambiguous += 1
    return kept, ambiguous


def check_splits(rows: Sequence[ManifestRow]) -> list[str]:
    """Violations of the split rules (empty when the splits are clean)."""
    problems = []
    for key, count in Counter(str(row.audio) for row in rows).items():
        if count > 1:
            problems.append(f"audio file {key} is listed {count} times")
    for key, count in Counter(row.id for row in rows).items():
        if count > 1:
            problems.append(f"clip id {key} is used {count} times")
    split_of: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        split_of[row.group or row.id].add(str(row.split))
    problems += [f"group {g} is in {sorted(s)}" for g, s in split_of.items() if len(s) > 1]
    for row in rows:
        heldout = row.extra.get("heldout_split")
        if row.split not in ALL_SPLITS:
            problems.append(f"clip {row.id} has unknown split {row.split!r}")
        elif heldout and row.split != heldout:
            problems.append(f"held-out clip {row.id} is in {row.split}, not {heldout}")
        elif row.split in HELDOUT_SPLITS and not heldout:
            problems.append(f"clip {row.id} of a non-held-out source is in {row.split}")
    unseen = {label for row in rows if row.split == "test_unseen" for label in row.labels}
    seen = {label for row in rows if row.split in ("train", "val") for label in row.labels}
    problems += [f"unseen label {label} occurs in train/val" for label in sorted(unseen & seen)]
    return problems


def restrict_training_labels(rows: Sequence[ManifestRow], n_labels: int, seed: int = 0) -> list[ManifestRow]:
    """Rows for a label-scaling run: train and val keep only clips of `n_labels` training labels (a
    seeded permutation, so smaller sets are subsets of larger ones); test and test_unseen are kept whole."""
    train_labels = sorted({label for row in rows if row.split == "train" for label in row.labels})
    order = np.random.default_rng([seed, 13]).permutation(len(train_labels))
    kept = {train_labels[i] for i in order[:n_labels]}
    return [row for row in rows
            if row.split not in ("train", "val") or (row.labels and set(row.labels) <= kept)]
