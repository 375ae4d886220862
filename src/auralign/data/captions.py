"""Human-written captions as text: AudioCaps (`caption` column, one row per caption) and Clotho
(`caption_1..5`, one row per clip) CSVs, the text MATS trains on and the retrieval captioner returns."""

from __future__ import annotations

import csv
from pathlib import Path

from auralign.errors import AuralignError
from auralign.paths import shared_data_dir

#: The training captions of the shipped captioners (AudioCaps val/test stay for evaluation).
TRAINING_CAPTION_FILES = ("captions/audiocaps_train.csv", "captions/clotho_development_captions.csv")


def default_caption_files() -> list[Path]:
    """AudioCaps train + Clotho development captions in the shared data folder."""
    return [shared_data_dir() / name for name in TRAINING_CAPTION_FILES]


def _records(path: str | Path) -> list[dict[str, str]]:
    path = Path(path)
    if not path.is_file():
        raise AuralignError(f"caption file not found: {path}")
    with open(path, newline="", encoding="utf-8") as handle:
        records = list(csv.DictReader(handle))
    if not records or not any(key and key.startswith("caption") for key in records[0]):
        raise AuralignError(f"{path}: no 'caption' or 'caption_N' column")
    return records


def _captions_of(record: dict[str, str]) -> list[str]:
    return [value.strip() for key, value in record.items()
            if key and key.startswith("caption") and value and value.strip()]


def read_captions(path: str | Path) -> list[str]:
    """Every caption of a file, in file order (duplicates kept: they are different people's words)."""
    return [caption for record in _records(path) for caption in _captions_of(record)]


def read_caption_groups(path: str | Path) -> dict[str, list[str]]:
    """Captions grouped by clip: AudioCaps rows by `youtube_id`, Clotho rows by `file_name`."""
    groups: dict[str, list[str]] = {}
    for record in _records(path):
        clip = record.get("youtube_id") or record.get("file_name") or record.get("audiocap_id", "")
        groups.setdefault(clip, []).extend(_captions_of(record))
    return groups


def read_caption_files(paths: list[str | Path]) -> list[str]:
    return [caption for path in paths for caption in read_captions(path)]
