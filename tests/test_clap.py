"""CLAP on tiny random backbones: embeddings, loss and gradient flow, save/load (fp16), the model
factory and trainer checkpoints; plus the shipped model on the real backbones."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from auralign.backbones.factory import clear_backbone_cache, load_audio_encoder, load_text_encoder
from auralign.errors import CheckpointError
from auralign.models.base import CONFIG_NAME, WEIGHTS_NAME, read_config
from auralign.models.clap import ClapConfig, ClapModel
from auralign.models.factory import load_model, load_training_checkpoint, shipped_models
from auralign.training.checkpoint import TrainingState, write_training_files
from data_factory import tone

TEXTS = ["a dog barks", "rain falls on the roof", "a bird sings", "loud engine"]


@pytest.fixture(scope="module")
def backbones(tiny_backbones: dict[str, Path]) -> dict[str, Path]:
    return {"audio": tiny_backbones["aisfx"], "text": tiny_backbones["bert"]}


@pytest.fixture(autouse=True)
def fresh_backbone_cache() -> None:
    clear_backbone_cache()


def tiny_config(backbones: dict[str, Path], **changes: object) -> ClapConfig:
    config = ClapConfig(audio_encoder=str(backbones["audio"]), text_encoder=str(backbones["text"]), embed_dim=16,
                        audio_width=16, audio_heads=2, max_audio_tokens=12, projection_hidden=24)
    return dataclasses.replace(config, **changes)


def tiny_model(backbones: dict[str, Path], seed: int = 0, **changes: object) -> ClapModel:
    torch.manual_seed(seed)
    return ClapModel(tiny_config(backbones, **changes), audio_encoder=load_audio_encoder(backbones["audio"]),
                     text_encoder=load_text_encoder(backbones["text"]))


def token_batch(seed: int = 0, lengths: tuple[int, ...] = (8, 5, 12, 3)) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.randn(len(lengths), max(lengths), 32, generator=generator)
    mask = torch.arange(max(lengths))[None, :] < torch.tensor(lengths)[:, None]
    return tokens, mask


def embeddings(model: ClapModel) -> tuple[torch.Tensor, torch.Tensor]:
    model.eval()
    with torch.inference_mode():
        return model.embed_audio_tokens(*token_batch()), model.embed_text(TEXTS)


def test_embeddings_are_unit_vectors_in_one_space(backbones: dict[str, Path]) -> None:
    audio, text = embeddings(tiny_model(backbones))
    assert audio.shape == (4, 16) and text.shape == (4, 16)
    torch.testing.assert_close(audio.norm(dim=-1), torch.ones(4))
    torch.testing.assert_close(text.norm(dim=-1), torch.ones(4))


def test_padding_tokens_do_not_change_an_embedding(backbones: dict[str, Path]) -> None:
    model = tiny_model(backbones).eval()
    tokens, mask = token_batch()
    garbage = tokens.masked_fill(~mask[..., None], 1e3)
    with torch.inference_mode():
        torch.testing.assert_close(model.embed_audio_tokens(garbage, mask), model.embed_audio_tokens(tokens, mask))


def test_embed_audio_runs_the_frozen_encoder(backbones: dict[str, Path]) -> None:
    model = tiny_model(backbones).eval()
    waveform = torch.from_numpy(tone(1.0, 16000)[:, 0])[None]
    with torch.inference_mode():
        encoded = model.audio_encoder(waveform)
        torch.testing.assert_close(model.embed_audio(waveform),
                                   model.embed_audio_tokens(encoded.tokens, encoded.mask))


def test_training_loss_is_finite_and_trains_only_the_heads(backbones: dict[str, Path]) -> None:
    model = tiny_model(backbones).train()
    tokens, mask = token_batch()
    out = model.training_loss({"tokens": tokens, "mask": mask, "texts": TEXTS})
    assert torch.isfinite(out["loss"]) and out["loss"].item() > 0
    assert out["logit_scale"].item() == pytest.approx(14.285714, rel=1e-5)
    out["loss"].backward()
    for name, parameter in model.named_parameters():
        is_head = name.startswith(("audio_head.", "text_head.", "logit_scale."))
        assert parameter.requires_grad == is_head, name
        if is_head and name != "audio_head.position":  # the position table is zero-initialised
            assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
        if not is_head:
            assert parameter.grad is None, name


def test_teacher_distillation_trains_the_readout_and_never_the_heads(backbones: dict[str, Path],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from auralign.backbones.aisfx_heads import AisfxHeads

    dim = load_audio_encoder(backbones["audio"]).dim
    monkeypatch.setattr("auralign.models.clap.teacher_heads",
                        lambda _name: AisfxHeads({"prosfx": 5, "soundlyTrain": 3, "ucsMixed": 4}, in_dim=dim))
    model = tiny_model(backbones, teacher_weight=0.5).train()
    tokens, mask = token_batch()
    out = model.training_loss({"tokens": tokens, "mask": mask, "texts": TEXTS})
    assert torch.isfinite(out["teacher_loss"]) and out["teacher_loss"].item() > 0
    out["loss"].backward()
    assert model.teacher_readout.weight.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in model.teacher.parameters())
    saved = model.state_dict_for_checkpoint()
    assert any(k.startswith("teacher_readout.") for k in saved)
    assert not any(k.startswith("teacher.") for k in saved)
    # a perfect read-out of the teacher's own probabilities would give the teacher's entropy; the loss is
    # a cross-entropy, so never below it
    with torch.no_grad():
        targets = model.teacher.from_tokens(tokens, mask, model.config.teacher_heads)
        entropy = torch.stack([-(t * t.clamp_min(1e-12).log()).sum(-1).mean() for t in targets.values()]).mean()
    assert out["teacher_loss"].item() >= entropy.item() - 1e-5


def test_precomputed_text_features_give_the_same_loss(backbones: dict[str, Path]) -> None:
    model = tiny_model(backbones).eval()  # no dropout: both calls see the same network
    tokens, mask = token_batch()
    with torch.inference_mode():
        features = model.text_features(TEXTS)
        from_texts = model.training_loss({"tokens": tokens, "mask": mask, "texts": TEXTS})["loss"]
        from_features = model.training_loss({"tokens": tokens, "mask": mask, "text_features": features})["loss"]
        shared_positives = model.training_loss({"tokens": tokens, "mask": mask, "texts": TEXTS,
                                                "match_ids": torch.tensor([0, 0, 1, 2])})["loss"]
    torch.testing.assert_close(from_features, from_texts)
    assert not torch.isclose(shared_positives, from_texts)


def test_unlocked_text_layers_get_gradients(backbones: dict[str, Path]) -> None:
    model = tiny_model(backbones, text_unlocked_layers=1).train()
    assert not model.text_is_frozen
    tokens, mask = token_batch()
    model.training_loss({"tokens": tokens, "mask": mask, "texts": TEXTS})["loss"].backward()
    text_grads = {name: p.grad for name, p in model.text_encoder.named_parameters() if p.grad is not None}
    assert text_grads and all(".layer.1." in name for name in text_grads)
    assert all(p.grad is None for p in model.audio_encoder.parameters())


def test_checkpoint_holds_only_trained_weights(backbones: dict[str, Path]) -> None:
    names = set(tiny_model(backbones).state_dict_for_checkpoint())
    assert names and all(name.startswith(("audio_head.", "text_head.", "logit_scale.")) for name in names)
    unlocked = set(tiny_model(backbones, text_unlocked_layers=1).state_dict_for_checkpoint()) - names
    assert unlocked and all(".layer.1." in name for name in unlocked)


def test_fp16_save_and_load_round_trip(backbones: dict[str, Path], tmp_path: Path) -> None:
    model = tiny_model(backbones)
    folder = model.save_pretrained(tmp_path / "model", dtype=torch.float16)
    assert sorted(p.name for p in folder.iterdir()) == [CONFIG_NAME, WEIGHTS_NAME]
    assert {t.dtype for t in load_file(str(folder / WEIGHTS_NAME)).values()} == {torch.float16}
    config = read_config(folder)
    assert config["model_type"] == "clap" and config["audio_encoder"] == str(backbones["audio"])

    loaded = ClapModel.from_pretrained(folder)
    assert not loaded.training
    assert dataclasses.asdict(loaded.config) == dataclasses.asdict(model.config)
    for before, after in zip(embeddings(model), embeddings(loaded), strict=True):
        torch.testing.assert_close(after, before, atol=3e-3, rtol=0)
    assert isinstance(load_model(folder), ClapModel)  # the factory dispatches on model_type


def test_other_seeds_give_other_embeddings(backbones: dict[str, Path]) -> None:
    """Guards the round-trip test: two different heads are not within its tolerance."""
    first, second = embeddings(tiny_model(backbones, seed=0)), embeddings(tiny_model(backbones, seed=1))
    assert (first[0] - second[0]).abs().max() > 3e-3


def test_from_pretrained_refuses_what_does_not_fit(backbones: dict[str, Path], tmp_path: Path) -> None:
    folder = tiny_model(backbones).save_pretrained(tmp_path / "model")
    with pytest.raises(CheckpointError, match="does not fit"):
        ClapModel.from_pretrained(folder, embed_dim=8)
    config = json.loads((folder / CONFIG_NAME).read_text())
    (folder / CONFIG_NAME).write_text(json.dumps({**config, "model_type": "slit"}))
    with pytest.raises(CheckpointError, match="not a clap checkpoint"):
        ClapModel.from_pretrained(folder)
    with pytest.raises(CheckpointError, match="not a model folder"):
        ClapModel.from_pretrained(tmp_path)


def test_load_model_names_the_shipped_models_for_an_unknown_name() -> None:
    assert "clap-fsdd" in shipped_models()
    with pytest.raises(CheckpointError, match=r"no model 'claap'.*shipped model \(.*clap-fsdd.*\)"):
        load_model("claap")


def test_load_training_checkpoint(backbones: dict[str, Path], tmp_path: Path) -> None:
    model = tiny_model(backbones, seed=3)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad])
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    run_config = {"model": dataclasses.asdict(model.config), "train": {"output_dir": str(tmp_path)}}
    checkpoint = tmp_path / "ckpt-000010"
    checkpoint.mkdir()
    write_training_files(checkpoint, model, optimizer, scheduler, TrainingState(step=10), run_config)

    loaded = load_training_checkpoint(checkpoint, "clap")
    assert isinstance(loaded, ClapModel) and not loaded.training
    for before, after in zip(embeddings(model), embeddings(loaded), strict=True):
        torch.testing.assert_close(after, before)

    with pytest.raises(CheckpointError, match="unknown model_type 'nope'; known: clap, collat"):
        load_training_checkpoint(checkpoint, "nope")
    (checkpoint / "config.json").write_text(json.dumps({"train": {}}))
    with pytest.raises(CheckpointError, match="not a training checkpoint"):
        load_training_checkpoint(checkpoint, "clap")


def test_identity_text_head_keeps_the_text_encoders_space(backbones: dict[str, Path]) -> None:
    text_dim = load_text_encoder(backbones["text"]).dim
    model = tiny_model(backbones, embed_dim=text_dim, text_head="identity").eval()
    texts = ["a dog barks", "rain on a roof"]
    with torch.inference_mode():
        expected = torch.nn.functional.normalize(model.text_features(texts), dim=-1)
        torch.testing.assert_close(model.embed_text(texts), expected)
        audio = model.embed_audio_tokens(*token_batch())
    assert audio.shape[-1] == text_dim
    assert not any(True for _ in model.text_head.parameters())
    with pytest.raises(CheckpointError, match="text_head 'identity' needs embed_dim"):
        tiny_model(backbones, embed_dim=text_dim + 1, text_head="identity")


@pytest.mark.backbones
def test_shipped_clap_embeds_a_tone_and_a_text() -> None:
    model = load_model("clap-fsdd")
    assert isinstance(model, ClapModel)
    waveform = torch.from_numpy(tone(2.0, model.audio_encoder.sample_rate)[:, 0])[None]
    with torch.inference_mode():
        audio = model.embed_audio(waveform)
        text = model.embed_text(["a dog barking", "a pure tone"])
    for vectors, rows in ((audio, 1), (text, 2)):
        assert vectors.shape == (rows, model.config.embed_dim)
        assert torch.isfinite(vectors).all()
        np.testing.assert_allclose(vectors.norm(dim=-1).numpy(), 1.0, atol=1e-5)


def test_items_that_drew_the_same_text_are_positives_of_each_other() -> None:
    from auralign.data.pairs import text_id
    from auralign.models.clap import batch_positives

    texts = ["speech", "speech", "a dog barks", "rain"]
    batch = {"match_ids": torch.tensor([0, 1, 2, 2]), "text_ids": torch.tensor([text_id(t) for t in texts])}
    expected = torch.tensor([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]], dtype=torch.float32)
    torch.testing.assert_close(batch_positives(batch), expected)
    assert batch_positives({"match_ids": batch["match_ids"]})[0, 1] == 0
    assert batch_positives({}) is None
    assert text_id("speech") == text_id("speech") != text_id("Speech")


def test_attached_teacher_prior_is_part_of_the_audio_embedding_and_saved(
        backbones: dict[str, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from auralign.backbones.aisfx_heads import AisfxHeads
    from auralign.evaluation.teacher_prior import attach_prior

    dim = load_audio_encoder(backbones["audio"]).dim
    torch.manual_seed(0)
    heads = AisfxHeads({"prosfx": 78, "soundlyTrain": 79, "ucsMixed": 69}, in_dim=dim)
    monkeypatch.setattr("auralign.models.clap.teacher_heads", lambda _name: heads)
    model = tiny_model(backbones).eval()
    tokens, mask = token_batch()
    with torch.inference_mode():
        plain = model.embed_audio_tokens(tokens, mask)
        torch.testing.assert_close(attach_prior(model, 0.0).embed_audio_tokens(tokens, mask), plain)
        attached = attach_prior(model, 1.0)
        prior = attached.teacher_prior(tokens, mask)
        torch.testing.assert_close(attached.embed_audio_tokens(tokens, mask), prior)
        half = attach_prior(model, 0.5)
        expected = torch.nn.functional.normalize(plain + prior, dim=-1)
        torch.testing.assert_close(half.embed_audio_tokens(tokens, mask), expected)
    assert len(half.config.teacher_prior_outputs) == half.teacher_prior_vectors.shape[0] > 0
    assert model.config.teacher_prior_weight == 0.0  # the original is left as it was
    folder = half.save_pretrained(tmp_path / "with-prior")
    loaded = ClapModel.from_pretrained(folder)
    torch.testing.assert_close(loaded.teacher_prior_vectors, half.teacher_prior_vectors)
    with torch.inference_mode():
        torch.testing.assert_close(loaded.embed_audio_tokens(tokens, mask), expected)
    half.train()  # no prior while training: the output ignores the name vectors
    torch.manual_seed(1)
    before = half.embed_audio_tokens(tokens, mask)
    half.teacher_prior_vectors.zero_()
    torch.manual_seed(1)
    torch.testing.assert_close(half.embed_audio_tokens(tokens, mask), before)
