"""CollatModel on a tiny random BERT and a tiny aiSFX: shapes, the locked text side, gradient flow of
each loss, the token-loss layer option, noise, checkpoints, and that training lowers the losses."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from auralign.errors import AuralignError
from auralign.models.base import PretrainedModel
from auralign.models.collat import CollatConfig, CollatModel
from auralign.models.factory import load_model

CAPTIONS = ["a dog barks", "rain falls on the roof", "a cat meows", "the loud car engine"]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: thread hand-offs cost more than they save, especially on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def backbones(tiny_backbones: dict[str, Path]) -> dict[str, str]:
    return {"audio_encoder": str(tiny_backbones["aisfx"]), "text_encoder": str(tiny_backbones["bert"])}


def make_model(backbones: dict[str, str], **overrides) -> CollatModel:
    torch.manual_seed(0)
    settings = {"num_tokens": 8, "blocks": 2, "width": 16, "heads": 2, "ffn_hidden": 16, "dropout": 0.0}
    config = CollatConfig(**{**settings, **backbones, **overrides})
    return CollatModel(config)


def make_batch(model: CollatModel, seed: int = 0) -> dict:
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.randn(4, 6, model.audio_encoder.dim, generator=generator)
    mask = torch.ones(4, 6, dtype=torch.bool)
    mask[1, 4:] = False
    text = model.text_encoder.tokenize(CAPTIONS, max_length=model.config.num_tokens)
    return {"tokens": tokens, "mask": mask, "text_ids": text.input_ids, "text_mask": text.attention_mask,
            "match_ids": torch.arange(4)}


def test_shapes_and_normalised_embeddings(backbones: dict[str, str]) -> None:
    model = make_model(backbones).eval()
    batch = make_batch(model)
    pseudo = model.audio_text_tokens(batch["tokens"], batch["mask"])
    assert pseudo.shape == (4, 8, model.text_encoder.input_embeddings().embedding_dim)
    audio = model.embed_audio_tokens(batch["tokens"], batch["mask"])
    assert audio.shape == (4, model.text_encoder.dim)
    assert torch.allclose(audio.norm(dim=-1), torch.ones(4), atol=1e-5)
    empty = model.embed_audio_tokens(batch["tokens"][:1], torch.zeros(1, 6, dtype=torch.bool))
    assert torch.isfinite(empty).all()


def test_padding_frames_do_not_change_the_pseudo_tokens(backbones: dict[str, str]) -> None:
    model = make_model(backbones).eval()
    batch = make_batch(model)
    changed = batch["tokens"].clone()
    changed[1, 4:] = 50.0
    assert torch.allclose(model.audio_text_tokens(changed, batch["mask"])[1],
                          model.audio_text_tokens(batch["tokens"], batch["mask"])[1], atol=1e-5)


def test_text_side_is_the_locked_encoders_sentence_vector(backbones: dict[str, str]) -> None:
    model = make_model(backbones).eval()
    expected = F.normalize(model.text_encoder.encode_texts(CAPTIONS).pooled, dim=-1)
    assert torch.allclose(model.embed_text(CAPTIONS), expected, atol=1e-6)
    trainable = {name.split(".")[0] for name, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"interaction", "logit_scale"}


@pytest.mark.parametrize("loss_name", ["cross_token", "cross_global", "uni_token"])
@pytest.mark.parametrize("layer", [0, 1])
def test_each_loss_trains_the_interaction_module_and_never_the_text_encoder(
        backbones: dict[str, str], loss_name: str, layer: int) -> None:
    weights = {"cross_token_weight": 0.0, "cross_global_weight": 0.0, "uni_token_weight": 0.0}
    weights[f"{loss_name}_weight"] = 1.0
    model = make_model(backbones, token_loss_layer=layer, **weights).train()
    before = {name: p.clone() for name, p in model.text_encoder.named_parameters()}
    outputs = model.training_loss(make_batch(model))
    assert outputs["loss"].item() > 0
    outputs["loss"].backward()
    assert all(p.grad is None for p in model.text_encoder.parameters())
    assert all(p.grad is None for p in model.audio_encoder.parameters())
    output_grad = model.interaction.output.weight.grad
    assert output_grad is not None and output_grad.abs().sum() > 0
    first_block = model.interaction.blocks[0].cross_attention.in_proj_weight.grad
    assert first_block is not None and first_block.abs().sum() > 0
    scale_grad = model.logit_scale.log_scale.grad
    assert (scale_grad is not None and scale_grad.abs() > 0) == (loss_name == "cross_global")
    torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1).step()
    for name, p in model.text_encoder.named_parameters():
        assert torch.equal(p, before[name]), name


def test_token_loss_layer_changes_the_compared_states(backbones: dict[str, str]) -> None:
    values = []
    for layer in (0, 1, 2):
        model = make_model(backbones, token_loss_layer=layer).eval()
        values.append(model.training_loss(make_batch(model))["cross_token"].item())
    assert len({round(v, 5) for v in values}) == 3
    with pytest.raises(AuralignError, match="has 2 layers"):
        model = make_model(backbones, token_loss_layer=3)
        model.training_loss(make_batch(model))


def test_captions_longer_than_the_pseudo_tokens_are_refused(backbones: dict[str, str]) -> None:
    model = make_model(backbones, num_tokens=4)
    batch = make_batch(model)
    batch["text_ids"] = model.text_encoder.tokenize(CAPTIONS).input_ids
    batch["text_mask"] = model.text_encoder.tokenize(CAPTIONS).attention_mask
    with pytest.raises(AuralignError, match="exceed num_tokens=4"):
        model.training_loss(batch)


def test_perturb_scales_noise_to_each_clip_and_keeps_padding(backbones: dict[str, str]) -> None:
    model = make_model(backbones, uni_noise_std=0.5)
    tokens = torch.randn(2, 400, model.audio_encoder.dim)
    tokens[1] *= 10.0
    mask = torch.ones(2, 400, dtype=torch.bool)
    mask[0, 300:] = False
    tokens[0, 300:] = 0.0
    torch.manual_seed(0)
    noise = model.perturb(tokens, mask) - tokens
    assert noise[0, 300:].abs().sum() == 0
    assert noise[0, :300].std().item() == pytest.approx(0.5, rel=0.05)
    assert noise[1].std().item() == pytest.approx(5.0, rel=0.05)


def test_fp16_checkpoint_round_trip(backbones: dict[str, str], tmp_path: Path) -> None:
    model = make_model(backbones).eval()
    with torch.no_grad():
        model.logit_scale.log_scale.fill_(3.0)
    folder = model.save_pretrained(tmp_path / "collat", dtype=torch.float16)
    from safetensors.torch import load_file

    stored = load_file(str(folder / "model.safetensors"))
    assert all(name.startswith(("interaction.", "logit_scale.")) for name in stored)
    assert "interaction.initial_queries" in stored and stored["interaction.audio_input.weight"].dtype == torch.float16
    loaded = load_model(folder)
    assert isinstance(loaded, CollatModel) and isinstance(loaded, PretrainedModel)
    batch = make_batch(model)
    assert torch.allclose(loaded.embed_audio_tokens(batch["tokens"], batch["mask"]),
                          model.embed_audio_tokens(batch["tokens"], batch["mask"]), atol=2e-2)
    assert torch.equal(loaded.interaction.initial_queries, model.interaction.initial_queries.half().float())


def test_a_few_steps_lower_every_loss(backbones: dict[str, str]) -> None:
    model = make_model(backbones).train()
    batch = make_batch(model)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    torch.manual_seed(0)
    first = {k: v.item() for k, v in model.training_loss(batch).items()}
    for _ in range(30):
        outputs = model.training_loss(batch)
        optimizer.zero_grad()
        outputs["loss"].backward()
        optimizer.step()
    last = {k: v.item() for k, v in model.training_loss(batch).items()}
    assert last["cross_token"] < 0.7 * first["cross_token"]
    assert last["cross_global"] < first["cross_global"]
    assert last["loss"] < first["loss"]


@pytest.mark.backbones
def test_shipped_collat_on_the_real_backbones() -> None:
    from auralign.backbones.factory import load_text_encoder
    from auralign.models.factory import resolve_model_path

    folder = resolve_model_path("collat")
    assert (folder / "model.safetensors").stat().st_size < 12 * 2**20
    model = load_model("collat")
    assert isinstance(model, CollatModel) and model.config.token_loss_layer == 0
    texts = ["This is a sound of dog.", "This is a sound of piano and snare drum."]
    expected = F.normalize(load_text_encoder(model.config.text_encoder).encode_texts(texts).pooled, dim=-1)
    torch.testing.assert_close(model.embed_text(texts), expected)
    with torch.inference_mode():
        waveform = torch.sin(torch.arange(44100 * 2) / 44100 * 2 * torch.pi * 440.0)[None] * 0.3
        audio = model.embed_audio(waveform)
        pseudo = model.audio_text_tokens(*_encoded(model, waveform))
    assert audio.shape == (1, 384) and pseudo.shape == (1, model.config.num_tokens, 384)
    assert torch.isfinite(pseudo).all()


def _encoded(model: CollatModel, waveform: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    encoded = model.audio_encoder(waveform)
    return encoded.tokens, encoded.mask
