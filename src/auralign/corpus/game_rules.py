"""Reviewed path rules for the large optional game-data packages: which sound file is what.

Each package has a table of (regex, label, kind) rules matched in order with `re.fullmatch`
against the file's path below the package's sound folder, lower-cased, without its extension.
The first rule that matches decides; a rule with label None excludes the file on purpose (music,
interface blips, synthetic or unclear sounds), and a file no rule matches is left out too. The
tables were written from the actual file lists of the Debian packages (see docs/corpus.md for what
was excluded and why); the 0ad table lives in `games_0ad.py` because its audio sits in a zip.

Numbered variants of one sound ("fs_grass1".."fs_grass8", "ow1".."ow4") are often cut from one
recording session, so they share a group (folder + stem without its number): the splits never
put two variants of one sound on both sides.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from auralign.audio.io import AUDIO_EXTENSIONS
from auralign.corpus.sources import DebianPackage, SourceClip

Rule = tuple[str, str | None, str]


@dataclass(frozen=True)
class GameSounds:
    """Where a package keeps its sounds and the rules that label them."""

    sound_dir: str  # below the package root
    rules: tuple[Rule, ...]
    group_by_folder: bool = True  # False when one recording is shipped in several folders


class RuleTable:
    """Compiled rules of one package: `label(relative)` -> (label, kind) or None.

    A label may use the pattern's groups (r"\\1 footsteps").
    """

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = [(re.compile(pattern), label, kind) for pattern, label, kind in rules]

    def label(self, relative: str) -> tuple[str, str] | None:
        key = str(Path(relative.lower()).with_suffix(""))
        for pattern, label, kind in self.rules:
            match = pattern.fullmatch(key)
            if match:
                return (match.expand(label), kind) if label else None
        return None


_VARIANT_NUMBER = re.compile(r"[\s_-]*\d+[a-z]?$")


def variant_group(relative: str, by_folder: bool = True) -> str:
    """Group of a sound file: its stem without a variant number, inside its folder."""
    path = Path(relative.lower())
    stem = _VARIANT_NUMBER.sub("", path.stem) or path.stem
    return f"{path.parent.as_posix()}/{stem}" if by_folder else stem


def audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())


def rule_clips(package: DebianPackage, folder: Path, sounds: GameSounds) -> Iterator[SourceClip]:
    """Clips of the audio files under `folder` that `sounds.rules` label."""
    table = RuleTable(sounds.rules)
    for path in audio_files(folder):
        relative = path.relative_to(folder).as_posix()
        found = table.label(relative)
        if found:
            label, kind = found
            yield SourceClip(path=path, labels=[label], source=package.name, kind=kind,
                             group=f"{package.name}:{variant_group(relative, sounds.group_by_folder)}")


_STK_SFX: tuple[Rule, ...] = (
    (r"sfx/wilhelmscream", "scream", "vocal"),
    (r"sfx/airplane_jetengine", "jet engine", "effect"),
    (r"sfx/ball_bounce", "ball bounce", "effect"),
    (r"sfx/bowling_roll", "bowling ball rolling", "effect"),
    (r"sfx/car_(accel|revup)", "car engine revving", "effect"),
    (r"sfx/clock", "clock ticking", "effect"),
    (r"sfx/crash\d*", "crash", "effect"),
    (r"sfx/engine_(large|small)", "engine", "effect"),
    (r"sfx/exotic-birds(_\d+)?", "birdsong", "ambience"),
    (r"sfx/explosion", "explosion", "effect"),
    (r"sfx/fireworks_show", "fireworks", "effect"),
    (r"sfx/horn", "car horn", "effect"),
    (r"sfx/metal_clang", "metal clang", "effect"),
    (r"sfx/rain", "rain", "ambience"),
    (r"sfx/river_loop", "river", "ambience"),
    (r"sfx/waterfall_loop_\d+", "waterfall", "ambience"),
    (r"sfx/skid|karts/[^/]+/skid", "tire skid", "effect"),
    (r"sfx/splash", "water splash", "effect"),
    (r"sfx/static-radio", "radio static", "effect"),
    (r"sfx/thunder", "thunder", "ambience"),
    (r"sfx/ugh", "grunt", "vocal"),
    (r"tracks/black_forest/cow", "cow moo", "effect"),
    (r"tracks/scotland/sheep", "sheep bleat", "effect"),
    (r"(tracks/black_forest|library/stklib_steamlocomotive_a)/steamlocomotive", "steam train", "effect"),
)
# Hedgewars' effects are mostly cartoon weapons; its 15 voice packs read the same script, and only
# the non-verbal lines are labelled (pack "robot" is pitch-processed and left out entirely).
_HEDGEWARS: tuple[Rule, ...] = (
    (r"voices/robot/.*", None, ""),
    (r"voices/[^/]+/laugh", "laughter", "vocal"),
    (r"voices/[^/]+/(ooff\d|ow\d|ouch)", "pain grunt", "vocal"),
    (r"voices/[^/]+/poisoncough", "cough", "vocal"),
    (r"voices/[^/]+/poisonmoan", "moan", "vocal"),
    (r"bee", "bee buzzing", "effect"),
    (r"droplet\d", "water drip", "effect"),
    (r"explosion", "explosion", "effect"),
    (r"minigun", "machine gun", "effect"),
    (r"shotgunfire", "shotgun shot", "effect"),
    (r"shotgunreload", "shotgun reload", "effect"),
    (r"sniperreload", "rifle bolt action", "effect"),
    (r"shutterclick", "camera shutter", "effect"),
    (r"splash", "water splash", "effect"),
    (r"steam", "steam hiss", "effect"),
    (r"steps", "footsteps", "effect"),
    (r"whipcrack", "whip crack", "effect"),
    (r"whistle", "whistle", "effect"),
)
_FREECIV: tuple[Rule, ...] = (
    (r"stdsounds/(lrg|med)can", "cannon fire", "effect"),
    (r"stdsounds/(lrg|sml)expl", "explosion", "effect"),
    (r"stdsounds/mg(bar\d|heavy)", "machine gun", "effect"),
    (r"stdsounds/mortar", "mortar fire", "effect"),
    (r"stdsounds/splash", "water splash", "effect"),
    (r"stdsounds/foot\d", "footsteps", "effect"),
    (r"stdsounds/woodbrk", "wood breaking", "effect"),
)
_EXTREMETUXRACER: tuple[Rule, ...] = (
    (r"sounds/(grass|ice|leaves|mud|rock|snow)_slide", "sliding", "effect"),
    (r"sounds/tree_hit", "thud", "effect"),
)
_PINGUS: tuple[Rule, ...] = (
    (r"data/sounds/chink", "chink", "effect"),
    (r"data/sounds/plop\d?", "plop", "effect"),
    (r"data/sounds/splash", "water splash", "effect"),
    (r"data/sounds/tick", "tick", "effect"),
)
_FROZEN_BUBBLE: tuple[Rule, ...] = (
    (r"applause", "applause", "ambience"),
    (r"snore", "snoring", "vocal"),
    (r"typewriter", "typewriter", "effect"),
)

PACKAGE_SOUNDS: dict[str, GameSounds] = {
    "supertuxkart-data": GameSounds("usr/share/games/supertuxkart/data", _STK_SFX, group_by_folder=False),
    "hedgewars-data": GameSounds("usr/share/games/hedgewars/Data/Sounds", _HEDGEWARS),
    "freeciv-data": GameSounds("usr/share/games/freeciv", _FREECIV),
    "extremetuxracer-data": GameSounds("usr/share/games/etr", _EXTREMETUXRACER),
    "pingus-data": GameSounds("usr/share/games/pingus", _PINGUS),
    "frozen-bubble-data": GameSounds("usr/share/games/frozen-bubble/snd", _FROZEN_BUBBLE),
}
