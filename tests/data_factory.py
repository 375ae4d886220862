"""Writes small good and bad audio fixtures into a folder, for the audio loader and CLI tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

# Expected `AudioLoadError.reason` prefix for each bad fixture, keyed by file name.
BAD_REASON_PREFIXES = {
    "empty.wav": "empty file",
    "text_pretending.wav": "not an audio file",
    "truncated.wav": "truncated",
    "has_nan.wav": "contains NaN or infinite samples",
    "no_samples.wav": "no samples",
}


def tone(seconds: float, sample_rate: int, channels: int = 1, frequency: float = 440.0) -> np.ndarray:
    """A (frames, channels) float32 sine, each channel at a slightly different frequency."""
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    columns = [0.5 * np.sin(2 * np.pi * frequency * (1 + 0.1 * c) * t) for c in range(channels)]
    return np.stack(columns, axis=1).astype(np.float32)


def mp3_supported() -> bool:
    return "MP3" in sf.available_formats()


def write_good(directory: Path) -> list[Path]:
    """Five decodable clips with different containers, sample rates and channel counts."""
    directory.mkdir(parents=True, exist_ok=True)
    specs = [
        ("mono_16k.wav", 16000, 1, {"subtype": "PCM_16"}),
        ("stereo_44k.flac", 44100, 2, {}),
        ("stereo_48k.ogg", 48000, 2, {"format": "OGG", "subtype": "VORBIS"}),
        ("six_channel_22k.wav", 22050, 6, {"subtype": "FLOAT"}),
    ]
    if mp3_supported():
        specs.append(("stereo_32k.mp3", 32000, 2, {"format": "MP3", "subtype": "MPEG_LAYER_III"}))
    else:
        specs.append(("mono_8k.flac", 8000, 1, {}))
    paths = []
    for name, rate, channels, options in specs:
        path = directory / name
        sf.write(path, tone(1.5, rate, channels), rate, **options)
        paths.append(path)
    return paths


def write_bad(directory: Path) -> list[Path]:
    """Five unusable files, named as in `BAD_REASON_PREFIXES`."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "empty.wav").write_bytes(b"")
    (directory / "text_pretending.wav").write_text("these are not the samples you are looking for\n")

    whole = directory / "whole.wav"
    sf.write(whole, tone(1.0, 16000), 16000, subtype="PCM_16")
    data = whole.read_bytes()
    whole.unlink()
    (directory / "truncated.wav").write_bytes(data[: len(data) // 2])

    with_nan = tone(1.0, 16000)
    with_nan[1234, 0] = np.nan
    sf.write(directory / "has_nan.wav", with_nan, 16000, subtype="FLOAT")

    sf.write(directory / "no_samples.wav", np.zeros((0, 1), dtype=np.float32), 16000)
    return [directory / name for name in BAD_REASON_PREFIXES]


def write_good_and_bad(directory: Path) -> tuple[list[Path], list[Path]]:
    return write_good(directory), write_bad(directory)
