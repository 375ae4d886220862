"""Clotho v2 (Drossos et al., 2020) captions and Clotho-AQA (Lipping et al., 2022) questions.

Clotho v2 layout: ``<root>/clotho_captions_{development,validation,evaluation}.csv`` (file_name,
caption_1 ... caption_5) with the audio of each split in ``<root>/<split>/`` (as the official 7z
archives extract) or ``<root>/clotho_audio_<split>/``. Splits: ``development``, ``validation``,
``evaluation``.

Clotho-AQA layout: ``<root>/clotho_aqa_{train,val,test}.csv`` (file_name, QuestionText, answer,
confidence) with the audio in ``<root>/audio_files/`` (or ``<root>/audio/``). Every official row
(one annotator's answer to one question) becomes one QA row: ``question``, ``answer`` and
``confidence`` in ``extra``; rows of one clip share a ``group``.
"""

from __future__ import annotations

from pathlib import Path

from auralign.data.manifest import ManifestRow
from auralign.evaluation.benchmarks.base import (
    LoadedDataset,
    check_splits,
    first_existing,
    read_csv_records,
    require_audio,
)

CLOTHO_SPLITS = ["development", "validation", "evaluation"]
CLOTHO_AQA_SPLITS = ["train", "val", "test"]
CAPTIONS_PER_CLIP = 5


def load_clotho(root: Path, split: str | None = None) -> LoadedDataset:
    check_splits(split, CLOTHO_SPLITS, "Clotho")
    rows = []
    for name in [split] if split else CLOTHO_SPLITS:
        records = read_csv_records(root / f"clotho_captions_{name}.csv", ["file_name", "caption_1"],
                                   f"Clotho's {name} captions")
        audio_dir = first_existing([root / name, root / f"clotho_audio_{name}"], f"Clotho's {name} audio folder")
        for record in records:
            captions = [record.get(f"caption_{k}", "").strip() for k in range(1, CAPTIONS_PER_CLIP + 1)]
            rows.append(ManifestRow(audio=audio_dir / record["file_name"], captions=[c for c in captions if c],
                                    split=name, id=record["file_name"]))
    return LoadedDataset(rows=require_audio(rows, "Clotho"))


def load_clotho_aqa(root: Path, split: str | None = None) -> LoadedDataset:
    check_splits(split, CLOTHO_AQA_SPLITS, "Clotho-AQA")
    audio_dir = first_existing([root / "audio_files", root / "audio"], "Clotho-AQA's audio folder")
    rows = []
    for name in [split] if split else CLOTHO_AQA_SPLITS:
        path = root / f"clotho_aqa_{name}.csv"
        records = read_csv_records(path, ["file_name", "QuestionText", "answer"], f"Clotho-AQA's {name} questions")
        for number, record in enumerate(records, 2):
            rows.append(ManifestRow(
                audio=audio_dir / record["file_name"], split=name, group=record["file_name"],
                id=f"{name}:{number}",
                extra={"question": record["QuestionText"].strip(), "answer": record["answer"].strip(),
                       "confidence": (record.get("confidence") or "").strip()},
            ))
    return LoadedDataset(rows=require_audio(rows, "Clotho-AQA"))
