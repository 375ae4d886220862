"""Sound effects of free games: Wesnoth (default), and the large optional game-data packages.

Game sound files are named by what they are ("wolf-growl-2.ogg", "explosion.ogg"). Wesnoth's
unit sounds follow "<creature>-hit|die"; those become "<creature> pain cry" / "<creature> death
cry" with the creature's plain name, attacks become "<weapon> strike" (or "<weapon> whoosh" for a
miss). For the optional packages a file's label comes from its stem matched against
`EFFECT_KEYWORDS`; files that match no keyword are left out rather than given a made-up label.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from auralign.audio.io import AUDIO_EXTENSIONS
from auralign.data.corpus.sources import DebianPackage, SourceClip

WESNOTH_SOUNDS = "usr/share/games/wesnoth/1.16/data/core/sounds"

CREATURES = {
    "human-female": "woman", "human-old": "old man", "human": "man", "dwarf": "dwarf", "elf": "elf",
    "orc-small": "goblin", "orc": "orc", "goblin": "goblin", "troll": "troll", "ogre": "ogre",
    "skeleton-big": "skeleton", "skeleton": "skeleton", "zombie": "zombie", "lich": "lich",
    "naga": "naga", "mermaid": "mermaid", "mermen": "merman", "drake": "drake", "gryphon": "gryphon",
    "wolf": "wolf", "bat": "bat", "horse": "horse", "yeti": "yeti", "wose": "tree creature",
    "tusker": "boar", "ghoul": "ghoul",
}
WESNOTH_NAMES = {
    "bow": "arrow shot", "bow-puny": "arrow shot", "bow-fire": "arrow shot", "bow-puny-fire": "arrow shot",
    "crossbow": "crossbow shot", "crossbow-fire": "crossbow shot", "sling": "sling shot",
    "sling-big": "sling shot", "spear": "spear thrust", "sword": "sword strike", "axe": "axe strike",
    "hatchet": "axe strike", "mace": "mace strike", "flail": "flail strike", "club": "club strike",
    "staff": "staff strike", "dagger-swish": "whoosh", "knife": "knife stab", "throwing-knife": "knife throw",
    "fist": "punch", "mud-fist": "squelch", "mud-glob": "squelch", "claws": "claw scratch", "bite": "bite",
    "bite-small": "bite", "pincers": "pincer snap", "tail": "tail whip", "gunshot": "gunshot",
    "thunderstick": "musket shot", "dragonstick": "musket shot", "explosion": "explosion", "fuse": "burning fuse",
    "lightning": "thunder", "fire": "fire", "flame-big": "fire whoosh", "melee-fire": "fire whoosh",
    "torch": "torch swing", "throw": "throw whoosh", "net": "net throw", "ink": "squelch",
    "water-blast": "water splash", "cave-in": "rockfall", "rumble": "rumble", "gold": "coins",
    "open-chest": "chest opening", "horse-canter": "horse gallop", "horse-elf-canter": "horse gallop",
    "wolf-growl": "wolf growl", "gryphon-shriek": "bird of prey screech", "bat-flapping": "wing flapping",
    "dwarf-laugh": "laughter", "witches-laugh": "witch cackle", "groan": "groan", "ugg": "grunt",
    "wail": "wail", "wail-sml": "wail", "wail-long": "wail", "zombie-attack": "zombie groan",
    "tusker-charge": "boar charge", "wose-attack": "tree creature attack", "hiss": "hiss",
    "hiss-big": "hiss", "hiss-hit": "hiss", "squishy-strike": "squelch", "squishy-hit": "squelch",
    "magic-holy": "magic spell", "magic-dark": "magic spell", "magic-dark-big": "magic spell",
    "magic-faeriefire": "magic spell", "magic-missile": "magic spell", "magicmissile": "magic spell",
    "magic-thorns": "magic spell", "heal": "magic spell", "entangle": "magic spell", "petrified": "magic spell",
    "slowed": "magic spell", "poison": "magic spell", "potion": "potion bubbling",
    "birds": "birdsong", "morning": "birdsong", "night": "night insects", "campfire": "campfire",
    "wardrums": "war drums", "ship": "ship creaking", "horn": "horn signal", "bell": "bell",
    "fanfare-short": "fanfare", "button": "click", "checkbox": "click", "select": "click",
    "select-unit": "click", "slider": "click", "expand": "click", "contract": "click",
}
_NUMBER_SUFFIX = re.compile(r"-?\d+$")

# Optional game packages: (keyword regex on the lower-cased path, label, kind); first match wins.
EFFECT_KEYWORDS: tuple[tuple[str, str, str], ...] = (
    (r"footstep|\bstep", "footsteps", "effect"),
    (r"explo|blast|boom", "explosion", "effect"),
    (r"gunshot|\bgun|rifle|pistol|shot", "gunshot", "effect"),
    (r"cannon", "cannon", "effect"),
    (r"arrow|\bbow\b", "arrow shot", "effect"),
    (r"sword|blade|clash", "sword strike", "effect"),
    (r"thunder|lightning", "thunder", "ambience"),
    (r"rain", "rain", "ambience"),
    (r"wind", "wind", "ambience"),
    (r"wave|sea|ocean|surf", "ocean waves", "ambience"),
    (r"river|stream|water|splash", "water", "ambience"),
    (r"fire|flame|burn", "fire", "ambience"),
    (r"bird|seagull|gull|chirp", "birdsong", "effect"),
    (r"\bcow\b|moo", "cow moo", "effect"),
    (r"horse|neigh|gallop", "horse", "effect"),
    (r"\bdog|bark", "dog bark", "effect"),
    (r"sheep|baa", "sheep bleat", "effect"),
    (r"\bpig\b|oink", "pig oink", "effect"),
    (r"chicken|hen\b|rooster", "chicken", "effect"),
    (r"elephant", "elephant trumpet", "effect"),
    (r"lion|roar", "roar", "effect"),
    (r"wolf|howl", "wolf howl", "effect"),
    (r"camel", "camel", "effect"),
    (r"\bcat\b|meow", "cat meow", "effect"),
    (r"frog", "frog", "effect"),
    (r"insect|cricket|bee\b|buzz", "insects buzzing", "ambience"),
    (r"crowd|cheer|applause", "crowd cheering", "ambience"),
    (r"engine|motor", "engine", "effect"),
    (r"\bcar\b|horn_car|carhorn", "car", "effect"),
    (r"train|locomotive", "train", "effect"),
    (r"plane|aircraft|jet|helicopter", "aircraft", "effect"),
    (r"ship|boat", "boat", "effect"),
    (r"bell", "bell", "effect"),
    (r"door", "door", "effect"),
    (r"glass|shatter", "glass breaking", "effect"),
    (r"wood|chop", "wood chopping", "effect"),
    (r"hammer|anvil|forge", "hammering", "effect"),
    (r"coin|gold|money", "coins", "effect"),
    (r"scream|yell|shout", "shout", "vocal"),
    (r"laugh", "laughter", "vocal"),
    (r"cough", "cough", "vocal"),
    (r"snore", "snoring", "vocal"),
    (r"whoosh|swish|swoosh", "whoosh", "effect"),
    (r"click|button", "click", "effect"),
    (r"beep", "beep", "effect"),
    (r"crash|smash", "crash", "effect"),
    (r"skid|brake", "tire skid", "effect"),
    (r"siren", "siren", "effect"),
    (r"alarm", "alarm", "effect"),
    (r"splat|squish", "squelch", "effect"),
    (r"jump", "jump", "effect"),
    (r"pop\b", "pop", "effect"),
)
_EFFECT_RULES = tuple((re.compile(pattern), label, kind) for pattern, label, kind in EFFECT_KEYWORDS)
_KIND_OF = {"birdsong": "ambience", "night insects": "ambience", "campfire": "ambience", "ship creaking": "ambience",
            "rumble": "ambience", "war drums": "music", "fanfare": "music", "horn signal": "music"}


def wesnoth_label(stem: str) -> str | None:
    """Label of a Wesnoth sound file stem ("orc-small-die-2" -> "goblin death cry")."""
    base = _NUMBER_SUFFIX.sub("", stem.lower())
    if base == "miss" or base.endswith("-miss"):
        return "whoosh"
    if base in WESNOTH_NAMES:
        return WESNOTH_NAMES[base]
    for suffix, cry in (("-hit", "pain cry"), ("-die", "death cry")):
        creature = CREATURES.get(base.removesuffix(suffix)) if base.endswith(suffix) else None
        if creature:
            return f"{creature} {cry}"
    return None


def _audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())


def wesnoth_clips(packages: list[DebianPackage]) -> Iterator[SourceClip]:
    for package in packages:
        for path in _audio_files(package.root / WESNOTH_SOUNDS):
            label = wesnoth_label(path.stem)
            if label:
                kind = "vocal" if "cry" in label else _KIND_OF.get(label, "effect")
                yield SourceClip(path=path, labels=[label], group=f"wesnoth:{path.stem}",
                                 source=package.name, kind=kind)


def effect_label(relative_path: str) -> tuple[str, str] | None:
    """(label, kind) of an optional game's sound file from keywords in its path, or None."""
    text = relative_path.lower().replace("_", " ").replace("-", " ")
    return next(((label, kind) for pattern, label, kind in _EFFECT_RULES if pattern.search(text)), None)


def game_effect_clips(packages: list[DebianPackage]) -> Iterator[SourceClip]:
    """Clips of a large optional game-data package, labelled by `effect_label` (music excluded)."""
    for package in packages:
        for path in _audio_files(package.root / "usr"):
            relative = path.relative_to(package.root).as_posix()
            if "/music/" in relative.lower():
                continue
            found = effect_label(Path(relative).name if "/" in relative else relative)
            if found:
                label, kind = found
                yield SourceClip(path=path, labels=[label], group=f"{package.name}:{relative}",
                                 source=package.name, kind=kind)
