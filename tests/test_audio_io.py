from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auralign.audio import io
from auralign.audio.io import (
    AudioWindow,
    BatchResult,
    find_audio_files,
    iter_windows,
    load_audio,
    load_many,
    process_files,
)
from auralign.errors import AudioLoadError
from data_factory import BAD_REASON_PREFIXES, tone, write_bad, write_good

TARGET_RATE = 16000
# AURALIGN_FUZZ_EXAMPLES=5000 fuzzes the decoder much harder than the default quick run.
FUZZ = settings(
    max_examples=int(os.environ.get("AURALIGN_FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def reason_of(path: Path, **kwargs: object) -> str:
    with pytest.raises(AudioLoadError) as caught:
        load_audio(path, TARGET_RATE, **kwargs)  # type: ignore[arg-type]
    assert caught.value.path == path
    return caught.value.reason


# --- decoding ---------------------------------------------------------------------------------------


def test_good_fixtures_decode_to_mono_float32_at_the_target_rate(tmp_path: Path) -> None:
    for path in write_good(tmp_path):
        samples = load_audio(path, TARGET_RATE)
        assert samples.dtype == np.float32 and samples.ndim == 1, path.name
        # every fixture is 1.5 s long; MP3 encoders may add a few ms of padding
        assert abs(len(samples) - 1.5 * TARGET_RATE) <= (0.1 * TARGET_RATE if path.suffix == ".mp3" else 1)
        assert 0.2 < np.abs(samples).max() < 1.0, path.name


def test_channels_are_mixed_down_by_their_mean(tmp_path: Path) -> None:
    stereo = np.stack([np.full(800, 0.5), np.linspace(-0.25, 0.25, 800)], axis=1).astype(np.float32)
    sf.write(tmp_path / "s.wav", stereo, 8000, subtype="FLOAT")
    np.testing.assert_allclose(load_audio(tmp_path / "s.wav", 8000), stereo.mean(axis=1), atol=1e-7)


def test_resampling_matches_soxr_on_the_whole_signal(tmp_path: Path) -> None:
    stereo = tone(2.0, 44100, channels=2)
    sf.write(tmp_path / "t.wav", stereo, 44100, subtype="FLOAT")
    expected = soxr.resample(stereo.mean(axis=1), 44100, TARGET_RATE, quality="HQ")
    np.testing.assert_allclose(load_audio(tmp_path / "t.wav", TARGET_RATE), expected, atol=1e-5)


def test_resampled_tone_keeps_its_frequency(tmp_path: Path) -> None:
    sf.write(tmp_path / "t.flac", tone(1.0, 48000, frequency=1000.0), 48000)
    spectrum = np.abs(np.fft.rfft(load_audio(tmp_path / "t.flac", TARGET_RATE)))
    peak_hz = np.argmax(spectrum) * TARGET_RATE / (2 * (len(spectrum) - 1))
    assert abs(peak_hz - 1000.0) < 2.0


# --- bad input --------------------------------------------------------------------------------------


def test_each_bad_fixture_gets_its_one_line_reason(tmp_path: Path) -> None:
    for path in write_bad(tmp_path):
        reason = reason_of(path)
        assert reason.startswith(BAD_REASON_PREFIXES[path.name]), (path.name, reason)
        assert "\n" not in reason


def test_text_file_reason_names_the_decoder_complaint(tmp_path: Path) -> None:
    path = write_bad(tmp_path)[1]
    assert reason_of(path) == "not an audio file (format not recognised)"


def test_missing_file_and_directory(tmp_path: Path) -> None:
    assert reason_of(tmp_path / "nope.wav") == "file not found"
    assert reason_of(tmp_path) == "not a regular file (a directory)"


def test_infinite_sample_is_rejected(tmp_path: Path) -> None:
    samples = tone(0.5, 16000, channels=2)
    samples[100, 1] = np.inf
    sf.write(tmp_path / "inf.wav", samples, 16000, subtype="FLOAT")
    assert reason_of(tmp_path / "inf.wav") == "contains NaN or infinite samples"


def test_silence_is_an_error_unless_allowed(tmp_path: Path) -> None:
    sf.write(tmp_path / "zeros.wav", np.zeros((4000, 2), dtype=np.float32), 16000)
    assert reason_of(tmp_path / "zeros.wav") == "silent"
    samples = load_audio(tmp_path / "zeros.wav", TARGET_RATE, allow_silent=True)
    assert len(samples) == 4000 and not samples.any()


def test_quiet_but_not_silent_audio_is_accepted(tmp_path: Path) -> None:
    sf.write(tmp_path / "quiet.wav", tone(0.5, 16000) * 1e-3, 16000, subtype="PCM_16")
    assert np.abs(load_audio(tmp_path / "quiet.wav", TARGET_RATE)).max() > 0


@pytest.mark.parametrize(("suffix", "options"), [(".flac", {}), (".ogg", {"subtype": "VORBIS"})])
def test_cut_compressed_files_are_reported(tmp_path: Path, suffix: str, options: dict[str, str]) -> None:
    whole = tmp_path / f"whole{suffix}"
    sf.write(whole, tone(3.0, 44100, channels=2), 44100, **options)
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    assert "truncated" in reason_of(cut)


def test_too_short_to_survive_resampling(tmp_path: Path) -> None:
    sf.write(tmp_path / "blip.wav", np.full((2, 1), 0.5, dtype=np.float32), 192000, subtype="FLOAT")
    assert reason_of(tmp_path / "blip.wav").startswith("too short")


def test_header_placeholder_sizes_from_streaming_writers_are_not_truncation(tmp_path: Path) -> None:
    sf.write(tmp_path / "w.wav", tone(0.5, 16000), 16000, subtype="PCM_16")
    data = bytearray((tmp_path / "w.wav").read_bytes())
    data_chunk = data.find(b"data")
    data[4:8] = data[data_chunk + 4 : data_chunk + 8] = (0xFFFFFFFF).to_bytes(4, "little")
    (tmp_path / "piped.wav").write_bytes(bytes(data))
    assert len(load_audio(tmp_path / "piped.wav", TARGET_RATE)) == 8000


HEADERS = [
    b"",
    b"RIFF\x24\x00\x00\x00WAVEfmt ",
    b"fLaC",
    b"OggS\x00\x02",
    b"ID3\x03\x00",
    b"FORM\x00\x00\x00\x00AIFF",
]
SUFFIXES = [".wav", ".flac", ".ogg", ".mp3", ".aiff", ".bin"]


@FUZZ
@given(
    header=st.sampled_from(HEADERS),
    body=st.binary(max_size=2048),
    suffix=st.sampled_from(SUFFIXES),
)
def test_random_bytes_decode_or_raise_audio_load_error(
    tmp_path: Path, header: bytes, body: bytes, suffix: str
) -> None:
    path = tmp_path / f"random{suffix}"
    path.write_bytes(header + body)
    assert_decodes_or_fails_cleanly(path)


@pytest.fixture(scope="module")
def valid_file_bytes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("valid")
    return {path.suffix: path.read_bytes() for path in write_good(folder)}


@FUZZ
@given(data=st.data())
def test_damaged_valid_files_decode_or_raise_audio_load_error(
    tmp_path: Path, valid_file_bytes: dict[str, bytes], data: st.DataObject
) -> None:
    suffix = data.draw(st.sampled_from(sorted(valid_file_bytes)))
    damaged = bytearray(valid_file_bytes[suffix])
    damaged = damaged[: data.draw(st.integers(0, len(damaged)))]
    for _ in range(data.draw(st.integers(0, 8))):
        if damaged:
            damaged[data.draw(st.integers(0, len(damaged) - 1))] = data.draw(st.integers(0, 255))
    path = tmp_path / f"damaged{suffix}"
    path.write_bytes(bytes(damaged))
    assert_decodes_or_fails_cleanly(path)


def assert_decodes_or_fails_cleanly(path: Path) -> None:
    try:
        samples = load_audio(path, TARGET_RATE)
    except AudioLoadError as error:
        assert error.reason and "\n" not in error.reason
        return
    assert samples.dtype == np.float32 and samples.ndim == 1 and len(samples) > 0
    assert np.isfinite(samples).all()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    channels=st.integers(1, 8),
    frames=st.integers(0, 3000),
    source_rate=st.integers(1000, 192000),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_shape_and_rate_resamples_to_the_right_length(
    tmp_path: Path, channels: int, frames: int, source_rate: int, seed: int
) -> None:
    noise = np.random.default_rng(seed).uniform(-0.5, 0.5, (frames, channels)).astype(np.float32)
    path = tmp_path / "shape.wav"
    sf.write(path, noise, source_rate, subtype="FLOAT")
    expected_length = round(frames * TARGET_RATE / source_rate)
    try:
        samples = load_audio(path, TARGET_RATE)
    except AudioLoadError as error:
        assert (error.reason == "no samples") if frames == 0 else error.reason.startswith("too short")
        assert expected_length <= 1
        return
    assert abs(len(samples) - expected_length) <= 1
    assert samples.dtype == np.float32


# --- windows ----------------------------------------------------------------------------------------

RATE = 1000  # windows are checked at a rate where seconds map to round sample counts


def write_ramp(path: Path, seconds: float, rate: int = RATE) -> np.ndarray:
    samples = np.linspace(0.1, 0.9, round(seconds * rate), dtype=np.float32)
    sf.write(path, samples, rate, subtype="FLOAT")
    return samples


def spans(windows: list[AudioWindow]) -> list[tuple[int, float, int]]:
    return [(w.index, w.start_seconds, len(w.samples)) for w in windows]


@pytest.mark.parametrize(
    ("seconds", "hop", "min_last", "expected"),
    [
        (25.0, None, 1.0, [(0, 0.0, 10000), (1, 10.0, 10000), (2, 20.0, 5000)]),
        (20.5, None, 1.0, [(0, 0.0, 10000), (1, 10.0, 10000)]),
        (21.0, None, 1.0, [(0, 0.0, 10000), (1, 10.0, 10000), (2, 20.0, 1000)]),
        (20.0, None, 0.0, [(0, 0.0, 10000), (1, 10.0, 10000)]),
        (3.0, None, 5.0, [(0, 0.0, 3000)]),
        (22.0, 5.0, 1.0, [(0, 0.0, 10000), (1, 5.0, 10000), (2, 10.0, 10000), (3, 15.0, 7000)]),
        (20.0, 5.0, 1.0, [(0, 0.0, 10000), (1, 5.0, 10000), (2, 10.0, 10000)]),
    ],
)
def test_window_policy(
    tmp_path: Path, seconds: float, hop: float | None, min_last: float, expected: list[tuple[int, float, int]]
) -> None:
    samples = write_ramp(tmp_path / "ramp.wav", seconds)
    windows = list(iter_windows(tmp_path / "ramp.wav", RATE, hop_seconds=hop, min_last_seconds=min_last))
    assert spans(windows) == expected
    for window in windows:
        start = round(window.start_seconds * RATE)
        np.testing.assert_array_equal(window.samples, samples[start : start + len(window.samples)])


def expected_window_spans(total: int, window: int, hop: int, min_last: int) -> list[tuple[int, int]]:
    """The module docstring's policy, written out directly on sample counts: (start, length)."""
    full = [(start, window) for start in range(0, total - window + 1, hop)]
    covered_until = full[-1][0] + window if full else 0
    tail_start = len(full) * hop
    tail = total - tail_start
    if total > covered_until and (not full or tail >= min_last):
        return [*full, (tail_start, tail)]
    return full


@settings(max_examples=200, deadline=None)
@given(
    total=st.integers(1, 400),
    window=st.integers(1, 60),
    hop_fraction=st.floats(0.05, 1.0),
    min_last=st.integers(0, 60),
    chunk_sizes=st.lists(st.integers(1, 97), min_size=1, max_size=8),
)
def test_window_cutter_follows_the_policy_for_any_chunking(
    total: int, window: int, hop_fraction: float, min_last: int, chunk_sizes: list[int]
) -> None:
    hop = max(1, round(window * hop_fraction))
    signal = np.arange(total, dtype=np.float32)
    cutter = io._WindowCutter(window, hop, min_last)
    cut, position, turn = [], 0, 0
    while position < total:
        size = chunk_sizes[turn % len(chunk_sizes)]
        cut += cutter.push(signal[position : position + size])
        position, turn = position + size, turn + 1
    cut += cutter.finish()
    assert [(start, len(samples)) for start, samples in cut] == expected_window_spans(
        total, window, hop, min_last
    )
    for start, samples in cut:
        np.testing.assert_array_equal(samples, signal[start : start + len(samples)])


def test_streamed_windows_match_resampling_the_whole_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(io, "_BLOCK_SAMPLES", 3001)  # many small decode blocks
    stereo = tone(12.0, 44100, channels=2, frequency=300.0)
    stereo += np.random.default_rng(0).uniform(-0.1, 0.1, stereo.shape).astype(np.float32)
    sf.write(tmp_path / "long.flac", stereo, 44100, subtype="PCM_24")
    reference = soxr.resample(
        sf.read(tmp_path / "long.flac", dtype="float32")[0].mean(axis=1), 44100, TARGET_RATE
    )
    windows = list(
        iter_windows(tmp_path / "long.flac", TARGET_RATE, window_seconds=1.0, min_last_seconds=0.0)
    )
    streamed = np.concatenate([w.samples for w in windows])
    assert abs(len(streamed) - len(reference)) <= 1
    overlap = min(len(streamed), len(reference))
    np.testing.assert_allclose(streamed[:overlap], reference[:overlap], atol=1e-4)


def test_first_window_arrives_before_the_file_is_read_to_the_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(io, "_BLOCK_SAMPLES", 4096)
    write_ramp(tmp_path / "long.wav", 60.0, rate=16000)
    frames_read: list[int] = []
    original_read = sf.SoundFile.read

    def counting_read(self: sf.SoundFile, *args: object, **kwargs: object) -> np.ndarray:
        block = original_read(self, *args, **kwargs)
        frames_read.append(len(block))
        return block

    monkeypatch.setattr(sf.SoundFile, "read", counting_read)
    first = next(iter_windows(tmp_path / "long.wav", TARGET_RATE, window_seconds=2.0))
    assert len(first.samples) == 32000
    assert sum(frames_read) < 5 * 16000


def test_invalid_window_arguments_fail_before_reading(tmp_path: Path) -> None:
    missing = tmp_path / "never_read.wav"
    with pytest.raises(ValueError):
        iter_windows(missing, RATE, window_seconds=1.0, hop_seconds=2.0)
    with pytest.raises(ValueError):
        iter_windows(missing, RATE, window_seconds=0.0)
    with pytest.raises(ValueError):
        iter_windows(missing, RATE, min_last_seconds=-1.0)


def test_silent_file_raises_after_its_windows(tmp_path: Path) -> None:
    sf.write(tmp_path / "z.wav", np.zeros(3000, dtype=np.float32), RATE)
    with pytest.raises(AudioLoadError, match="silent"):
        list(iter_windows(tmp_path / "z.wav", RATE, window_seconds=1.0))
    assert len(list(iter_windows(tmp_path / "z.wav", RATE, window_seconds=1.0, allow_silent=True))) == 3


# --- finding and batching ---------------------------------------------------------------------------


def make_tree(root: Path) -> None:
    for relative in ["b.wav", "a.FLAC", "sub/c.ogg", "sub/deeper/d.mp3", ".hidden/e.wav", "sub/._f.wav"]:
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(b"x")
    (root / "notes.txt").write_text("not audio")


def test_find_audio_files_expands_folders_sorted_and_skips_hidden(tmp_path: Path) -> None:
    make_tree(tmp_path)
    found = find_audio_files([tmp_path])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "a.FLAC",
        "b.wav",
        "sub/c.ogg",
        "sub/deeper/d.mp3",
    ]
    assert [p.name for p in find_audio_files([tmp_path], recursive=False)] == ["a.FLAC", "b.wav"]


def test_find_audio_files_keeps_named_files_in_order_without_duplicates(tmp_path: Path) -> None:
    make_tree(tmp_path)
    named = [tmp_path / "notes.txt", tmp_path / "missing.wav", tmp_path / "sub", tmp_path / "sub/c.ogg"]
    assert find_audio_files(named) == [
        tmp_path / "notes.txt",
        tmp_path / "missing.wav",
        tmp_path / "sub/c.ogg",
        tmp_path / "sub/deeper/d.mp3",
    ]


def test_load_many_keeps_going_and_reports_every_failure(tmp_path: Path) -> None:
    good, bad = write_good(tmp_path / "good"), write_bad(tmp_path / "bad")
    reported: list[tuple[Path, str]] = []
    result = load_many(
        find_audio_files([tmp_path]), TARGET_RATE, on_error=lambda p, r: reported.append((p, r))
    )
    assert sorted(p for p, _ in result.succeeded) == sorted(good)
    assert sorted(p for p, _ in result.failed) == sorted(bad)
    assert reported == result.failed
    assert result.exit_code() == 0 and result.exit_code(strict=True) == 1


def test_exit_code_when_nothing_succeeds_or_nothing_fails() -> None:
    assert BatchResult[int](failed=[(Path("x.wav"), "empty file")]).exit_code() == 1
    assert BatchResult[int]().exit_code() == 1
    assert BatchResult[int](succeeded=[(Path("x.wav"), 1)]).exit_code(strict=True) == 0


def test_process_files_lets_bugs_propagate() -> None:
    def broken(path: Path) -> int:
        raise KeyError(path)

    with pytest.raises(KeyError):
        process_files([Path("a.wav")], broken)
