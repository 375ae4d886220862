"""Manifests: the list of clips a command reads, as CSV or JSONL.

Columns (CSV) or keys (JSONL):
- `audio` (required): a path, absolute or relative to the manifest's folder;
- `labels`: a list (JSONL) or a `;`-separated string (CSV);
- `caption` / `captions` (JSONL list) or `caption_1` ... `caption_N` (CSV);
- `split`: e.g. train / val / test / test_unseen;
- `group`: what must stay inside one split (a speaker, a source recording, a mixture's sources);
- `id`: a stable clip id (defaults to the audio path as written).
Any other column is kept in `extra`.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from auralign.errors import AuralignError

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".opus")
_CAPTION_COLUMN = re.compile(r"^caption_(\d+)$")
_KNOWN = {"audio", "labels", "caption", "captions", "split", "group", "id"}


@dataclass
class ManifestRow:
    audio: Path
    labels: list[str] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)
    split: str | None = None
    group: str | None = None
    id: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.id:
            self.id = str(self.audio)


def read_manifest(path: str | Path, split: str | None = None) -> list[ManifestRow]:
    """Read a CSV or JSONL manifest; relative audio paths resolve against the manifest's folder."""
    path = Path(path)
    if not path.is_file():
        raise AuralignError(f"manifest not found: {path}")
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".json"):
        rows = list(_read_jsonl(path))
    elif suffix in (".csv", ".tsv"):
        rows = list(_read_csv(path, delimiter="\t" if suffix == ".tsv" else ","))
    else:
        raise AuralignError(f"{path}: manifest must be .csv, .tsv or .jsonl")
    if split is not None:
        rows = [row for row in rows if row.split == split]
    if not rows:
        raise AuralignError(f"{path}: no rows" + (f" in split {split!r}" if split else ""))
    return rows


def _resolve(audio: str, base: Path) -> Path:
    candidate = Path(audio).expanduser()
    return candidate if candidate.is_absolute() else (base / candidate)


def _split_labels(value: str) -> list[str]:
    return [part.strip() for part in value.split(";") if part.strip()]


def _read_jsonl(path: Path) -> Iterable[ManifestRow]:
    base = path.parent
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise AuralignError(f"{path}:{number}: invalid JSON ({error.msg})") from None
            if not isinstance(record, dict) or not record.get("audio"):
                raise AuralignError(f"{path}:{number}: each row needs an 'audio' path")
            labels = record.get("labels") or []
            if isinstance(labels, str):
                labels = _split_labels(labels)
            captions = record.get("captions") or ([record["caption"]] if record.get("caption") else [])
            yield ManifestRow(
                audio=_resolve(str(record["audio"]), base),
                labels=[str(label) for label in labels],
                captions=[str(caption) for caption in captions],
                split=record.get("split"),
                group=None if record.get("group") is None else str(record["group"]),
                id=str(record.get("id") or record["audio"]),
                extra={k: v for k, v in record.items() if k not in _KNOWN},
            )


def _read_csv(path: Path, delimiter: str) -> Iterable[ManifestRow]:
    base = path.parent
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        if not reader.fieldnames or "audio" not in reader.fieldnames:
            raise AuralignError(f"{path}: the header needs an 'audio' column")
        caption_columns = sorted(
            (c for c in reader.fieldnames if _CAPTION_COLUMN.match(c)),
            key=lambda c: int(_CAPTION_COLUMN.match(c).group(1)),  # type: ignore[union-attr]
        )
        if "caption" in reader.fieldnames:
            caption_columns.insert(0, "caption")
        for number, record in enumerate(reader, 2):
            if not (record.get("audio") or "").strip():
                raise AuralignError(f"{path}:{number}: empty 'audio' value")
            yield ManifestRow(
                audio=_resolve(record["audio"].strip(), base),
                labels=_split_labels(record.get("labels") or ""),
                captions=[record[c].strip() for c in caption_columns if (record.get(c) or "").strip()],
                split=(record.get("split") or None),
                group=(record.get("group") or None),
                id=(record.get("id") or record["audio"]).strip(),
                extra={k: v for k, v in record.items()
                       if k not in _KNOWN and not _CAPTION_COLUMN.match(k) and v not in (None, "")},
            )


def _relative_to(path: Path, base: Path) -> str:
    try:
        return str(path.resolve().relative_to(base.resolve()))
    except ValueError:
        return str(path.resolve())


def write_manifest(rows: Iterable[ManifestRow], path: str | Path) -> Path:
    """Write JSONL (or CSV by extension) with audio paths relative to the manifest where possible."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = list(rows)
    base = path.parent
    tmp = path.with_name(path.name + ".tmp")
    if path.suffix.lower() == ".csv":
        _write_csv(rows, tmp, base)
    else:
        with open(tmp, "w", encoding="utf-8") as handle:
            for row in rows:
                record: dict[str, object] = {"id": row.id, "audio": _relative_to(row.audio, base)}
                if row.labels:
                    record["labels"] = row.labels
                if row.captions:
                    record["captions"] = row.captions
                if row.split:
                    record["split"] = row.split
                if row.group:
                    record["group"] = row.group
                record.update(row.extra)
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path


def _write_csv(rows: list[ManifestRow], path: Path, base: Path) -> None:
    n_captions = max((len(row.captions) for row in rows), default=0)
    extra_keys = sorted({key for row in rows for key in row.extra})
    header = ["id", "audio", "labels", "split", "group"]
    header += [f"caption_{i + 1}" for i in range(n_captions)] + extra_keys
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            captions = row.captions + [""] * (n_captions - len(row.captions))
            writer.writerow([row.id, _relative_to(row.audio, base), ";".join(row.labels), row.split or "",
                             row.group or "", *captions, *[row.extra.get(k, "") for k in extra_keys]])


def rows_from_folder(root: str | Path) -> list[ManifestRow]:
    """One row per audio file under `root`; its label is the name of its sub-folder (if any)."""
    root = Path(root)
    if not root.is_dir():
        raise AuralignError(f"not a folder: {root}")
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS)
    if not files:
        raise AuralignError(f"{root}: no audio files ({', '.join(AUDIO_EXTENSIONS)})")
    rows = []
    for file in files:
        relative = file.relative_to(root)
        labels = [relative.parts[0].replace("_", " ")] if len(relative.parts) > 1 else []
        rows.append(ManifestRow(audio=file, labels=labels, id=str(relative)))
    return rows


def label_vocabulary(rows: Iterable[ManifestRow]) -> list[str]:
    """Sorted set of labels found in the rows: the default class list of zero-shot evaluation."""
    return sorted({label for row in rows for label in row.labels})
