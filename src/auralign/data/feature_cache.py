"""A disk cache of the frozen audio encoder's frame tokens, one entry per clip and window.

Every method trains small modules over a frozen audio encoder, so its tokens are computed once per
clip and reused by every epoch and every evaluation. Entries live in a folder named after the
encoder's fingerprint (weights + front end) and the window policy, so changing either starts a
fresh cache instead of serving stale tokens. A clip's key includes its resolved path, size and
modification time, so an edited file is recomputed. Tokens are stored as fp16 `.npy` files and
opened memory-mapped; clips that failed to load are remembered with their reason.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from auralign.audio.io import iter_windows
from auralign.backbones.base import AudioEncoder
from auralign.errors import AudioLoadError
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
    resolved = Path(path).resolve()
    stat = resolved.stat()
    return hashlib.sha1(f"{resolved}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()


class FeatureCache:
    def __init__(self, encoder: AudioEncoder, root: str | Path | None = None,
                 policy: WindowPolicy | None = None) -> None:
        self.encoder = encoder
        self.policy = policy or WindowPolicy()
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
            raise AudioLoadError(path, error.strerror or "cannot read file") from None
        if key not in self._index:
            self.ensure([path], progress=False)
        entry = self._index[key]
        if "error" in entry:
            raise AudioLoadError(path, entry["error"])
        tokens = np.load(self.dir / entry["file"], mmap_mode="r")
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
        todo = sorted(self.missing(paths), key=_size_or_zero)
        pending = set(todo)
        failures = self._remembered_failures(path for path in paths if Path(path) not in pending)
        with progress_bar(len(todo), "encoding audio", enabled=progress and bool(todo)) as advance:
            for start in range(0, len(todo), batch_size):
                chunk = todo[start:start + batch_size]
                failures.extend(self._encode_chunk(chunk))
                advance(len(chunk))
        return failures

    def _remembered_failures(self, cached_paths: Iterable[str | Path]) -> list[tuple[Path, str]]:
        entries = ((Path(path), self._index[clip_key(path)]) for path in cached_paths)
        return [(path, entry["error"]) for path, entry in entries if "error" in entry]

    def _encode_chunk(self, paths: list[Path]) -> list[tuple[Path, str]]:
        failures = []
        windows: list[tuple[Path, np.ndarray]] = []
        for path in paths:
            try:
                key = clip_key(path)
            except OSError as error:
                failures.append((path, error.strerror or "cannot read file"))
                continue
            try:
                clip_windows = [w.samples for w in iter_windows(
                    path, self.encoder.sample_rate, window_seconds=self.policy.window_seconds,
                    hop_seconds=self.policy.hop_seconds)]
            except AudioLoadError as error:
                failures.append((path, error.reason))
                self._append_index({"key": key, "error": error.reason})
                continue
            windows.extend((path, samples) for samples in clip_windows)
        tokens = self._encode_windows([samples for _, samples in windows])
        for path in dict.fromkeys(p for p, _ in windows):
            own = [t for (p, _), t in zip(windows, tokens, strict=True) if p == path]
            self._store(path, own)
        return failures

    @torch.inference_mode()
    def _encode_windows(self, windows: list[np.ndarray]) -> list[np.ndarray]:
        if not windows:
            return []
        out = self.encoder(*pad_waveforms(windows))
        return [out.tokens[i][out.mask[i]].to(torch.float16).numpy() for i in range(len(windows))]

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


def _size_or_zero(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


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
