"""Backbone factory dispatch and caching, and HFAudioEncoder on a tiny random AST folder."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import torch
from transformers import ASTConfig, ASTFeatureExtractor, ASTModel

from auralign.backbones.aisfx import AisfxEncoder
from auralign.backbones.factory import (
    backbone_kind,
    clear_backbone_cache,
    load_audio_encoder,
    load_language_model,
    load_text_encoder,
)
from auralign.backbones.hf_audio import HFAudioEncoder
from auralign.backbones.language_model import HFLanguageModel
from auralign.backbones.text_encoder import HFTextEncoder
from auralign.errors import AuralignError, BackboneMissingError
from backbone_factory import make_tiny_aisfx, make_tiny_bert, make_tiny_gpt2, make_tiny_llama


def make_tiny_ast(folder: Path, seed: int = 0) -> Path:
    """16 mel bins x 32 frames, 16x16 patches at stride 10 -> 2 patches + CLS + distillation token."""
    ASTFeatureExtractor(num_mel_bins=16, max_length=32, sampling_rate=16000).save_pretrained(folder)
    torch.manual_seed(seed)
    config = ASTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                       num_mel_bins=16, max_length=32)
    ASTModel(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("backbones")
    return {
        "bert": make_tiny_bert(root / "bert"),
        "llama": make_tiny_llama(root / "llama"),
        "gpt2": make_tiny_gpt2(root / "gpt2"),
        "ast": make_tiny_ast(root / "ast"),
        "aisfx": make_tiny_aisfx(root / "aisfx"),
    }


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    clear_backbone_cache()


def test_backbone_kind_from_config(folders: dict[str, Path]) -> None:
    kinds = {name: backbone_kind(path) for name, path in folders.items()}
    assert kinds == {"bert": "text", "llama": "llm", "gpt2": "llm", "ast": "audio", "aisfx": "audio"}


def test_loads_each_kind_by_path(folders: dict[str, Path]) -> None:
    assert isinstance(load_text_encoder(folders["bert"]), HFTextEncoder)
    assert isinstance(load_language_model(folders["llama"]), HFLanguageModel)
    assert isinstance(load_language_model(str(folders["gpt2"])), HFLanguageModel)
    assert isinstance(load_audio_encoder(folders["ast"]), HFAudioEncoder)
    aisfx = load_audio_encoder(folders["aisfx"])
    assert isinstance(aisfx, AisfxEncoder) and aisfx.dim == 32


def test_same_backbone_is_loaded_once_per_process(folders: dict[str, Path]) -> None:
    first = load_text_encoder(folders["bert"])
    assert load_text_encoder(str(folders["bert"]) + "/") is first
    clear_backbone_cache()
    assert load_text_encoder(folders["bert"]) is not first


def test_wrong_kind_missing_config_and_unknown_type_are_user_errors(folders: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(AuralignError, match="language model, not a text encoder"):
        load_text_encoder(folders["llama"])
    with pytest.raises(AuralignError, match="audio encoder, not a language model"):
        load_language_model(folders["ast"])
    with pytest.raises(AuralignError, match=r"no config\.json"):
        load_audio_encoder(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "not-a-model"}))
    with pytest.raises(AuralignError, match="unsupported model_type 'not-a-model'"):
        load_text_encoder(tmp_path)
    with pytest.raises(AuralignError, match="neither a known backbone"):
        load_text_encoder(tmp_path / "absent")
    with pytest.raises(AuralignError, match="not a language model"):
        load_language_model("minilm-l6-v2")


def test_missing_default_backbone_names_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AURALIGN_HOME", str(tmp_path))
    with pytest.raises(BackboneMissingError, match="auralign models fetch"):
        load_language_model()


def test_hf_audio_encoder_on_tiny_ast(folders: dict[str, Path]) -> None:
    encoder = HFAudioEncoder.from_pretrained(folders["ast"])
    assert encoder.sample_rate == 16000 and encoder.dim == 32
    assert not any(p.requires_grad for p in encoder.parameters())
    encoder.train()
    assert not encoder.model.training
    torch.manual_seed(0)
    waveforms = torch.randn(2, 8000) * 0.1
    out = encoder(waveforms, torch.tensor([8000, 4000]))
    assert out.tokens.shape == (2, 4, 32)
    assert out.mask.dtype == torch.bool and out.mask.all()
    with torch.no_grad():
        features = encoder.feature_extractor([waveforms[0].numpy()], sampling_rate=16000, return_tensors="pt")
        expected = encoder.model(**features)
    torch.testing.assert_close(out.pooled[0], expected.pooler_output[0])
    alone = encoder(waveforms[1:, :4000])
    torch.testing.assert_close(alone.tokens[0], out.tokens[1])


def test_hf_audio_fingerprint_tracks_weights(folders: dict[str, Path], tmp_path: Path) -> None:
    first = HFAudioEncoder.from_pretrained(folders["ast"])
    assert first.fingerprint() == HFAudioEncoder.from_pretrained(folders["ast"]).fingerprint()
    assert first.fingerprint().startswith("audio-spectrogram-transformer-")
    other = HFAudioEncoder.from_pretrained(make_tiny_ast(tmp_path / "ast", seed=1))
    assert other.fingerprint() != first.fingerprint()


@pytest.mark.backbones
def test_packaged_defaults_load_quickly_and_are_cached() -> None:
    timings = {}
    for loader in (load_text_encoder, load_language_model, load_audio_encoder):
        start = time.perf_counter()
        backbone = loader()
        timings[loader.__name__] = time.perf_counter() - start
        assert loader() is backbone
    print({name: f"{seconds:.1f} s" for name, seconds in timings.items()})
    assert isinstance(load_audio_encoder("aisfx"), AisfxEncoder)
