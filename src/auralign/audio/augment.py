"""Seeded waveform augmentations that move clean or rendered clips toward real recordings.

The effects, in the order they are applied: a random time offset and crop, leading silence, a
pitch/tempo change by resampling (only when the label does not depend on pitch), EQ (a few random
peaking biquads), a low-pass or high-pass filter, synthetic reverb (exponentially decaying noise as
the room's impulse response, mixed wet/dry), a synthetic room (early reflections and a diffuse tail
whose highs die first), a real background recording at a random SNR, additive noise (white, pink or
brown) at a random SNR, a random gain, band-limiting (telephone band or a low sample rate round
trip) and a lossy codec round trip (Ogg Vorbis or MP3 through libsndfile, in memory).

Gain matters: the aiSFX front end applies unity gain by default (docs/backbones.md), so its features
depend on the recording level.

By default each effect happens with its own probability, independently. With `effects_per_copy=(lo,
hi)` a copy gets exactly n effects instead, n uniform in [lo, hi], drawn without replacement among
the effects whose probability is > 0, weighted by those probabilities (`AugmentConfig.recording()`).

Everything is drawn from the `numpy.random.Generator` passed in, so `augment(x, rate, config,
np.random.default_rng([seed, clip, k]))` is reproducible variant by variant. The effects added with
the recording preset draw nothing while their probability is 0, so a config that leaves them off
gives the same variants as before they existed (and keeps its fingerprint).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from scipy import signal

from auralign.audio.io import load_audio
from auralign.errors import AuralignError

# The settings that existed before the recording effects: always part of the fingerprint. A newer
# setting enters it only when it differs from its default, so older configs keep their cache folder.
_V1_FIELDS = frozenset({
    "offset_probability", "max_offset_seconds", "crop_probability", "min_crop_fraction", "pitch_probability",
    "max_pitch_semitones", "eq_probability", "eq_bands", "eq_max_db", "filter_probability", "reverb_probability",
    "reverb_seconds", "reverb_wet", "noise_probability", "snr_db",
})
LOW_RATES = (8000, 11025, 16000)
TELEPHONE_BAND = (300.0, 3400.0)
# (libsndfile format, subtype) of the codecs a copy may go through; "mulaw" only when no lossy one is there.
CODECS = {"vorbis": ("OGG", "VORBIS"), "mp3": ("MP3", "MPEG_LAYER_III"), "mulaw": ("WAV", "ULAW")}
MP3_RATES = frozenset({8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000})


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
    # Recording effects, off by default (see recording()).
    lead_probability: float = 0.0
    max_lead_seconds: float = 0.5
    room_probability: float = 0.0
    room_rt60: tuple[float, float] = (0.2, 1.5)
    room_wet: tuple[float, float] = (0.1, 0.5)
    background_probability: float = 0.0
    background_snr_db: tuple[float, float] = (5.0, 25.0)
    gain_probability: float = 0.0
    gain_db: tuple[float, float] = (-12.0, 6.0)
    bandlimit_probability: float = 0.0
    codec_probability: float = 0.0
    codec_compression: tuple[float, float] = (0.7, 0.95)  # libsndfile compression level: 1 is the lowest bitrate
    effects_per_copy: tuple[int, int] = (0, 0)  # (lo, hi) with hi > 0: exactly lo..hi effects per copy

    def __post_init__(self) -> None:
        low, high = self.effects_per_copy
        if not 0 <= low <= high:
            raise AuralignError(f"effects_per_copy must be (lo, hi) with 0 <= lo <= hi, got {self.effects_per_copy}")

    @classmethod
    def recording(cls) -> AugmentConfig:
        """2-4 effects per copy that a microphone, a room and a channel add: room, background,
        gain, leading silence, codec, band-limiting, EQ, hiss. No pitch change, crop or cut onset."""
        return cls(offset_probability=0.0, crop_probability=0.0, pitch_probability=0.0, eq_probability=0.3,
                   filter_probability=0.0, reverb_probability=0.0, noise_probability=0.2, snr_db=(20.0, 45.0),
                   lead_probability=0.4, room_probability=0.5, background_probability=0.6, gain_probability=0.5,
                   bandlimit_probability=0.25, codec_probability=0.35, effects_per_copy=(2, 4))

    @classmethod
    def presets(cls) -> dict[str, AugmentConfig]:
        """Named starting points, usable from a config file as `preset: recording` (see config_from_dict)."""
        return {"default": cls(), "recording": cls.recording()}

    def fingerprint(self) -> str:
        """A short hash of every setting: the cache key of augmented variants made with this config."""
        defaults = asdict(AugmentConfig())
        settings = {key: value for key, value in asdict(self).items() if key in _V1_FIELDS or value != defaults[key]}
        return hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]


Apply = Callable[[np.ndarray, int, AugmentConfig, np.random.Generator, Sequence[Path]], np.ndarray]


@dataclass(frozen=True)
class _Effect:
    """One effect of the chain; its chance is the config's `<name>_probability`. A `legacy` effect
    draws its chance even at probability 0, as every effect did before the recording effects."""

    name: str
    apply: Apply
    legacy: bool = False


_EFFECTS = (
    _Effect("offset", lambda x, rate, c, rng, bg: time_offset(
        x, rate, rng.uniform(-c.max_offset_seconds, c.max_offset_seconds)), legacy=True),
    _Effect("crop", lambda x, rate, c, rng, bg: random_crop(x, rng.uniform(c.min_crop_fraction, 1.0), rng),
            legacy=True),
    _Effect("lead", lambda x, rate, c, rng, bg: time_offset(x, rate, rng.uniform(0.0, c.max_lead_seconds))),
    _Effect("pitch", lambda x, rate, c, rng, bg: pitch_tempo_shift(
        x, rate, rng.uniform(-c.max_pitch_semitones, c.max_pitch_semitones)), legacy=True),
    _Effect("eq", lambda x, rate, c, rng, bg: random_eq(x, rate, c.eq_bands, c.eq_max_db, rng), legacy=True),
    _Effect("filter", lambda x, rate, c, rng, bg: random_filter(x, rate, rng), legacy=True),
    _Effect("reverb", lambda x, rate, c, rng, bg: synthetic_reverb(
        x, rate, rng.uniform(*c.reverb_seconds), rng.uniform(*c.reverb_wet), rng), legacy=True),
    _Effect("room", lambda x, rate, c, rng, bg: room_reverb(
        x, rate, rng.uniform(*c.room_rt60), rng.uniform(*c.room_wet), rng)),
    _Effect("background", lambda x, rate, c, rng, bg: mix_at_snr(
        x, background_excerpt(bg[int(rng.integers(len(bg)))], rate, len(x), rng), rng.uniform(*c.background_snr_db))),
    _Effect("noise", lambda x, rate, c, rng, bg: add_noise(
        x, rng.uniform(*c.snr_db), rng, color=str(rng.choice(["white", "pink", "brown"]))), legacy=True),
    _Effect("gain", lambda x, rate, c, rng, bg: apply_gain(x, rng.uniform(*c.gain_db))),
    _Effect("bandlimit", lambda x, rate, c, rng, bg: band_limit(x, rate, str(rng.choice(band_limits(rate))))),
    _Effect("codec", lambda x, rate, c, rng, bg: codec_round_trip(
        x, rate, str(rng.choice(available_codecs(rate))), rng.uniform(*c.codec_compression))),
)


def augment(audio: np.ndarray, rate: int, config: AugmentConfig, rng: np.random.Generator,
            allow_pitch_shift: bool = True, backgrounds: Sequence[Path] = ()) -> np.ndarray:
    """One augmented variant of a mono float32 clip (its length may change with offset, crop, leading
    silence, pitch and reverb). `backgrounds` are audio files to mix in (none: no background)."""
    out = np.asarray(audio, dtype=np.float32)
    effects = [effect for effect in _EFFECTS
               if (allow_pitch_shift or effect.name != "pitch") and (backgrounds or effect.name != "background")]
    chosen = _pick_effects(effects, config, rng) if config.effects_per_copy[1] > 0 else None
    for effect in effects:
        if _applies(effect, config, rng, chosen):
            out = effect.apply(out, rate, config, rng, backgrounds)
    return np.nan_to_num(out.astype(np.float32))


def _probability(effect: _Effect, config: AugmentConfig) -> float:
    return float(getattr(config, f"{effect.name}_probability"))


def _applies(effect: _Effect, config: AugmentConfig, rng: np.random.Generator, chosen: set[str] | None) -> bool:
    if chosen is not None:
        return effect.name in chosen
    probability = _probability(effect, config)
    if not effect.legacy and probability <= 0:
        return False
    return bool(rng.random() < probability)


def _pick_effects(effects: Sequence[_Effect], config: AugmentConfig, rng: np.random.Generator) -> set[str]:
    weights = np.array([max(_probability(effect, config), 0.0) for effect in effects])
    low, high = config.effects_per_copy
    count = min(int(rng.integers(low, high + 1)), int(np.count_nonzero(weights)))
    if count == 0:
        return set()
    picked = rng.choice(len(effects), size=count, replace=False, p=weights / weights.sum())
    return {effects[i].name for i in picked}


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
    return _mix_wet(audio, response, wet)


def _mix_wet(audio: np.ndarray, response: np.ndarray, wet: float) -> np.ndarray:
    """(1 - wet) x dry + wet x (dry convolved with `response`), scaled back to the input's peak."""
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
    return mix_at_snr(audio, colored_noise(len(audio), color, rng), snr_db)


def mix_at_snr(audio: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """`audio` + `noise` scaled so that their power ratio over the whole clip is `snr_db` (a silent
    noise or clip adds nothing)."""
    signal_power = float(np.mean(audio.astype(np.float64) ** 2))
    noise_power = float(np.mean(np.asarray(noise, dtype=np.float64) ** 2)) or 1.0
    scale = np.sqrt(signal_power / (noise_power * 10 ** (snr_db / 10)))
    return (audio + scale * noise).astype(np.float32)


def room_impulse_response(rate: int, rt60: float, rng: np.random.Generator) -> np.ndarray:
    """A random room without its direct path, `rt60` s long, unit energy.

    After a pre-delay of 2-20 ms come 3-10 early reflections (discrete taps within 50 ms, each
    quieter by the longer path it travels and the wall it bounces off), then a diffuse tail of
    decaying noise that builds up over the reflections and whose content above a 2-5 kHz crossover
    dies 1.5-3x faster than below it, as air and soft surfaces absorb highs first.
    """
    n = max(2, round(rt60 * rate))
    t = np.arange(n) / rate
    pre_delay = rng.uniform(0.002, 0.02)
    delays = np.sort(pre_delay + rng.uniform(0.0, 0.05, int(rng.integers(3, 11))))
    distance = rng.uniform(1.0, 5.0)  # source to microphone, m
    early = np.zeros(n)
    gains = rng.uniform(0.4, 0.9, len(delays)) * distance / (distance + 343.0 * delays)
    np.add.at(early, np.minimum(np.round(delays * rate).astype(int), n - 1), gains)
    crossover = min(rng.uniform(2000.0, 5000.0), 0.45 * rate)
    low = signal.sosfilt(signal.butter(2, crossover, fs=rate, output="sos"), rng.standard_normal(n))
    high = signal.sosfilt(signal.butter(2, crossover, btype="highpass", fs=rate, output="sos"),
                          rng.standard_normal(n))
    high_rt60 = rt60 / rng.uniform(1.5, 3.0)
    tail = low * np.exp(-6.9078 * t / rt60) + high * np.exp(-6.9078 * t / high_rt60)
    tail *= np.clip((t - pre_delay) / max(delays[-1] - pre_delay, 1.0 / rate), 0.0, 1.0)  # builds up
    early_share = rng.uniform(0.2, 0.6)  # of the response's energy
    response = np.sqrt(early_share) * _unit(early) + np.sqrt(1 - early_share) * _unit(tail)
    return _unit(response)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / (np.sqrt(np.sum(x**2)) or 1.0)


def room_reverb(audio: np.ndarray, rate: int, rt60: float, wet: float, rng: np.random.Generator) -> np.ndarray:
    """The clip in a random room (`room_impulse_response`), mixed wet/dry; it keeps its peak level
    and gains the room's tail (`rt60` s)."""
    return _mix_wet(audio, room_impulse_response(rate, rt60, rng), wet)


def background_excerpt(path: Path, rate: int, length: int, rng: np.random.Generator) -> np.ndarray:
    """`length` samples of the recording at `path` from a random offset, looped when it is shorter."""
    background = load_audio(path, rate)
    if len(background) >= length:
        start = int(rng.integers(len(background) - length + 1))
        return background[start:start + length]
    return np.resize(np.roll(background, -int(rng.integers(len(background)))), length)


def apply_gain(audio: np.ndarray, gain_db: float) -> np.ndarray:
    """Scale by `gain_db`, at most up to a peak of 1 (no clipping: a loud clip gains less)."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    gain = 10 ** (gain_db / 20)
    if peak * gain > 1.0:
        gain = 1.0 / peak
    return (audio * gain).astype(np.float32)


def band_limits(rate: int) -> list[str]:
    """The band-limits that change a clip at `rate`: "telephone", and the low rates below it."""
    return ["telephone", *(str(low) for low in LOW_RATES if low < rate)]


def band_limit(audio: np.ndarray, rate: int, kind: str) -> np.ndarray:
    """"telephone": a 4th-order 300-3400 Hz band-pass, then an 8 kHz round trip; "8000" etc.: down
    to that rate and back with soxr, which removes what lies above its Nyquist frequency."""
    if kind != "telephone":
        return resample_round_trip(audio, rate, int(kind))
    low, high = TELEPHONE_BAND
    sos = signal.butter(4, [low, min(high, 0.45 * rate)], btype="bandpass", fs=rate, output="sos")
    filtered = signal.sosfilt(sos, audio).astype(np.float32)
    return resample_round_trip(filtered, rate, 8000) if rate > 8000 else filtered


def resample_round_trip(audio: np.ndarray, rate: int, low_rate: int) -> np.ndarray:
    down = soxr.resample(audio, rate, low_rate)
    return _fit(soxr.resample(down, low_rate, rate).astype(np.float32), len(audio))


def _fit(audio: np.ndarray, length: int) -> np.ndarray:
    """Cut or zero-pad at the end to `length` samples."""
    return np.pad(audio[:length], (0, max(0, length - len(audio))))


def available_codecs(rate: int) -> list[str]:
    """The lossy codecs this libsndfile can write at `rate`, or ["mulaw"] (8-bit G.711) when none can."""
    lossy = [name for name in ("vorbis", "mp3") if _writable(name) and (name != "mp3" or rate in MP3_RATES)]
    return lossy or ["mulaw"]


def _writable(codec: str) -> bool:
    container, subtype = CODECS[codec]
    return container in sf.available_formats() and subtype in sf.available_subtypes(container)


def codec_round_trip(audio: np.ndarray, rate: int, codec: str, compression: float) -> np.ndarray:
    """Encode to `codec` in memory at libsndfile's `compression` level (0-1, 1: lowest bitrate;
    ignored by mu-law) and decode back, aligned to the input and of its length.

    MP3 at low bitrates comes back longer, delayed by the encoder and decoder (1105 samples here):
    the decoded signal is aligned on the input by cross-correlation over the extra samples.
    """
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    audio = (audio / peak if peak > 1.0 else audio).astype(np.float32)  # codecs clip beyond full scale
    container, subtype = CODECS[codec]
    options = {} if codec == "mulaw" else {"compression_level": compression}
    if codec == "mp3":
        options["bitrate_mode"] = "CONSTANT"
    buffer = io.BytesIO()
    sf.write(buffer, audio, rate, format=container, subtype=subtype, **options)
    buffer.seek(0)
    decoded, _ = sf.read(buffer, dtype="float32")
    if len(decoded) > len(audio) > 0:
        lag = int(np.argmax(signal.correlate(decoded, audio, mode="valid", method="fft")))
        decoded = decoded[lag:]
    return _fit(decoded, len(audio))
