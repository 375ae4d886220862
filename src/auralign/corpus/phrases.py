"""Short musical phrases for rendered instruments: scales, arpeggios, melodies, chords, repeated notes,
and drum-kit grooves, fills and rolls.

A melodic phrase stays inside one octave (MIDI pitch // 12) of the instrument's range, so it belongs to
the same group (sound font, program, octave) as the isolated notes rendered in that octave and lands
in the same split. Every phrase lasts `MIN_SECONDS`-`MAX_SECONDS` before the release that the renderer
adds. Everything is drawn from the generator passed in: the same seed gives the same phrases.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MIN_SECONDS = 1.0
MAX_SECONDS = 5.0
DYNAMICS: tuple[tuple[str, int], ...] = (("soft", 45), ("medium", 80), ("loud", 112))
ARTICULATIONS = ("legato", "staccato")
STACCATO = 0.35  # fraction of the step a staccato note is held
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
DESCRIPTIONS: dict[str, str] = {
    "scale up": "a rising scale", "scale down": "a falling scale", "arpeggio": "an arpeggio",
    "melody": "a short melody", "chords": "a few chords", "repeated": "one note repeated",
    "rock beat": "a rock beat", "half-time beat": "a half-time beat", "open hi-hat beat": "a beat with open hi-hats",
    "jazz ride": "a jazz ride pattern", "tom fill": "a tom fill", "snare roll": "a snare roll",
}
MELODIC_KINDS = ("scale up", "scale down", "arpeggio", "melody", "chords", "repeated", "melody", "arpeggio")
DRUM_KINDS = ("rock beat", "half-time beat", "open hi-hat beat", "jazz ride", "tom fill", "snare roll")

# General MIDI programs that name a real acoustic or electro-acoustic instrument (no synth leads, pads,
# effects, orchestra hit or unpitched percussion), and those of them that play chords.
PHRASE_PROGRAMS: tuple[int, ...] = (*range(0, 38), *range(40, 50), 52, 53, *range(56, 62), *range(64, 80),
                                    *range(104, 113), 114)
POLYPHONIC: frozenset[int] = frozenset((*range(0, 22), 23, *range(24, 32), 44, 45, 46, 48, 49, 52, 53, 61,
                                        104, 105, 107, 108, 114))
# Playing ranges (MIDI pitches) of instruments whose GM family range is much wider than their own.
RANGES: dict[int, tuple[int, int]] = {
    40: (55, 100), 41: (48, 88), 42: (36, 76), 43: (28, 67), 47: (40, 57), 56: (54, 82), 57: (40, 72),
    58: (28, 58), 59: (54, 82), 60: (34, 77), 64: (56, 87), 65: (49, 80), 66: (44, 75), 67: (36, 68),
    68: (58, 91), 69: (52, 81), 70: (34, 75), 71: (50, 91), 72: (74, 108), 73: (60, 96), 74: (72, 98),
    105: (48, 79), 109: (55, 77), 110: (55, 100),
}


@dataclass(frozen=True)
class TimedNote:
    start: float  # seconds from the phrase's start
    pitch: int
    velocity: int
    duration: float

    @property
    def end(self) -> float:
        return self.start + self.duration


@dataclass(frozen=True)
class Phrase:
    kind: str
    notes: tuple[TimedNote, ...]
    dynamic: str
    articulation: str  # "" for drums
    octave: int  # -1 for drums

    def seconds(self) -> float:
        """Length before the release: the end of the last note (at least MIN_SECONDS)."""
        return max(MIN_SECONDS, *(note.end for note in self.notes))

    def description(self) -> str:
        return DESCRIPTIONS[self.kind]


def octave_window(octave: int, low: int, high: int) -> list[int]:
    """The pitches of one octave (pitch // 12 == octave) inside [low, high]."""
    return [p for p in range(12 * octave, 12 * octave + 12) if low <= p <= high]


def phrase_octaves(low: int, high: int, min_pitches: int = 8) -> list[int]:
    """Octaves with at least `min_pitches` playable pitches (room for a scale)."""
    return [o for o in range(11) if len(octave_window(o, low, high)) >= min_pitches]


def _step(units: float, rng: np.random.Generator, low: float, high: float) -> float:
    """A note step (seconds) drawn in [low, high] and clamped so the phrase fits MIN_SECONDS-MAX_SECONDS."""
    return float(np.clip(rng.uniform(low, high), MIN_SECONDS / units, MAX_SECONDS / units))


def _sequence(pitches: Sequence[int], units: Sequence[float], step: float, velocity: int, legato: bool,
              rng: np.random.Generator) -> tuple[TimedNote, ...]:
    notes, clock = [], 0.0
    for pitch, unit in zip(pitches, units, strict=True):
        held = unit * step if legato else max(0.06, STACCATO * step)
        notes.append(TimedNote(round(clock, 3), int(pitch), _jitter(velocity, rng), round(held, 3)))
        clock += unit * step
    return tuple(notes)


def _jitter(velocity: int, rng: np.random.Generator) -> int:
    return int(np.clip(velocity + rng.integers(-6, 7), 1, 127))


def _scale(window: list[int], rng: np.random.Generator) -> list[int]:
    tonic, mode = int(rng.integers(12)), MAJOR if rng.random() < 0.5 else MINOR
    return [p for p in window if (p - tonic) % 12 in mode]


def _triad(window: list[int], rng: np.random.Generator) -> list[int]:
    roots = [p for p in window if p + 7 <= window[-1]]
    root = int(rng.choice(roots))
    return [root, root + (4 if rng.random() < 0.5 else 3), root + 7]


def melodic_phrase(kind: str, window: list[int], velocity: int, legato: bool,
                   rng: np.random.Generator) -> tuple[TimedNote, ...]:
    """The notes of one phrase of `kind` with every pitch in `window` (one octave of the range)."""
    if kind in ("scale up", "scale down"):
        pitches = _scale(window, rng)
        pitches = pitches if kind == "scale up" else pitches[::-1]
        return _sequence(pitches, [1.0] * len(pitches), _step(len(pitches), rng, 0.22, 0.5), velocity, legato, rng)
    if kind == "arpeggio":
        chord = _triad(window, rng)
        pitches = [chord[i] for i in (0, 1, 2, 1) * 2][: int(rng.integers(6, 9))]
        return _sequence(pitches, [1.0] * len(pitches), _step(len(pitches), rng, 0.15, 0.35), velocity, legato, rng)
    if kind == "melody":
        scale = _scale(window, rng)
        index, pitches = int(rng.integers(len(scale))), []
        for _ in range(int(rng.integers(6, 11))):
            pitches.append(scale[index])
            move = int(rng.choice((-2, -1, 1, 2)))
            index = index + move if 0 <= index + move < len(scale) else index - move  # bounce off the ends
        units = [float(rng.choice((1.0, 1.0, 1.0, 2.0))) for _ in pitches]
        return _sequence(pitches, units, _step(sum(units), rng, 0.2, 0.4), velocity, legato, rng)
    if kind == "chords":
        hold = float(rng.uniform(0.7, 1.4))
        held = hold if legato else STACCATO * hold
        return tuple(TimedNote(round(k * hold, 3), pitch, _jitter(velocity, rng), round(held, 3))
                     for k in range(int(rng.integers(2, 4))) for pitch in _triad(window, rng))
    if kind == "repeated":
        count = int(rng.integers(4, 9))
        pitch = int(rng.choice(window))
        return _sequence([pitch] * count, [1.0] * count, _step(count, rng, 0.15, 0.4), velocity, legato, rng)
    raise ValueError(f"unknown phrase kind {kind!r}")


def instrument_range(program: int, family_range: tuple[int, int]) -> tuple[int, int]:
    return RANGES.get(program, family_range)


def melodic_phrases(program: int, family_range: tuple[int, int], count: int,
                    rng: np.random.Generator) -> list[Phrase]:
    """`count` phrases of a program: kinds in turn (chords only for polyphonic instruments, a melody
    instead otherwise), each in a random octave of the instrument's range, dynamic and articulation."""
    low, high = instrument_range(program, family_range)
    octaves = phrase_octaves(low, high)
    phrases = []
    for index in range(count):
        kind = MELODIC_KINDS[index % len(MELODIC_KINDS)]
        kind = "melody" if kind == "chords" and program not in POLYPHONIC else kind
        octave = int(rng.choice(octaves))
        dynamic, velocity = DYNAMICS[int(rng.integers(len(DYNAMICS)))]
        articulation = ARTICULATIONS[int(rng.integers(2))]
        notes = melodic_phrase(kind, octave_window(octave, low, high), velocity, articulation == "legato", rng)
        phrases.append(Phrase(kind, notes, dynamic, articulation, octave))
    return phrases


# Drum parts of a 16-step bar: GM percussion key -> steps. Keys valid in GM kits and in the AVL kits.
KICK, SNARE, CLOSED_HAT, PEDAL_HAT, OPEN_HAT, CRASH, RIDE = 36, 38, 42, 44, 46, 49, 51
TOMS = (45, 43, 41)  # high to low; GM low tom / floor toms, AVL rack tom / floor tom edge / centre
PATTERNS: dict[str, dict[int, tuple[int, ...]]] = {
    "rock beat": {KICK: (0, 8, 10), SNARE: (4, 12), CLOSED_HAT: tuple(range(0, 16, 2))},
    "half-time beat": {KICK: (0, 3, 10), SNARE: (8,), CLOSED_HAT: tuple(range(0, 16, 2))},
    "open hi-hat beat": {KICK: (0, 7, 8), SNARE: (4, 12), CLOSED_HAT: (0, 2, 4, 6, 8, 10, 12), OPEN_HAT: (14,)},
    "jazz ride": {RIDE: (0, 4, 7, 8, 12, 15), PEDAL_HAT: (4, 12), KICK: (0, 8)},
}


def _pattern_notes(pattern: dict[int, tuple[int, ...]], bars: int, sixteenth: float, velocity: int,
                   rng: np.random.Generator) -> list[TimedNote]:
    return [TimedNote(round((16 * bar + step) * sixteenth, 3), key, _jitter(velocity - (12 if step % 4 else 0), rng),
                      0.1)
            for bar in range(bars) for key, steps in pattern.items() for step in steps]


def drum_phrase(kind: str, velocity: int, rng: np.random.Generator) -> tuple[TimedNote, ...]:
    """One groove, fill or roll: 1-2 bars at 80-140 bpm (one bar when two would be too long)."""
    sixteenth = 60 / float(rng.uniform(80, 140)) / 4
    if kind in PATTERNS:
        bars = 2 if 32 * sixteenth <= MAX_SECONDS else 1
        notes = _pattern_notes(PATTERNS[kind], bars, sixteenth, velocity, rng)
    elif kind == "tom fill":
        notes = [TimedNote(round(step * sixteenth, 3), TOMS[min(step // 4, 2)] if step < 12 else SNARE,
                           _jitter(velocity, rng), 0.1) for step in range(16)]
        notes += [TimedNote(round(16 * sixteenth, 3), key, _jitter(velocity + 10, rng), 0.1) for key in (KICK, CRASH)]
    elif kind == "snare roll":
        count = int(rng.integers(20, 41))
        notes = [TimedNote(round(k * sixteenth / 2, 3), SNARE, int(np.clip(40 + (velocity - 30) * k / count, 1, 127)),
                           0.05) for k in range(count)]
    else:
        raise ValueError(f"unknown drum phrase kind {kind!r}")
    return tuple(sorted(notes, key=lambda n: (n.start, n.pitch)))


def drum_phrases(rng: np.random.Generator, kinds: Sequence[str] = DRUM_KINDS) -> list[Phrase]:
    phrases = []
    for kind in kinds:
        dynamic, velocity = DYNAMICS[int(rng.integers(1, len(DYNAMICS)))]
        phrases.append(Phrase(kind, drum_phrase(kind, velocity, rng), dynamic, "", -1))
    return phrases


def phrase_label(kind: str) -> str:
    """Label of a drum phrase: a roll is a "drum roll", every groove and fill a "drum kit"."""
    return "drum roll" if kind == "snare roll" else "drum kit"
