"""The hostile-user campaign as a generator: malformed and odd audio inputs, by kind, deterministic.

`campaign_specs()` lists at least 1,000 (kind, name, builder) entries; `write_inputs(folder, specs)`
materialises them. Kinds: cut and header-corrupted files of every container, random bytes, empty
files, huge declared sizes, 1-sample, 8-channel, 8 kHz and 192 kHz, NaN/inf/1e30 floats, DC, and odd
names and links (markup brackets, non-UTF-8 bytes, spaces, loops, dangling links, FIFOs, devices,
folders named like audio).
"""

from __future__ import annotations

import io
import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

FORMATS = {
    "wav": {"format": "WAV"}, "flac": {"format": "FLAC"}, "ogg": {"format": "OGG", "subtype": "VORBIS"},
    "mp3": {"format": "MP3", "subtype": "MPEG_LAYER_III"}, "aiff": {"format": "AIFF"}, "au": {"format": "AU"},
    "w64": {"format": "W64"}, "rf64": {"format": "RF64"}, "opus": {"format": "OGG", "subtype": "OPUS"},
}
SUFFIX = {"rf64": "wav", "w64": "w64", "opus": "opus"}


@dataclass(frozen=True)
class Spec:
    kind: str
    name: str
    build: Callable[[Path], None]  # writes the input at the given path


def _tone(seconds: float, rate: int, channels: int = 1) -> np.ndarray:
    t = np.arange(max(1, round(seconds * rate))) / rate
    return np.stack([0.4 * np.sin(2 * np.pi * (300 + 50 * c) * t) for c in range(channels)], 1).astype(np.float32)


def _encoded(fmt: str, rate: int = 16000, seconds: float = 0.5) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, _tone(seconds, 48000 if fmt == "opus" else rate), 48000 if fmt == "opus" else rate,
             **FORMATS[fmt])
    return buffer.getvalue()


def _bytes_writer(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


def _array_writer(samples: np.ndarray, rate: int, **options: str) -> Callable[[Path], None]:
    return lambda path: sf.write(path, samples, rate, **options)


def _fifo(path: Path) -> None:
    os.mkfifo(path)


def _link(target: str) -> Callable[[Path], None]:
    return lambda path: path.symlink_to(target)


def _loop(path: Path) -> None:
    path.symlink_to(path.name)


def _folder(path: Path) -> None:
    path.mkdir()


def campaign_specs() -> list[Spec]:
    specs: list[Spec] = []
    rng = np.random.default_rng(17)
    available = set(sf.available_formats())
    for fmt in FORMATS:
        if FORMATS[fmt]["format"] not in available:
            continue
        whole = _encoded(fmt)
        suffix = SUFFIX.get(fmt, fmt)
        specs.append(Spec("valid", f"valid_{fmt}.{suffix}", _bytes_writer(whole)))
        for i, fraction in enumerate(np.linspace(0.02, 0.98, 62)):  # cut anywhere: header, data, tail
            specs.append(Spec(f"truncated {fmt}", f"cut{i:02d}_{fmt}.{suffix}",
                              _bytes_writer(whole[: max(1, int(len(whole) * fraction))])))
        for i in range(40):  # a few header bytes overwritten with noise
            data = bytearray(whole)
            for position in rng.integers(0, min(64, len(data)), size=int(rng.integers(1, 6))):
                data[position] = int(rng.integers(0, 256))
            specs.append(Spec(f"corrupt header {fmt}", f"hdr{i:02d}_{fmt}.{suffix}", _bytes_writer(bytes(data))))
    for i in range(40):
        specs.append(Spec("random bytes", f"random{i:02d}.wav",
                          _bytes_writer(rng.integers(0, 256, int(rng.integers(1, 5000)), dtype=np.uint8).tobytes())))
    specs += [Spec("zero-length", f"empty{i}.{ext}", _bytes_writer(b"")) for i, ext in enumerate(["wav", "flac", "mp3"])]
    wav = _encoded("wav")
    for i, size in enumerate([0x7FFFFFFF, 0xFFFFFFF0, 10**9, 123456789]):
        data = bytearray(wav)
        data[40:44] = struct.pack("<I", size)  # the data chunk's size
        specs.append(Spec("huge declared size", f"huge{i}.wav", _bytes_writer(bytes(data))))
    specs += [
        Spec("1 sample", "one_sample.wav", _array_writer(np.full((1, 1), 0.5, np.float32), 16000)),
        Spec("8 channels", "eight_channels.wav", _array_writer(_tone(0.5, 16000, 8), 16000)),
        Spec("8 kHz", "rate_8k.wav", _array_writer(_tone(0.5, 8000), 8000)),
        Spec("192 kHz", "rate_192k.wav", _array_writer(_tone(0.5, 192000), 192000)),
        Spec("DC", "dc.flac", _array_writer(np.full((8000, 1), 0.25, np.float32), 16000)),
    ]
    for value, label in [(np.nan, "nan"), (np.inf, "inf"), (-np.inf, "neginf"), (1e30, "1e30"), (3e38, "3e38")]:
        samples = _tone(0.5, 16000, 2)
        samples[100:110] = value
        specs.append(Spec("non-finite or huge floats", f"float_{label}.wav",
                          _array_writer(samples, 16000, subtype="FLOAT")))
        specs.append(Spec("non-finite or huge floats", f"float_all_{label}.wav",
                          _array_writer(np.full((8000, 1), value, np.float32), 16000, subtype="FLOAT")))
    good = _bytes_writer(wav)
    odd_names = ["with [/] brackets.wav", "[bold]markup[/bold].wav", "space name.wav", "ünïcödé.wav",
                 "-leading-dash.wav", "x" * 200 + ".wav", "UPPER.WAV", "semi;colon.wav", "quote'\".wav"]
    specs += [Spec("odd names", name, good) for name in odd_names]
    specs.append(Spec("odd names", os.fsdecode(b"latin1_\xe9\xff.wav"), good))
    specs += [
        Spec("links and special files", "fifo.wav", _fifo),
        Spec("links and special files", "dangling.wav", _link("does-not-exist.wav")),
        Spec("links and special files", "loop.wav", _loop),
        Spec("links and special files", "device.wav", _link("/dev/zero")),
        Spec("links and special files", "folder.wav", _folder),
    ]
    return specs


def write_inputs(folder: Path, specs: list[Spec]) -> dict[str, str]:
    """Write every spec into `folder`; returns name -> kind."""
    folder.mkdir(parents=True, exist_ok=True)
    for spec in specs:
        (folder / spec.name).parent.mkdir(parents=True, exist_ok=True)  # "with [/] brackets.wav"
        spec.build(folder / spec.name)
    return {spec.name: spec.kind for spec in specs}
