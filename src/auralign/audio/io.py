"""Decode audio files into mono float32 at a model's sample rate, and refuse files that are not usable.

Decoding uses libsndfile (through `soundfile`): WAV, FLAC, OGG Vorbis/Opus, MP3 (libsndfile >= 1.1),
AIFF, AU, CAF, W64. Channels are mixed down to mono by their mean, then resampled with soxr at
'HQ' quality. Files are always read block by block, so a long recording is never decoded whole
before it is resampled, and a corrupt header claiming a huge length cannot trigger a huge allocation.

Bad input raises `AudioLoadError(path, reason)` with a one-line reason and never another exception:
missing or empty file, not an audio file, corrupt or truncated data, NaN or infinite samples,
an unsupported sample rate, no samples, and silence. A clip is *silent* when its mono peak stays
below `SILENCE_PEAK` (about -100 dBFS, under one 16-bit step). Silence is an error unless
`allow_silent=True`, because an embedding of an all-zero clip describes nothing but the model's bias
and quietly pollutes retrieval indexes and training sets. Truncation is detected when the container
says how long the audio is (WAV-like headers, FLAC, OGG); an MP3 has no reliable length in its
header, so a cut MP3 is decoded as far as it goes.

A duration limit (`max_seconds`, the CLI's `--max-seconds`) raises `AudioTooLongError` from the header,
before any sample is decoded, when libsndfile reads a length there (every format above; for MP3 an
estimate); otherwise (a FLAC written as a stream, with no total) while decoding, as soon as more than
`max_seconds` have been read.

Windowing policy of `iter_windows` (deterministic; there are no random crops at inference):

* Lengths are counted in samples at the target rate: `window = round(window_seconds * rate)`,
  `hop = round(hop_seconds * rate)` (default hop = window, i.e. no overlap; 0 < hop <= window).
* Window `k` starts at sample `k * hop`. Every window that fits entirely in the clip is yielded.
* Then, if samples after the end of the last full window remain, one final *partial* window is
  yielded, starting at the next hop position and running to the end of the clip, provided it is
  at least `min_last_seconds` long. Later hop positions would only give suffixes of it, so they are
  not yielded. A shorter tail is dropped.
* A clip shorter than one window gives exactly one window: the whole clip, whatever its length.
* Windows are never padded here; padding a short window to the encoder's input length is the
  encoder's job.

Validation happens while streaming, so `iter_windows` can raise `AudioLoadError` after it has
already yielded windows (a NaN or a corrupt frame in the middle of the file); the silence check can
only be decided at the end of the file. Consume a file's windows fully before committing anything
derived from them.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

import numpy as np
import soundfile as sf
import soxr

from auralign.audio.containers import declared_truncation
from auralign.errors import AudioLoadError, AudioTooLongError

AUDIO_EXTENSIONS = frozenset(
    {".wav", ".wave", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".au", ".caf", ".w64"}
)
RESAMPLE_QUALITY = "HQ"
SILENCE_PEAK = 1e-5
MIN_SOURCE_RATE = 100
MAX_SOURCE_RATE = 1_000_000
# Samples (frames x channels) decoded per read: bounds memory for any channel count.
_BLOCK_SAMPLES = 1 << 18
# Containers whose header gives an exact length, so decoding fewer frames means the file was cut.
_EXACT_LENGTH_FORMATS = frozenset({"WAV", "WAVEX", "W64", "RF64", "AIFF", "AU", "CAF", "FLAC", "OGG"})
# libsndfile's parse log notes "data : <declared> (should be <present>)" when a chunk is cut short.
_SHORT_CHUNK = re.compile(r"^(?:data|SSND)\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)
# libsndfile's note on an Ogg stream whose final page is missing.
_OGG_CUT_SHORT = "Last page lacks an end-of-stream bit"
# Streaming writers (e.g. piped ffmpeg) leave these placeholders as the data size: not truncation.
_PLACEHOLDER_SIZES = frozenset({0, 0xFFFFFFFF})
# libsndfile reports SF_COUNT_MAX frames when the header does not say (e.g. a FLAC written as a stream).
_UNKNOWN_FRAMES = 2**62
_OPEN_ERROR_REASONS = {
    1: "not an audio file",  # SF_ERR_UNRECOGNISED_FORMAT
    2: "cannot read file",  # SF_ERR_SYSTEM
    3: "malformed audio file",  # SF_ERR_MALFORMED_FILE
    4: "unsupported audio encoding",  # SF_ERR_UNSUPPORTED_ENCODING
}


@dataclass(frozen=True, eq=False)
class AudioWindow:
    """One window of a file: mono float32 `samples` at the requested rate, from `start_seconds`."""

    path: Path
    index: int
    start_seconds: float
    samples: np.ndarray


def load_audio(path: str | Path, sample_rate: int, *, allow_silent: bool = False) -> np.ndarray:
    """The whole file as a 1-D float32 array at `sample_rate`; raises `AudioLoadError` for bad files."""
    return np.concatenate(list(_stream_mono(Path(path), sample_rate, allow_silent=allow_silent)))


def iter_windows(
    path: str | Path,
    sample_rate: int,
    *,
    window_seconds: float = 10.0,
    hop_seconds: float | None = None,
    min_last_seconds: float = 1.0,
    allow_silent: bool = False,
    max_seconds: float | None = None,
) -> Iterator[AudioWindow]:
    """Stream the file as fixed windows following the policy in the module docstring.

    Invalid window arguments raise `ValueError` here, before anything is read. A file longer than
    `max_seconds` raises `AudioTooLongError` (see the module docstring).
    """
    window = round(window_seconds * sample_rate)
    hop = window if hop_seconds is None else round(hop_seconds * sample_rate)
    if window <= 0 or not 0 < hop <= window:
        raise ValueError(f"need 0 < hop <= window, got window={window_seconds}s hop={hop_seconds}s")
    if min_last_seconds < 0:
        raise ValueError(f"min_last_seconds must be >= 0, got {min_last_seconds}")
    cutter = _WindowCutter(window, hop, min_last=round(min_last_seconds * sample_rate))
    return _cut_windows(Path(path), sample_rate, cutter, allow_silent, max_seconds)


def _cut_windows(
    path: Path, sample_rate: int, cutter: _WindowCutter, allow_silent: bool, max_seconds: float | None
) -> Iterator[AudioWindow]:
    for chunk in _stream_mono(path, sample_rate, allow_silent=allow_silent, max_seconds=max_seconds):
        yield from _as_windows(path, sample_rate, cutter, cutter.push(chunk))
    yield from _as_windows(path, sample_rate, cutter, cutter.finish())


def _as_windows(
    path: Path, sample_rate: int, cutter: _WindowCutter, cut: Iterable[tuple[int, np.ndarray]]
) -> Iterator[AudioWindow]:
    for start, samples in cut:
        yield AudioWindow(path, start // cutter.hop, start / sample_rate, samples)


class _WindowCutter:
    """Cuts a stream of sample chunks into windows, keeping only the samples a future window needs."""

    def __init__(self, window: int, hop: int, min_last: int) -> None:
        self.window = window
        self.hop = hop
        self.min_last = min_last
        self._buffer = np.zeros(0, dtype=np.float32)
        self._buffer_start = 0
        self._next_start = 0
        self._full_windows = 0

    def push(self, chunk: np.ndarray) -> list[tuple[int, np.ndarray]]:
        self._buffer = np.concatenate([self._buffer, chunk])
        cut = []
        while self._next_start + self.window <= self._buffer_start + len(self._buffer):
            offset = self._next_start - self._buffer_start
            cut.append((self._next_start, self._buffer[offset : offset + self.window].copy()))
            self._full_windows += 1
            self._next_start += self.hop
        self._drop_before(self._next_start)
        return cut

    def finish(self) -> list[tuple[int, np.ndarray]]:
        total = self._buffer_start + len(self._buffer)
        covered = (self._full_windows - 1) * self.hop + self.window if self._full_windows else 0
        tail = self._buffer[self._next_start - self._buffer_start :]
        is_only_window = self._full_windows == 0 and total > 0
        if total > covered and (is_only_window or len(tail) >= self.min_last):
            return [(self._next_start, tail.copy())]
        return []

    def _drop_before(self, sample: int) -> None:
        drop = sample - self._buffer_start
        if drop > 0:
            self._buffer = self._buffer[drop:]
            self._buffer_start = sample


def _stream_mono(
    path: Path, sample_rate: int, *, allow_silent: bool, max_seconds: float | None = None
) -> Iterator[np.ndarray]:
    """Validated mono float32 chunks of the file at `sample_rate`, in order; at least one on success."""
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be positive, got {sample_rate}")
    check_regular_file(path)
    with open(path, "rb") as handle:
        cut = declared_truncation(handle, os.fstat(handle.fileno()).st_size)
        if cut is not None:
            raise AudioLoadError(path, cut)
    yield from _decode_mono(path, sample_rate, allow_silent, max_seconds)


def _decode_mono(
    path: Path, sample_rate: int, allow_silent: bool, max_seconds: float | None
) -> Iterator[np.ndarray]:
    with _open(path) as sound:
        _check_header(path, sound)
        if max_seconds is not None:
            check_duration(path, _declared_seconds(sound), max_seconds)
        source_rate = sound.samplerate
        resampler = _make_resampler(source_rate, sample_rate)
        peak = 0.0
        produced = 0
        source_frames = 0
        for block in _read_mono_blocks(path, sound):
            source_frames += len(block)
            if max_seconds is not None and source_frames > max_seconds * source_rate:
                raise AudioTooLongError(path, f"longer than --max-seconds (over {_seconds(max_seconds)} s)")
            peak = max(peak, float(np.max(np.abs(block), initial=0.0)))
            out = resampler(block, False)
            produced += len(out)
            if len(out):
                yield out
        out = resampler(np.zeros(0, dtype=np.float32), True)
        produced += len(out)
        if len(out):
            yield out
    _check_whole_file(path, source_frames, produced, source_rate, sample_rate, peak, allow_silent)


def declared_seconds(path: Path) -> float | None:
    """The duration the file's header declares, or None when it declares none or cannot be read
    (a FIFO or a device is never opened)."""
    try:
        check_regular_file(path)
        with sf.SoundFile(os.fsencode(path)) as sound:
            return _declared_seconds(sound)
    except (AudioLoadError, sf.SoundFileError, RuntimeError, OSError, ValueError):
        return None


def _declared_seconds(sound: sf.SoundFile) -> float | None:
    if sound.samplerate <= 0 or not 0 < sound.frames < _UNKNOWN_FRAMES:
        return None
    return sound.frames / sound.samplerate


def check_duration(path: Path, seconds: float | None, max_seconds: float) -> None:
    """Raise `AudioTooLongError` when a known duration exceeds `max_seconds` (None: unknown, passes)."""
    if seconds is not None and seconds > max_seconds:
        raise AudioTooLongError(
            path, f"longer than --max-seconds ({_seconds(seconds)} s > {_seconds(max_seconds)} s)"
        )


def _seconds(value: float) -> str:
    """3600.0 -> "3600", 600.44 -> "600.4"."""
    return f"{value:.1f}".removesuffix(".0")


def check_regular_file(path: Path) -> None:
    """Raise `AudioLoadError` with a precise reason unless `path` is a non-empty regular file.

    Checked before opening, so a FIFO (which would block) or a device (endless) is never read.
    """
    try:
        info = os.stat(path)
    except OSError as error:
        raise AudioLoadError(path, _stat_failure(path, error)) from None
    if stat.S_ISDIR(info.st_mode):
        raise AudioLoadError(path, "not a regular file (a directory)")
    if stat.S_ISFIFO(info.st_mode):
        raise AudioLoadError(path, "not a regular file (a named pipe)")
    if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
        raise AudioLoadError(path, "not a regular file (a device)")
    if not stat.S_ISREG(info.st_mode):
        raise AudioLoadError(path, "not a regular file")
    if info.st_size == 0:
        raise AudioLoadError(path, "empty file")


def _stat_failure(path: Path, error: OSError) -> str:
    if error.errno == errno.ELOOP:
        return "symbolic link loop"
    if error.errno == errno.ENOENT:
        return "dangling symbolic link" if path.is_symlink() else "file not found"
    if error.errno == errno.ENAMETOOLONG:
        return "file name too long"
    return f"cannot read file ({error.strerror or error})"


def _open(path: Path) -> sf.SoundFile:
    """Open by the name's file-system bytes, so a name that is not valid UTF-8 opens too."""
    try:
        return sf.SoundFile(os.fsencode(path))
    except sf.LibsndfileError as error:
        reason = _OPEN_ERROR_REASONS.get(error.code, "cannot decode")
        raise AudioLoadError(path, f"{reason} ({_first_line(error.error_string)})") from error
    except (sf.SoundFileError, RuntimeError, OSError, ValueError) as error:
        raise AudioLoadError(path, f"cannot decode ({_first_line(str(error))})") from error


def _check_header(path: Path, sound: sf.SoundFile) -> None:
    if not MIN_SOURCE_RATE <= sound.samplerate <= MAX_SOURCE_RATE:
        raise AudioLoadError(path, f"unsupported sample rate ({sound.samplerate} Hz)")
    if sound.channels < 1:
        raise AudioLoadError(path, f"invalid channel count ({sound.channels})")
    for declared, present in _SHORT_CHUNK.findall(sound.extra_info):
        if int(declared) not in _PLACEHOLDER_SIZES and int(present) < int(declared):
            raise AudioLoadError(
                path, f"truncated (header declares {declared} bytes of audio, file holds {present})"
            )
    if _OGG_CUT_SHORT in sound.extra_info:
        raise AudioLoadError(path, "truncated (the Ogg stream has no end-of-stream page)")


def _read_mono_blocks(path: Path, sound: sf.SoundFile) -> Iterator[np.ndarray]:
    """Mono float32 blocks; stops at the real end of data even if the header claims more frames."""
    block_frames = max(1, _BLOCK_SAMPLES // sound.channels)
    decoded = 0
    while True:
        try:
            block = sound.read(block_frames, dtype="float32", always_2d=True)
        except (sf.SoundFileError, RuntimeError, ValueError) as error:
            raise AudioLoadError(path, f"corrupt or truncated audio ({_first_line(str(error))})") from error
        if len(block) == 0:
            break
        mono = block.mean(axis=1, dtype=np.float32)
        if not np.isfinite(mono).all():  # also catches finite samples whose mix-down overflows
            raise AudioLoadError(path, "contains NaN or infinite samples")
        decoded += len(block)
        yield mono
    if sound.format in _EXACT_LENGTH_FORMATS and 0 < decoded < sound.frames:
        raise AudioLoadError(path, f"truncated (header declares {sound.frames} frames, decoded {decoded})")


def _make_resampler(source_rate: int, target_rate: int) -> Callable[[np.ndarray, bool], np.ndarray]:
    if source_rate == target_rate:
        return lambda block, _last: block
    stream = soxr.ResampleStream(source_rate, target_rate, 1, dtype="float32", quality=RESAMPLE_QUALITY)
    return lambda block, last: stream.resample_chunk(block, last=last)


def _check_whole_file(
    path: Path,
    source_frames: int,
    produced: int,
    source_rate: int,
    target_rate: int,
    peak: float,
    allow_silent: bool,
) -> None:
    if source_frames == 0:
        raise AudioLoadError(path, "no samples")
    if produced == 0:
        raise AudioLoadError(
            path, f"too short ({source_frames} samples at {source_rate} Hz give none at {target_rate} Hz)"
        )
    if peak < SILENCE_PEAK and not allow_silent:
        raise AudioLoadError(path, "silent")


def _first_line(text: str) -> str:
    """A decoder message tidied for a one-line reason: "Format not recognised." -> "format not recognised"."""
    lines = text.strip().splitlines()
    line = lines[0].strip().rstrip(".") if lines else ""
    return line[:1].lower() + line[1:] if line else "unknown error"


def find_audio_files(inputs: Sequence[str | Path], *, recursive: bool = True) -> list[Path]:
    """Expand the inputs into a list of files, in input order, without duplicates.

    A directory contributes its audio files (by extension, see `AUDIO_EXTENSIONS`), sorted by path;
    hidden files and folders (names starting with '.', such as macOS '._x.wav' resource forks) are
    skipped. Anything else named explicitly, missing or oddly named, is kept as given so that loading
    it reports a precise error instead of it silently vanishing from the batch.
    """
    found: list[Path] = []
    seen: set[Path] = set()
    for item in inputs:
        path = Path(item)
        # A folder named like audio with no audio in it (say `take.wav/`) stays, to fail with its reason.
        contents = _audio_files_in(path, recursive) if _is_real_dir(path) else []
        if not contents and not (_is_real_dir(path) and path.suffix.lower() not in AUDIO_EXTENSIONS):
            contents = [path]
        for candidate in contents:
            key = _identity(candidate)
            if key not in seen:
                seen.add(key)
                found.append(candidate)
    return found


def _is_real_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except OSError:
        return False


def _identity(path: Path) -> Path:
    """The resolved path, or the path as given when it cannot be resolved (a loop)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return path.absolute()


def _audio_files_in(directory: Path, recursive: bool) -> list[Path]:
    """Every entry named like audio, whatever it is: a dangling link, a FIFO or a folder called x.wav
    is kept so that loading reports why it is unusable instead of it vanishing without a word."""
    entries = directory.rglob("*") if recursive else directory.glob("*")
    return sorted(
        entry
        for entry in entries
        if entry.suffix.lower() in AUDIO_EXTENSIONS
        and not any(part.startswith(".") for part in entry.relative_to(directory).parts)
    )


T = TypeVar("T")


@dataclass
class BatchResult(Generic[T]):
    """Per-file outcomes of a batch: what worked, and a (path, reason) line for each failure."""

    succeeded: list[tuple[Path, T]] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)

    def exit_code(self, *, strict: bool = False) -> int:
        """0 when something succeeded (and, if strict, nothing failed); 1 otherwise."""
        return 1 if not self.succeeded or (strict and self.failed) else 0


def process_files(
    paths: Iterable[Path],
    action: Callable[[Path], T],
    *,
    on_error: Callable[[Path, str], None] | None = None,
) -> BatchResult[T]:
    """Run `action` on each file, recording `AudioLoadError`s and carrying on; other errors propagate.

    `on_error` is told about each failure as it happens (e.g. to print progress).
    """
    result: BatchResult[T] = BatchResult()
    for path in paths:
        try:
            result.succeeded.append((path, action(path)))
        except AudioLoadError as error:
            result.failed.append((path, error.reason))
            if on_error is not None:
                on_error(path, error.reason)
    return result


def load_many(
    paths: Iterable[Path],
    sample_rate: int,
    *,
    allow_silent: bool = False,
    on_error: Callable[[Path, str], None] | None = None,
) -> BatchResult[np.ndarray]:
    """`load_audio` over many files, keeping going after failures."""
    return process_files(
        paths, lambda path: load_audio(path, sample_rate, allow_silent=allow_silent), on_error=on_error
    )
