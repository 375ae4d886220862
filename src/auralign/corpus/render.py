"""Isolated notes and short phrases of General MIDI sound fonts (real sampled instruments) rendered
with fluidsynth, NSynth-style.

Each sound font of `SOUNDFONTS` (FluidR3 GM, MuseScore General, TimGM6mb) is one corpus source. For
each General MIDI program a seeded set of notes across the instrument's range, velocities and
durations is written to one MIDI file (`write_midi`, a minimal format-0 writer), one after another
with a release gap; fluidsynth renders it dry (reverb and chorus off) in one call, and the render is
cut back into one clip per note. Phrases (`phrases.py`: scales, arpeggios, melodies, chords,
repeated notes; drum grooves, fills and rolls) go through the same path. The percussion kits are
rendered on MIDI channel 10; the two AVL drum kits (one preset each) on channel 1. A rendered clip
is labelled with its instrument (the same GM names in every sound font); `extra` carries the
NSynth-style fields (instrument, family, pitch, velocity, duration) or the phrase's. Notes and
phrases of one instrument of one sound font in one octave form a group (they are rendered from the
same few samples).
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import soundfile as sf

from auralign.corpus.drums import drum_label
from auralign.corpus.phrases import (
    PHRASE_PROGRAMS,
    Phrase,
    TimedNote,
    drum_phrases,
    melodic_phrases,
    phrase_label,
)
from auralign.corpus.sources import DebianPackage, SourceClip
from auralign.errors import AuralignError

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
# The AVL drum kits' key map (avldrums.lv2's MIDI note names), named for `drum_label`.
AVL_KEYS: dict[int, str] = {
    36: "kick drum", 37: "snare side stick", 38: "snare centre", 39: "hand clap", 40: "snare edge",
    41: "floor tom centre", 42: "closed hi-hat", 43: "floor tom edge", 44: "pedal hi-hat", 45: "tom centre",
    46: "semi-open hi-hat", 47: "tom edge", 48: "swish hi-hat", 49: "crash cymbal 1", 50: "crash cymbal 1 choked",
    51: "ride cymbal tip", 52: "ride cymbal choked", 53: "ride bell", 54: "tambourine", 55: "splash cymbal",
    56: "cowbell", 57: "crash cymbal 2", 58: "crash cymbal 2 choked", 59: "ride cymbal shank", 60: "crash cymbal 3",
    61: "maracas",
}
AVL_KITS: dict[str, str] = {"black pearl": "usr/share/sounds/sf2/Black_Pearl_4_LV2.sf2",
                            "red zeppelin": "usr/share/sounds/sf2/Red_Zeppelin_4_LV2.sf2"}


@dataclass(frozen=True)
class SoundFont:
    """A General MIDI sound font rendered as one corpus source."""

    name: str  # the source name: prefix of its groups and its render cache folder
    package: str  # the Debian package that ships it
    file: str  # the sound font inside the package
    drum_kits: tuple[int, ...] = tuple(DRUM_KITS)


SOUNDFONTS: tuple[SoundFont, ...] = (
    SoundFont("fluidr3", "fluid-soundfont-gm", "usr/share/sounds/sf2/FluidR3_GM.sf2"),
    SoundFont("musescore-sf", "musescore-general-soundfont", "usr/share/sounds/sf3/MuseScore_General_Full.sf3"),
    SoundFont("timgm6mb", "timgm6mb-soundfont", "usr/share/sounds/sf2/TimGM6mb.sf2"),
)


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


def _family_range(program: int) -> tuple[int, int]:
    _, low, high = family_of(program)
    return low, high


def _varlen(value: int) -> bytes:
    out = [value & 0x7F]
    value >>= 7
    while value:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    return bytes(reversed(out))


Item = Note | Phrase


def _timed(item: Item) -> tuple[TimedNote, ...]:
    if isinstance(item, Note):
        return (TimedNote(0.0, item.pitch, item.velocity, item.duration),)
    return item.notes


def _length(item: Item) -> float:
    """Seconds from the item's start to its release."""
    return item.duration if isinstance(item, Note) else item.seconds()


def write_midi(path: Path, channel: int, parts: Sequence[tuple[int, Sequence[Item]]],
               start_gap: float = 0.1) -> list[float]:
    """A format-0 MIDI file playing each part's notes or phrases one after another (a release gap after
    each), after a program change to the part's program; returns every item's start in seconds, in order."""
    messages: list[tuple[int, int, bytes]] = []  # (tick, rank): note-offs, program changes, note-ons
    starts: list[float] = []
    clock = round(start_gap * 1000)
    for program, items in parts:
        messages.append((clock, 1, bytes([0xC0 | channel, program])))
        for item in items:
            starts.append(clock / 1000)
            for note in _timed(item):
                on = clock + round(note.start * 1000)
                messages.append((on, 2, bytes([0x90 | channel, note.pitch, note.velocity])))
                messages.append((on + max(1, round(note.duration * 1000)), 0, bytes([0x80 | channel, note.pitch, 0])))
            clock += max(1, round(_length(item) * 1000)) + round(RELEASE_SECONDS * 1000)
    events = bytearray(b"\x00\xff\x51\x03" + (1_000_000).to_bytes(3, "big"))
    tick = 0
    for when, _, message in sorted(messages, key=lambda m: (m[0], m[1])):
        events += _varlen(when - tick) + message
        tick = when
    events += _varlen(clock - tick) + b"\xff\x2f\x00"
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


def drum_notes(n_velocities: int, rng: np.random.Generator, keys: Sequence[int] = tuple(GM_PERCUSSION)) -> list[Note]:
    return [Note(key, int(rng.integers(30, 128)), 0.2) for key in keys for _ in range(n_velocities)]


def _cut(audio: np.ndarray, starts: list[float], items: Sequence[Item]) -> list[np.ndarray]:
    clips = []
    for start, item in zip(starts, items, strict=True):
        a = round(start * RENDER_RATE)
        clips.append(audio[a:a + round((_length(item) + RELEASE_SECONDS) * RENDER_RATE)].copy())
    return clips


def render_notes(package: DebianPackage, out_dir: Path, n_pitches: int = 10, n_velocities: int = 3,
                 drum_velocities: int = 3, programs: Sequence[int] = tuple(range(128)),
                 drum_kits: Sequence[int] | None = None, seed: int = 0,
                 font: SoundFont = SOUNDFONTS[0]) -> Iterator[SourceClip]:
    """Render (or reuse) every note of `font` as a FLAC under `out_dir` and yield one SourceClip per note.

    All melodic programs go through one fluidsynth call and all kits through another, so the sound
    font is loaded twice, not once per instrument."""
    soundfont = package.root / font.file
    melodic = [(program, melodic_notes(program, n_pitches, n_velocities, np.random.default_rng([seed, program])))
               for program in programs]
    yield from _render_parts(soundfont, out_dir / "melodic", 0, melodic,
                             partial(_melodic_clip, font.name, package.name))
    drums = drum_notes(drum_velocities, np.random.default_rng([seed, 1000]))
    kits = font.drum_kits if drum_kits is None else drum_kits
    yield from _render_parts(soundfont, out_dir / "drums", 9, [(kit, drums) for kit in kits],
                             partial(_drum_clip, font.name, package.name))


def render_phrases(package: DebianPackage, out_dir: Path, per_program: int = 8,
                   programs: Sequence[int] = PHRASE_PROGRAMS, drum_kits: Sequence[int] | None = None,
                   seed: int = 0, font: SoundFont = SOUNDFONTS[0]) -> Iterator[SourceClip]:
    """Render (or reuse) `per_program` phrases of every acoustic program and the grooves, fills and
    rolls of every kit of `font`; one fluidsynth call for the melodic phrases, one for the kits."""
    soundfont = package.root / font.file
    salt = zlib.crc32(font.name.encode())
    melodic = [(program, melodic_phrases(program, _family_range(program), per_program,
                                         np.random.default_rng([seed, 2000 + program, salt])))
               for program in programs]
    yield from _render_parts(soundfont, out_dir / "phrases", 0, melodic,
                             partial(_phrase_clip, font.name, package.name))
    kits = font.drum_kits if drum_kits is None else drum_kits
    grooves = [(kit, drum_phrases(np.random.default_rng([seed, 3000 + kit, salt]))) for kit in kits]
    yield from _render_parts(soundfont, out_dir / "drum-phrases", 9, grooves,
                             partial(_drum_phrase_clip, font.name, package.name, None))


def render_soundfont(package: DebianPackage, font: SoundFont, out_dir: Path, seed: int = 0) -> Iterator[SourceClip]:
    """Every note and phrase of one sound font: the clips of its corpus source."""
    yield from render_notes(package, out_dir, seed=seed, font=font)
    yield from render_phrases(package, out_dir, seed=seed, font=font)


def render_avl_drums(package: DebianPackage, out_dir: Path, n_velocities: int = 6,
                     seed: int = 0) -> Iterator[SourceClip]:
    """The two AVL acoustic drum kits (one sound font each, one preset on bank 0): every key of the
    kit at `n_velocities` seeded velocities, then the same grooves, fills and rolls as the GM kits."""
    for index, (kit, file) in enumerate(AVL_KITS.items()):
        soundfont, folder = package.root / file, out_dir / kit.replace(" ", "-")
        notes = drum_notes(n_velocities, np.random.default_rng([seed, 4000 + index]), keys=tuple(AVL_KEYS))
        yield from _render_parts(soundfont, folder / "drums", 0, [(0, notes)],
                                 partial(_avl_clip, kit, package.name))
        grooves = drum_phrases(np.random.default_rng([seed, 5000 + index]))
        yield from _render_parts(soundfont, folder / "drum-phrases", 0, [(0, grooves)],
                                 partial(_drum_phrase_clip, "avldrums", package.name, kit))


def _melodic_clip(font: str, source: str, path: Path, program: int, note: Note) -> SourceClip:
    family = family_of(program)[0]
    label = GM_PROGRAMS[program]
    return SourceClip(
        path=path, labels=[label], group=f"{font}:program{program}:octave{note.pitch // 12}", source=source,
        kind="effect" if family == "sound_effect" else "instrument", is_synthetic=True,
        pitch_preserving=family != "sound_effect",
        extra={"instrument": label, "program": program, "family": family, "pitch": note.pitch,
               "note": note_name(note.pitch), "velocity": note.velocity, "duration": note.duration,
               "soundfont": font},
    )


def _phrase_clip(font: str, source: str, path: Path, program: int, phrase: Phrase) -> SourceClip:
    label = GM_PROGRAMS[program]
    pitches = [note.pitch for note in phrase.notes]
    return SourceClip(
        path=path, labels=[label], group=f"{font}:program{program}:octave{phrase.octave}", source=source,
        kind="instrument", is_synthetic=True, pitch_preserving=True,
        extra={"instrument": label, "program": program, "family": family_of(program)[0], "soundfont": font,
               **_phrase_fields(phrase), "low_note": note_name(min(pitches)), "high_note": note_name(max(pitches))},
    )


def _phrase_fields(phrase: Phrase) -> dict[str, object]:
    return {"phrase": phrase.kind, "phrase_description": phrase.description(), "dynamic": phrase.dynamic,
            "articulation": phrase.articulation, "n_notes": len(phrase.notes), "duration": round(phrase.seconds(), 3)}


def _drum_clip(font: str, source: str, path: Path, kit: int, note: Note) -> SourceClip:
    name = GM_PERCUSSION[note.pitch]
    label = drum_label(name) or name.lower()
    return SourceClip(
        path=path, labels=[label], group=f"{font}:kit{kit}:{label}", source=source, kind="drum",
        is_synthetic=True,
        extra={"instrument": label, "gm_percussion": name, "kit": DRUM_KITS.get(kit, str(kit)),
               "family": "percussion", "pitch": note.pitch, "velocity": note.velocity, "soundfont": font},
    )


def _avl_clip(kit: str, source: str, path: Path, _program: int, note: Note) -> SourceClip:
    name = AVL_KEYS[note.pitch]
    label = drum_label(name) or name
    return SourceClip(
        path=path, labels=[label], group=f"{kit}:{label}", source=source, kind="drum", is_synthetic=True,
        extra={"instrument": label, "key_name": name, "kit": kit, "family": "percussion", "pitch": note.pitch,
               "velocity": note.velocity, "soundfont": "avldrums"},
    )


def _drum_phrase_clip(font: str, source: str, avl_kit: str | None, path: Path, kit: int,
                      phrase: Phrase) -> SourceClip:
    """A groove, fill or roll of a GM kit (bank-128 preset `kit`) or of the AVL kit `avl_kit`."""
    label = phrase_label(phrase.kind)
    group = f"{avl_kit}:{label}" if avl_kit else f"{font}:kit{kit}:{label}"
    return SourceClip(
        path=path, labels=[label], group=group, source=source, kind="drum", is_synthetic=True,
        extra={"instrument": "drum kit", "kit": avl_kit or DRUM_KITS.get(kit, str(kit)), "family": "percussion",
               "soundfont": font, **_phrase_fields(phrase)},
    )


def _file_name(index: int, item: Item) -> str:
    if isinstance(item, Note):
        return f"n{index:03d}_p{item.pitch}_v{item.velocity}.flac"
    return f"ph{index:02d}_{item.kind.replace(' ', '-')}.flac"


def _render_parts(soundfont: Path, folder: Path, channel: int, parts: Sequence[tuple[int, Sequence[Item]]],
                  make_clip: Callable[[Path, int, Item], SourceClip]) -> Iterator[SourceClip]:
    items = [(program, i, item) for program, part in parts for i, item in enumerate(part)]
    paths = [folder / f"{program:03d}" / _file_name(i, item) for program, i, item in items]
    if not all(p.is_file() for p in paths):
        folder.mkdir(parents=True, exist_ok=True)
        midi = folder / "notes.mid"
        starts = write_midi(midi, channel, parts)
        audio = render_midi(soundfont, midi, folder / "render.wav")
        for path, clip in zip(paths, _cut(audio, starts, [item for _, _, item in items]), strict=True):
            path.parent.mkdir(exist_ok=True)
            sf.write(path, clip, RENDER_RATE, subtype="PCM_16")
        (folder / "render.wav").unlink()
    for path, (program, _, item) in zip(paths, items, strict=True):
        yield make_clip(path, program, item)
