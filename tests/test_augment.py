from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from auralign.audio.augment import (
    _EFFECTS,
    AugmentConfig,
    _pick_effects,
    add_noise,
    apply_gain,
    augment,
    available_codecs,
    background_excerpt,
    band_limit,
    codec_round_trip,
    mix_at_snr,
    pitch_tempo_shift,
    random_filter,
    room_impulse_response,
    synthetic_reverb,
    time_offset,
)
from auralign.config import load_config
from auralign.errors import AuralignError
from auralign.training.clap import ClapRunConfig

RATE = 16000


def tone(seconds: float = 1.0, freq: float = 440.0) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_same_seed_same_variant_and_different_seed_different_variant():
    clip = tone()
    config = AugmentConfig()
    a = augment(clip, RATE, config, np.random.default_rng([1, 2, 3]))
    b = augment(clip, RATE, config, np.random.default_rng([1, 2, 3]))
    c = augment(clip, RATE, config, np.random.default_rng([1, 2, 4]))
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and np.isfinite(a).all()
    assert len(a) != len(c) or not np.allclose(a, c)


@pytest.mark.parametrize("snr", [5.0, 20.0, 40.0])
@pytest.mark.parametrize("color", ["white", "pink", "brown"])
def test_noise_is_added_at_the_requested_snr(snr, color):
    clip = tone()
    noisy = add_noise(clip, snr, np.random.default_rng(0), color=color)
    noise = noisy.astype(np.float64) - clip
    measured = 10 * np.log10(np.mean(clip.astype(np.float64) ** 2) / np.mean(noise**2))
    assert measured == pytest.approx(snr, abs=0.05)


def test_pitch_shift_changes_length_by_the_tape_factor_and_moves_the_peak_frequency():
    clip = tone(1.0, 440.0)
    up = pitch_tempo_shift(clip, RATE, 12.0)
    assert len(up) == pytest.approx(len(clip) / 2, abs=2)
    spectrum = np.abs(np.fft.rfft(up))
    assert np.fft.rfftfreq(len(up), 1 / RATE)[spectrum.argmax()] == pytest.approx(880, abs=5)


def test_reverb_adds_a_tail_and_keeps_the_peak():
    click = np.zeros(RATE // 2, dtype=np.float32)
    click[100] = 0.8
    wet = synthetic_reverb(click, RATE, rt60=0.5, wet=0.5, rng=np.random.default_rng(0))
    assert len(wet) == len(click) + RATE // 2 - 1  # full convolution: the room tail is rt60 long
    assert np.max(np.abs(wet)) == pytest.approx(0.8, rel=1e-4)
    assert np.abs(wet[2000:4000]).max() > 1e-3  # energy after the click: the room


def test_offset_prepends_silence_or_cuts_the_start():
    clip = tone(0.5)
    later = time_offset(clip, RATE, 0.1)
    assert len(later) == len(clip) + RATE // 10 and not later[: RATE // 10].any()
    earlier = time_offset(clip, RATE, -0.1)
    np.testing.assert_array_equal(earlier, clip[RATE // 10:])


def test_filters_remove_energy_outside_their_band():
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(RATE).astype(np.float32)
    filtered = random_filter(noise, RATE, np.random.default_rng(3))
    before, after = np.abs(np.fft.rfft(noise)) ** 2, np.abs(np.fft.rfft(filtered)) ** 2
    assert after.sum() < 0.9 * before.sum()


def test_pitch_shift_is_skipped_when_the_label_depends_on_pitch():
    config = AugmentConfig(offset_probability=0, crop_probability=0, pitch_probability=1.0, eq_probability=0,
                           filter_probability=0, reverb_probability=0, noise_probability=0)
    clip = tone()
    assert len(augment(clip, RATE, config, np.random.default_rng(0), allow_pitch_shift=False)) == len(clip)
    assert len(augment(clip, RATE, config, np.random.default_rng(0), allow_pitch_shift=True)) != len(clip)


def test_config_fingerprint_follows_the_settings():
    assert AugmentConfig().fingerprint() == AugmentConfig().fingerprint()
    assert AugmentConfig(snr_db=(10.0, 20.0)).fingerprint() != AugmentConfig().fingerprint()


# --- recording effects -------------------------------------------------------------------------------

OFF = AugmentConfig(offset_probability=0, crop_probability=0, pitch_probability=0, eq_probability=0,
                    filter_probability=0, reverb_probability=0, noise_probability=0)


def chirp(rate: int = RATE) -> np.ndarray:
    t = np.arange(rate) / rate
    return (0.5 * np.sin(2 * np.pi * (300 + 400 * t) * t) * np.exp(-2 * t)).astype(np.float32)


def write_background(path: Path, seconds: float, rate: int = 22050) -> Path:
    """Pink-ish noise with a slow swell, at another rate than the clips (it is resampled on load)."""
    n = round(seconds * rate)
    noise = np.cumsum(np.random.default_rng(5).standard_normal(n)) * 0.002
    noise = (noise - noise.mean()) * (1 + 0.5 * np.sin(np.arange(n) / rate))
    sf.write(path, (0.3 * noise / np.abs(noise).max()).astype(np.float32), rate)
    return path


# (seed, allow_pitch_shift) -> (length, sum of squares, sum of t * sample), from the implementation
# before the recording effects existed: configs that leave them off must give the same variants.
GOLDEN = {(0, True): (16000, 9.913526e+02, -4.531670e+00), (0, False): (16000, 4.944495e+02, -8.409206e-02),
          (1, True): (28072, 1.155413e+02, 1.258595e-01), (1, False): (21554, 7.972209e+02, 3.268362e-01),
          (2, True): (15473, 1.931568e+02, -1.383334e-01), (2, False): (34056, 1.598558e+02, -4.849824e-01),
          (3, True): (15168, 4.400813e+02, -3.166442e+01), (3, False): (16000, 1.613714e+02, -8.783311e-01),
          (4, True): (13966, 8.615912e+01, -8.684881e-02), (4, False): (37666, 6.148831e+01, -5.556978e+00),
          (5, True): (17599, 4.039019e+02, 2.123909e-01), (5, False): (17599, 7.682510e+02, 2.269817e-01)}


@pytest.mark.parametrize(("seed", "pitch"), sorted(GOLDEN))
def test_default_config_gives_the_variants_it_gave_before_the_recording_effects(seed, pitch, tmp_path):
    background = write_background(tmp_path / "bg.wav", 2.0)  # ignored: background_probability is 0
    out = augment(chirp(), RATE, AugmentConfig(), np.random.default_rng([7, seed]), allow_pitch_shift=pitch,
                  backgrounds=[background])
    weights = np.arange(len(out)) / len(out)
    length, energy, weighted = GOLDEN[seed, pitch]
    assert len(out) == length
    assert float(np.sum(out.astype(np.float64) ** 2)) == pytest.approx(energy, rel=1e-4)
    assert float(np.sum(weights * out)) == pytest.approx(weighted, rel=1e-4, abs=1e-4)


def test_default_fingerprint_is_the_one_before_the_recording_effects():
    assert AugmentConfig().fingerprint() == "93ced0186c39"  # existing variant folders stay valid


def test_fingerprint_changes_with_every_setting():
    base = AugmentConfig.recording()
    prints = {base.fingerprint(), AugmentConfig().fingerprint()}
    for field in fields(AugmentConfig):
        value = getattr(base, field.name)
        if field.name == "effects_per_copy":
            changed = (1, 4)
        elif isinstance(value, tuple):
            changed = tuple(v + 0.5 for v in value)
        else:
            changed = value + 1 if isinstance(value, int) else value + 0.05
        prints.add(replace(base, **{field.name: changed}).fingerprint())
    assert len(prints) == len(fields(AugmentConfig)) + 2


ONLY = {name: replace(OFF, **{f"{name}_probability": 1.0})
        for name in ("lead", "room", "background", "gain", "bandlimit", "codec")}


@pytest.mark.parametrize("name", sorted(ONLY))
def test_each_recording_effect_is_seeded_finite_and_keeps_its_length(name, tmp_path):
    clip, backgrounds = chirp(), [write_background(tmp_path / "bg.wav", 2.0)]
    a, b, *others = (augment(clip, RATE, ONLY[name], np.random.default_rng(seed), backgrounds=backgrounds)
                     for seed in (1, 1, 2, 3, 4))
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.float32 and np.isfinite(a).all() and not np.array_equal(a, clip)
    assert any(len(a) != len(c) or not np.allclose(a, c) for c in others)
    if name == "lead":  # leading silence of up to 0.5 s, the clip kept whole after it
        lead = len(a) - len(clip)
        assert 0 <= lead <= RATE // 2 and not a[:lead].any()
        np.testing.assert_array_equal(a[lead:], clip)
    elif name == "room":  # the room's tail is added, as the older reverb does
        assert len(clip) + 0.2 * RATE - 1 <= len(a) <= len(clip) + 1.5 * RATE
    else:
        assert len(a) == len(clip)


@pytest.mark.parametrize("snr", [0.0, 10.0, 25.0])
def test_background_is_mixed_at_the_requested_snr(snr, tmp_path):
    clip = chirp()
    background = background_excerpt(write_background(tmp_path / "bg.wav", 3.0), RATE, len(clip),
                                     np.random.default_rng(0))
    noise = mix_at_snr(clip, background, snr).astype(np.float64) - clip
    measured = 10 * np.log10(np.mean(clip.astype(np.float64) ** 2) / np.mean(noise**2))
    assert measured == pytest.approx(snr, abs=0.01)


def test_background_excerpts_are_random_crops_or_loops_of_the_recording(tmp_path):
    path = write_background(tmp_path / "bg.wav", 1.0, rate=RATE)
    whole = sf.read(path, dtype="float32")[0]
    crop = background_excerpt(path, RATE, RATE // 4, np.random.default_rng(0))
    start = int(np.flatnonzero(np.isclose(whole, crop[0], atol=1e-7) & np.isclose(np.roll(whole, -1), crop[1]))[0])
    np.testing.assert_allclose(crop, whole[start:start + RATE // 4], atol=1e-6)
    looped = background_excerpt(path, RATE, 3 * RATE, np.random.default_rng(0))
    assert len(looped) == 3 * RATE
    np.testing.assert_allclose(looped[:RATE], looped[RATE:2 * RATE])  # period: the recording's length
    other = background_excerpt(path, RATE, RATE // 4, np.random.default_rng(1))
    assert not np.allclose(crop, other)


def test_the_background_effect_mixes_at_a_snr_inside_the_configured_range(tmp_path):
    config = replace(ONLY["background"], background_snr_db=(12.0, 12.0))
    clip = chirp()
    out = augment(clip, RATE, config, np.random.default_rng(3), backgrounds=[write_background(tmp_path / "b.wav", 2.0)])
    noise = out.astype(np.float64) - clip
    assert 10 * np.log10(np.mean(clip.astype(np.float64) ** 2) / np.mean(noise**2)) == pytest.approx(12.0, abs=0.01)


def band_energy(audio: np.ndarray, rate: int, low: float, high: float) -> float:
    spectrum = np.abs(np.fft.rfft(audio.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(audio), 1 / rate)
    return float(spectrum[(freqs >= low) & (freqs < high)].sum())


@pytest.mark.parametrize("kind", ["telephone", "8000", "11025", "16000"])
def test_band_limiting_removes_the_energy_above_its_cutoff(kind):
    rate = 44100
    noise = (0.3 * np.random.default_rng(0).standard_normal(rate)).astype(np.float32)
    limited = band_limit(noise, rate, kind)
    assert len(limited) == len(noise) and np.isfinite(limited).all()
    cutoff = 3400.0 if kind == "telephone" else int(kind) / 2
    above_before = band_energy(noise, rate, cutoff * 1.1, rate / 2)
    assert band_energy(limited, rate, cutoff * 1.1, rate / 2) < 1e-3 * above_before
    assert band_energy(limited, rate, 500, 0.8 * cutoff) > 0.5 * band_energy(noise, rate, 500, 0.8 * cutoff)
    if kind == "telephone":
        assert band_energy(limited, rate, 20, 150) < 0.05 * band_energy(noise, rate, 20, 150)


def test_libsndfile_lossy_codecs_are_used_when_present():
    formats = sf.available_formats()
    expected = [name for name, container, subtype in (("vorbis", "OGG", "VORBIS"), ("mp3", "MP3", "MPEG_LAYER_III"))
                if container in formats and subtype in sf.available_subtypes(container)]
    assert available_codecs(44100) == (expected or ["mulaw"])
    assert "mp3" not in available_codecs(96000)


@pytest.mark.parametrize("codec", ["vorbis", "mp3", "mulaw"])
@pytest.mark.parametrize(("rate", "compression"), [(44100, 0.95), (16000, 0.9), (16000, 0.5)])
def test_codec_round_trip_keeps_length_and_alignment(codec, rate, compression):
    if codec != "mulaw" and codec not in available_codecs(rate):
        pytest.skip(f"this libsndfile cannot write {codec}")
    clip = chirp(rate)
    decoded = codec_round_trip(clip, rate, codec, compression)
    assert decoded.dtype == np.float32 and len(decoded) == len(clip) and np.isfinite(decoded).all()
    assert not np.array_equal(decoded, clip)  # lossy
    lags = np.arange(-200, 201)
    correlation = [np.dot(np.roll(decoded, -lag), clip) for lag in lags]
    assert lags[int(np.argmax(correlation))] == 0  # mp3's encoder + decoder delay is removed
    snr = 10 * np.log10(np.sum(clip.astype(np.float64) ** 2) / np.sum((decoded - clip.astype(np.float64)) ** 2))
    assert snr > 3
    np.testing.assert_array_equal(decoded, codec_round_trip(clip, rate, codec, compression))


def test_gain_changes_the_level_but_never_clips():
    clip = chirp()
    quieter = apply_gain(clip, -12.0)
    assert 20 * np.log10(np.abs(quieter).max() / np.abs(clip).max()) == pytest.approx(-12.0, abs=1e-3)
    louder = apply_gain(clip, 6.0)  # peak ~0.5 -> ~1.0: fits
    assert 20 * np.log10(np.abs(louder).max() / np.abs(clip).max()) == pytest.approx(6.0, abs=1e-3)
    capped = apply_gain(1.8 * clip, 6.0)  # would peak at ~1.8: gains only up to full scale
    assert np.abs(capped).max() == pytest.approx(1.0, abs=1e-6)


def test_room_response_decays_by_its_rt60_and_has_early_reflections():
    rate = 16000
    response = room_impulse_response(rate, 0.8, np.random.default_rng(0))
    assert len(response) == round(0.8 * rate) and np.sum(response**2) == pytest.approx(1.0)
    energy = [np.sum(response[round(a * rate):round((a + 0.1) * rate)] ** 2) for a in (0.1, 0.3)]
    assert 10 * np.log10(energy[0] / energy[1]) == pytest.approx(60 * 0.2 / 0.8, abs=5)  # 15 dB per 0.2 s
    assert not response[: round(0.002 * rate)].any()  # no direct path: the dry signal is mixed separately
    rooms = {room_impulse_response(rate, 0.8, np.random.default_rng(seed))[:800].tobytes() for seed in range(3)}
    assert len(rooms) == 3


def test_recording_preset_gives_each_copy_two_to_four_effects():
    config = AugmentConfig.recording()
    counts = [len(_pick_effects(_EFFECTS, config, np.random.default_rng(seed))) for seed in range(300)]
    assert set(counts) == {2, 3, 4}
    picked = _pick_effects(_EFFECTS, config, np.random.default_rng(0))
    assert picked <= {"eq", "noise", "lead", "room", "background", "gain", "bandlimit", "codec"}
    without_background = [effect for effect in _EFFECTS if effect.name != "background"]
    assert all("background" not in _pick_effects(without_background, config, np.random.default_rng(seed))
               for seed in range(50))


def test_recording_preset_runs_seeded_on_a_clip(tmp_path):
    backgrounds = [write_background(tmp_path / "bg.wav", 2.0)]
    config = AugmentConfig.recording()
    outs = [augment(chirp(), RATE, config, np.random.default_rng([0, k]), backgrounds=backgrounds) for k in range(6)]
    again = augment(chirp(), RATE, config, np.random.default_rng([0, 0]), backgrounds=backgrounds)
    np.testing.assert_array_equal(outs[0], again)
    assert all(np.isfinite(out).all() and out.dtype == np.float32 for out in outs)
    assert len({out.tobytes() for out in outs}) == 6


def test_presets_load_from_config_files_with_keys_set_over_them():
    config = load_config(ClapRunConfig, None, ["data.augment.gain_db=-6,0", "data.augment.preset=recording"])
    assert config.data.augment == replace(AugmentConfig.recording(), gain_db=(-6.0, 0.0))
    assert load_config(ClapRunConfig, None, ["data.augment.preset=default"]).data.augment == AugmentConfig()
    with pytest.raises(AuralignError, match="preset"):
        load_config(ClapRunConfig, None, ["data.augment.preset=studio"])
    with pytest.raises(AuralignError, match="effects_per_copy"):
        load_config(ClapRunConfig, None, ["data.augment.effects_per_copy=4,2"])
