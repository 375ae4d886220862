"""MATS's text-only training rows (text, instruction, answer, task), shaped like its Table S8.

* cls: an LLM description of a label -> "Classify events in the audio clip." -> the label; also the
  corpus's own captions of a label -> the label.
* sound_cap / music_cap: a caption -> "Generate audio/music caption." -> the same caption. Captions
  come from AudioCaps train and Clotho development (the shared caption files; AudioCaps val/test
  are left out so they stay usable for evaluation) and from the corpus; captions about music go to
  music_cap.
* aqa: simple questions answered from a labelled caption (what is it, is there X: yes/no).

Labels in `exclude_labels` (the unseen-label test classes) never appear in any row.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from auralign.data.manifest import ManifestRow

CLS_INSTRUCTION = "Classify events in the audio clip."
SOUND_CAP_INSTRUCTION = "Generate audio caption."
MUSIC_CAP_INSTRUCTION = "Generate music caption."
MUSIC_WORDS = re.compile(r"\b(music|song|melody|singing|sings|guitar|piano|drum|drums|violin|orchestra|"
                         r"band|chord|tune|instrument|note|notes|flute|trumpet|organ|choir)\b", re.IGNORECASE)
CAPTION_FILES = ("audiocaps_train.csv", "clotho_development_captions.csv")


def shared_captions(captions_dir: Path) -> Iterator[str]:
    """Caption texts of the shared AudioCaps train and Clotho development files (when present)."""
    for name in CAPTION_FILES:
        path = captions_dir / name
        if not path.is_file():
            continue
        with open(path, encoding="utf-8", newline="") as handle:
            for record in csv.DictReader(handle):
                for key, value in record.items():
                    if key and key.startswith("caption") and value and value.strip():
                        yield " ".join(value.split())


def caption_rows(captions: Sequence[str]) -> Iterator[dict[str, str]]:
    for caption in dict.fromkeys(captions):
        music = bool(MUSIC_WORDS.search(caption))
        yield {"text": caption, "instruction": MUSIC_CAP_INSTRUCTION if music else SOUND_CAP_INSTRUCTION,
               "answer": caption, "task": "music_cap" if music else "sound_cap"}


def classification_rows(descriptions: dict[str, str], rows: Sequence[ManifestRow],
                        exclude: set[str]) -> Iterator[dict[str, str]]:
    for label, description in sorted(descriptions.items()):
        if label not in exclude and description:
            yield {"text": description, "instruction": CLS_INSTRUCTION, "answer": label, "task": "cls"}
    seen: set[tuple[str, str]] = set()
    for row in rows:
        if set(row.labels) & exclude or not row.labels:
            continue
        answer = ", ".join(row.labels)
        for caption in row.captions[1:]:  # the first is the label template: it would give the answer away
            if (caption, answer) not in seen:
                seen.add((caption, answer))
                yield {"text": caption, "instruction": CLS_INSTRUCTION, "answer": answer, "task": "cls"}


def qa_rows(rows: Sequence[ManifestRow], exclude: set[str], seed: int = 0) -> Iterator[dict[str, str]]:
    labels = sorted({label for row in rows for label in row.labels} - exclude)
    rng = np.random.default_rng([seed, 11])
    for row in rows:
        if set(row.labels) & exclude or not row.labels or len(row.captions) < 2:
            continue
        text = row.captions[1]
        yield {"text": text, "instruction": "What is making this sound?", "answer": row.labels[0], "task": "aqa"}
        other = labels[int(rng.integers(len(labels)))]
        asked, answer = (row.labels[0], "yes") if rng.random() < 0.5 else (other, "no" if other not in row.labels
                                                                            else "yes")
        yield {"text": text, "instruction": f"Is there {asked} in this audio?", "answer": answer, "task": "aqa"}
        if len(row.labels) > 1:
            yield {"text": text, "instruction": "How many different sounds can be heard?",
                   "answer": str(len(row.labels)), "task": "aqa"}


def build_text_corpus(descriptions: dict[str, str], rows: Sequence[ManifestRow], captions_dir: Path,
                      exclude_labels: Sequence[str], seed: int = 0) -> list[dict[str, str]]:
    exclude = set(exclude_labels)
    train_rows = [row for row in rows if row.split == "train" and not set(row.labels) & exclude]
    corpus_captions = [c for row in train_rows for c in row.captions[1:]]
    out = list(classification_rows(descriptions, train_rows, exclude))
    out += caption_rows([*shared_captions(captions_dir), *corpus_captions])
    out += qa_rows(train_rows, exclude, seed)
    return out
