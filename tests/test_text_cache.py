"""Label embeddings are computed once per (model weights, labels, templates), then read from memory or disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from app_factory import make_tiny_clap
from auralign.evaluation import text_cache
from auralign.evaluation.zeroshot import class_embeddings

LABELS = ["a dog barking", "rain", "a car horn"]


@pytest.fixture
def model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AURALIGN_HOME", str(tmp_path / "home"))
    text_cache.clear_memory()
    yield make_tiny_clap(tmp_path / "backbones")
    text_cache.clear_memory()


def counting(model, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    original = model.embed_text
    monkeypatch.setattr(model, "embed_text", lambda texts: calls.append(len(texts)) or original(texts))
    return calls


def test_second_call_reads_memory_then_disk(model, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls = counting(model, monkeypatch)
    first = class_embeddings(model, LABELS)
    assert calls == [3]
    assert np.array_equal(class_embeddings(model, LABELS), first) and calls == [3]
    text_cache.clear_memory()  # as a new process would
    assert np.array_equal(class_embeddings(model, LABELS), first) and calls == [3]
    assert len(list((tmp_path / "home" / "text-embeddings").glob("*.npy"))) == 1
    with pytest.raises(ValueError):
        first[0, 0] = 1.0  # callers cannot corrupt the shared matrix


def test_other_labels_templates_or_weights_recompute(model, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = counting(model, monkeypatch)
    before = class_embeddings(model, LABELS)
    class_embeddings(model, LABELS[:2])
    class_embeddings(model, LABELS, templates=("{label}",))
    assert calls == [3, 2, 3]
    weight = next(p for p in model.text_head.parameters() if p.requires_grad)
    with torch.no_grad():
        weight.add_(torch.randn_like(weight))  # training moved the head
    after = class_embeddings(model, LABELS)
    assert calls == [3, 2, 3, 3] and not np.allclose(before, after)


def test_damaged_disk_entry_is_recomputed(model, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    first = class_embeddings(model, LABELS)
    (entry,) = (tmp_path / "home" / "text-embeddings").glob("*.npy")
    entry.write_bytes(b"not an array")
    text_cache.clear_memory()
    assert np.allclose(class_embeddings(model, LABELS), first)
