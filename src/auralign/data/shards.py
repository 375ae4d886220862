"""WebDataset tar shards of a manifest's clips, for corpora too big for one disk or one machine.

A shard set is a folder of `shard-000000.tar`, `shard-000001.tar`, ... Each sample is one clip:

    <key>.flac (or .wav, .mp3, ...)   the audio: re-encoded FLAC at the clip's own rate and channels,
                                      or the original file's bytes
    <key>.json                        {"id", "labels", "captions", "split", "group", "extra", "source"}

Keys are the clip's position in the manifest (`000000042`), because WebDataset cuts a file name at
its first dot and clip ids are often paths with dots and slashes; the id itself lives in the JSON.

Clips are validated with auralign's own loader before they are written, so a shard never holds a
clip that every reader would refuse. Shards are written as `.tar.tmp` and renamed when complete, so
a killed run leaves only whole shards behind.

Reading goes through `webdataset.WebDataset`: shards are split across ranks (`wds.split_by_node`) and
DataLoader workers (`wds.split_by_worker`), so every process reads a disjoint subset of the shards
and together they read every clip once. Balance needs at least ranks x workers shards.
"""

from __future__ import annotations

import io
import itertools
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import soundfile as sf
import soxr
import torch
import webdataset as wds

from auralign.audio.io import AUDIO_EXTENSIONS, RESAMPLE_QUALITY, load_audio
from auralign.data.manifest import ManifestRow, write_manifest
from auralign.errors import AudioLoadError, AuralignError

SHARD_GLOB = "shard-*.tar"
_SHARD_PATTERN = "shard-%06d.tar"
_STAGING_SUFFIX = ".tmp"
_AUDIO_KEYS = frozenset(extension.lstrip(".") for extension in AUDIO_EXTENSIONS)
# Source encodings with at most 16 bits of precision: re-encoded as 16-bit FLAC, everything else as 24-bit.
_SIXTEEN_BIT_SUBTYPES = frozenset({"PCM_S8", "PCM_U8", "PCM_16", "ULAW", "ALAW", "IMA_ADPCM", "MS_ADPCM",
                                   "GSM610", "G721_32", "G723_24", "G723_40", "DWVW_12", "DWVW_16"})

AudioEncoding = Literal["flac", "original"]
Splitter = Callable[[Iterator[Any]], Iterator[Any]]
FailureHandler = Callable[[str, str], None]


@dataclass
class ShardSample:
    """One clip read back from a shard: mono float32 samples at `sample_rate` and its manifest fields."""

    id: str
    audio: np.ndarray
    sample_rate: int
    labels: list[str] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)
    split: str | None = None
    group: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    key: str = ""
    url: str = ""


def write_shards(
    rows: Sequence[ManifestRow],
    out_dir: str | Path,
    max_count: int = 1000,
    max_size: int = 1_000_000_000,
    encode_audio: AudioEncoding = "flac",
    on_failure: FailureHandler | None = None,
) -> list[Path]:
    """Write the rows' clips into tar shards of at most `max_count` clips (and about `max_size` bytes).

    A clip that cannot be loaded raises `AudioLoadError`, unless `on_failure(audio path, reason)` is
    given: then it is reported there and left out. Returns the shard paths in order.
    """
    if encode_audio not in ("flac", "original"):
        raise AuralignError(f"encode_audio must be 'flac' or 'original', got {encode_audio!r}")
    if max_count < 1 or max_size < 1:
        raise AuralignError("max_count and max_size must be positive")
    if not rows:
        raise AuralignError("no rows to write")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if any(out_dir.glob(SHARD_GLOB)):
        raise AuralignError(f"{out_dir} already holds shards; write into an empty folder")
    samples = _encoded_samples(rows, encode_audio, on_failure)
    first = next(samples, None)
    if first is None:
        return []
    written: list[Path] = []

    def publish(staged: str) -> None:
        final = staged.removesuffix(_STAGING_SUFFIX)
        os.replace(staged, final)
        written.append(Path(final))

    pattern = str(out_dir / (_SHARD_PATTERN + _STAGING_SUFFIX))
    with wds.ShardWriter(pattern, maxcount=max_count, maxsize=max_size, post=publish, verbose=0) as writer:
        for sample in itertools.chain([first], samples):
            writer.write(sample)
    return written


def _encoded_samples(rows: Sequence[ManifestRow], encode_audio: AudioEncoding,
                     on_failure: FailureHandler | None) -> Iterator[dict[str, Any]]:
    for position, row in enumerate(rows):
        try:
            extension, audio = _audio_bytes(Path(row.audio), encode_audio)
        except AudioLoadError as error:
            if on_failure is None:
                raise
            on_failure(str(row.audio), error.reason)
            continue
        yield {"__key__": f"{position:09d}", extension: audio, "json": _metadata(row)}


def _metadata(row: ManifestRow) -> bytes:
    record = {"id": row.id, "labels": row.labels, "captions": row.captions, "split": row.split,
              "group": row.group, "extra": row.extra, "source": str(row.audio)}
    return json.dumps(record, ensure_ascii=False).encode("utf-8")


def _audio_bytes(path: Path, encode_audio: AudioEncoding) -> tuple[str, bytes]:
    """(sample key, bytes) of a validated clip."""
    rate = _validated_rate(path)
    if encode_audio == "original":
        extension = path.suffix.lower().lstrip(".")
        if extension not in _AUDIO_KEYS:
            raise AudioLoadError(path, f"unknown audio extension {path.suffix!r} (use encode_audio='flac')")
        return extension, path.read_bytes()
    return "flac", _flac_bytes(path, rate)


def _validated_rate(path: Path) -> int:
    """The clip's own sample rate, after decoding it with auralign's loader (which raises for bad files)."""
    try:
        rate = sf.info(str(path)).samplerate
    except (sf.SoundFileError, RuntimeError, OSError, ValueError):
        rate = 16000  # any rate: load_audio fails on this file too, with the precise reason
    load_audio(path, rate)
    return rate


def _flac_bytes(path: Path, rate: int) -> bytes:
    """Every channel at the original rate; samples beyond full scale are clipped, as PCM requires."""
    data, _ = sf.read(str(path), dtype="float32", always_2d=True)
    subtype = "PCM_16" if sf.info(str(path)).subtype in _SIXTEEN_BIT_SUBTYPES else "PCM_24"
    buffer = io.BytesIO()
    try:
        sf.write(buffer, np.clip(data, -1.0, 1.0), rate, format="FLAC", subtype=subtype)
    except (sf.SoundFileError, RuntimeError, ValueError) as error:
        raise AudioLoadError(path, f"cannot re-encode as FLAC ({error})") from error
    return buffer.getvalue()


def shard_urls(source: str | Path | Sequence[str | Path]) -> list[str] | str:
    """What `webdataset.WebDataset` takes: a folder's shards in order, a brace pattern, or a list."""
    if isinstance(source, (str, Path)):
        if Path(source).is_dir():
            shards = sorted(str(path) for path in Path(source).glob(SHARD_GLOB))
            if not shards:
                raise AuralignError(f"{source}: no shards ({SHARD_GLOB})")
            return shards
        return str(source)
    if not source:
        raise AuralignError("no shards given")
    return [str(url) for url in source]


def _raw_samples(source: str | Path | Sequence[str | Path], nodesplitter: Splitter | None,
                 workersplitter: Splitter | None) -> wds.WebDataset:
    # empty_check=False: with more processes than shards some get none, which is not an error here.
    return wds.WebDataset(shard_urls(source), shardshuffle=False, nodesplitter=nodesplitter,
                          workersplitter=workersplitter, empty_check=False)


def iter_shard_samples(
    source: str | Path | Sequence[str | Path],
    sample_rate: int | None = None,
    nodesplitter: Splitter | None = wds.split_by_node,
    workersplitter: Splitter | None = wds.split_by_worker,
    on_failure: FailureHandler | None = None,
) -> Iterator[ShardSample]:
    """Decoded clips of a shard set (a folder, a brace pattern or a list of shard paths/URLs).

    Audio is mixed to mono and, with `sample_rate`, resampled with soxr. Each rank and DataLoader
    worker reads its own shards (see the module docstring); pass None as a splitter to read all.
    A sample that cannot be decoded raises `AudioLoadError` named `<shard>#<key>`, unless
    `on_failure(name, reason)` is given.
    """
    for raw in _raw_samples(source, nodesplitter, workersplitter):
        try:
            yield _decode(raw, sample_rate)
        except AudioLoadError as error:
            if on_failure is None:
                raise
            on_failure(str(error.path), error.reason)


def _audio_key(raw: dict[str, Any]) -> str:
    keys = [key for key in raw if key in _AUDIO_KEYS]
    if len(keys) != 1:
        raise AudioLoadError(_sample_name(raw), f"expected one audio member, found {keys or 'none'}")
    return keys[0]


def _sample_name(raw: dict[str, Any]) -> str:
    return f"{raw.get('__url__', '?')}#{raw.get('__key__', '?')}"


def _metadata_of(raw: dict[str, Any]) -> dict[str, Any]:
    if "json" not in raw:
        raise AudioLoadError(_sample_name(raw), "no json metadata member")
    return json.loads(raw["json"])


def _decode(raw: dict[str, Any], sample_rate: int | None) -> ShardSample:
    name = _sample_name(raw)
    meta = _metadata_of(raw)
    try:
        data, rate = sf.read(io.BytesIO(raw[_audio_key(raw)]), dtype="float32", always_2d=True)
    except (sf.SoundFileError, RuntimeError, ValueError) as error:
        raise AudioLoadError(name, f"cannot decode ({error})") from error
    if len(data) == 0:
        raise AudioLoadError(name, "no samples")
    mono = data.mean(axis=1, dtype=np.float32)
    if sample_rate is not None and sample_rate != rate:
        mono = soxr.resample(mono, rate, sample_rate, quality=RESAMPLE_QUALITY).astype(np.float32)
        rate = sample_rate
    return ShardSample(id=meta["id"], audio=mono, sample_rate=rate, labels=meta.get("labels") or [],
                       captions=meta.get("captions") or [], split=meta.get("split"), group=meta.get("group"),
                       extra=meta.get("extra") or {}, key=raw["__key__"], url=raw.get("__url__", ""))


class ShardAudioDataset(torch.utils.data.IterableDataset):
    """`iter_shard_samples` as an IterableDataset: with a DataLoader of N workers on W ranks, each
    of the N x W processes reads its own shards. Use a collate function that accepts `ShardSample`s."""

    def __init__(self, source: str | Path | Sequence[str | Path], sample_rate: int | None = None,
                 nodesplitter: Splitter | None = wds.split_by_node,
                 workersplitter: Splitter | None = wds.split_by_worker,
                 on_failure: FailureHandler | None = None) -> None:
        super().__init__()
        self.urls = shard_urls(source)
        self.sample_rate = sample_rate
        self.nodesplitter = nodesplitter
        self.workersplitter = workersplitter
        self.on_failure = on_failure

    def __iter__(self) -> Iterator[ShardSample]:
        return iter_shard_samples(self.urls, self.sample_rate, self.nodesplitter, self.workersplitter,
                                  self.on_failure)


def extract_shards(source: str | Path | Sequence[str | Path], out_dir: str | Path,
                   manifest_name: str = "manifest.jsonl") -> Path:
    """Unpack every clip of a shard set into `out_dir` (audio bytes as stored, one file per sample)
    plus a manifest of them, so path-keyed tools such as the feature cache can use the corpus.
    Reads all shards whatever the rank. Returns the manifest's path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for raw in _raw_samples(source, nodesplitter=None, workersplitter=None):
        meta = _metadata_of(raw)
        extension = _audio_key(raw)
        audio = out_dir / f"{raw['__key__']}.{extension}"
        audio.write_bytes(raw[extension])
        rows.append(ManifestRow(audio=audio, labels=meta.get("labels") or [], captions=meta.get("captions") or [],
                                split=meta.get("split"), group=meta.get("group"), id=meta["id"],
                                extra=meta.get("extra") or {}))
    if not rows:
        raise AuralignError(f"{source}: the shards hold no samples")
    return write_manifest(rows, out_dir / manifest_name)
