"""Drum and percussion names -> one shared vocabulary; Hydrogen drum kits labelled from drumkit.xml.

Every drum source (Hydrogen kits, LMMS, Sonic Pi, the GM percussion map) goes through
`drum_label`, so a snare from any of them is "snare drum" and training sees one class, not five.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from auralign.corpus.sources import DebianPackage, SourceClip

# Ordered: the first pattern found in the lower-cased name wins.
DRUM_RULES: tuple[tuple[str, str], ...] = (
    (r"(hat|hh).*(pedal|pd|foot)|pedal.*(hat|hh)", "pedal hi-hat"),
    (r"(hat|hh).*(open|opened|op\b|semi|free|swish|ring)|open.*(hat|hh)|ohh", "open hi-hat"),
    (r"hi-?hat|hihat|\bhh\b|\bchh\b|\bhat\b|closehihat", "closed hi-hat"),
    (r"ride.*(bell|cup)|paiste bell|crash/ride bell", "ride bell"),
    (r"ride", "ride cymbal"),
    (r"china|chinese", "chinese cymbal"),
    (r"splash", "splash cymbal"),
    (r"crash|cymbal|\bcra\b", "crash cymbal"),
    (r"rimshot|rim click|\brim\b|nasty rim", "rimshot"),
    (r"side ?stick|\bstick\b", "side stick"),
    (r"snare roll|drum roll", "drum roll"),
    (r"snare|\bsn\b", "snare drum"),
    (r"kick|bass ?drum|bassdrum|\bbd\d*\b", "kick drum"),
    (r"floor tom|tom floor", "floor tom"),
    (r"tom ?(hi|high)|tomhi|high tom|tom_hi", "high tom"),
    (r"tom ?(mid|middle)|middle tom|tom 2", "mid tom"),
    (r"tom ?(low|lo)\b|low tom|tom_low", "low tom"),
    (r"\btom", "tom-tom"),
    (r"clap", "hand clap"),
    (r"cowbell", "cowbell"),
    (r"tambourine", "tambourine"),
    (r"agogo", "agogo"),
    (r"bongo", "bongo"),
    (r"conga", "conga"),
    (r"timbale", "timbales"),
    (r"cajon", "cajon"),
    (r"clave", "claves"),
    (r"finger snap|\bsnap", "finger snapping"),
    (r"maraca", "maracas"),
    (r"shaker", "shaker"),
    (r"cabasa", "cabasa"),
    (r"guiro", "guiro"),
    (r"waterglass", "glass tap"),
    (r"wood ?block", "wood block"),
    (r"djembe", "djembe"),
    (r"dununba|kenkeni|sangban", "dundun drum"),
    (r"triangle", "triangle"),
    (r"whistle", "whistle"),
    (r"vibraslap", "vibraslap"),
    (r"cuica", "cuica"),
)
_COMPILED = tuple((re.compile(pattern), label) for pattern, label in DRUM_RULES)
HYDROGEN_KITS = "usr/share/hydrogen/data/drumkits"
GUITAR_STRUM_KIT = "belofilms_GuitarStrums"


def drum_label(name: str) -> str | None:
    """The shared drum label a free-text instrument name refers to, or None if it names none."""
    text = name.lower().replace("_", " ")
    return next((label for pattern, label in _COMPILED if pattern.search(text)), None)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def kit_instruments(drumkit_xml: Path) -> Iterator[tuple[str, list[str]]]:
    """(instrument name, sample file names) of each instrument of a Hydrogen drumkit.xml."""
    root = ET.parse(drumkit_xml).getroot()
    for element in root.iter():
        if _local(element.tag) != "instrument":
            continue
        name = next((child.text or "" for child in element if _local(child.tag) == "name"), "")
        files = [node.text for node in element.iter() if _local(node.tag) == "filename" and node.text]
        if name.strip() and files:
            yield name.strip(), files


def hydrogen_clips(packages: list[DebianPackage]) -> Iterator[SourceClip]:
    """Every sample of every kit whose instrument name maps to a drum label (or a guitar strum)."""
    for package in packages:
        for drumkit_xml in sorted((package.root / HYDROGEN_KITS).glob("*/drumkit.xml")):
            kit = drumkit_xml.parent
            for name, files in kit_instruments(drumkit_xml):
                is_strum = kit.name == GUITAR_STRUM_KIT
                label = "guitar strum" if is_strum else drum_label(name)
                if label is None:
                    continue
                chord = re.split(r"\s", name.strip("* "), maxsplit=1)[0] if is_strum else None
                for file in files:
                    path = kit / file
                    if path.is_file():
                        yield SourceClip(
                            path=path, labels=[label], group=f"hydrogen:{kit.name}:{chord or name}",
                            source=package.name, kind="instrument" if is_strum else "drum",
                            extra={"kit": kit.name, "instrument_name": name, **({"chord": chord} if chord else {})},
                        )
