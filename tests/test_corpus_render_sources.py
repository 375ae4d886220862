"""Sound-font sources and rendered phrases: deterministic, in range, expected note counts, shared labels."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import numpy as np
import pytest

from auralign.corpus import render
from auralign.corpus.build import SOURCES
from auralign.corpus.captions import clip_captions, phrase_caption
from auralign.corpus.phrases import (
    DRUM_KINDS,
    MAX_SECONDS,
    MIN_SECONDS,
    PHRASE_PROGRAMS,
    POLYPHONIC,
    drum_phrases,
    melodic_phrase,
    melodic_phrases,
    octave_window,
    phrase_octaves,
)
from auralign.corpus.render import (
    AVL_KEYS,
    GM_PROGRAMS,
    SOUNDFONTS,
    Note,
    family_of,
    render_avl_drums,
    render_notes,
    render_phrases,
    write_midi,
)
from auralign.corpus.sources import DebianPackage


def _phrases(program: int, seed: int = 0, count: int = 8):
    _, low, high = family_of(program)
    return melodic_phrases(program, (low, high), count, np.random.default_rng([seed, program]))


def test_phrases_are_deterministic_for_a_seed():
    assert _phrases(40) == _phrases(40)
    assert _phrases(40) != _phrases(40, seed=1)
    assert drum_phrases(np.random.default_rng(3)) == drum_phrases(np.random.default_rng(3))


@pytest.mark.parametrize("program", PHRASE_PROGRAMS)
def test_phrases_stay_in_one_octave_of_the_range_and_last_1_to_5_seconds(program):
    for phrase in _phrases(program):
        pitches = {note.pitch for note in phrase.notes}
        assert {pitch // 12 for pitch in pitches} == {phrase.octave}
        low, high = min(pitches), max(pitches)
        assert low >= 21 and high <= 108
        assert MIN_SECONDS <= phrase.seconds() <= MAX_SECONDS + 1e-6
        assert all(1 <= note.velocity <= 127 and note.duration > 0 for note in phrase.notes)
        assert (phrase.kind == "chords") <= (program in POLYPHONIC)


def test_violin_phrases_use_the_violin_range_not_the_string_family_range():
    assert all(note.pitch >= 55 for phrase in _phrases(40, count=16) for note in phrase.notes)


def test_phrase_note_counts():
    window = octave_window(5, 40, 84)
    rng = np.random.default_rng(0)
    assert len(melodic_phrase("scale up", window, 80, True, rng)) == 7  # a diatonic scale in one octave
    assert len(melodic_phrase("chords", window, 80, True, rng)) in (6, 9)  # 2-3 triads
    assert 6 <= len(melodic_phrase("arpeggio", window, 80, True, rng)) <= 8
    assert 6 <= len(melodic_phrase("melody", window, 80, False, rng)) <= 10
    repeated = melodic_phrase("repeated", window, 80, False, rng)
    assert 4 <= len(repeated) <= 8 and len({note.pitch for note in repeated}) == 1
    scale = melodic_phrase("scale down", window, 80, False, rng)
    assert [n.pitch for n in scale] == sorted((n.pitch for n in scale), reverse=True)
    assert phrase_octaves(55, 100) == [5, 6, 7]  # G3-B3 and C8-E8 are too few notes for a scale


def test_legato_notes_touch_and_staccato_notes_are_short():
    window = octave_window(5, 40, 84)
    legato = melodic_phrase("scale up", window, 80, True, np.random.default_rng(1))
    staccato = melodic_phrase("scale up", window, 80, False, np.random.default_rng(1))
    assert all(abs(a.end - b.start) < 0.002 for a, b in itertools.pairwise(legato))
    assert all(a.end < b.start for a, b in itertools.pairwise(staccato))


def test_drum_phrases():
    phrases = drum_phrases(np.random.default_rng(0))
    assert [p.kind for p in phrases] == list(DRUM_KINDS)
    rock = phrases[0]
    per_bar = 3 + 2 + 8  # kicks, snares, closed hi-hats
    assert len(rock.notes) % per_bar == 0 and set(n.pitch for n in rock.notes) == {36, 38, 42}
    assert all(MIN_SECONDS <= p.seconds() <= MAX_SECONDS for p in phrases)
    assert all(n.pitch in AVL_KEYS for p in phrases for n in p.notes)  # every groove plays on the AVL kits too


def test_write_midi_places_phrases_one_after_another(tmp_path):
    phrase = _phrases(0)[4]  # chords: overlapping notes
    starts = write_midi(tmp_path / "p.mid", 0, [(0, [phrase, Note(60, 90, 0.5)])])
    assert starts == [0.1, pytest.approx(0.1 + round(phrase.seconds(), 3) + render.RELEASE_SECONDS)]
    data = (tmp_path / "p.mid").read_bytes()
    assert data.count(b"\x90") == len(phrase.notes) + 1 and data.endswith(b"\xff\x2f\x00")


def test_the_sources_exist_and_share_instrument_labels():
    names = [font.name for font in SOUNDFONTS]
    assert names == ["fluidr3", "musescore-sf", "timgm6mb"]
    for font in SOUNDFONTS:
        assert SOURCES[font.name].packages == (font.package,) and not SOURCES[font.name].optional
    assert SOURCES["avldrums"].packages == ("avldrums.lv2-soundfont",)


def _fake_render(soundfont: Path, midi: Path, out_wav: Path) -> np.ndarray:
    """A stand-in for fluidsynth: two minutes of a constant signal (and the file it would write)."""
    out_wav.write_bytes(b"")
    return np.full(render.RENDER_RATE * 120, 0.1, dtype=np.float32)


def test_every_sound_font_labels_the_same_instruments(tmp_path, monkeypatch):
    monkeypatch.setattr(render, "render_midi", _fake_render)
    labels = {}
    for font in SOUNDFONTS:
        package = DebianPackage(font.package, "1", "MIT", "", tmp_path / font.package)
        folder = tmp_path / font.name
        clips = [*render_notes(package, folder, n_pitches=2, n_velocities=1, drum_velocities=1, programs=(0, 40),
                               drum_kits=(0,), font=font),
                 *render_phrases(package, folder, per_program=2, programs=(0, 40), drum_kits=(0,), font=font)]
        assert all(clip.group.startswith(f"{font.name}:") and clip.is_synthetic for clip in clips)
        phrases = [clip for clip in clips if "phrase" in clip.extra]
        assert {clip.labels[0] for clip in phrases} == {GM_PROGRAMS[0], GM_PROGRAMS[40], "drum kit", "drum roll"}
        assert all(clip.group.endswith(f"octave{int(clip.extra['low_note'][-1]) + 1}") for clip in phrases
                   if clip.kind == "instrument")  # scientific octave 4 is MIDI pitch // 12 == 5
        labels[font.name] = {label for clip in clips for label in clip.labels}
    assert labels["fluidr3"] == labels["musescore-sf"] == labels["timgm6mb"]


def test_avl_kits_use_the_shared_drum_vocabulary(tmp_path, monkeypatch):
    monkeypatch.setattr(render, "render_midi", _fake_render)
    package = DebianPackage("avldrums.lv2-soundfont", "1", "CC-BY-SA-3.0", "", tmp_path)
    clips = list(render_avl_drums(package, tmp_path / "avl", n_velocities=1))
    labels = {clip.labels[0] for clip in clips}
    assert {"kick drum", "snare drum", "closed hi-hat", "open hi-hat", "ride cymbal", "crash cymbal", "floor tom",
            "side stick", "drum kit", "drum roll"} <= labels
    assert {clip.extra["kit"] for clip in clips} == {"black pearl", "red zeppelin"}


def test_phrase_captions():
    extra = {"instrument": "violin", "phrase": "scale up", "phrase_description": "a rising scale",
             "dynamic": "soft", "articulation": "legato"}
    assert phrase_caption(extra) == "A violin plays a rising scale, soft and legato."
    captions = clip_captions(["violin"], "instrument", extra, "id", {})
    assert captions[1] == "A violin plays a rising scale, soft and legato."
    assert not any("single note" in caption or "one note" in caption for caption in captions)


@pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="fluidsynth is not installed")
def test_a_phrase_renders_with_fluidsynth_when_a_sound_font_is_installed(tmp_path):
    font = next((f for f in SOUNDFONTS if (Path("/") / f.file).is_file()), None)
    if font is None:
        pytest.skip("no GM sound font installed system-wide")
    package = DebianPackage(font.package, "1", "", "", Path("/"))
    clips = list(render_phrases(package, tmp_path, per_program=1, programs=(0,), drum_kits=(), font=font))
    audio = render.sf.read(clips[0].path)[0]
    assert len(clips) == 1 and np.max(np.abs(audio)) > 1e-3
