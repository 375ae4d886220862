"""The one training-time validation every method uses: which rows it scores, against which labels."""

from __future__ import annotations

from pathlib import Path

import pytest

import auralign.evaluation.validation as validation
from auralign.data.manifest import ManifestRow
from auralign.evaluation.validation import spread_sample, zeroshot_validation


def rows_of(*counts: tuple[str, int]) -> list[ManifestRow]:
    return [ManifestRow(audio=Path(f"{label}{i}.wav"), labels=[label]) for label, count in counts for i in range(count)]


def test_spread_sample_covers_every_class_before_repeating_one() -> None:
    rows = rows_of(("dog", 20), ("cat", 2), ("rain", 1))
    rows.append(ManifestRow(audio=Path("mix.wav"), labels=["dog", "rain"]))
    chosen = spread_sample(rows, 5, seed=0)
    assert len(chosen) == 5 and {row.labels[0] for row in chosen} == {"dog", "cat", "rain"}
    assert sum(row.labels == ["cat"] for row in chosen) == 2
    assert spread_sample(rows, 5, seed=0) == chosen
    assert len(spread_sample(rows, None, seed=0)) == 23  # every single-label row, the mixture left out


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    seen: list[dict] = []

    def fake_evaluate(model, rows, cache, class_names, templates, **kwargs):
        seen.append({"rows": list(rows), "class_names": class_names, **kwargs})
        return {"top1": 0.5, "mAP": 0.25}

    monkeypatch.setattr(validation, "evaluate_zeroshot", fake_evaluate)
    return seen


def test_a_subset_is_matched_against_the_whole_split_vocabulary(calls: list[dict]) -> None:
    rows = rows_of(("dog", 5), ("cat", 1), ("rain", 1))
    rows.append(ManifestRow(audio=Path("mix.wav"), labels=["dog", "rain"]))
    check = zeroshot_validation(rows, cache=None, method="ranking", max_clips=2, seed=0)
    assert check(None, 0) == {"val_top1": 0.5}  # a subset leaves the multi-label rows out
    (call,) = calls
    assert len(call["rows"]) == 2 and call["class_names"] == ["cat", "dog", "rain"]
    assert call["method"] == "ranking" and call["progress"] is False


def test_every_row_scores_top1_on_single_labels_and_map_on_multi_labels(calls: list[dict]) -> None:
    rows = [*rows_of(("dog", 2), ("cat", 1)), ManifestRow(audio=Path("mix.wav"), labels=["dog", "rain"]),
            ManifestRow(audio=Path("none.wav"), labels=[])]
    check = zeroshot_validation(rows, cache=None)
    assert check(None, 0) == {"val_top1": 0.5, "val_mAP": 0.25}
    single, multi = calls
    assert len(single["rows"]) == 3 and single["class_names"] == ["cat", "dog"]
    assert len(multi["rows"]) == 1 and multi["class_names"] == ["dog", "rain"]


def test_no_labelled_row_no_validation() -> None:
    assert zeroshot_validation([ManifestRow(audio=Path("a.wav"), labels=[])], cache=None) is None
