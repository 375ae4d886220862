"""A clean label vocabulary: normalisation of package names, and the AudioSet display name that fits.

Labels are lower-case words separated by single spaces ("closed hi-hat", "acoustic grand piano").
`audioset_name` maps a label to one AudioSet display name (`../shared/data/labels/`) when one
fits: an explicit synonym first, then an exact match with one of a display name's comma-separated
parts, then the longest part that ends the label on a word boundary ("jazz snare drum" -> "Snare
drum"). Labels with no sensible match (a fantasy creature's cry) map to None.
"""

from __future__ import annotations

import csv
import re
from functools import cache
from pathlib import Path

from auralign.paths import shared_data_dir

_SEPARATORS = re.compile(r"[_\s]+")
_TRAILING_NUMBER = re.compile(r"[\s_-]*\d+[a-z]?$")
_SYMBOLS = re.compile(r"[^\w\s-]")

# Labels whose AudioSet name cannot be found from their words alone.
AUDIOSET_SYNONYMS: dict[str, str] = {
    "kick drum": "Bass drum",
    "closed hi-hat": "Hi-hat",
    "open hi-hat": "Hi-hat",
    "pedal hi-hat": "Hi-hat",
    "high tom": "Drum",
    "mid tom": "Drum",
    "low tom": "Drum",
    "floor tom": "Drum",
    "crash cymbal": "Cymbal",
    "ride cymbal": "Cymbal",
    "splash cymbal": "Cymbal",
    "chinese cymbal": "Cymbal",
    "ride bell": "Cymbal",
    "side stick": "Rimshot",
    "hand clap": "Clapping",
    "female speech": "Female speech, woman speaking",
    "male speech": "Male speech, man speaking",
    "birdsong": "Bird vocalization, bird call, bird song",
    "record scratch": "Scratching (performance technique)",
    "vinyl crackle": "Crackle",
    "synth bass": "Synthesizer",
    "synth pad": "Synthesizer",
    "synth lead": "Synthesizer",
    "electronic zap": "Zing",
    "breakbeat": "Drum kit",
    "drum loop": "Drum kit",
    "campfire": "Fire",
    # labels of the large optional game packages (game_rules*.py, games_0ad.py)
    "glass breaking": "Shatter",
    "boiling water": "Boiling",
    "mosquito buzzing": "Mosquito",
    "drilling": "Drill",
    "fan": "Mechanical fan",
    "hinge creaking": "Creak",
    "wood creaking": "Creak",
    "dishes clattering": "Dishes, pots, and pans",
    "frying": "Frying (food)",
    "wing flapping": "Bird flight, flapping wings",
    "chain rattling": "Rattle",
    "hammering": "Hammer",
    "blacksmith hammering": "Hammer",
    "anvil strike": "Hammer",
    "musket shot": "Gunshot, gunfire",
    "arrow shot": "Arrow",
    "bubbling": "Gurgling",
    "bird of prey screech": "Bird vocalization, bird call, bird song",
    "daytime nature ambience": "Outside, rural or natural",
    "night nature ambience": "Outside, rural or natural",
    "death cry": "Screaming",
    "police car siren": "Police car (siren)",
    "fire truck siren": "Fire engine, fire truck (siren)",
    "crickets": "Cricket",
    "cicadas": "Insect",
    "frog croaking": "Croak",
    "seagull call": "Bird vocalization, bird call, bird song",
    "ship horn": "Foghorn",
    "propeller plane engine": "Propeller, airscrew",
    "city street ambience": "Outside, urban or manmade",
    "forest ambience": "Outside, rural or natural",
    "crowd booing": "Crowd",
    "door opening": "Door",
    "door closing": "Door",
    "metal door opening": "Door",
    "metal door closing": "Door",
    "hammering metal": "Hammer",
    "circular saw": "Power tool",
    "factory machinery": "Mechanisms",
    "arrow flying": "Arrow",
    "arrow impact": "Arrow",
    "arrow hitting dirt": "Arrow",
    "arrow hitting metal": "Arrow",
    "arrow hitting stone": "Arrow",
    "arrow hitting wood": "Arrow",
    "ball bounce": "Bouncing",
    "bee buzzing": "Bee, wasp, etc.",
    "bowling ball rolling": "Roll",
    "building collapse": "Breaking",
    "camel grunt": "Livestock, farm animals, working animals",
    "camera shutter": "Camera",
    "cannon fire": "Artillery fire",
    "mortar fire": "Artillery fire",
    "chopping wood": "Chop",
    "sawing wood": "Sawing",
    "hammering wood": "Hammer",
    "clock ticking": "Tick-tock",
    "elephant trumpet": "Wild animals",
    "flamingo call": "Bird vocalization, bird call, bird song",
    "peacock call": "Bird vocalization, bird call, bird song",
    "horse hooves": "Clip-clop",
    "horse death cry": "Horse",
    "pig grunt": "Oink",
    "shotgun shot": "Gunshot, gunfire",
    "river": "Stream",
    "scream": "Screaming",
    "snowstorm": "Wind",
    "wind in leaves": "Rustling leaves",
    "farmyard ambience": "Outside, rural or natural",
    "temperate countryside ambience": "Outside, rural or natural",
    "tropical forest ambience": "Outside, rural or natural",
    "harbour ambience": "Outside, urban or manmade",
    "marketplace ambience": "Outside, urban or manmade",
    "tire skid": "Skidding",
    "metal shield hit": "Clang",
    "wooden shield hit": "Thump, thud",
    "whip crack": "Whip",
}


def normalise_label(raw: str) -> str:
    """'Snare_Jazz 02' -> 'snare jazz'; keeps hyphens inside words ('hi-hat'), drops other symbols."""
    text = _TRAILING_NUMBER.sub("", raw.strip())
    text = _SYMBOLS.sub(" ", text.replace("_", " "))
    return _SEPARATORS.sub(" ", text).strip(" -").lower()


@cache
def _audioset_parts(path: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    file = Path(path)
    if not file.is_file():
        return parts
    with open(file, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            name = row["display_name"]
            for part in name.split(","):
                parts.setdefault(part.strip().lower(), name)
    return parts


def audioset_labels_file() -> Path:
    return shared_data_dir() / "labels" / "audioset_class_labels_indices.csv"


def audioset_name(label: str, labels_file: Path | None = None) -> str | None:
    """The AudioSet display name that fits `label`, or None."""
    parts = _audioset_parts(str(labels_file or audioset_labels_file()))
    if not parts:
        return None
    synonym = AUDIOSET_SYNONYMS.get(label)
    if synonym is not None:
        return synonym
    if label in parts:
        return parts[label]
    if label.startswith(("spoken ", "speech")):
        return "Speech"
    words = label.split()
    for start in range(1, len(words)):
        tail = " ".join(words[start:])
        if tail in parts:
            return parts[tail]
    return None
