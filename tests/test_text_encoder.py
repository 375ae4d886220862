"""HFTextEncoder on tiny random BERT / CLIP-text folders, plus the real MiniLM (marked backbones)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from transformers import (
    BertTokenizer,
    CLIPConfig,
    CLIPModel,
    CLIPTextConfig,
    CLIPTextModel,
)

from auralign.backbones.base import masked_mean
from auralign.backbones.text_encoder import HFTextEncoder
from auralign.errors import AuralignError
from backbone_factory import WORDS


def make_tiny_clip_text(folder: Path, bert_vocab_folder: Path) -> Path:
    """A tiny CLIP text tower; it reuses the tiny BERT tokenizer (the tokenizer kind does not matter)."""
    BertTokenizer.from_pretrained(bert_vocab_folder).save_pretrained(folder)
    torch.manual_seed(1)
    config = CLIPTextConfig(vocab_size=5 + len(WORDS), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                            num_attention_heads=2, max_position_embeddings=16, eos_token_id=3, pad_token_id=0)
    CLIPTextModel(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def bert_folder(tiny_backbones: dict[str, Path]) -> Path:
    return tiny_backbones["bert"]


@pytest.fixture()
def encoder(bert_folder: Path) -> HFTextEncoder:
    return HFTextEncoder.from_pretrained(bert_folder)


def test_tokenize_pads_and_truncates(encoder: HFTextEncoder) -> None:
    batch = encoder.tokenize(["a dog", "the loud car engine on the roof"])
    assert batch.input_ids.shape == batch.attention_mask.shape == (2, 9)
    assert batch.attention_mask[0].tolist() == [1, 1, 1, 1, 0, 0, 0, 0, 0]
    assert batch.input_ids[0, 4:].eq(encoder.tokenizer.pad_token_id).all()
    short = encoder.tokenize(["the loud car engine on the roof"], max_length=4)
    assert short.input_ids.shape == (1, 4)
    assert short.input_ids[0, -1].item() == encoder.tokenizer.sep_token_id


def test_attributes_and_embedding_table(encoder: HFTextEncoder) -> None:
    assert encoder.dim == 32
    assert encoder.max_length == 64
    table = encoder.input_embeddings()
    assert isinstance(table, torch.nn.Embedding)
    assert table.weight.shape == (5 + len(WORDS), 32)


def test_encoding_from_embeddings_equals_encoding_from_ids(encoder: HFTextEncoder) -> None:
    batch = encoder.tokenize(["a dog barks", "rain falls on the roof"])
    from_ids = encoder(batch.input_ids, batch.attention_mask)
    from_embeds = encoder(inputs_embeds=encoder.input_embeddings()(batch.input_ids),
                          attention_mask=batch.attention_mask)
    torch.testing.assert_close(from_ids.tokens, from_embeds.tokens)
    torch.testing.assert_close(from_ids.pooled, from_embeds.pooled)
    assert from_ids.mask.dtype == torch.bool
    assert from_ids.mask.tolist() == batch.attention_mask.bool().tolist()


def test_pooled_is_the_masked_mean_and_ignores_padding(encoder: HFTextEncoder) -> None:
    batch = encoder.tokenize(["a dog", "the loud car engine on the roof"])
    out = encoder(batch.input_ids, batch.attention_mask)
    torch.testing.assert_close(out.pooled, masked_mean(out.tokens, out.mask))
    alone = encoder.encode_texts(["a dog"])
    torch.testing.assert_close(alone.pooled[0], out.pooled[0], atol=1e-5, rtol=1e-5)


def test_exactly_one_input_is_required(encoder: HFTextEncoder) -> None:
    with pytest.raises(ValueError):
        encoder()
    ids = encoder.tokenize(["a dog"]).input_ids
    with pytest.raises(ValueError):
        encoder(ids, inputs_embeds=encoder.input_embeddings()(ids))


def test_frozen_in_eval_mode_but_passes_gradient_to_input_embeddings(encoder: HFTextEncoder) -> None:
    assert not any(p.requires_grad for p in encoder.parameters())
    encoder.train()
    assert not any(module.training for module in encoder.model.modules())
    embeds = encoder.input_embeddings()(encoder.tokenize(["a dog barks"]).input_ids).detach().requires_grad_()
    encoder(inputs_embeds=embeds).pooled.sum().backward()
    assert embeds.grad is not None and embeds.grad.abs().sum() > 0


def test_unlock_last_layers(encoder: HFTextEncoder) -> None:
    encoder.unlock_last_layers(1)
    trainable = {name for name, p in encoder.named_parameters() if p.requires_grad}
    assert trainable and all(name.startswith("model.encoder.layer.1.") for name in trainable)
    encoder.train()
    assert encoder.model.encoder.layer[1].training
    assert not encoder.model.encoder.layer[0].training
    assert not encoder.model.embeddings.training
    encoder.eval()
    assert not encoder.model.encoder.layer[1].training
    encoder.unlock_last_layers(0)
    assert not any(p.requires_grad for p in encoder.parameters())
    with pytest.raises(AuralignError):
        encoder.unlock_last_layers(3)


def test_clip_text_model_from_ids_and_embeddings(bert_folder: Path, tmp_path: Path) -> None:
    folder = make_tiny_clip_text(tmp_path / "clip", bert_folder)
    encoder = HFTextEncoder.from_pretrained(folder)
    assert encoder.is_clip and encoder.dim == 32 and encoder.max_length == 16
    batch = encoder.tokenize(["a dog barks", "rain"])
    out = encoder(batch.input_ids, batch.attention_mask)
    reference = CLIPTextModel.from_pretrained(folder).eval()
    expected = reference(input_ids=batch.input_ids, attention_mask=batch.attention_mask).last_hidden_state
    torch.testing.assert_close(out.tokens, expected)
    from_embeds = encoder(inputs_embeds=encoder.input_embeddings()(batch.input_ids),
                          attention_mask=batch.attention_mask)
    torch.testing.assert_close(from_embeds.tokens, out.tokens)
    encoder.unlock_last_layers(2)
    assert all(name.startswith("model.encoder.layers.") for name, p in encoder.named_parameters() if p.requires_grad)


def test_text_tower_of_a_full_clip_checkpoint(bert_folder: Path, tmp_path: Path) -> None:
    BertTokenizer.from_pretrained(bert_folder).save_pretrained(tmp_path)
    text = {"vocab_size": 5 + len(WORDS), "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
            "num_attention_heads": 2, "max_position_embeddings": 16, "eos_token_id": 3, "pad_token_id": 0,
            "bos_token_id": 2}
    vision = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1, "num_attention_heads": 2,
              "image_size": 32, "patch_size": 16}
    clip = CLIPModel(CLIPConfig(text_config=text, vision_config=vision))
    clip.save_pretrained(tmp_path)
    encoder = HFTextEncoder.from_pretrained(tmp_path)
    assert encoder.is_clip and encoder.dim == 32
    torch.testing.assert_close(encoder.input_embeddings().weight, clip.text_model.embeddings.token_embedding.weight)
    batch = encoder.tokenize(["a dog barks"])
    expected = clip.text_model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).last_hidden_state
    torch.testing.assert_close(encoder(batch.input_ids, batch.attention_mask).tokens, expected)


@pytest.mark.backbones
def test_minilm_sentence_embeddings_rank_paraphrases_first() -> None:
    from auralign.backbones.factory import load_text_encoder

    encoder = load_text_encoder()
    assert encoder.dim == 384
    out = encoder.encode_texts(["a dog barks", "a puppy barking", "stock market news"])
    unit = torch.nn.functional.normalize(out.pooled, dim=-1)
    similarity = unit @ unit.T
    assert similarity[0, 1] > similarity[0, 2] + 0.3
    batch = encoder.tokenize(["a dog barks", "stock market news today"])
    from_ids = encoder(batch.input_ids, batch.attention_mask).pooled
    from_embeds = encoder(inputs_embeds=encoder.input_embeddings()(batch.input_ids),
                          attention_mask=batch.attention_mask).pooled
    torch.testing.assert_close(from_ids, from_embeds)
