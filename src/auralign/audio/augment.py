"""Seeded waveform augmentations that move clean or rendered clips toward real recordings.

Applied in this order, each with its own probability: a random time offset and crop, a pitch/tempo
change by resampling (only when the label does not depend on pitch), EQ (a few random peaking and
shelving biquads), a low-pass or high-pass filter, synthetic reverb (exponentially decaying noise as
the room's impulse response, mixed wet/dry), and additive noise (white, pink or brown) at a random
SNR. Random gain is deliberately absent: the encoder's front end peak-normalises its input, so a
gain change would be invisible to it.

Everything is drawn from the `numpy.random.Generator` passed in, so `augment(x, rate, config,
np.random.default_rng([seed, clip, k]))` is reproducible variant by variant.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass

import numpy as np
import soxr
from scipy import signal


@dataclass(frozen=True)
class AugmentConfig:
    offset_probability: float = 0.5
    max_offset_seconds: float = 0.3
    crop_probability: float = 0.3
    min_crop_fraction: float = 0.6
    pitch_probability: float = 0.3
    max_pitch_semitones: float = 2.0
    eq_probability: float = 0.7
    eq_bands: int = 3
    eq_max_db: float = 9.0
    filter_probability: float = 0.4
    reverb_probability: float = 0.5
    reverb_seconds: tuple[float, float] = (0.2, 1.5)
    reverb_wet: tuple[float, float] = (0.1, 0.6)
    noise_probability: float = 0.8
    snr_db: tuple[float, float] = (5.0, 40.0)

    def fingerprint(self) -> str:
        """A short hash of every setting: the cache key of augmented variants made with this config."""
        return hashlib.sha1(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]


def augment(audio: np.ndarray, rate: int, config: AugmentConfig, rng: np.random.Generator,
            allow_pitch_shift: bool = True) -> np.ndarray:
    """One augmented variant of a mono float32 clip (its length may change with offset, crop, pitch)."""
    out = np.asarray(audio, dtype=np.float32)
    if rng.random() < config.offset_probability:
        out = time_offset(out, rate, rng.uniform(-config.max_offset_seconds, config.max_offset_seconds))
    if rng.random() < config.crop_probability:
        out = random_crop(out, rng.uniform(config.min_crop_fraction, 1.0), rng)
    if allow_pitch_shift and rng.random() < config.pitch_probability:
        out = pitch_tempo_shift(out, rate, rng.uniform(-config.max_pitch_semitones, config.max_pitch_semitones))
    if rng.random() < config.eq_probability:
        out = random_eq(out, rate, config.eq_bands, config.eq_max_db, rng)
    if rng.random() < config.filter_probability:
        out = random_filter(out, rate, rng)
    if rng.random() < config.reverb_probability:
        out = synthetic_reverb(out, rate, rng.uniform(*config.reverb_seconds), rng.uniform(*config.reverb_wet), rng)
    if rng.random() < config.noise_probability:
        out = add_noise(out, rng.uniform(*config.snr_db), rng, color=str(rng.choice(["white", "pink", "brown"])))
    return np.nan_to_num(out.astype(np.float32))


def time_offset(audio: np.ndarray, rate: int, seconds: float) -> np.ndarray:
    """Positive: silence is prepended (the sound starts later); negative: the start is cut."""
    shift = round(abs(seconds) * rate)
    if seconds >= 0:
        return np.concatenate([np.zeros(shift, dtype=audio.dtype), audio])
    return audio[min(shift, len(audio) - 1):]


def random_crop(audio: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    length = max(1, round(len(audio) * fraction))
    start = int(rng.integers(len(audio) - length + 1))
    return audio[start:start + length]


def pitch_tempo_shift(audio: np.ndarray, rate: int, semitones: float) -> np.ndarray:
    """Tape-style: resampling by 2^(semitones/12) raises pitch and tempo together."""
    factor = 2 ** (semitones / 12)
    return soxr.resample(audio, rate * factor, rate).astype(np.float32)


def _peaking(freq: float, gain_db: float, q: float, rate: int) -> np.ndarray:
    """RBJ cookbook peaking biquad as second-order sections."""
    a = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * freq / rate
    alpha = np.sin(w0) / (2 * q)
    b = np.array([1 + alpha * a, -2 * np.cos(w0), 1 - alpha * a])
    den = np.array([1 + alpha / a, -2 * np.cos(w0), 1 - alpha / a])
    return np.concatenate([b / den[0], den / den[0]])[None, :]


def random_eq(audio: np.ndarray, rate: int, bands: int, max_db: float, rng: np.random.Generator) -> np.ndarray:
    nyquist = rate / 2
    sections = [_peaking(float(np.exp(rng.uniform(np.log(60), np.log(0.8 * nyquist)))),
                         rng.uniform(-max_db, max_db), rng.uniform(0.5, 3.0), rate) for _ in range(bands)]
    return signal.sosfilt(np.concatenate(sections), audio).astype(np.float32)


def random_filter(audio: np.ndarray, rate: int, rng: np.random.Generator) -> np.ndarray:
    """A 2nd/4th-order Butterworth low-pass (cut-off 1-8 kHz) or high-pass (60-600 Hz)."""
    order = int(rng.choice([2, 4]))
    if rng.random() < 0.6:
        cutoff, kind = min(rng.uniform(1000, 8000), 0.45 * rate), "lowpass"
    else:
        cutoff, kind = rng.uniform(60, 600), "highpass"
    sos = signal.butter(order, cutoff, btype=kind, fs=rate, output="sos")
    return signal.sosfilt(sos, audio).astype(np.float32)


def synthetic_reverb(audio: np.ndarray, rate: int, rt60: float, wet: float, rng: np.random.Generator) -> np.ndarray:
    """Convolve with decaying noise (60 dB down after `rt60` s); the output keeps the input's length
    plus the tail, and its peak level."""
    n = max(1, round(rt60 * rate))
    t = np.arange(n) / rate
    response = rng.standard_normal(n) * np.exp(-6.9078 * t / rt60)
    response /= np.sqrt(np.sum(response**2)) or 1.0
    tail = signal.fftconvolve(audio, response)
    dry = np.concatenate([audio, np.zeros(len(tail) - len(audio), dtype=audio.dtype)])
    mixed = (1 - wet) * dry + wet * tail
    peak_in, peak_out = float(np.max(np.abs(audio))), float(np.max(np.abs(mixed)))
    return (mixed * (peak_in / peak_out if peak_out > 0 else 1.0)).astype(np.float32)


def colored_noise(n: int, color: str, rng: np.random.Generator) -> np.ndarray:
    white = rng.standard_normal(n)
    if color == "white":
        return white
    spectrum = np.fft.rfft(white)
    freqs = np.maximum(np.fft.rfftfreq(n), 1.0 / n)
    spectrum /= np.sqrt(freqs) if color == "pink" else freqs
    return np.fft.irfft(spectrum, n)


def add_noise(audio: np.ndarray, snr_db: float, rng: np.random.Generator, color: str = "white") -> np.ndarray:
    """Add noise so that signal power / noise power = `snr_db` (over the whole clip)."""
    noise = colored_noise(len(audio), color, rng)
    signal_power = float(np.mean(audio.astype(np.float64) ** 2))
    noise_power = float(np.mean(noise**2)) or 1.0
    scale = np.sqrt(signal_power / (noise_power * 10 ** (snr_db / 10)))
    return (audio + scale * noise).astype(np.float32)
