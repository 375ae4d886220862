"""Music sample packs: Sonic Pi's samples and LMMS's sample library, labelled from file names.

Each pack has a table of name prefixes (or folders) -> label and kind; names the table does not
cover are left out rather than guessed. LMMS's `shapes/` and `waveforms/` folders are synthetic
oscillator waveforms, not recordings, and are skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from auralign.audio.io import AUDIO_EXTENSIONS
from auralign.corpus.drums import drum_label
from auralign.corpus.sources import DebianPackage, SourceClip

SONIC_PI_DIR = "usr/share/sonic-pi/samples"
LMMS_DIR = "usr/share/lmms/samples"
LMMS_SYNTHETIC_FOLDERS = frozenset({"shapes", "waveforms"})

# (regex on the file stem, label, kind); first match wins; drums fall through to `drum_label`.
SONIC_PI_RULES: tuple[tuple[str, str, str], ...] = (
    (r"^drum_roll", "drum roll", "drum"),
    (r"^drum_cymbal_(hard|soft)", "crash cymbal", "drum"),
    (r"^drum_cymbal_open", "open hi-hat", "drum"),
    (r"^drum_cymbal_closed", "closed hi-hat", "drum"),
    (r"^drum_cymbal_pedal", "pedal hi-hat", "drum"),
    (r"^drum_(bass|heavy_kick)|^bd_|_kick$", "kick drum", "drum"),
    (r"snare|^sn_", "snare drum", "drum"),
    (r"^drum_", "", "drum"),
    (r"^elec_triangle", "triangle", "drum"),
    (r"^elec_(bell|chime)|^perc_bell", "bell", "effect"),
    (r"^elec_cymbal", "crash cymbal", "drum"),
    (r"^elec_(blip|beep|ping|plip|pop|tick|twip|flip|blup|bong|twang|wood|fuzz_tom|hollow)", "electronic blip", "effect"),
    (r"^tabla_|^loop_tabla", "tabla", "drum"),
    (r"^bass_", "synth bass", "instrument"),
    (r"^guit_", "electric guitar", "instrument"),
    (r"^ambi_choir", "choir", "vocal"),
    (r"^ambi_piano", "piano", "instrument"),
    (r"^ambi_glass", "glass harmonica", "instrument"),
    (r"^ambi_(drone|haunted_hum|soft_buzz|lunar_land|sauna)", "ambient drone", "ambience"),
    (r"^ambi_(swoosh|dark_woosh)|^perc_sw", "whoosh", "effect"),
    (r"^vinyl_(backspin|rewind|scratch)", "record scratch", "effect"),
    (r"^vinyl_hiss", "vinyl crackle", "ambience"),
    (r"^loop_(amen|breakbeat)", "breakbeat", "music"),
    (r"^loop_(3d_printer)", "3d printer", "effect"),
    (r"^loop_(industrial|compus|perc|safari|garzul|mika|weirdo|electric|mehackit)", "drum loop", "music"),
    (r"^misc_burp", "burp", "effect"),
    (r"^misc_crow", "crow", "effect"),
    (r"^misc_cineboom|^perc_impact", "impact boom", "effect"),
    (r"^perc_door", "door knock", "effect"),
    (r"^perc_snap", "finger snapping", "drum"),
    (r"^perc_till", "cash register", "effect"),
    (r"^mehackit_phone", "telephone ring", "effect"),
    (r"^mehackit_robot|^glitch_robot", "robot voice", "effect"),
    (r"^glitch_", "glitch", "effect"),
)

LMMS_RULES: tuple[tuple[str, str, str], ...] = (
    (r"^instruments/church_organ", "church organ", "instrument"),
    (r"^instruments/e_organ", "electric organ", "instrument"),
    (r"^instruments/e_piano", "electric piano", "instrument"),
    (r"^instruments/piano", "piano", "instrument"),
    (r"^instruments/harpsichord", "harpsichord", "instrument"),
    (r"^instruments/cello", "cello", "instrument"),
    (r"^instruments/violin_pizzicato", "pizzicato strings", "instrument"),
    (r"^instruments/violin", "violin", "instrument"),
    (r"^instruments/trumpet", "trumpet", "instrument"),
    (r"^instruments/flute", "flute", "instrument"),
    (r"^instruments/bassslap", "slap bass", "instrument"),
    (r"^instruments/steel_guitar_.*distorted", "distorted guitar", "instrument"),
    (r"^instruments/steel_guitar", "steel string guitar", "instrument"),
    (r"^latin/latin_guitar", "acoustic guitar", "instrument"),
    (r"^latin/latin_brass", "brass section", "instrument"),
    (r"^basses/", "synth bass", "instrument"),
    (r"^bassloops/", "bass loop", "music"),
    (r"^stringsnpads/(strings|orion_string|heaven_strings|space_strings)", "string ensemble", "instrument"),
    (r"^stringsnpads/(bell_choir|rave_choir|chorus)", "choir", "vocal"),
    (r"^stringsnpads/", "synth pad", "instrument"),
    (r"^beats/(break|jungle)", "breakbeat", "music"),
    (r"^beats/rave_(kick|snare|hihat)", "", "drum"),
    (r"^beats/", "drum loop", "music"),
    (r"^drums/zap", "electronic zap", "effect"),
    (r"^drums/clav", "claves", "drum"),
    (r"^drums/nasty_bass", "kick drum", "drum"),
    (r"^drums/wood", "wood block", "drum"),
    (r"^drums/", "", "drum"),
    (r"^effects/explode", "explosion", "effect"),
    (r"^effects/scratch", "record scratch", "effect"),
    (r"^effects/wind_chimes", "wind chimes", "effect"),
    (r"^effects/", "synth sweep", "effect"),
    (r"^misc/applause", "applause", "effect"),
    (r"^misc/breath", "breathing", "vocal"),
    (r"^misc/metronome", "metronome", "effect"),
    (r"^misc/raving_crowd", "crowd cheering", "ambience"),
    (r"^misc/(dong|metalish_dong)", "gong", "instrument"),
)


def _match(rules: tuple[tuple[str, str, str], ...], name: str) -> tuple[str, str] | None:
    for pattern, label, kind in rules:
        if re.search(pattern, name):
            label = label or drum_label(Path(name).name) or ""
            return (label, kind) if label else None
    return None


def _audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())


def sonic_pi_clips(packages: list[DebianPackage]) -> Iterator[SourceClip]:
    for package in packages:
        for path in _audio_files(package.root / SONIC_PI_DIR):
            found = _match(SONIC_PI_RULES, path.stem)
            if found:
                label, kind = found
                yield SourceClip(path=path, labels=[label], group=f"sonic-pi:{path.stem}",
                                 source=package.name, kind=kind)


def lmms_clips(packages: list[DebianPackage]) -> Iterator[SourceClip]:
    for package in packages:
        root = package.root / LMMS_DIR
        for path in _audio_files(root):
            relative = path.relative_to(root).as_posix()
            if relative.split("/")[0] in LMMS_SYNTHETIC_FOLDERS:
                continue
            found = _match(LMMS_RULES, relative)
            if found:
                label, kind = found
                yield SourceClip(path=path, labels=[label], group=f"lmms:{relative}",
                                 source=package.name, kind=kind)
