"""Decoding that never loops, the retrieval floor, and the caption-quality measures."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from auralign.backbones.base import GREEDY, Decoding
from auralign.backbones.language_model import HFLanguageModel
from auralign.errors import AuralignError
from auralign.evaluation.caption_quality import (
    LabelMatcher,
    choose_threshold,
    distinct_n,
    diversity,
    label_scores,
    repeated_trigram_rate,
    repeats_a_trigram,
)
from auralign.models.clap import ClapConfig, ClapModel
from auralign.models.retrieval import CaptionRetriever, caption_bank
from backbone_factory import make_tiny_aisfx, make_tiny_bert, make_tiny_llama

CAPTIONS = ["a dog barks", "rain falls on the roof", "a bird sings", "a loud car engine", "a dog barks"]


def repeated_token_trigram(ids: list[int]) -> bool:
    grams = [tuple(ids[i:i + 3]) for i in range(len(ids) - 2)]
    return len(set(grams)) < len(grams)


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> HFLanguageModel:
    return HFLanguageModel.from_pretrained(make_tiny_llama(tmp_path_factory.mktemp("llama")))


def test_default_decoding_never_repeats_a_trigram_where_greedy_does(llama: HFLanguageModel) -> None:
    torch.manual_seed(0)
    prefixes = torch.randn(8, 2, llama.hidden_size)
    prompts = ["describe"] * 8
    blocked = llama.generate_ids(prefixes, prompts, Decoding(max_new_tokens=60, min_new_tokens=60))
    greedy = llama.generate_ids(prefixes, prompts, replace(GREEDY, max_new_tokens=60, min_new_tokens=60))
    assert not any(repeated_token_trigram(row.tolist()) for row in blocked)
    assert any(repeated_token_trigram(row.tolist()) for row in greedy)  # the random model loops unblocked


def test_sampling_is_seeded(llama: HFLanguageModel) -> None:
    torch.manual_seed(0)
    prefix = torch.randn(2, 2, llama.hidden_size)
    sample = Decoding(do_sample=True, temperature=1.5, max_new_tokens=12, seed=3)
    first = llama.generate(prefix, ["a", "b"], sample)
    assert llama.generate(prefix, ["a", "b"], sample) == first
    assert any(llama.generate(prefix, ["a", "b"], Decoding(**{**vars(sample), "seed": s})) != first
               for s in range(4, 8))


@pytest.mark.parametrize("bad", [dict(min_new_tokens=0), dict(min_new_tokens=40, max_new_tokens=30),
                                 dict(num_beams=0), dict(top_p=0.0), dict(temperature=0.0)])
def test_impossible_decoding_is_refused(bad: dict) -> None:
    with pytest.raises(ValueError):
        Decoding(**bad)


@pytest.fixture(scope="module")
def clap(tmp_path_factory: pytest.TempPathFactory) -> ClapModel:
    root = tmp_path_factory.mktemp("clap")
    torch.manual_seed(0)
    config = ClapConfig(audio_encoder=str(make_tiny_aisfx(root / "aisfx")), text_encoder=str(make_tiny_bert(root / "bert")),
                        embed_dim=16, audio_layers=0, projection_hidden=0)
    return ClapModel(config).eval()


def test_retrieval_returns_the_nearest_caption_and_caches_the_bank(clap: ClapModel, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AURALIGN_HOME", str(tmp_path))
    retriever = CaptionRetriever.from_captions(clap, CAPTIONS, progress=False)
    assert retriever.captions == list(dict.fromkeys(CAPTIONS))  # duplicates collapse
    assert len(list((tmp_path / "caption-banks").glob("*.safetensors"))) == 1
    tokens, mask = torch.randn(3, 5, clap.audio_encoder.dim), torch.ones(3, 5, dtype=torch.bool)
    with torch.inference_mode():
        audio = clap.embed_audio_tokens(tokens, mask)
        text = torch.nn.functional.normalize(clap.embed_text(retriever.captions), dim=-1)
        torch.testing.assert_close(retriever.vectors, text, atol=1e-3, rtol=0)  # stored in fp16
        expected = [retriever.captions[int(i)] for i in (audio @ retriever.vectors.T).argmax(dim=1)]
    assert retriever.generate(tokens, mask) == expected
    with pytest.raises(AuralignError, match="only captions"):
        retriever.generate(tokens, mask, instruction="Is there a dog?")


def test_caption_bank_is_read_back_from_disk(clap: ClapModel, tmp_path: Path) -> None:
    calls: list[int] = []
    original = clap.embed_text

    def counting(texts: list[str]) -> torch.Tensor:
        calls.append(len(texts))
        return original(texts)

    clap.embed_text = counting  # type: ignore[method-assign]
    try:
        first = caption_bank(clap, CAPTIONS[:4], cache_dir=tmp_path, progress=False)
        assert sum(calls) == 1 + 4  # probe + the captions
        calls.clear()
        again = caption_bank(clap, CAPTIONS[:4], cache_dir=tmp_path, progress=False)
        assert calls == [1]  # only the probe of the digest
        torch.testing.assert_close(first, again)
        caption_bank(clap, CAPTIONS[:3], cache_dir=tmp_path, progress=False)
        assert len(list(tmp_path.glob("*.safetensors"))) == 2  # other captions, other file
    finally:
        del clap.embed_text


def test_distinct_n_and_repeated_trigrams() -> None:
    assert distinct_n(["a dog barks", "a dog barks"], 1) == 0.5
    assert distinct_n(["a dog barks", "a cat meows"], 2) == 1.0
    assert repeats_a_trigram("a sound of a is played by a sound of a")
    assert not repeats_a_trigram("a dog barks while a cat meows")
    assert repeated_trigram_rate(["x y z x y z", "a b c"]) == 0.5
    assert diversity(["a dog barks"])["mean_words"] == 3


def test_threshold_separates_positive_from_negative_scores() -> None:
    threshold = choose_threshold(np.array([0.8, 0.7, 0.9]), np.array([0.2, 0.3, 0.6]))
    assert 0.6 < threshold < 0.7


def bag_of_words(texts: list[str]) -> np.ndarray:
    vocabulary = ["dog", "barks", "bark", "rain", "falls", "bird", "sings", "song", "canine"]
    return np.array([[float(word in text.lower().split()) for word in vocabulary] + [0.01] for text in texts])


def test_label_scores_count_captions_that_name_their_label() -> None:
    matcher = LabelMatcher(bag_of_words, ["dog", "rain", "bird"])
    scores = label_scores(matcher, ["a dog barks loudly", "a dog barks", "rain falls"], ["dog", "bird", "rain"],
                          threshold=0.3)
    assert scores["label_accuracy"] == pytest.approx(2 / 3)  # the bird clip's caption names a dog
    assert scores["label_recall"] == pytest.approx(2 / 3)
