"""Isolated notes of FluidR3 GM (real sampled instruments) rendered with fluidsynth, NSynth-style.

For each General MIDI program one small MIDI file is written (with `write_midi`, a minimal
format-0 writer) holding a seeded set of notes across the instrument's range, velocities and
durations, one after another with a release gap; fluidsynth renders it dry (reverb and chorus off)
in one call, and the render is cut back into one clip per note. The percussion kits are rendered the
same way on MIDI channel 10. A rendered note is labelled with its instrument; `extra` carries the
NSynth-style fields (instrument, family, pitch, velocity, duration). Notes of one instrument in one
octave form a group (they are rendered from the same few sound-font samples).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from auralign.data.corpus.drums import drum_label
from auralign.data.corpus.sources import DebianPackage, SourceClip
from auralign.errors import AuralignError

SOUNDFONT = "usr/share/sounds/sf2/FluidR3_GM.sf2"
RENDER_RATE = 44100
RELEASE_SECONDS = 1.0
MS_PER_TICK = 1  # tempo 1,000,000 us per quarter at 1000 ticks per quarter

# General MIDI programs 0-127 as clean labels (GM names with the numbering folded away).
GM_PROGRAMS: tuple[str, ...] = (
    "acoustic grand piano", "bright acoustic piano", "electric grand piano", "honky-tonk piano",
    "electric piano", "electric piano", "harpsichord", "clavinet",
    "celesta", "glockenspiel", "music box", "vibraphone", "marimba", "xylophone", "tubular bells", "dulcimer",
    "drawbar organ", "percussive organ", "rock organ", "church organ", "reed organ", "accordion", "harmonica",
    "tango accordion",
    "nylon string guitar", "steel string guitar", "jazz guitar", "clean electric guitar", "muted electric guitar",
    "overdriven guitar", "distorted guitar", "guitar harmonics",
    "acoustic bass", "fingered electric bass", "picked electric bass", "fretless bass", "slap bass", "slap bass",
    "synth bass", "synth bass",
    "violin", "viola", "cello", "double bass", "tremolo strings", "pizzicato strings", "orchestral harp", "timpani",
    "string ensemble", "string ensemble", "synth strings", "synth strings", "choir aahs", "voice oohs",
    "synth voice", "orchestra hit",
    "trumpet", "trombone", "tuba", "muted trumpet", "french horn", "brass section", "synth brass", "synth brass",
    "soprano saxophone", "alto saxophone", "tenor saxophone", "baritone saxophone", "oboe", "english horn",
    "bassoon", "clarinet",
    "piccolo", "flute", "recorder", "pan flute", "blown bottle", "shakuhachi", "whistling", "ocarina",
    "square lead synth", "sawtooth lead synth", "calliope lead synth", "chiff lead synth", "charang lead synth",
    "voice lead synth", "fifths lead synth", "bass and lead synth",
    "new age synth pad", "warm synth pad", "polysynth pad", "choir synth pad", "bowed synth pad",
    "metallic synth pad", "halo synth pad", "sweep synth pad",
    "synth rain effect", "synth soundtrack effect", "synth crystal effect", "synth atmosphere effect",
    "synth brightness effect", "synth goblins effect", "synth echoes effect", "synth sci-fi effect",
    "sitar", "banjo", "shamisen", "koto", "kalimba", "bagpipe", "fiddle", "shanai",
    "tinkle bell", "agogo", "steel drums", "wood block", "taiko drum", "melodic tom", "synth drum",
    "reverse cymbal",
    "guitar fret noise", "breath noise", "ocean waves", "bird chirp", "telephone ring", "helicopter", "applause",
    "gunshot",
)
# GM's 16 groups of 8 programs -> NSynth-style family, and the pitch range notes are drawn from.
FAMILIES: tuple[tuple[str, int, int], ...] = (
    ("keyboard", 36, 96), ("mallet", 48, 96), ("organ", 36, 90), ("guitar", 40, 84),
    ("bass", 28, 60), ("string", 40, 84), ("string", 40, 84), ("brass", 40, 82),
    ("reed", 45, 84), ("flute", 60, 96), ("synth_lead", 45, 88), ("synth_pad", 36, 84),
    ("synth_effect", 36, 84), ("ethnic", 45, 84), ("percussive", 40, 76), ("sound_effect", 48, 72),
)
# Bank-128 presets of the GM percussion kits in FluidR3.
DRUM_KITS: dict[int, str] = {0: "standard", 8: "room", 16: "power", 24: "electronic", 25: "tr-808",
                             32: "jazz", 40: "brush", 48: "orchestra"}
GM_PERCUSSION: dict[int, str] = {
    35: "Acoustic Bass Drum", 36: "Bass Drum 1", 37: "Side Stick", 38: "Acoustic Snare", 39: "Hand Clap",
    40: "Electric Snare", 41: "Low Floor Tom", 42: "Closed Hi Hat", 43: "High Floor Tom", 44: "Pedal Hi-Hat",
    45: "Low Tom", 46: "Open Hi-Hat", 47: "Low-Mid Tom", 48: "Hi-Mid Tom", 49: "Crash Cymbal 1", 50: "High Tom",
    51: "Ride Cymbal 1", 52: "Chinese Cymbal", 53: "Ride Bell", 54: "Tambourine", 55: "Splash Cymbal",
    56: "Cowbell", 57: "Crash Cymbal 2", 58: "Vibraslap", 59: "Ride Cymbal 2", 60: "Hi Bongo", 61: "Low Bongo",
    62: "Mute Hi Conga", 63: "Open Hi Conga", 64: "Low Conga", 65: "High Timbale", 66: "Low Timbale",
    67: "High Agogo", 68: "Low Agogo", 69: "Cabasa", 70: "Maracas", 71: "Short Whistle", 72: "Long Whistle",
    73: "Short Guiro", 74: "Long Guiro", 75: "Claves", 76: "Hi Wood Block", 77: "Low Wood Block",
    78: "Mute Cuica", 79: "Open Cuica", 80: "Mute Triangle", 81: "Open Triangle",
}
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


@dataclass(frozen=True)
class Note:
    pitch: int
    velocity: int
    duration: float  # seconds held

    def clip_seconds(self) -> float:
        return self.duration + RELEASE_SECONDS


def note_name(pitch: int) -> str:
    """MIDI pitch -> scientific pitch name (60 -> 'C4')."""
    return f"{NOTE_NAMES[pitch % 12]}{pitch // 12 - 1}"


def family_of(program: int) -> tuple[str, int, int]:
    return FAMILIES[program // 8]


def _varlen(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(out))


def write_midi(path: Path, channel: int, parts: Sequence[tuple[int, Sequence[Note]]],
               start_gap: float = 0.1) -> list[float]:
    """A format-0 MIDI file playing each part's notes one after another, after a program change to the
    part's program; returns every note's start in seconds, in order."""
    events = bytearray(b"\x00\xff\x51\x03" + (1_000_000).to_bytes(3, "big"))
    starts: list[float] = []
    pending = round(start_gap * 1000)
    clock = pending
    for program, notes in parts:
        events += _varlen(0) + bytes([0xC0 | channel, program])
        for note in notes:
            starts.append(clock / 1000)
            held = max(1, round(note.duration * 1000))
            events += _varlen(pending) + bytes([0x90 | channel, note.pitch, note.velocity])
            events += _varlen(held) + bytes([0x80 | channel, note.pitch, 0])
            pending = round(RELEASE_SECONDS * 1000)
            clock += held + pending
    events += _varlen(pending) + b"\xff\x2f\x00"
    header = b"MThd" + struct.pack(">IHHH", 6, 0, 1, 1000)
    path.write_bytes(header + b"MTrk" + struct.pack(">I", len(events)) + bytes(events))
    return starts


def render_midi(soundfont: Path, midi: Path, out_wav: Path) -> np.ndarray:
    """Render a MIDI file dry with the fluidsynth CLI; returns mono float32 at RENDER_RATE."""
    if shutil.which("fluidsynth") is None:
        raise AuralignError("fluidsynth is not installed (apt-get install -y fluidsynth)")
    command = ["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-g", "0.6", "-r", str(RENDER_RATE),
               "-O", "s16", "-T", "wav", "-F", str(out_wav), str(soundfont), str(midi)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0 or not out_wav.is_file():
        raise AuralignError(f"fluidsynth failed on {midi}: {result.stderr.strip()[-300:]}")
    audio, rate = sf.read(out_wav, dtype="float32", always_2d=True)
    if rate != RENDER_RATE:
        raise AuralignError(f"fluidsynth wrote {rate} Hz, expected {RENDER_RATE}")
    return audio.mean(axis=1)


def melodic_notes(program: int, n_pitches: int, n_velocities: int, rng: np.random.Generator) -> list[Note]:
    _, low, high = family_of(program)
    pitches = np.linspace(low, high, n_pitches).round().astype(int)
    pitches = np.clip(pitches + rng.integers(-2, 3, size=n_pitches), 21, 108)
    durations = (0.3, 0.6, 1.2, 2.0)
    return [Note(int(p), int(rng.integers(30, 128)), float(rng.choice(durations)))
            for p in pitches for _ in range(n_velocities)]


def drum_notes(n_velocities: int, rng: np.random.Generator) -> list[Note]:
    return [Note(key, int(rng.integers(30, 128)), 0.2) for key in GM_PERCUSSION for _ in range(n_velocities)]


def _cut(audio: np.ndarray, starts: list[float], notes: Sequence[Note]) -> list[np.ndarray]:
    clips = []
    for start, note in zip(starts, notes, strict=True):
        a = round(start * RENDER_RATE)
        clips.append(audio[a:a + round(note.clip_seconds() * RENDER_RATE)].copy())
    return clips


def render_notes(package: DebianPackage, out_dir: Path, n_pitches: int = 10, n_velocities: int = 3,
                 drum_velocities: int = 3, programs: Sequence[int] = tuple(range(128)),
                 drum_kits: Sequence[int] = tuple(DRUM_KITS), seed: int = 0) -> Iterator[SourceClip]:
    """Render (or reuse) every note as a FLAC under `out_dir` and yield one SourceClip per note.

    All melodic programs go through one fluidsynth call and all kits through another, so the sound
    font is loaded twice, not once per instrument."""
    soundfont = package.root / SOUNDFONT
    melodic = [(program, melodic_notes(program, n_pitches, n_velocities, np.random.default_rng([seed, program])))
               for program in programs]
    yield from _render_parts(soundfont, out_dir / "melodic", 0, melodic, package.name, _melodic_clip)
    drums = drum_notes(drum_velocities, np.random.default_rng([seed, 1000]))
    yield from _render_parts(soundfont, out_dir / "drums", 9, [(kit, drums) for kit in drum_kits],
                             package.name, _drum_clip)


def _melodic_clip(path: Path, program: int, note: Note, source: str) -> SourceClip:
    family = family_of(program)[0]
    label = GM_PROGRAMS[program]
    return SourceClip(
        path=path, labels=[label], group=f"fluidr3:program{program}:octave{note.pitch // 12}", source=source,
        kind="effect" if family == "sound_effect" else "instrument", is_synthetic=True,
        pitch_preserving=family != "sound_effect",
        extra={"instrument": label, "program": program, "family": family, "pitch": note.pitch,
               "note": note_name(note.pitch), "velocity": note.velocity, "duration": note.duration},
    )


def _drum_clip(path: Path, kit: int, note: Note, source: str) -> SourceClip:
    name = GM_PERCUSSION[note.pitch]
    label = drum_label(name) or name.lower()
    return SourceClip(
        path=path, labels=[label], group=f"fluidr3:kit{kit}:{label}", source=source, kind="drum",
        is_synthetic=True,
        extra={"instrument": label, "gm_percussion": name, "kit": DRUM_KITS.get(kit, str(kit)),
               "family": "percussion", "pitch": note.pitch, "velocity": note.velocity},
    )


def _render_parts(soundfont: Path, folder: Path, channel: int, parts: list[tuple[int, list[Note]]],
                  source: str, make_clip: Callable[[Path, int, Note, str], SourceClip]) -> Iterator[SourceClip]:
    items = [(program, i, note) for program, notes in parts for i, note in enumerate(notes)]
    paths = [folder / f"{program:03d}" / f"n{i:03d}_p{n.pitch}_v{n.velocity}.flac" for program, i, n in items]
    if not all(p.is_file() for p in paths):
        folder.mkdir(parents=True, exist_ok=True)
        midi = folder / "notes.mid"
        starts = write_midi(midi, channel, parts)
        audio = render_midi(soundfont, midi, folder / "render.wav")
        notes = [note for _, _, note in items]
        for path, clip in zip(paths, _cut(audio, starts, notes), strict=True):
            path.parent.mkdir(exist_ok=True)
            sf.write(path, clip, RENDER_RATE, subtype="PCM_16")
        (folder / "render.wav").unlink()
    for path, (program, _, note) in zip(paths, items, strict=True):
        yield make_clip(path, program, note, source)
