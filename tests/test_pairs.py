"""Training pairs over the feature cache: template captions, seeded draws, crops, match ids, batching."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from auralign.backbones.aisfx import AisfxEncoder
from auralign.data.feature_cache import FeatureCache, WindowPolicy
from auralign.data.manifest import ManifestRow
from auralign.data.pairs import CachedPairs, Pair, TextFeatureTable, label_caption, pair_collator, texts_of
from auralign.errors import AuralignError
from backbone_factory import make_tiny_aisfx
from test_feature_cache import write_clip

CROP = 3


def test_label_caption_joins_labels_like_a_sentence() -> None:
    assert label_caption(["dog"]) == "This is a sound of dog."
    assert label_caption(["dog", "rain"]) == "This is a sound of dog and rain."
    assert label_caption(["A", "B", "C"]) == "This is a sound of A, B and C."


def test_texts_prefer_captions_then_labels(tmp_path: Path) -> None:
    audio = tmp_path / "a.wav"
    assert texts_of(ManifestRow(audio=audio, labels=["dog"], captions=["a dog barks"])) == ["a dog barks"]
    assert texts_of(ManifestRow(audio=audio, labels=["dog", "cat"])) == ["This is a sound of dog and cat."]
    assert texts_of(ManifestRow(audio=audio)) == []


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> FeatureCache:
    root = tmp_path_factory.mktemp("pairs")
    encoder = AisfxEncoder.from_pretrained(make_tiny_aisfx(root / "aisfx"))
    return FeatureCache(encoder, root=root / "cache", policy=WindowPolicy(window_seconds=1.0))


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> list[ManifestRow]:
    """Clips of 1-3 windows of 8 tokens, several captions each, and two label sets given in any order."""
    folder = tmp_path_factory.mktemp("clips")
    label_sets = [["dog", "rain"], ["rain", "dog"], ["bird"], ["dog", "rain"], ["bird"], []]
    out = []
    for i, labels in enumerate(label_sets):
        path = write_clip(folder / f"c{i}.wav", 1.0 + (i % 3), frequency=200.0 + 150 * i)
        captions = [f"caption {i}.{k}" for k in range(4)] if i != 2 else []
        out.append(ManifestRow(audio=path, labels=labels, captions=captions, id=f"c{i}"))
    return out


def as_key(pair: Pair) -> tuple:
    return pair.tokens.tobytes(), pair.text, pair.match_id


def draws(dataset: CachedPairs, epoch: int) -> list[tuple]:
    dataset.set_epoch(epoch)
    return [as_key(dataset[i]) for i in range(len(dataset))]


def test_same_seed_epoch_and_index_give_the_same_pair(rows: list[ManifestRow], cache: FeatureCache) -> None:
    first = CachedPairs(rows, cache, seed=7, crop_tokens=CROP, progress=False)
    second = CachedPairs(rows, cache, seed=7, crop_tokens=CROP, progress=False)
    assert draws(first, 0) == draws(second, 0)
    assert draws(first, 3) == draws(second, 3)
    first.set_epoch(1)
    assert as_key(first[4]) == as_key(first[4])  # reading again, in any order, gives the same draw
    assert [as_key(first[i]) for i in reversed(range(len(first)))] == list(reversed(draws(first, 1)))


def test_epochs_and_seeds_draw_differently(rows: list[ManifestRow], cache: FeatureCache) -> None:
    dataset = CachedPairs(rows, cache, seed=7, crop_tokens=CROP, progress=False)
    assert draws(dataset, 0) != draws(dataset, 1)
    other_seed = CachedPairs(rows, cache, seed=8, crop_tokens=CROP, progress=False)
    assert draws(dataset, 0) != draws(other_seed, 0)
    texts_seen = set()
    for epoch in range(40):
        dataset.set_epoch(epoch)
        texts_seen.add(dataset[0].text)
    assert texts_seen == {f"caption 0.{k}" for k in range(4)}  # every caption of a clip gets drawn


def test_crops_are_slices_of_a_window_at_most_crop_tokens_long(rows: list[ManifestRow], cache: FeatureCache) -> None:
    dataset = CachedPairs(rows, cache, seed=0, crop_tokens=CROP, progress=False)
    for epoch in range(3):
        dataset.set_epoch(epoch)
        for index, row in enumerate(dataset.rows):
            pair = dataset[index]
            assert pair.tokens.dtype == np.float32 and pair.tokens.shape == (CROP, 32)
            windows = [np.asarray(w, dtype=np.float32) for w in cache.get(row.audio).windows()]
            assert any(np.array_equal(pair.tokens, w[s:s + CROP]) for w in windows for s in range(len(w) - CROP + 1))


def test_without_crop_a_whole_window_is_used(rows: list[ManifestRow], cache: FeatureCache) -> None:
    dataset = CachedPairs(rows, cache, seed=0, crop_tokens=None, progress=False)
    assert all(dataset[i].tokens.shape == (8, 32) for i in range(len(dataset)))
    long = CachedPairs(rows, cache, seed=0, crop_tokens=100, progress=False)
    assert all(long[i].tokens.shape == (8, 32) for i in range(len(long)))


def test_match_ids_are_equal_exactly_for_equal_label_sets(rows: list[ManifestRow], cache: FeatureCache) -> None:
    ids = CachedPairs(rows, cache, progress=False).match_ids
    # rows 0, 1, 3: {dog, rain} in any order; rows 2, 4: {bird}; row 5 has no labels: its own id
    assert ids[0] == ids[1] == ids[3]
    assert ids[2] == ids[4]
    assert len({ids[0], ids[2], ids[5]}) == 3


def test_unusable_rows_are_dropped(rows: list[ManifestRow], cache: FeatureCache, tmp_path: Path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    no_text = ManifestRow(audio=rows[0].audio, id="no text")
    dataset = CachedPairs([*rows[:2], ManifestRow(audio=bad, labels=["x"]), no_text], cache, progress=False)
    assert [row.id for row in dataset.rows] == ["c0", "c1"]
    assert [(path, reason.split(" (")[0]) for path, reason in dataset.failures] == [(bad, "not an audio file")]
    with pytest.raises(AuralignError, match="no usable training pairs"):
        CachedPairs([no_text, ManifestRow(audio=bad, labels=["x"])], cache, progress=False)


def test_all_texts_is_the_sorted_set(rows: list[ManifestRow], cache: FeatureCache) -> None:
    texts = CachedPairs(rows, cache, progress=False).all_texts()
    assert texts == sorted(set(texts))
    assert "This is a sound of bird." in texts and "caption 5.3" in texts
    assert len(texts) == 5 * 4 + 1


def fake_encode(texts: list[str]) -> torch.Tensor:
    """A deterministic 'text encoder': one row per text, from the text's characters."""
    return torch.tensor([[len(t), sum(map(ord, t)) % 97, t.count(" ")] for t in texts], dtype=torch.float32)


def test_pair_collator_pads_and_keeps_texts_and_ids() -> None:
    pairs = [Pair(np.ones((2, 4), dtype=np.float32), "a", 0), Pair(np.full((3, 4), 2.0, dtype=np.float32), "bb", 1),
             Pair(np.zeros((1, 4), dtype=np.float32), "a", 0)]
    batch = pair_collator()(pairs)
    assert set(batch) == {"tokens", "mask", "texts", "match_ids", "text_ids"}
    assert batch["tokens"].shape == (3, 3, 4)
    assert batch["mask"].sum(1).tolist() == [2, 3, 1]
    assert batch["texts"] == ["a", "bb", "a"]
    assert batch["match_ids"].tolist() == [0, 1, 0]


def test_pair_collator_with_a_text_feature_table_looks_texts_up() -> None:
    calls: list[int] = []

    def encode(texts: list[str]) -> torch.Tensor:
        calls.append(len(texts))
        return fake_encode(texts)

    vocabulary = ["a dog", "rain falls", "a bird sings", "loud engine", "cat"]
    table = TextFeatureTable(vocabulary, encode, batch_size=2)
    assert calls == [2, 2, 1]
    pairs = [Pair(np.ones((2, 4), dtype=np.float32), text, i) for i, text in enumerate(["cat", "a dog", "cat"])]
    batch = pair_collator(table)(pairs)
    assert torch.equal(batch["text_features"], fake_encode(["cat", "a dog", "cat"]))
    assert batch["texts"] == ["cat", "a dog", "cat"]
    assert calls == [2, 2, 1]  # the collator never encodes
    with pytest.raises(KeyError):
        table(["not in the table"])
