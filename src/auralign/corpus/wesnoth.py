"""Wesnoth's sound effects (a default source).

Game sound files are named by what they are ("wolf-growl-2.ogg", "explosion.ogg"). Wesnoth's
unit sounds follow "<creature>-hit|die"; those become "<creature> pain cry" / "<creature> death
cry" with the creature's plain name, attacks become "<weapon> strike" (or "<weapon> whoosh" for a
miss). The large optional game packages are labelled by reviewed per-package path rules
(`packages.PACKAGES`); files no rule labels are left out rather than given a guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from auralign.corpus.path_rules import audio_files
from auralign.corpus.sources import DebianPackage, SourceClip

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


def wesnoth_clips(packages: list[DebianPackage]) -> Iterator[SourceClip]:
    for package in packages:
        for path in audio_files(package.root / WESNOTH_SOUNDS):
            label = wesnoth_label(path.stem)
            if label:
                kind = "vocal" if "cry" in label else _KIND_OF.get(label, "effect")
                yield SourceClip(path=path, labels=[label], group=f"wesnoth:{path.stem}",
                                 source=package.name, kind=kind)
