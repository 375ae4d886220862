"""Label-balanced draws with a speech cap: the weights, and seeded epochs of draws."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from auralign.data.manifest import ManifestRow
from auralign.data.sampling import WeightedDraws, cap_clips_per_label, draw_weights, epoch_shares, matches_any
from auralign.errors import AuralignError


def corpus_rows() -> list[ManifestRow]:
    """80 speech clips of one label, 15 dog clips, 4 rain clips, 1 violin clip."""
    rows = [ManifestRow(audio=Path(f"s{i}.flac"), labels=["czech speech"], extra={"kind": "speech"})
            for i in range(80)]
    for label, count in (("dog", 15), ("rain", 4), ("violin", 1)):
        rows += [ManifestRow(audio=Path(f"{label}{i}.flac"), labels=[label], extra={"kind": "effect"})
                 for i in range(count)]
    return rows


def share_of(rows: list[ManifestRow], weights: np.ndarray, label: str) -> float:
    return float(sum(w for row, w in zip(rows, weights, strict=True) if label in row.labels))


def test_no_balance_draws_every_clip_alike() -> None:
    rows = corpus_rows()
    weights = draw_weights(rows)
    assert np.allclose(weights, 1 / len(rows))


def test_label_balance_gives_every_label_set_the_same_share() -> None:
    rows = corpus_rows()
    weights = draw_weights(rows, "label")
    assert weights.sum() == pytest.approx(1.0)
    for label in ("czech speech", "dog", "rain", "violin"):
        assert share_of(rows, weights, label) == pytest.approx(0.25)


def test_sqrt_balance_lies_between_none_and_label() -> None:
    rows = corpus_rows()
    speech = [share_of(rows, draw_weights(rows, balance), "czech speech") for balance in ("none", "sqrt", "label")]
    assert speech[0] > speech[1] > speech[2]


def test_speech_share_caps_speech_and_keeps_the_balance_of_the_rest() -> None:
    rows = corpus_rows()
    weights = draw_weights(rows, "none", speech_share=0.2)
    assert share_of(rows, weights, "czech speech") == pytest.approx(0.2)
    assert share_of(rows, weights, "dog") / share_of(rows, weights, "rain") == pytest.approx(15 / 4)
    assert epoch_shares(rows, weights)["speech"] == pytest.approx(0.2)
    # a cap above the natural share changes nothing
    assert np.allclose(draw_weights(rows, "label", speech_share=0.9), draw_weights(rows, "label"))


def test_bad_speech_share_is_refused() -> None:
    with pytest.raises(AuralignError, match="speech_share"):
        draw_weights(corpus_rows(), speech_share=1.5)


class Items:
    def __init__(self, n: int) -> None:
        self.n, self.epoch = n, -1

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, index: int) -> int:
        return index

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch


def test_weighted_draws_are_seeded_by_epoch_and_follow_the_weights() -> None:
    weights = np.array([0.7, 0.1, 0.1, 0.1] + [0.0] * 996)
    draws = WeightedDraws(Items(1000), weights, seed=3)
    draws.set_epoch(0)
    first = [draws[i] for i in range(len(draws))]
    assert draws.base.epoch == 0
    assert first == [draws[i] for i in range(len(draws))]
    assert set(first) <= {0, 1, 2, 3}
    assert 0.6 < Counter(first)[0] / len(first) < 0.8
    draws.set_epoch(1)
    assert first != [draws[i] for i in range(len(draws))]
    again = WeightedDraws(Items(1000), weights, seed=3)
    again.set_epoch(1)
    assert [again[i] for i in range(5)] == [draws[i] for i in range(5)]


def test_cap_clips_per_label_keeps_a_seeded_subset_in_order() -> None:
    rows = corpus_rows()
    capped = cap_clips_per_label(rows, 5, seed=1)
    counts = Counter(row.labels[0] for row in capped)
    assert counts == {"czech speech": 5, "dog": 5, "rain": 4, "violin": 1}
    assert [rows.index(row) for row in capped] == sorted(rows.index(row) for row in capped)
    assert capped == cap_clips_per_label(rows, 5, seed=1)
    assert capped != cap_clips_per_label(rows, 5, seed=2)
    assert cap_clips_per_label(rows, None) == rows
    with pytest.raises(AuralignError, match="max_clips_per_label"):
        cap_clips_per_label(rows, 0)


def test_matches_any_by_field_value_or_presence() -> None:
    phrase = ManifestRow(audio=Path("p.flac"), labels=["violin"], split="train",
                         extra={"source": "timgm6mb", "phrase": "scale up"})
    note = ManifestRow(audio=Path("n.flac"), labels=["violin"], split="train", extra={"source": "fluidr3"})
    assert matches_any(phrase, ["phrase"]) and not matches_any(note, ["phrase"])
    assert matches_any(note, ["source=timgm6mb", "source=fluidr3"])
    assert not matches_any(note, ["source=timgm6mb"]) and not matches_any(note, [])
    assert matches_any(note, ["split=train"])
