"""Datasets rebuilt from YouTube, whose audio the user downloads: AudioCaps, VGGSound, MusicCaps.

Audio is searched anywhere under ``<root>`` (one directory walk) by file stem, in any format
auralign reads. Accepted names, tried in this order:

- AudioCaps: ``<youtube_id>``, ``Y<youtube_id>`` (AudioSet style), ``<youtube_id>_<start_time>``,
  ``<audiocap_id>``;
- VGGSound: ``<ytid>_<start:06d>`` (the official clip naming), ``<ytid>_<start>``, ``<ytid>``;
- MusicCaps: ``<ytid>``, ``Y<ytid>``, ``<ytid>_<start_s>``, ``<ytid>_<start_s>-<end_s>``.

Clips whose audio is not found are left out and counted in ``missing_audio``.

AudioCaps: ``<root>/{train,val,test}.csv`` (audiocap_id, youtube_id, start_time, caption); one row
per clip with all its captions (5 in val/test). VGGSound: ``<root>/vggsound.csv`` without a header
(ytid, start seconds, label, train|test). MusicCaps: ``<root>/musiccaps-public.csv`` (ytid, start_s,
end_s, caption, aspect_list, is_audioset_eval, ...); split ``eval`` is the is_audioset_eval subset
captioning papers report on, ``train`` the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from auralign.data.manifest import ManifestRow
from auralign.evaluation.benchmarks.base import (
    AudioIndex,
    LoadedDataset,
    check_splits,
    read_csv_records,
    readable_label,
    require_dir,
)

AUDIOCAPS_SPLITS = ["train", "val", "test"]
VGGSOUND_SPLITS = ["train", "test"]
MUSICCAPS_SPLITS = ["train", "eval"]


def _seconds(value: str) -> str:
    """'30.0' -> '30', as the numbers appear in downloaded file names."""
    number = float(value)
    return str(int(number)) if number.is_integer() else str(number)


def _resolve(rows: Sequence[ManifestRow], root: Path, stems: Callable[[ManifestRow], list[str]]) -> LoadedDataset:
    index = AudioIndex(require_dir(root, "the dataset folder"))
    found, missing = [], []
    for row in rows:
        path = index.find(stems(row))
        if path is None:
            missing.append(row.id)
        else:
            row.audio = path
            found.append(row)
    return LoadedDataset(rows=found, missing_audio=missing)


def load_audiocaps(root: Path, split: str | None = None) -> LoadedDataset:
    check_splits(split, AUDIOCAPS_SPLITS, "AudioCaps")
    clips: dict[str, ManifestRow] = {}
    for name in [split] if split else AUDIOCAPS_SPLITS:
        records = read_csv_records(root / f"{name}.csv", ["audiocap_id", "youtube_id", "start_time", "caption"],
                                   f"AudioCaps' {name}.csv")
        for record in records:
            youtube_id = record["youtube_id"]
            row = clips.setdefault(youtube_id, ManifestRow(
                audio=Path(youtube_id), split=name, id=youtube_id,
                extra={"start_time": _seconds(record["start_time"]), "audiocap_id": record["audiocap_id"]}))
            row.captions.append(record["caption"].strip())

    def stems(row: ManifestRow) -> list[str]:
        return [row.id, f"Y{row.id}", f"{row.id}_{row.extra['start_time']}", row.extra["audiocap_id"]]

    return _resolve(list(clips.values()), root, stems)


def load_vggsound(root: Path, split: str | None = None) -> LoadedDataset:
    check_splits(split, VGGSOUND_SPLITS, "VGGSound")
    records = read_csv_records(root / "vggsound.csv", ["ytid", "start", "label", "split"], "VGGSound's vggsound.csv",
                               fieldnames=["ytid", "start", "label", "split"])
    classes = sorted({readable_label(r["label"]) for r in records})
    rows = [
        ManifestRow(audio=Path(r["ytid"]), labels=[readable_label(r["label"])], split=r["split"].strip(),
                    id=f"{r['ytid']}_{int(float(r['start'])):06d}", extra={"start": _seconds(r["start"])})
        for r in records if split is None or r["split"].strip() == split
    ]

    def stems(row: ManifestRow) -> list[str]:
        ytid = row.id[:-7]
        return [row.id, f"{ytid}_{row.extra['start']}", ytid]

    loaded = _resolve(rows, root, stems)
    loaded.class_names = classes
    return loaded


def load_musiccaps(root: Path, split: str | None = None) -> LoadedDataset:
    check_splits(split, MUSICCAPS_SPLITS, "MusicCaps")
    records = read_csv_records(root / "musiccaps-public.csv", ["ytid", "start_s", "end_s", "caption"],
                               "MusicCaps' musiccaps-public.csv")
    rows = []
    for record in records:
        name = "eval" if record.get("is_audioset_eval", "").strip().lower() == "true" else "train"
        if split is None or name == split:
            rows.append(ManifestRow(
                audio=Path(record["ytid"]), captions=[record["caption"].strip()], split=name, id=record["ytid"],
                extra={"start_s": _seconds(record["start_s"]), "end_s": _seconds(record["end_s"]),
                       "aspect_list": record.get("aspect_list", "")}))

    def stems(row: ManifestRow) -> list[str]:
        start, end = row.extra["start_s"], row.extra["end_s"]
        return [row.id, f"Y{row.id}", f"{row.id}_{start}", f"{row.id}_{start}-{end}"]

    return _resolve(rows, root, stems)
