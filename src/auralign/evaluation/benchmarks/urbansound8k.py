"""UrbanSound8K (Salamon et al., 2014): 8732 clips of at most 4 s, 10 classes, ten official folds.

Layout: ``<root>/metadata/UrbanSound8K.csv`` (slice_file_name, fsID, start, end, salience, fold,
classID, class) and ``<root>/audio/fold<k>/<slice_file_name>``. Splits are ``fold1`` ... ``fold10``;
slices of one Freesound recording (``fsID``) share a fold and a row ``group``.
"""

from __future__ import annotations

from pathlib import Path

from auralign.data.manifest import ManifestRow
from auralign.evaluation.benchmarks.base import (
    LoadedDataset,
    check_splits,
    read_csv_records,
    readable_label,
    require_audio,
)

FOLDS = [f"fold{k}" for k in range(1, 11)]


def load_urbansound8k(root: Path, split: str | None = None) -> LoadedDataset:
    check_splits(split, FOLDS, "UrbanSound8K")
    records = read_csv_records(root / "metadata" / "UrbanSound8K.csv",
                               ["slice_file_name", "fsID", "fold", "classID", "class"],
                               "UrbanSound8K's metadata metadata/UrbanSound8K.csv")
    classes = {int(r["classID"]): readable_label(r["class"]) for r in records}
    rows = [
        ManifestRow(audio=root / "audio" / f"fold{r['fold']}" / r["slice_file_name"],
                    labels=[readable_label(r["class"])], split=f"fold{r['fold']}", group=r["fsID"],
                    id=r["slice_file_name"], extra={"fold": r["fold"]})
        for r in records
    ]
    rows = [row for row in rows if split is None or row.split == split]
    return LoadedDataset(rows=require_audio(rows, "UrbanSound8K"), class_names=[classes[k] for k in sorted(classes)])
