"""What every benchmark loader shares: the loaded-dataset record and strict readers of metadata files.

A loader turns a dataset in its official on-disk layout into manifest rows with the official
splits/folds. Datasets distributed as archives (ESC-50, UrbanSound8K, Clotho, ...) must be complete:
a listed clip whose audio is absent is an error. Datasets rebuilt from YouTube (AudioCaps, VGGSound,
MusicCaps) are never complete, so their absent clips are left out and counted in ``missing_audio``:
every results table shows how many clips a number is over.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from auralign.audio.io import AUDIO_EXTENSIONS
from auralign.data.manifest import ManifestRow
from auralign.errors import AuralignError

LAYOUT_HELP = "see docs/benchmarks.md for the expected layout"


@dataclass
class LoadedDataset:
    """Rows of the requested split(s), the official class list (classification) and absent clips."""

    rows: list[ManifestRow]
    class_names: list[str] = field(default_factory=list)
    multi_label: bool = False
    missing_audio: list[str] = field(default_factory=list)


def layout_error(path: Path, what: str) -> AuralignError:
    return AuralignError(f"{path}: {what} ({LAYOUT_HELP})")


def require_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise layout_error(path, f"not found; expected {what}")
    return path


def require_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise layout_error(path, f"not found; expected {what}")
    return path


def first_existing(candidates: Sequence[Path], what: str) -> Path:
    """The first of several accepted locations that exists, else an error naming all of them."""
    for candidate in candidates:
        if candidate.exists():
            return candidate
    names = ", ".join(str(c) for c in candidates)
    raise AuralignError(f"{what} not found; looked for {names} ({LAYOUT_HELP})")


def read_csv_records(path: Path, required: Sequence[str], what: str,
                     fieldnames: Sequence[str] | None = None, delimiter: str = ",") -> list[dict[str, str]]:
    """Rows of a metadata CSV as dicts, checking the columns the loader needs.

    ``fieldnames`` is for header-less files (VGGSound, TUT); the byte-order mark some tools write
    is ignored.
    """
    require_file(path, what)
    with open(path, encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle, fieldnames=list(fieldnames) if fieldnames else None, delimiter=delimiter)
        records = list(reader)
        columns = reader.fieldnames or []
    missing = [c for c in required if c not in columns]
    if missing:
        raise layout_error(path, f"missing column(s) {', '.join(missing)}; found {', '.join(columns) or 'none'}")
    for number, record in enumerate(records, 1 if fieldnames else 2):
        empty = [c for c in required if not (record.get(c) or "").strip()]
        if empty:
            raise layout_error(path, f"line {number}: empty {', '.join(empty)}")
    if not records:
        raise layout_error(path, "has no rows")
    return records


def readable_label(label: str) -> str:
    """Official class names joined by underscores become prompt text: 'dog_bark' -> 'dog bark'."""
    return " ".join(label.replace("_", " ").split())


def check_splits(split: str | None, known: Iterable[str], dataset: str) -> None:
    known = list(known)
    if split is not None and split not in known:
        raise AuralignError(f"{dataset} has no split {split!r}; its splits are {', '.join(known)}")


def require_audio(rows: Sequence[ManifestRow], dataset: str) -> list[ManifestRow]:
    """Archive datasets: every listed clip must be on disk; the error names the first absent one."""
    absent = list(dict.fromkeys(row.audio for row in rows if not row.audio.is_file()))
    if absent:
        raise AuralignError(f"{dataset}: {len(absent)} audio file(s) listed in the metadata are missing, "
                            f"e.g. {absent[0]} ({LAYOUT_HELP})")
    return list(rows)


class AudioIndex:
    """Audio files under a folder by file stem, for datasets whose files are named after a YouTube id.

    Built with one directory walk, so resolving every clip of a large dataset stays cheap.
    """

    def __init__(self, folder: Path) -> None:
        self.by_stem: dict[str, Path] = {}
        for path in sorted(folder.rglob("*")):
            if path.suffix.lower() in AUDIO_EXTENSIONS and path.is_file():
                self.by_stem.setdefault(path.stem, path)

    def find(self, stems: Sequence[str]) -> Path | None:
        """The file named by the first accepted stem that exists."""
        for stem in stems:
            if stem in self.by_stem:
                return self.by_stem[stem]
        return None
