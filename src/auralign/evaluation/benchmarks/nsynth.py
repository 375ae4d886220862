"""NSynth (Engel et al., 2017): 4-second notes, labelled by instrument family and source.

Layout: ``<root>/nsynth-{train,valid,test}/examples.json`` (one object per note, keyed by
``note_str``, with ``instrument_family_str``, ``instrument_source_str``, ``instrument_str``) and the
notes in ``<root>/nsynth-<split>/audio/<note_str>.wav``. Splits: ``train``, ``valid``, ``test``.
Two label sets: the 11 instrument families (``nsynth``) and the 3 sources (``nsynth-source``); notes
of one instrument share a row ``group``.
"""

from __future__ import annotations

import json
from pathlib import Path

from auralign.data.manifest import ManifestRow
from auralign.evaluation.benchmarks.base import (
    LoadedDataset,
    check_splits,
    layout_error,
    readable_label,
    require_audio,
    require_file,
)

SPLITS = ["train", "valid", "test"]
FAMILIES = ["bass", "brass", "flute", "guitar", "keyboard", "mallet", "organ", "reed", "string", "synth_lead",
            "vocal"]
SOURCES = ["acoustic", "electronic", "synthetic"]
FIELD = {"family": "instrument_family_str", "source": "instrument_source_str"}


def _examples(path: Path) -> dict[str, dict]:
    require_file(path, "NSynth's examples.json")
    try:
        examples = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise layout_error(path, f"not valid JSON ({error.msg})") from None
    if not isinstance(examples, dict):
        raise layout_error(path, "expected one object keyed by note_str")
    return examples


def load_nsynth(root: Path, split: str | None = None, target: str = "family") -> LoadedDataset:
    check_splits(split, SPLITS, "NSynth")
    rows = []
    for name in [split] if split else SPLITS:
        folder = root / f"nsynth-{name}"
        path = folder / "examples.json"
        for note, example in _examples(path).items():
            if FIELD[target] not in example:
                raise layout_error(path, f"note {note} has no {FIELD[target]}")
            rows.append(ManifestRow(audio=folder / "audio" / f"{note}.wav",
                                    labels=[readable_label(example[FIELD[target]])], split=name,
                                    group=example.get("instrument_str"), id=note))
    classes = FAMILIES if target == "family" else SOURCES
    return LoadedDataset(rows=require_audio(rows, "NSynth"), class_names=[readable_label(c) for c in classes])


def load_nsynth_source(root: Path, split: str | None = None) -> LoadedDataset:
    return load_nsynth(root, split, target="source")
