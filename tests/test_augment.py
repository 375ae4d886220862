import numpy as np
import pytest

from auralign.audio.augment import (
    AugmentConfig,
    add_noise,
    augment,
    pitch_tempo_shift,
    random_filter,
    synthetic_reverb,
    time_offset,
)

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
