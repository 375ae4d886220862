"""Shared fixtures for the app and API tests: tiny random CLAP and SLIT models, generated clips as WAV bytes."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from auralign.backbones.factory import load_audio_encoder, load_language_model, load_text_encoder
from auralign.models.clap import ClapConfig, ClapModel
from auralign.models.qformer import QFormerConfig
from auralign.models.slit import SlitConfig, SlitModel
from backbone_factory import make_tiny_aisfx, make_tiny_bert
from data_factory import tone


def make_tiny_clap(root: Path, seed: int = 0):
    """A random-weight ClapModel on tiny backbones: fast enough for many requests per test."""
    audio, text = make_tiny_aisfx(root / "aisfx"), make_tiny_bert(root / "bert")
    torch.manual_seed(seed)
    config = ClapConfig(audio_encoder=str(audio), text_encoder=str(text), embed_dim=16, audio_width=16,
                        audio_heads=2, max_audio_tokens=12, projection_hidden=24)
    return ClapModel(config, audio_encoder=load_audio_encoder(audio), text_encoder=load_text_encoder(text)).eval()


def make_tiny_slit(backbones: dict[str, Path]) -> SlitModel:
    """A stage-3 SLIT (Q-Former + language model) on tiny backbones ("audio", "text", "llm"), random heads."""
    torch.manual_seed(0)
    qformer = QFormerConfig(hidden_size=32, num_layers=2, num_heads=2, intermediate_size=64, audio_width=32,
                            num_queries=4, frozen_layers=1)
    config = SlitConfig(audio_encoder=str(backbones["audio"]), text_encoder=str(backbones["text"]),
                        language_model=str(backbones["llm"]), stage=3, qformer=qformer, embed_dim=16)
    return SlitModel(config, audio_encoder=load_audio_encoder(backbones["audio"]),
                     text_encoder=load_text_encoder(backbones["text"]),
                     language_model=load_language_model(backbones["llm"])).eval()


def wav_bytes(seconds: float = 1.0, frequency: float = 440.0, sample_rate: int = 16000) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, tone(seconds, sample_rate, frequency=frequency), sample_rate, format="WAV")
    return buffer.getvalue()


def write_clips(folder: Path, count: int, seconds: float = 1.0) -> list[Path]:
    """`count` distinct tones (different pitch and a little noise) as WAV files."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        samples = tone(seconds, 16000, frequency=200.0 + 90.0 * i)[:, 0] + 0.01 * rng.standard_normal(
            round(seconds * 16000)).astype(np.float32)
        path = folder / f"tone_{i:02d}.wav"
        sf.write(path, samples, 16000)
        paths.append(path)
    return paths
