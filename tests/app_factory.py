"""Shared fixtures for the app tests: a tiny random CLAP model and generated clips as WAV bytes."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import soundfile as sf

from data_factory import tone
from test_clap import tiny_model
from test_feature_cache import make_tiny_aisfx_folder
from test_text_encoder import make_tiny_bert


def make_tiny_clap(root: Path, seed: int = 0):
    """A random-weight ClapModel on tiny backbones: fast enough for many requests per test."""
    backbones = {"audio": make_tiny_aisfx_folder(root / "aisfx"), "text": make_tiny_bert(root / "bert")}
    return tiny_model(backbones, seed=seed).eval()


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
