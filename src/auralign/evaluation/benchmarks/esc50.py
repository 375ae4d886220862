"""ESC-50 (Piczak, 2015): 2000 five-second clips, 50 classes, five official folds.

Layout: ``<root>/meta/esc50.csv`` (filename, fold, target, category, esc10, src_file, take) and
``<root>/audio/<filename>``. Splits are ``fold1`` ... ``fold5``; clips cut from one source recording
(``src_file``) share a fold and a row ``group``.
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

FOLDS = [f"fold{k}" for k in range(1, 6)]


def load_esc50(root: Path, split: str | None = None) -> LoadedDataset:
    check_splits(split, FOLDS, "ESC-50")
    records = read_csv_records(root / "meta" / "esc50.csv", ["filename", "fold", "target", "category"],
                               "ESC-50's metadata meta/esc50.csv")
    classes = {int(r["target"]): readable_label(r["category"]) for r in records}
    rows = [
        ManifestRow(audio=root / "audio" / r["filename"], labels=[readable_label(r["category"])],
                    split=f"fold{r['fold']}", group=r.get("src_file") or None, id=r["filename"],
                    extra={"fold": r["fold"], "esc10": r.get("esc10", "")})
        for r in records
    ]
    rows = [row for row in rows if split is None or row.split == split]
    return LoadedDataset(rows=require_audio(rows, "ESC-50"), class_names=[classes[k] for k in sorted(classes)])
