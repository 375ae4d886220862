"""FSD50K (Fonseca et al., 2022): 51k Freesound clips, 200 AudioSet classes, multi-label.

Layout: ``<root>/FSD50K.ground_truth/{vocabulary,dev,eval}.csv`` with ``<root>/FSD50K.dev_audio/``
and ``<root>/FSD50K.eval_audio/`` holding ``<fname>.wav``. ``vocabulary.csv`` has no header (index,
label, mid); ``dev.csv`` has fname, labels, mids, split (train/val); ``eval.csv`` has fname, labels,
mids. Labels are comma-separated inside one quoted field. Splits: ``train``, ``val``, ``eval``.
"""

from __future__ import annotations

from pathlib import Path

from auralign.data.manifest import ManifestRow
from auralign.evaluation.benchmarks.base import (
    LoadedDataset,
    check_splits,
    layout_error,
    read_csv_records,
    readable_label,
    require_audio,
)

SPLITS = ["train", "val", "eval"]


def _vocabulary(truth: Path) -> list[str]:
    records = read_csv_records(truth / "vocabulary.csv", ["index", "label"], "FSD50K's class list",
                               fieldnames=["index", "label", "mid"])
    return [readable_label(r["label"]) for r in sorted(records, key=lambda r: int(r["index"]))]


def _rows(path: Path, audio_dir: Path, split_of: str | None, vocabulary: set[str]) -> list[ManifestRow]:
    required = ["fname", "labels"] + (["split"] if split_of is None else [])
    rows = []
    for record in read_csv_records(path, required, f"FSD50K ground truth {path.name}"):
        labels = [readable_label(label) for label in record["labels"].split(",")]
        unknown = [label for label in labels if label not in vocabulary]
        if unknown:
            raise layout_error(path, f"clip {record['fname']}: label(s) not in vocabulary.csv: {unknown}")
        rows.append(ManifestRow(audio=audio_dir / f"{record['fname']}.wav", labels=labels,
                                split=split_of or record["split"], id=record["fname"]))
    return rows


def load_fsd50k(root: Path, split: str | None = None) -> LoadedDataset:
    check_splits(split, SPLITS, "FSD50K")
    truth = root / "FSD50K.ground_truth"
    classes = _vocabulary(truth)
    rows = []
    if split in (None, "train", "val"):
        rows += _rows(truth / "dev.csv", root / "FSD50K.dev_audio", None, set(classes))
    if split in (None, "eval"):
        rows += _rows(truth / "eval.csv", root / "FSD50K.eval_audio", "eval", set(classes))
    rows = [row for row in rows if split is None or row.split == split]
    return LoadedDataset(rows=require_audio(rows, "FSD50K"), class_names=classes, multi_label=True)
