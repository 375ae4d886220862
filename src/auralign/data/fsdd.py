"""The Free Spoken Digit Dataset (Jackson et al., CC BY-SA 4.0) as an auralign manifest.

Recordings are named `{digit}_{speaker}_{take}.wav`. Splits are by speaker, so that no speaker's
voice is in two splits: four speakers train, one validates (prompt and hyper-parameter choices),
one tests.
"""

from __future__ import annotations

import random
from pathlib import Path

from auralign.data.manifest import ManifestRow
from auralign.errors import AuralignError
from auralign.paths import shared_data_dir

DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
SPEAKER_SPLITS = {
    "george": "train", "jackson": "train", "lucas": "train", "nicolas": "train",
    "yweweler": "val", "theo": "test",
}
CAPTION_TEMPLATES = [
    "a person saying the word {word}",
    "someone says {word}",
    "a voice speaking the number {word}",
    "the spoken digit {word}",
    "a speaker says the word {word} once",
    "a single word, {word}, spoken aloud",
]


def fsdd_dir() -> Path:
    return shared_data_dir() / "fsdd" / "recordings"


def fsdd_rows(root: str | Path | None = None, seed: int = 0) -> list[ManifestRow]:
    """All FSDD recordings with digit-word labels, captions from templates and speaker splits."""
    root = Path(root) if root else fsdd_dir()
    files = sorted(root.glob("*_*_*.wav"))
    if not files:
        raise AuralignError(f"no FSDD recordings in {root}")
    rng = random.Random(seed)
    rows = []
    for file in files:
        digit, speaker, take = file.stem.split("_")
        word = DIGIT_WORDS[int(digit)]
        captions = [t.format(word=word) for t in rng.sample(CAPTION_TEMPLATES, 3)]
        rows.append(ManifestRow(audio=file, labels=[word], captions=captions,
                                split=SPEAKER_SPLITS.get(speaker, "train"), group=f"fsdd:{speaker}",
                                id=f"fsdd/{file.stem}", extra={"speaker": speaker, "take": take,
                                                               "source": "fsdd"}))
    return rows
