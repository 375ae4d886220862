"""A disk cache of the frozen audio encoder's frame tokens, one entry per clip and window.

Every method trains small modules over a frozen audio encoder, so its tokens are computed once per
clip and reused by every epoch and every evaluation. Entries live in a folder named after the
encoder's fingerprint (weights + front end) and the window policy, so changing either starts a
fresh cache instead of serving stale tokens. A clip's key includes its resolved path, size and
modification time, so an edited file is recomputed. Tokens are stored as fp16 `.npy` files and
opened memory-mapped; clips that failed to load are remembered with their reason.

Memory stays bounded whatever the clips' number and lengths: windows are decoded in a worker thread
(at most one batch ahead, while the encoder runs) into batches of at most `batch_size` windows that
span clips of similar size (missing clips are taken in order of file size), and only the (small:
19 x 512 fp16 per 10-s window of the default encoder) tokens of the clips in flight are held: the
clips being decoded and those finished since the last batch, written out as soon as it is encoded. With `max_seconds`, a
longer clip fails with "longer than --max-seconds (...)", from its header when it declares a length
(also when already cached), else while decoding; such a failure belongs to the run, not to the file,
so it is not remembered. A clip whose tokens are not finite (e.g. a float file at 1e30) fails with
"non-finite embedding". An entry damaged on disk is dropped and recomputed with a one-line warning.
"""

from __future__ import annotations

import errno
import hashlib
import itertools
import json
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from auralign.audio.io import check_duration, check_regular_file, declared_seconds
from auralign.audio.streaming import stream_clips
from auralign.backbones.base import AudioEncoder
from auralign.errors import AudioLoadError, AudioTooLongError
from auralign.paths import features_dir
from auralign.progress import progress_bar

INDEX_NAME = "index.jsonl"


@dataclass(frozen=True)
class WindowPolicy:
    """How clips are cut before encoding: fixed windows, hop = window unless given."""

    window_seconds: float = 10.0
    hop_seconds: float | None = None

    def key(self) -> str:
        return f"w{self.window_seconds:g}-h{(self.hop_seconds or self.window_seconds):g}"


@dataclass
class CachedClip:
    """Tokens of every window of one clip, concatenated: (sum of window lengths, D) + the lengths."""

    tokens: np.ndarray
    window_lengths: list[int]

    def windows(self) -> list[np.ndarray]:
        bounds = np.cumsum([0, *self.window_lengths])
        return [self.tokens[a:b] for a, b in itertools.pairwise(bounds)]


def clip_key(path: str | Path) -> str:
    """Hash of resolved path, size and mtime; raises OSError if the file cannot be resolved or stat'ed.

    The name is hashed as the file system's bytes (surrogateescape), so a non-UTF-8 name works; for a
    UTF-8 name the bytes, hence the keys of existing caches, are unchanged.
    """
    try:
        resolved = Path(path).resolve()
    except RuntimeError as error:  # Python < 3.13 reports a symlink loop this way
        raise OSError(errno.ELOOP, "symbolic link loop", str(path)) from error
    stat = resolved.stat()
    return hashlib.sha1(os.fsencode(f"{resolved}|{stat.st_size}|{stat.st_mtime_ns}")).hexdigest()


def _unreadable_reason(path: Path, error: OSError) -> str:
    """The precise reason a clip key could not be computed (a loop, a dangling link, ...)."""
    try:
        check_regular_file(path)
    except AudioLoadError as precise:
        return precise.reason
    return error.strerror or "cannot read file"


class FeatureCache:
    def __init__(self, encoder: AudioEncoder, root: str | Path | None = None,
                 policy: WindowPolicy | None = None, max_seconds: float | None = None) -> None:
        self.encoder = encoder
        self.policy = policy or WindowPolicy()
        self.max_seconds = max_seconds
        self.dir = Path(root or features_dir()) / f"{encoder.fingerprint()}-{self.policy.key()}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._index: dict[str, dict] = self._read_index()

    def _read_index(self) -> dict[str, dict]:
        index: dict[str, dict] = {}
        path = self.dir / INDEX_NAME
        if path.is_file():
            text = path.read_text()
            if text and not text.endswith("\n"):
                with open(path, "a") as handle:  # end a line cut by a crash, or the next entry is glued to it
                    handle.write("\n")
            for line in text.splitlines():
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by a crash: its clip is simply recomputed
                index[entry["key"]] = entry
        return index

    def _append_index(self, entry: dict) -> None:
        with open(self.dir / INDEX_NAME, "a") as handle:
            handle.write(json.dumps(entry) + "\n")
        self._index[entry["key"]] = entry

    def get(self, path: str | Path) -> CachedClip:
        """Cached tokens of a clip (computing them if needed); raises AudioLoadError for bad files."""
        try:
            key = clip_key(path)
        except OSError as error:
            raise AudioLoadError(path, _unreadable_reason(Path(path), error)) from None
        if key not in self._index:
            self.ensure([path], progress=False)
        try:
            return self._load_entry(path, key)
        except _CorruptEntry as damage:
            sys.stderr.write(f"warning: feature cache entry of {_printable(path)} is damaged ({damage}); "
                             "recomputing it\n")
            del self._index[key]
            self.ensure([path], progress=False)
            return self._load_entry(path, key)

    def _load_entry(self, path: str | Path, key: str) -> CachedClip:
        entry = self._index[key]
        if "error" in entry:
            raise AudioLoadError(path, entry["error"])
        try:
            tokens = np.load(self.dir / entry["file"], mmap_mode="r")
        except (OSError, ValueError, EOFError) as error:
            raise _CorruptEntry(str(error).splitlines()[0] if str(error) else type(error).__name__) from None
        if tokens.ndim != 2 or tokens.shape[0] != sum(entry["lengths"]):
            raise _CorruptEntry(f"shape {tokens.shape} does not match {sum(entry['lengths'])} tokens")
        return CachedClip(tokens=tokens, window_lengths=entry["lengths"])

    def missing(self, paths: Iterable[str | Path]) -> list[Path]:
        out = []
        for path in paths:
            try:
                if clip_key(path) not in self._index:
                    out.append(Path(path))
            except OSError:
                out.append(Path(path))
        return out

    def ensure(self, paths: Sequence[str | Path], batch_size: int = 16, progress: bool = True,
               ) -> list[tuple[Path, str]]:
        """Encode every clip not yet cached; returns the (path, reason) of clips that failed, now or in
        an earlier run (a bad file is remembered, so callers must hear about it every time)."""
        # Similar lengths share a batch, so little of each batch is padding.
        todo = sorted(self.missing(paths), key=file_size_or_zero)
        pending = set(todo)
        cached = [Path(path) for path in paths if Path(path) not in pending]
        failures = self._remembered_failures(cached)
        failed = {path for path, _ in failures}
        failures += self._too_long([path for path in cached if path not in failed])
        with progress_bar(len(todo), "encoding audio", enabled=progress and bool(todo)) as advance:
            failures.extend(self._encode_stream(todo, batch_size, advance))
        return failures

    def _remembered_failures(self, cached_paths: Iterable[str | Path]) -> list[tuple[Path, str]]:
        entries = ((Path(path), self._index[clip_key(path)]) for path in cached_paths)
        return [(path, entry["error"]) for path, entry in entries if "error" in entry]

    def _too_long(self, cached_paths: list[Path]) -> list[tuple[Path, str]]:
        """Cached clips over `max_seconds` by their header (the limit is the run's, not the entry's)."""
        if self.max_seconds is None:
            return []
        failures = []
        for path in cached_paths:
            try:
                check_duration(path, declared_seconds(path), self.max_seconds)
            except AudioTooLongError as error:
                failures.append((path, error.reason))
        return failures

    def _encode_stream(self, paths: list[Path], batch_size: int, advance: Callable[[int], None],
                       ) -> list[tuple[Path, str]]:
        """Encode the clips' windows `batch_size` at a time (batches span clips) while a worker thread
        decodes the next ones (`stream_clips`); clips are written out as their last batch is encoded."""
        failures: list[tuple[Path, str]] = []
        clips: dict[int, _ClipTokens] = {}
        readable: list[Path] = []
        for path in paths:
            try:
                clips[len(readable)] = _ClipTokens(path, clip_key(path))
                readable.append(path)
            except OSError as error:
                failures.append((path, _unreadable_reason(path, error)))
                advance(1)
        batch = _WindowBatch()
        done: list[_ClipTokens] = []  # decoded, waiting for their last windows' batch
        for event in stream_clips(readable, self.encoder.sample_rate, window_seconds=self.policy.window_seconds,
                                  hop_seconds=self.policy.hop_seconds, max_seconds=self.max_seconds,
                                  depth=batch_size):
            if event.samples is not None:
                batch.add(clips[event.position], event.samples)
                if len(batch.samples) >= batch_size:
                    self._encode_batch(batch)
                    failures.extend(self._store_done(done))
                continue
            clip = clips.pop(event.position)
            if event.error is None:
                done.append(clip)
            else:
                batch.drop(clip)
                failures.append((clip.path, event.error.reason))
                if not isinstance(event.error, AudioTooLongError):
                    self._append_index({"key": clip.key, "error": event.error.reason})
            advance(1)
        self._encode_batch(batch)
        failures.extend(self._store_done(done))
        return failures

    def _store_done(self, done: list[_ClipTokens]) -> list[tuple[Path, str]]:
        """Write out (then forget) the clips whose windows are all encoded; returns the non-finite ones."""
        failures = []
        for clip in done:
            if all(np.isfinite(tokens).all() for tokens in clip.tokens):
                self._store(clip.path, clip.tokens)
            else:
                failures.append((clip.path, "non-finite embedding"))
                self._append_index({"key": clip.key, "error": "non-finite embedding"})
        done.clear()
        return failures

    def _encode_batch(self, batch: _WindowBatch) -> None:
        for clip, tokens in zip(batch.owners, self._encode_windows(batch.samples), strict=True):
            clip.tokens.append(tokens)
        batch.clear()

    def _encode_windows(self, windows: list[np.ndarray]) -> list[np.ndarray]:
        return encode_windows(self.encoder, windows)

    def _store(self, path: Path, window_tokens: list[np.ndarray]) -> None:
        key = clip_key(path)
        file = f"{key[:2]}/{key}.npy"
        target = self.dir / file
        target.parent.mkdir(exist_ok=True)
        tmp = target.with_name(target.name + f".{os.getpid()}.tmp")
        with open(tmp, "wb") as handle:
            np.save(handle, np.concatenate(window_tokens, axis=0))
        os.replace(tmp, target)
        self._append_index({"key": key, "file": file, "lengths": [len(t) for t in window_tokens],
                            "path": str(Path(path).resolve())})


@dataclass(eq=False)
class _ClipTokens:
    """Tokens of one clip's windows, in order, as their batches are encoded."""

    path: Path
    key: str
    tokens: list[np.ndarray] = field(default_factory=list)


@dataclass
class _WindowBatch:
    """Windows waiting for the encoder, each with the clip it belongs to."""

    owners: list[_ClipTokens] = field(default_factory=list)
    samples: list[np.ndarray] = field(default_factory=list)

    def add(self, clip: _ClipTokens, samples: np.ndarray) -> None:
        self.owners.append(clip)
        self.samples.append(samples)

    def drop(self, clip: _ClipTokens) -> None:
        """Forget a clip that failed part-way (its earlier windows may already be encoded: unused)."""
        kept = [(o, s) for o, s in zip(self.owners, self.samples, strict=True) if o is not clip]
        self.owners, self.samples = [o for o, _ in kept], [s for _, s in kept]

    def clear(self) -> None:
        self.owners, self.samples = [], []


class _CorruptEntry(Exception):
    """A cache entry whose token file is missing, truncated or of the wrong shape."""


def _printable(path: str | Path) -> str:
    return str(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def file_size_or_zero(path: str | Path) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0


@torch.inference_mode()
def encode_windows(encoder: AudioEncoder, windows: Sequence[np.ndarray]) -> list[np.ndarray]:
    """One encoder call over sample windows -> each window's real frame tokens, (T_i, D) fp16."""
    if not windows:
        return []
    out = encoder(*pad_waveforms(windows))
    return [out.tokens[i][out.mask[i]].to(torch.float16).numpy() for i in range(len(windows))]


def pad_tokens(windows: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack (T_i, D) arrays into (B, T_max, D) float32 and a (B, T_max) validity mask."""
    longest = max(len(w) for w in windows)
    tokens = torch.zeros(len(windows), longest, windows[0].shape[-1])
    mask = torch.zeros(len(windows), longest, dtype=torch.bool)
    for row, window in enumerate(windows):
        tokens[row, : len(window)] = torch.from_numpy(np.asarray(window, dtype=np.float32))
        mask[row, : len(window)] = True
    return tokens, mask


def pad_waveforms(windows: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack 1-D sample arrays into a zero-padded (B, S_max) batch and their (B,) lengths."""
    lengths = torch.tensor([len(w) for w in windows])
    batch = torch.zeros(len(windows), int(lengths.max()))
    for row, samples in enumerate(windows):
        batch[row, : len(samples)] = torch.from_numpy(np.asarray(samples, dtype=np.float32))
    return batch, lengths
