"""The aiSFX front end and encoder against the published package's own pipeline.

References are read from the sha256-pinned aisfx wheel (never installed): `aisfx/models/cnn2d.py`
(needs only torch), `aisfx/preprocessing.py` (numpy) and `aisfx/spectrogram/spectrogram_essentia.py`
(Essentia's streaming chain, the one the ISMIR paper used). Essentia itself is a test-only dependency.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import soundfile as sf
import torch
from scipy.signal import chirp

from auralign.audio.frontend import (
    EssentiaMelFrontend,
    essentia_frame_count,
    essentia_mel_filterbank,
)
from auralign.backbones.aisfx import AisfxConfig, AisfxEncoder, AisfxNet

SR = 44100
FSDD_DIR = Path("/work/shared/data/fsdd/recordings")
BLOCK_FRAMES, BLOCK_HOP = 100, 50  # the package's EMB_BLOCK_LENGTH and its default 0.5 hop
MAX_ONE_BLOCK_SAMPLES = 101376  # longest clip with at most 100 frames: ceil((n + 1024) / 1024) <= 100


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1))


# ---------------------------------------------------------------- reference package (from the wheel)


def _import_file(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def package_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from auralign.backbones.registry import pinned_wheel

    out = tmp_path_factory.mktemp("aisfx_wheel")
    with zipfile.ZipFile(pinned_wheel("aisfx")) as wheel:
        members = [n for n in wheel.namelist() if n.startswith("aisfx/") and n.endswith((".py", ".pth"))]
        wheel.extractall(out, members)
    return out / "aisfx"


@pytest.fixture(scope="module")
def reference_net(package_dir: Path) -> torch.nn.Module:
    """The package's EmbeddingNet('max', 3, 1, 64) with the checkpoint's weights (pinned pickle)."""
    cnn2d = _import_file("aisfx_reference_cnn2d", package_dir / "models" / "cnn2d.py")
    weights, _datasets = torch.load(package_dir / "models" / "checkpoint.pth", map_location="cpu",
                                    weights_only=False)
    prefix = "embedding_net."
    net = cnn2d.EmbeddingNet("max", 3, 1, 64)
    net.load_state_dict({k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)})
    return net.eval()


@pytest.fixture(scope="module")
def package_pipeline(package_dir: Path) -> tuple[ModuleType, ModuleType]:
    pytest.importorskip("essentia")
    import essentia

    essentia.log.infoActive = False
    essentia.log.warningActive = False
    spectrogram = _import_file("aisfx_reference_spectrogram",
                               package_dir / "spectrogram" / "spectrogram_essentia.py")
    preprocessing = _import_file("aisfx_reference_preprocessing", package_dir / "preprocessing.py")
    return spectrogram, preprocessing


def package_spectrogram(package_pipeline: tuple[ModuleType, ModuleType], wav: Path) -> np.ndarray:
    """The spectrogram exactly as the package's inference.main computes it for a file."""
    spectrogram, preprocessing = package_pipeline
    spec = spectrogram.compute_spectrogram(filename=str(wav), sr=44100.0, block_size=2048, hop_size=1024,
                                           n_mels=96, f_min=0.0, f_max=22050.0)
    return preprocessing.spectrogram_normalize(spec, spec_norm="original")


@pytest.fixture(scope="module")
def encoder() -> AisfxEncoder:
    return AisfxEncoder.from_pretrained()


# ---------------------------------------------------------------- front end, no weights


def test_filterbank_equals_essentia_melbands() -> None:
    """Essentia's filterbank is read column by column by feeding it unit-impulse spectra."""
    pytest.importorskip("essentia")
    import essentia.standard as es

    n_bins = 1025
    melbands = es.MelBands(inputSize=n_bins, numberBands=96, sampleRate=SR, lowFrequencyBound=0.0,
                           highFrequencyBound=22050.0, warpingFormula="htkMel", weighting="warping",
                           normalize="unit_sum", type="magnitude", log=False)
    essentia_filters = np.zeros((96, n_bins))
    for j in range(n_bins):
        impulse = np.zeros(n_bins, dtype=np.float32)
        impulse[j] = 1.0
        essentia_filters[:, j] = melbands(impulse)
    ours = essentia_mel_filterbank(2048, SR, 96, 0.0, 22050.0)
    np.testing.assert_allclose(ours, essentia_filters, atol=2e-6)


def test_filterbank_rows_sum_to_one_where_they_have_support() -> None:
    # a short FFT with many bands leaves the lowest bands without any bin inside their triangle
    filters = essentia_mel_filterbank(256, SR, 96, 0.0, 22050.0)
    supported = filters.sum(axis=1) > 0
    assert 0 < supported.sum() < 96
    np.testing.assert_allclose(filters[supported].sum(axis=1), 1.0, atol=1e-9)
    assert (filters >= 0).all()
    np.testing.assert_allclose(essentia_mel_filterbank(2048, SR, 96, 0.0, 22050.0).sum(axis=1), 1.0,
                               atol=1e-9)


@pytest.mark.parametrize("n_samples", [1, 500, 1023, 1024, 1025, 2048, 3000, 13141])
def test_frame_count_equals_essentia_framecutter(n_samples: int) -> None:
    pytest.importorskip("essentia")
    import essentia.standard as es

    cutter = es.FrameCutter(frameSize=2048, hopSize=1024)
    signal = np.ones(n_samples, dtype=np.float32)
    frames = 0
    while len(cutter(signal)):
        frames += 1
    assert int(essentia_frame_count(n_samples, 2048, 1024)) == frames


def test_frontend_shapes_and_frame_lengths() -> None:
    frontend = EssentiaMelFrontend()
    waves = torch.randn(3, 20000) * 0.1
    spec, frame_lengths = frontend(waves, torch.tensor([20000, 10000, 1]))
    assert spec.shape == (3, 21, 96)  # ceil((20000 + 1024) / 1024) frames
    assert frame_lengths.tolist() == [21, 11, 2]
    assert spec.dtype == torch.float32 and torch.isfinite(spec).all()


def test_silence_gives_zeros() -> None:
    spec, _ = EssentiaMelFrontend()(torch.zeros(2, 8000))
    assert torch.equal(spec, torch.zeros_like(spec))
    spec, _ = EssentiaMelFrontend(peak_normalize=True)(torch.zeros(1, 8000))
    assert torch.equal(spec, torch.zeros_like(spec))


def test_peak_normalisation_makes_features_gain_invariant() -> None:
    wave = torch.sin(torch.arange(30000) * 0.05) * torch.linspace(0, 1, 30000)
    normalised = EssentiaMelFrontend(peak_normalize=True)
    quiet, _ = normalised(0.01 * wave[None])
    loud, _ = normalised(0.9 * wave[None])
    torch.testing.assert_close(quiet, loud, atol=1e-5, rtol=1e-5)
    # the package's level handling (unit gain) is level dependent, as the default reproduces
    raw = EssentiaMelFrontend()
    assert (raw(0.01 * wave[None])[0] - raw(0.9 * wave[None])[0]).abs().max() > 0.05


def test_rows_do_not_depend_on_batch_padding() -> None:
    frontend = EssentiaMelFrontend(peak_normalize=True)
    clip = torch.randn(7000) * 0.2
    alone, alone_frames = frontend(clip[None])
    batch = torch.cat([torch.cat([clip, torch.randn(13000)])[None], torch.randn(1, 20000)])
    together, frames = frontend(batch, torch.tensor([7000, 20000]))
    assert int(frames[0]) == int(alone_frames[0])
    torch.testing.assert_close(together[0, : int(frames[0])], alone[0])


# ---------------------------------------------------------------- network and encoder, real weights


@pytest.mark.backbones
def test_network_matches_reference_embeddingnet(encoder: AisfxEncoder, reference_net: torch.nn.Module) -> None:
    generator = torch.Generator().manual_seed(0)
    specs = torch.rand(6, 100, 96, generator=generator) * 0.8
    with torch.inference_mode():
        ours = encoder.net(specs).amax(dim=1).numpy()
        reference = reference_net(specs).numpy()
    cosines = cosine(ours, reference)
    print(f"network parity: min cosine {cosines.min():.7f}, max abs diff {np.abs(ours - reference).max():.2e}")
    assert cosines.min() >= 0.999
    np.testing.assert_allclose(ours, reference, atol=1e-4)


def generated_sounds() -> dict[str, np.ndarray]:
    """Tones, a chirp, noise bursts and clicks, 3.2 s each: one full package block plus a dropped tail."""
    rng = np.random.default_rng(7)
    t = np.arange(int(3.2 * SR)) / SR
    bursts = rng.standard_normal(t.size) * ((t % 0.7) < 0.2)
    clicks = np.zeros(t.size)
    clicks[:: SR // 8] = 1.0
    return {
        "quiet_tones": 0.02 * (np.sin(2 * np.pi * 1000 * t) + np.sin(2 * np.pi * 3150 * t)),
        "chirp": 0.7 * chirp(t, f0=60, t1=t[-1], f1=18000, method="logarithmic"),
        "noise_bursts": 0.3 * bursts,
        "clicks": clicks,
    }


def fsdd_clips(n: int = 6) -> dict[str, np.ndarray]:
    import soxr

    all_paths = sorted(FSDD_DIR.glob("*.wav"))
    paths = all_paths[:: max(len(all_paths) // n, 1)][:n]
    clips = {}
    for path in paths:
        audio, rate = sf.read(path, dtype="float32")
        clips[path.name] = soxr.resample(audio, rate, SR)
    return clips


def block_embeddings(net: torch.nn.Module, spec: np.ndarray, blocking) -> np.ndarray:
    blocks = torch.from_numpy(blocking(spec, BLOCK_FRAMES, BLOCK_HOP, True)).float()
    with torch.inference_mode():
        out = net(blocks)
    return (out.amax(dim=1) if out.ndim == 3 else out).numpy()


@pytest.mark.backbones
def test_pipeline_matches_package_essentia_pipeline(
    tmp_path: Path, encoder: AisfxEncoder, reference_net: torch.nn.Module, package_pipeline
) -> None:
    """Our front end + AisfxNet vs the package's Essentia spectrogram + its network, per block.

    The package embeds a file per block of 100 frames (~2.3 s) with hop 50, dropping a partial last
    block, and pads a clip shorter than one block with zero frames to a single block. Its
    `compute_hopSize` refuses clips of <= 50 frames, so `blocking` is called directly with the same
    block and hop. Clips longer than one block are blocked identically on both sides and compared
    block by block (front end + network; our encoder instead pools one pass over the whole clip).
    For a clip of at most one block the package's embedding is compared with our encoder's pooled
    vector, which pads short clips the same way (AisfxConfig.min_frames=100). Both sides read
    the same 44.1 kHz samples (FSDD is resampled with soxr first and written as float WAV), so the
    resampler is not part of the comparison.
    """
    blocking = package_pipeline[1].blocking
    clips = generated_sounds()
    if FSDD_DIR.is_dir():
        clips |= fsdd_clips()
    report = {}
    for name, audio in clips.items():
        wav = tmp_path / f"{name}.wav"
        sf.write(wav, audio.astype(np.float32), SR, subtype="FLOAT")
        reference = block_embeddings(reference_net, package_spectrogram(package_pipeline, wav), blocking)
        waveform = torch.from_numpy(audio.astype(np.float32))[None]
        if waveform.shape[1] <= MAX_ONE_BLOCK_SAMPLES:  # the package's clip embedding is our pooled
            with torch.inference_mode():
                ours = encoder(waveform).pooled.numpy()
        else:
            ours_spec, _ = encoder.frontend(waveform)
            ours = block_embeddings(encoder.net, ours_spec[0].numpy(), blocking)
        assert ours.shape == reference.shape
        report[name] = cosine(ours, reference).min()
    for name, value in report.items():
        print(f"package parity {name:24s} 1 - min cosine {1 - value:.1e}")
    assert min(report.values()) >= 0.9999
    assert sum(name.endswith(".wav") for name in report) == (6 if FSDD_DIR.is_dir() else 0)


@pytest.mark.backbones
def test_encoder_output_contract(encoder: AisfxEncoder) -> None:
    waves = torch.randn(2, 4 * SR) * 0.1
    with torch.inference_mode():
        out = encoder(waves, torch.tensor([4 * SR, 3 * SR]))
    frames = [int(essentia_frame_count(n, 2048, 1024)) for n in (4 * SR, 3 * SR)]
    assert out.tokens.shape == (2, frames[0] // 8, 512)
    assert out.mask.sum(dim=1).tolist() == [f // 8 for f in frames]
    expected_pooled = torch.stack([out.tokens[i, out.mask[i]].amax(dim=0) for i in range(2)])
    torch.testing.assert_close(out.pooled, expected_pooled)
    assert encoder.sample_rate == 44100 and encoder.dim == 512


@pytest.mark.backbones
def test_clip_alone_equals_clip_in_padded_batch(encoder: AisfxEncoder) -> None:
    generator = torch.Generator().manual_seed(3)
    lengths = [int(2.9 * SR), 4 * SR, int(3.3 * SR), 3000]
    batch = torch.randn(len(lengths), max(lengths), generator=generator) * 0.2
    with torch.inference_mode():
        together = encoder(batch, torch.tensor(lengths))
        for row, n in enumerate(lengths):
            alone = encoder(batch[row : row + 1, :n])
            torch.testing.assert_close(together.pooled[row], alone.pooled[0], atol=1e-4, rtol=0)
            n_tokens = alone.tokens.shape[1]
            torch.testing.assert_close(together.tokens[row, :n_tokens], alone.tokens[0], atol=1e-4, rtol=0)


@pytest.mark.backbones
@pytest.mark.parametrize("n_samples", [0, 1, 100, 6144])
@pytest.mark.parametrize("min_frames", [8, 100])
def test_clips_shorter_than_one_token_give_finite_vectors(
    encoder: AisfxEncoder, n_samples: int, min_frames: int
) -> None:
    short_ok = AisfxEncoder(AisfxConfig(min_frames=min_frames))
    short_ok.net.load_state_dict(encoder.net.state_dict())
    with torch.inference_mode():
        out = short_ok(torch.randn(1, n_samples) * 0.3)
    assert out.tokens.shape == (1, min_frames // 8, 512) and out.mask.all()
    assert torch.isfinite(out.pooled).all()


@pytest.mark.backbones
def test_encoder_is_frozen_even_under_train(encoder: AisfxEncoder) -> None:
    assert not any(p.requires_grad for p in encoder.parameters())
    wave = torch.randn(1, 2 * SR) * 0.1
    before = encoder(wave).pooled
    try:
        encoder.train()
        assert not any(m.training for m in encoder.net.modules())
        after = encoder(wave).pooled
    finally:
        encoder.eval()
    torch.testing.assert_close(after, before)


@pytest.mark.backbones
def test_fingerprint_tracks_weights_and_front_end(encoder: AisfxEncoder, tmp_path: Path) -> None:
    assert encoder.fingerprint() == AisfxEncoder.from_pretrained().fingerprint()
    level_invariant = AisfxEncoder(AisfxConfig(peak_normalize=True))
    level_invariant.net.load_state_dict(encoder.net.state_dict())
    assert level_invariant.fingerprint() != encoder.fingerprint()
    nudged = AisfxEncoder()
    nudged.net.load_state_dict(encoder.net.state_dict())
    with torch.no_grad():
        nudged.net.conv_block4.bn2.bias[0] += 1e-3
    assert nudged.fingerprint() != encoder.fingerprint()


def test_from_pretrained_rejects_a_folder_without_weights(tmp_path: Path) -> None:
    from auralign.errors import CheckpointError

    (tmp_path / "config.json").write_text(json.dumps(AisfxConfig().to_dict()))
    with pytest.raises(CheckpointError, match=r"model\.safetensors"):
        AisfxEncoder.from_pretrained(tmp_path)


def test_random_network_output_shape() -> None:
    net = AisfxNet().eval()
    with torch.inference_mode():
        tokens = net(torch.rand(2, 37, 96))
    assert tokens.shape == (2, 4, 512)
