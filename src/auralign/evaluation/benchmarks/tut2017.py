"""TUT Acoustic Scenes 2017 (Mesaros et al., DCASE 2017 task 1): 10-second segments, 15 scenes.

Layout: ``<root>/TUT-acoustic-scenes-2017-development/`` with ``meta.txt`` (tab-separated: file,
scene, recording location) and ``evaluation_setup/fold<k>_evaluate.txt`` (file, scene) for the
four official folds, the files under ``audio/``; and ``<root>/TUT-acoustic-scenes-2017-evaluation/``
with ``meta.txt`` (file, scene; from the evaluation-set labels release) or, failing that,
``evaluation_setup/evaluate.txt``. Splits: ``development`` (fold in ``extra``, location as ``group``:
the folds keep a location's segments together) and ``evaluation``, the set DCASE ranks on.
"""

from __future__ import annotations

from pathlib import Path

from auralign.data.manifest import ManifestRow
from auralign.evaluation.benchmarks.base import (
    LoadedDataset,
    check_splits,
    first_existing,
    read_csv_records,
    readable_label,
    require_audio,
)

SPLITS = ["development", "evaluation"]
DEVELOPMENT = "TUT-acoustic-scenes-2017-development"
EVALUATION = "TUT-acoustic-scenes-2017-evaluation"
SCENES = ["beach", "bus", "cafe/restaurant", "car", "city_center", "forest_path", "grocery_store", "home",
          "library", "metro_station", "office", "park", "residential_area", "train", "tram"]
FOLDS = 4


def _tab_records(path: Path, fields: list[str], required: list[str], what: str) -> list[dict[str, str]]:
    return read_csv_records(path, required, what, fieldnames=fields, delimiter="\t")


def _development(root: Path) -> list[ManifestRow]:
    folder = root / DEVELOPMENT
    fold_of = {}
    for k in range(1, FOLDS + 1):
        path = folder / "evaluation_setup" / f"fold{k}_evaluate.txt"
        for record in _tab_records(path, ["file", "scene"], ["file"], f"TUT 2017 fold {k} evaluation list"):
            fold_of[record["file"].strip()] = str(k)
    records = _tab_records(folder / "meta.txt", ["file", "scene", "location"], ["file", "scene"],
                           "TUT 2017 development meta.txt")
    return [ManifestRow(audio=folder / r["file"].strip(), labels=[readable_label(r["scene"].strip())],
                        split="development", group=(r.get("location") or "").strip() or None, id=r["file"].strip(),
                        extra={"fold": fold_of.get(r["file"].strip(), "")})
            for r in records]


def _evaluation(root: Path) -> list[ManifestRow]:
    folder = root / EVALUATION
    meta = first_existing([folder / "meta.txt", folder / "evaluation_setup" / "evaluate.txt"],
                          "TUT 2017 evaluation-set labels")
    records = _tab_records(meta, ["file", "scene"], ["file", "scene"], "TUT 2017 evaluation labels")
    return [ManifestRow(audio=folder / r["file"].strip(), labels=[readable_label(r["scene"].strip())],
                        split="evaluation", id=f"evaluation/{r['file'].strip()}") for r in records]


def load_tut2017(root: Path, split: str | None = None) -> LoadedDataset:
    check_splits(split, SPLITS, "TUT Acoustic Scenes 2017")
    rows = []
    if split in (None, "development"):
        rows += _development(root)
    if split in (None, "evaluation"):
        rows += _evaluation(root)
    return LoadedDataset(rows=require_audio(rows, "TUT Acoustic Scenes 2017"),
                         class_names=[readable_label(s) for s in SCENES])
