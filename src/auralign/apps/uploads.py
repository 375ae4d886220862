"""Uploaded audio: stored under a name the server chooses, checked for duration, encoded once (LRU).

An upload is copied in chunks into the server's private work folder as `<sha256 of its bytes><ext>`,
where `<ext>` is kept only when it is a known audio extension: the client's file name is never a path
on disk. The frame tokens of uploaded clips are kept in memory, keyed by that content hash, for the
`cache_entries` most recently used clips, so the same sound sent again (another label set, "more like
this") is not re-encoded, and the cache can never grow with the number of requests.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import BinaryIO

import numpy as np

from auralign.apps.limits import LimitError
from auralign.audio.io import AUDIO_EXTENSIONS, declared_seconds, iter_windows
from auralign.backbones.base import AudioEncoder
from auralign.data.feature_cache import CachedClip, WindowPolicy, encode_windows
from auralign.errors import AudioLoadError

CHUNK = 1 << 20
ENCODE_BATCH = 8  # windows per encoder call: bounds memory whatever the clip's length


def save_upload(source: BinaryIO, filename: str | None, folder: Path, max_bytes: int) -> Path:
    """Copy an upload into `folder` under its content hash; the client's name only lends an extension."""
    digest = hashlib.sha256()
    tmp = folder / f"incoming-{uuid.uuid4().hex}.part"
    size = 0
    with open(tmp, "wb") as out:
        while chunk := source.read(CHUNK):
            size += len(chunk)
            if size > max_bytes:
                out.close()
                tmp.unlink(missing_ok=True)
                raise LimitError(f"audio larger than {max_bytes / 2**20:g} MB")
            digest.update(chunk)
            out.write(chunk)
    suffix = Path(filename or "").suffix.lower()
    target = folder / (digest.hexdigest() + (suffix if suffix in AUDIO_EXTENSIONS else ""))
    tmp.replace(target)
    return target


class UploadFeatureCache:
    """The FeatureCache interface (`ensure`, `get`) for uploads: in memory, LRU, bounded in clips and time.

    Files must be named by `save_upload` (their stem is the content hash). A clip longer than
    `max_seconds` raises `LimitError`: from its header before decoding when the format declares a
    length, otherwise while decoding, after at most `max_seconds` of audio.
    """

    def __init__(self, encoder: AudioEncoder, max_entries: int, max_seconds: float,
                 policy: WindowPolicy | None = None,
                 encode: Callable[[list[np.ndarray]], list[np.ndarray]] | None = None) -> None:
        """`encode`: windows -> their tokens (default: one encoder call; the server passes its batcher)."""
        self.encoder = encoder
        self.max_entries = max_entries
        self.max_seconds = max_seconds
        self.policy = policy or WindowPolicy()
        self.encode = encode or partial(encode_windows, encoder)
        self._clips: OrderedDict[str, CachedClip | str] = OrderedDict()
        self._lock = threading.Lock()  # requests run in a thread pool

    def __len__(self) -> int:
        return len(self._clips)

    def ensure(self, paths: Sequence[str | Path], batch_size: int = ENCODE_BATCH, progress: bool = False,
               ) -> list[tuple[Path, str]]:
        failures = []
        for path in map(Path, paths):
            entry = self._lookup(path)
            if isinstance(entry, str):
                failures.append((path, entry))
        return failures

    def get(self, path: str | Path) -> CachedClip:
        entry = self._lookup(Path(path))
        if isinstance(entry, str):
            raise AudioLoadError(path, entry)
        return entry

    def clear(self) -> None:
        with self._lock:
            self._clips.clear()

    def _lookup(self, path: Path) -> CachedClip | str:
        key = path.stem
        with self._lock:
            if key in self._clips:
                self._clips.move_to_end(key)
                return self._clips[key]
        try:
            entry: CachedClip | str = self._encode(path)
        except AudioLoadError as error:
            entry = error.reason
        with self._lock:
            self._clips[key] = entry
            while len(self._clips) > self.max_entries:
                self._clips.popitem(last=False)
        return entry

    def _encode(self, path: Path) -> CachedClip:
        declared = declared_seconds(path)
        if declared is not None and declared > self.max_seconds:
            raise LimitError(f"audio longer than the server's limit of {self.max_seconds:g} s")
        rate = self.encoder.sample_rate
        tokens: list[np.ndarray] = []
        pending: list[np.ndarray] = []
        decoded = 0
        for window in iter_windows(path, rate, window_seconds=self.policy.window_seconds,
                                   hop_seconds=self.policy.hop_seconds):
            decoded = max(decoded, round(window.start_seconds * rate) + len(window.samples))
            if decoded > self.max_seconds * rate:
                raise LimitError(f"audio longer than the server's limit of {self.max_seconds:g} s")
            pending.append(window.samples)
            if len(pending) == ENCODE_BATCH:
                tokens.extend(self.encode(pending))
                pending = []
        if pending:
            tokens.extend(self.encode(pending))
        return CachedClip(tokens=np.concatenate(tokens, axis=0), window_lengths=[len(t) for t in tokens])
