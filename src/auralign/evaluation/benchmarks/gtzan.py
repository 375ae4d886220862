"""GTZAN (Tzanetakis & Cook, 2002): 1000 30-second excerpts, 10 genres, 100 each.

Layout: ``<root>/genres/<genre>/<genre>.000NN.{au,wav}`` (the original archive), or
``<root>/genres_original/...`` / ``<root>/Data/genres_original/...`` (the common WAV re-release).
Without split lists every clip has split ``all``, the set zero-shot papers report on. Optional
fault-filtered split lists (Kereliuk et al., 2015; Sturm's artist-conditional filtering) at
``<root>/{train,valid,test}_filtered.txt``, one ``<genre>/<file>`` per line, give splits ``train``,
``valid``, ``test``; clips in no list are then left out, as the filtering intends.
"""

from __future__ import annotations

from pathlib import Path

from auralign.audio.io import AUDIO_EXTENSIONS
from auralign.data.manifest import ManifestRow
from auralign.errors import AuralignError
from auralign.evaluation.benchmarks.base import LAYOUT_HELP, LoadedDataset, first_existing, layout_error

GENRES = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock"]
FILTERED_SPLITS = ["train", "valid", "test"]


def _filtered_split_of(root: Path) -> dict[str, str] | None:
    """'<genre>/<stem>' -> split from the fault-filtered lists, or None when there are none."""
    lists = {name: root / f"{name}_filtered.txt" for name in FILTERED_SPLITS}
    if not any(path.is_file() for path in lists.values()):
        return None
    split_of = {}
    for name, path in lists.items():
        if not path.is_file():
            raise layout_error(path, "not found, while other fault-filtered split lists exist")
        for line in path.read_text().split():
            genre, _, file = line.strip().partition("/")
            split_of[f"{genre}/{Path(file).stem}"] = name
    return split_of


def load_gtzan(root: Path, split: str | None = None) -> LoadedDataset:
    genres_dir = first_existing([root / "genres", root / "genres_original", root / "Data" / "genres_original"],
                                "GTZAN's genre folders")
    split_of = _filtered_split_of(root)
    known = FILTERED_SPLITS if split_of is not None else ["all"]
    if split is not None and split not in known:
        raise AuralignError(f"GTZAN has no split {split!r} here; its splits are {', '.join(known)}"
                            + ("" if split_of else " (add the fault-filtered lists for train/valid/test)"))
    rows = []
    for genre in GENRES:
        folder = genres_dir / genre
        files = sorted(p for p in folder.glob(f"{genre}.*") if p.suffix.lower() in AUDIO_EXTENSIONS)
        if not files:
            raise AuralignError(f"{folder}: no {genre}.000NN audio files ({LAYOUT_HELP})")
        for file in files:
            name = "all" if split_of is None else split_of.get(f"{genre}/{file.stem}")
            if name is not None and (split is None or name == split):
                rows.append(ManifestRow(audio=file, labels=[genre], split=name, id=f"{genre}/{file.stem}"))
    return LoadedDataset(rows=rows, class_names=list(GENRES))
