"""The shipped captioners never repeat a word trigram with their default decoding, on 500 inputs:
real FSDD recordings and seeded synthetic sounds (tones, noise bands, chirps, click trains)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from auralign.data.feature_cache import FeatureCache
from auralign.data.fsdd import fsdd_dir
from auralign.evaluation.caption_quality import repeats_a_trigram
from auralign.evaluation.captioning import describe_files
from auralign.models.factory import load_captioner

pytestmark = [pytest.mark.backbones, pytest.mark.slow]

SAMPLE_RATE = 16000
INPUTS = 500


def synthetic_sound(rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(rng.uniform(0.5, 4.0) * SAMPLE_RATE)) / SAMPLE_RATE
    kind = rng.integers(4)
    if kind == 0:
        wave = np.sin(2 * np.pi * rng.uniform(80, 4000) * t) * np.exp(-t * rng.uniform(0, 4))
    elif kind == 1:
        noise = rng.standard_normal(len(t))
        wave = np.convolve(noise, np.ones(int(rng.integers(1, 40))), mode="same")
    elif kind == 2:
        low, high = sorted(rng.uniform(100, 6000, 2))
        wave = np.sin(2 * np.pi * (low + (high - low) * t / t[-1] / 2) * t)
    else:
        wave = np.zeros(len(t))
        wave[:: int(rng.uniform(0.02, 0.5) * SAMPLE_RATE)] = 1.0
    return (0.5 * wave / max(np.abs(wave).max(), 1e-6)).astype(np.float32)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    recordings = sorted(fsdd_dir().glob("*.wav"))[:: 12][: INPUTS // 2]
    folder = tmp_path_factory.mktemp("synthetic")
    rng = np.random.default_rng(0)
    synthetic = []
    for index in range(INPUTS - len(recordings)):
        path = folder / f"sound{index:03d}.wav"
        sf.write(path, synthetic_sound(rng), SAMPLE_RATE)
        synthetic.append(path)
    return recordings + synthetic


@pytest.mark.parametrize("name", ["mats-caption", "slit"])
def test_shipped_captioner_never_repeats_a_trigram(name: str, inputs: list[Path], tmp_path: Path) -> None:
    model = load_captioner(name)
    described, failures = describe_files(model, FeatureCache(model.audio_encoder, root=tmp_path), inputs)
    assert not failures and len(described) == INPUTS
    looping = [text for _, text in described if repeats_a_trigram(text)]
    assert not looping, f"{len(looping)} of {INPUTS} captions repeat a trigram, e.g. {looping[:3]}"
