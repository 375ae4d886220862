"""Speech: Asterisk's recorded English prompts (one female voice) and FSDD's spoken digits.

Asterisk prompt files are grouped into coarse, honest classes by folder: digits 0-9 share FSDD's
"spoken digit <word>" labels; other numbers, letters, the phonetic alphabet, weekdays and months get
one class each; tones are "beep"; every other prompt is "female speech". FSDD keeps its speaker
split (the split is carried as `extra["preset_split"]`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from auralign.data.corpus.sources import DebianPackage, SourceClip
from auralign.data.fsdd import fsdd_rows

ASTERISK_VOICE_DIR = "usr/share/asterisk/sounds/en_US_f_Allison"
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
TONES = frozenset({"beep", "beeperr", "ascending-2tone", "descending-2tone"})


def digit_label(word: str) -> str:
    return f"spoken digit {word}"


def asterisk_label(relative: Path) -> str | None:
    folder = relative.parts[0] if len(relative.parts) > 1 else ""
    stem = relative.stem
    if folder == "silence":
        return None
    if folder == "digits":
        if stem.isdigit() and int(stem) < 10:
            return digit_label(DIGIT_WORDS[int(stem)])
        if stem.startswith("day-"):
            return "spoken weekday"
        if stem.startswith("mon-"):
            return "spoken month name"
        return "spoken number" if stem.removeprefix("h-").isdigit() or stem in {
            "hundred", "thousand", "million", "billion", "h-hundred", "h-thousand", "h-million", "h-billion"
        } else "female speech"
    if folder == "letters":
        return "spoken letter" if len(stem) == 1 else "female speech"
    if folder == "phonetic":
        return "spoken phonetic alphabet"
    return "beep" if stem in TONES else "female speech"


def asterisk_clips(packages: list[DebianPackage]) -> Iterator[SourceClip]:
    for package in packages:
        root = package.root / ASTERISK_VOICE_DIR
        for path in sorted(root.rglob("*.wav")):
            relative = path.relative_to(root)
            label = asterisk_label(relative)
            if label:
                yield SourceClip(path=path, labels=[label], group=f"asterisk:{relative.with_suffix('')}",
                                 source=package.name, kind="effect" if label == "beep" else "speech",
                                 extra={"speaker": "allison", "prompt": relative.with_suffix("").as_posix()})


def fsdd_clips(_packages: list[DebianPackage], root: Path | None = None) -> Iterator[SourceClip]:
    """FSDD recordings with labels in the corpus vocabulary and their speaker split kept."""
    for row in fsdd_rows(root):
        yield SourceClip(path=row.audio, labels=[digit_label(row.labels[0])], group=row.group or row.id,
                         source="fsdd", kind="speech",
                         extra={"speaker": row.extra.get("speaker"), "preset_split": row.split})
