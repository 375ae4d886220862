"""Corpus building on tiny fixtures: labels, sources, conversion, splits, captions, mixtures, text rows."""

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from auralign.corpus import build as build_module
from auralign.corpus.build import Converter, segment_bounds, trim_trailing_silence
from auralign.corpus.captions import clean_description, clip_captions, describe_labels
from auralign.corpus.drums import drum_label, hydrogen_clips
from auralign.corpus.labels import audioset_name, normalise_label
from auralign.corpus.mixtures import MixtureConfig, make_mixtures, mixture_folder
from auralign.corpus.render import Note, note_name, write_midi
from auralign.corpus.sources import DebianPackage, SourceClip, SourceSpec, fetch_package, read_license
from auralign.corpus.speech import asterisk_label
from auralign.corpus.splits import SplitConfig, assign_splits, check_splits, drop_duplicate_recordings
from auralign.corpus.text_corpus import build_text_corpus
from auralign.corpus.wesnoth import wesnoth_label
from auralign.data.manifest import ManifestRow, read_manifest
from auralign.errors import AudioLoadError

RATE = 44100


def write_tone(path: Path, seconds: float, freq: float = 440.0, rate: int = RATE) -> Path:
    t = np.arange(round(seconds * rate)) / rate
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32), rate)
    return path


@pytest.mark.parametrize(("raw", "label"), [
    ("Snare_Jazz 02", "snare jazz"), ("hihat_closed01", "hihat closed"), ("bass!", "bass"), ("Tom Low", "tom low"),
])
def test_normalise_label(raw, label):
    assert normalise_label(raw) == label


def test_audioset_name_synonyms_exact_and_suffix(tmp_path):
    csv = tmp_path / "labels.csv"
    csv.write_text('index,mid,display_name\n0,/m/a,"Snare drum"\n1,/m/b,"Bass drum"\n2,/m/c,"Piano"\n'
                   '3,/m/d,"Speech"\n4,/m/e,"Cowbell"\n')
    assert audioset_name("kick drum", csv) == "Bass drum"
    assert audioset_name("cowbell", csv) == "Cowbell"
    assert audioset_name("jazz snare drum", csv) == "Snare drum"
    assert audioset_name("acoustic grand piano", csv) == "Piano"
    assert audioset_name("spoken digit seven", csv) == "Speech"
    assert audioset_name("wolf pain cry", csv) is None


@pytest.mark.parametrize(("name", "label"), [
    ("Hi Hat Free", "open hi-hat"), ("VariBreaks Hat 1 Pd", "pedal hi-hat"), ("Closed HH", "closed hi-hat"),
    ("Crash/Ride Bell (Paiste)", "ride bell"), ("Snare 2 Rimshot (Pearl)", "rimshot"), ("Pearl Side Stick", "side stick"),
    ("BassDrum", "kick drum"), ("Low Floor Tom", "floor tom"), ("tomhi2", "high tom"), ("Hand Clap", "hand clap"),
    ("Drum 1", None), ("17", None),
])
def test_drum_label(name, label):
    assert drum_label(name) == label


@pytest.mark.parametrize(("stem", "label"), [
    ("orc-small-die-2", "goblin death cry"), ("human-female-hit-1", "woman pain cry"), ("wolf-growl-3", "wolf growl"),
    ("bow-miss", "whoosh"), ("birds2", "birdsong"), ("gunshot", "gunshot"), ("unknown-thing", None),
])
def test_wesnoth_label(stem, label):
    assert wesnoth_label(stem) == label


def test_asterisk_labels():
    assert asterisk_label(Path("digits/7.wav")) == "spoken digit seven"
    assert asterisk_label(Path("digits/40.wav")) == "spoken number"
    assert asterisk_label(Path("letters/q.wav")) == "spoken letter"
    assert asterisk_label(Path("silence/3.wav")) is None
    assert asterisk_label(Path("vm-goodbye.wav")) == "female speech"


def test_hydrogen_clips_read_the_kit_xml(tmp_path):
    kit = tmp_path / "usr/share/hydrogen/data/drumkits/TestKit"
    write_tone(kit / "k1.wav", 0.2)
    write_tone(kit / "k2.wav", 0.2)
    write_tone(kit / "odd.wav", 0.2)
    (kit / "drumkit.xml").write_text(
        '<drumkit_info xmlns="http://www.hydrogen-music.org/drumkit"><name>TestKit</name><instrumentList>'
        "<instrument><id>0</id><name>Kick Hard</name><layer><filename>k1.wav</filename></layer>"
        "<layer><filename>k2.wav</filename></layer></instrument>"
        "<instrument><id>1</id><name>17</name><filename>odd.wav</filename></instrument>"
        "</instrumentList></drumkit_info>")
    package = DebianPackage("hydrogen-drumkits", "1", "GPL", "", tmp_path)
    clips = list(hydrogen_clips([package]))
    assert [c.path.name for c in clips] == ["k1.wav", "k2.wav"]
    assert {c.labels[0] for c in clips} == {"kick drum"} and len({c.group for c in clips}) == 1


def test_read_license_machine_readable_and_free_text(tmp_path):
    dep5 = tmp_path / "a"
    dep5.write_text("Files: *\nLicense: GPL-2+\n\nFiles: x\nLicense: CC0\n text\nLicense: GPL-2+\n")
    assert read_license(dep5) == "GPL-2+; CC0"
    free = tmp_path / "b"
    free.write_text("Copyright 2003\nLicense:\n   it is under the GNU General Public License version 2.\n")
    assert "General Public License version 2" in read_license(free)
    assert read_license(tmp_path / "missing").startswith("unknown")


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="needs dpkg-deb")
def test_fetch_package_unpacks_a_cached_deb_and_records_version_and_license(tmp_path):
    tree = tmp_path / "build"
    (tree / "DEBIAN").mkdir(parents=True)
    (tree / "DEBIAN/control").write_text("Package: tiny-sounds\nVersion: 1.2-3\nArchitecture: all\n"
                                         "Maintainer: x <x@y.z>\nDescription: t\nHomepage: https://example.org\n")
    doc = tree / "usr/share/doc/tiny-sounds"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text("Files: *\nLicense: CC0-1.0\n")
    write_tone(tree / "usr/share/sounds/a.wav", 0.1)
    cache = tmp_path / "sources"
    (cache / "_debs").mkdir(parents=True)
    subprocess.run(["dpkg-deb", "-b", str(tree), str(cache / "_debs/tiny-sounds_1.2-3_all.deb")], check=True,
                   capture_output=True)
    package = fetch_package("tiny-sounds", cache)
    assert (package.version, package.license, package.homepage) == ("1.2-3", "CC0-1.0", "https://example.org")
    assert (package.root / "usr/share/sounds/a.wav").is_file()
    (cache / "_debs/tiny-sounds_1.2-3_all.deb").unlink()  # a second fetch must not need the .deb
    assert fetch_package("tiny-sounds", cache).record() == package.record()


def test_write_midi_events_and_note_starts(tmp_path):
    notes = [Note(60, 100, 0.5), Note(64, 50, 1.0)]
    starts = write_midi(tmp_path / "x.mid", 0, [(40, notes[:1]), (41, notes[1:])])
    assert starts == [0.1, 0.1 + 0.5 + 1.0]
    data = (tmp_path / "x.mid").read_bytes()
    assert data[:4] == b"MThd" and data[14:18] == b"MTrk"
    assert bytes([0xC0, 40]) in data and bytes([0xC0, 41]) in data
    assert bytes([0x90, 60, 100]) in data and bytes([0x80, 64, 0]) in data
    assert data.endswith(b"\xff\x2f\x00")
    assert note_name(60) == "C4" and note_name(69) == "A4"


def test_segments_and_trimming():
    assert segment_bounds(5 * RATE, RATE) == [(0, 5 * RATE)]
    assert segment_bounds(25 * RATE, RATE) == [(0, 10 * RATE), (10 * RATE, 20 * RATE), (20 * RATE, 25 * RATE)]
    assert segment_bounds(round(20.5 * RATE), RATE) == [(0, 10 * RATE), (10 * RATE, 20 * RATE)]
    audio = np.concatenate([np.ones(RATE, dtype=np.float32) * 0.5, np.zeros(RATE, dtype=np.float32)])
    assert len(trim_trailing_silence(audio, RATE)) == RATE + round(0.05 * RATE)


def test_converter_caches_segments_and_reports_bad_files(tmp_path):
    long_clip = write_tone(tmp_path / "in/long.wav", 23.0, rate=22050)
    converter = Converter(tmp_path / "out")
    segments = converter.segments(long_clip)
    assert [round(s) for _, s in segments] == [10, 10, 3]
    assert all(sf.info(path).samplerate == RATE for path, _ in segments)
    converter.save()
    again = Converter(tmp_path / "out")
    assert again.segments(long_clip) == segments and not again.dirty
    bad = tmp_path / "in/bad.wav"
    bad.write_bytes(b"not audio at all")
    with pytest.raises(AudioLoadError):
        converter.segments(bad)


def _rows() -> list[ManifestRow]:
    rows = []
    for label_index in range(12):
        for group in range(4):
            for take in range(2):
                rows.append(ManifestRow(audio=Path(f"/x/{label_index}_{group}_{take}.wav"),
                                        labels=[f"label {label_index}"], group=f"g{label_index}-{group}",
                                        id=f"{label_index}/{group}/{take}", extra={"kind": "effect"}))
    for take in range(3):  # a speaker group with many labels and a preset split: never unseen
        rows.append(ManifestRow(audio=Path(f"/x/s{take}.wav"), labels=[f"digit {take}"], group="speaker",
                                id=f"s/{take}", extra={"kind": "speech", "preset_split": "val"}))
    return rows


def test_splits_keep_groups_together_and_unseen_labels_out_of_training():
    rows = _rows()
    unseen = assign_splits(rows, SplitConfig(seed=1, unseen_fraction=0.25))
    assert len(unseen) == 3 and not any(label.startswith("digit") for label in unseen)
    assert check_splits(rows) == []
    assert {row.split for row in rows if row.group == "speaker"} == {"val"}
    assert {row.split for row in rows} == {"train", "val", "test", "test_unseen"}
    assert {label for row in rows if row.split == "test_unseen" for label in row.labels} == set(unseen)
    again = _rows()
    assign_splits(again, SplitConfig(seed=1, unseen_fraction=0.25))
    assert [r.split for r in again] == [r.split for r in rows]


def test_check_splits_finds_a_group_in_two_splits():
    rows = _rows()[:2]
    rows[0].split, rows[1].split = "train", "test"
    assert check_splits(rows) and "g0-0" in check_splits(rows)[0]


def test_one_recording_listed_twice_is_kept_once_or_dropped_when_its_labels_disagree():
    rows = [ManifestRow(audio=Path("/c/hat.flac"), labels=["closed hi-hat"], id="a"),
            ManifestRow(audio=Path("/c/hat.flac"), labels=["pedal hi-hat"], id="b"),
            ManifestRow(audio=Path("/c/kick.flac"), labels=["kick drum"], id="c"),
            ManifestRow(audio=Path("/c/kick.flac"), labels=["kick drum"], id="d"),
            ManifestRow(audio=Path("/c/snare.flac"), labels=["snare drum"], id="e")]
    assert any("hat.flac is listed 2 times" in problem for problem in check_splits(rows))
    kept, ambiguous = drop_duplicate_recordings(rows)
    assert [row.id for row in kept] == ["c", "e"] and ambiguous == 1
    assert not any("listed" in problem for problem in check_splits(kept))
    twins = [ManifestRow(audio=Path(f"/c/{k}.flac"), labels=["x"], id="same") for k in "pq"]
    assert any("clip id same is used 2 times" in problem for problem in check_splits(twins))


def test_captions_collat_first_templates_and_descriptions():
    captions = clip_captions(["cowbell"], "drum", {}, "id1", {"cowbell": "A bright metallic clank."})
    assert captions[0] == "This is a sound of cowbell."
    assert captions[-1] == "A bright metallic clank." and len(captions) == 4
    assert clip_captions(["cowbell"], "drum", {}, "id1", {}) == captions[:3]
    note = clip_captions(["violin"], "instrument", {"instrument": "violin", "note": "A4", "velocity": 120,
                                                     "duration": 1.2}, "n", {})
    assert "A loud violin note at A4, held for 1.2 s." in note
    digit = clip_captions(["spoken digit seven"], "speech", {}, "d", {})
    assert any("seven" in c and "spoken digit" not in c for c in digit[1:])


def test_clean_description_keeps_one_complete_sentence():
    assert clean_description("A bell rings. It is loud.") == "A bell rings."
    assert clean_description("A bell that rings and rings and") is None
    assert clean_description("") is None


def test_describe_labels_caches_and_respects_the_budget(tmp_path):
    calls = []

    def generate(prompts):
        calls.append(len(prompts))
        return [f"It sounds like number {i}." for i in range(len(prompts))]

    cache = tmp_path / "d.json"
    described, report = describe_labels(["a", "b", "c"], generate, cache, budget_seconds=60, batch_size=2)
    assert set(described) == {"a", "b", "c"} and calls == [2, 1] and report["left_to_templates"] == 0
    described, report = describe_labels(["a", "d"], None, cache)
    assert set(described) == {"a"} and report["left_to_templates"] == 1
    _, report = describe_labels(["d", "e"], generate, cache, budget_seconds=-1)
    assert report["generated_now"] == 0 and report["left_to_templates"] == 2


def _clip_rows(tmp_path: Path, split: str, n_labels: int) -> list[ManifestRow]:
    return [ManifestRow(audio=write_tone(tmp_path / f"{split}{i}.wav", 1.0 + 0.3 * i, 200.0 + 50 * i),
                        labels=[f"{split} label {i}"], split=split, group=f"{split}{i}", id=f"{split}/{i}",
                        extra={"kind": "ambience" if i == 0 else "effect"}) for i in range(n_labels)]


def test_mixtures_are_seeded_multi_label_and_stay_in_their_split(tmp_path):
    rows = _clip_rows(tmp_path, "train", 5) + _clip_rows(tmp_path, "test", 4)
    config = MixtureConfig(seed=3, counts=(("train", 6), ("test", 3), ("val", 2)))
    mixtures = make_mixtures(rows, tmp_path / "mix", config)
    assert [m.split for m in mixtures] == ["train"] * 6 + ["test"] * 3  # val has no clips: none made
    by_id = {row.id: row for row in rows}
    for mixture in mixtures:
        info = sf.info(mixture.audio)
        assert 5.0 <= info.duration <= 10.0 and info.samplerate == RATE
        assert all(by_id[s].split == mixture.split for s in mixture.extra["sources"])
        assert 1 <= len(mixture.extra["sources"]) <= 3
        assert set(mixture.labels) >= {by_id[s].labels[0] for s in mixture.extra["sources"]}
        assert mixture.captions[0].startswith("This is a sound of")
    first = [sf.read(m.audio)[0] for m in mixtures]
    again = make_mixtures(rows, tmp_path / "mix2", config)
    assert all(np.array_equal(a, sf.read(m.audio)[0]) for a, m in zip(first, again, strict=True))
    assert [m.labels for m in again] == [m.labels for m in mixtures]


def test_mixture_folder_differs_between_corpora_and_is_stable_within_one(tmp_path):
    rows = _clip_rows(tmp_path, "train", 3) + _clip_rows(tmp_path, "test", 2)
    config = MixtureConfig(seed=0)
    folder = mixture_folder(tmp_path, rows, config)
    assert folder.parent == tmp_path and folder == mixture_folder(tmp_path, list(reversed(rows)), config)
    assert folder != mixture_folder(tmp_path, rows[:-1], config)
    assert folder != mixture_folder(tmp_path, rows, MixtureConfig(seed=1))
    moved = [dataclasses.replace(row) for row in rows]
    moved[0].split = "val"
    assert folder != mixture_folder(tmp_path, moved, config)


def test_text_corpus_rows_follow_table_s8_and_exclude_unseen_labels(tmp_path):
    (tmp_path / "audiocaps_train.csv").write_text("audiocap_id,youtube_id,start_time,caption\n"
                                                  "1,a,0,A dog barks twice\n2,b,0,A man plays the piano softly\n")
    rows = [ManifestRow(audio=Path("/a"), labels=["dog bark"], captions=["This is a sound of dog bark.", "Woof."],
                        split="train", id="a"),
            ManifestRow(audio=Path("/b"), labels=["secret"], captions=["This is a sound of secret.", "Hush."],
                        split="train", id="b")]
    out = build_text_corpus({"dog bark": "A dog barking loudly.", "secret": "Quiet."}, rows, tmp_path, ["secret"])
    assert all(set(r) == {"text", "instruction", "answer", "task"} for r in out)
    assert not any("secret" in r["answer"] or r["text"] in ("Quiet.", "Hush.") for r in out)
    tasks = {r["task"] for r in out}
    assert tasks == {"cls", "sound_cap", "music_cap", "aqa"}
    assert {"text": "A dog barking loudly.", "instruction": "Classify events in the audio clip.",
            "answer": "dog bark", "task": "cls"} in out
    music = [r for r in out if r["task"] == "music_cap"]
    assert music == [{"text": "A man plays the piano softly", "instruction": "Generate music caption.",
                      "answer": "A man plays the piano softly", "task": "music_cap"}]


def test_build_corpus_end_to_end_on_a_fixture_source(tmp_path, monkeypatch):
    monkeypatch.setenv("AURALIGN_HOME", str(tmp_path / "home"))
    originals = tmp_path / "pkg"

    def collect(_packages):
        for label_index in range(8):
            for group in range(4):
                path = write_tone(originals / f"{label_index}_{group}.wav", 0.6 + 0.1 * group, 150.0 * (label_index + 1))
                yield SourceClip(path=path, labels=[f"tone {label_index}"], group=f"{label_index}-{group}",
                                 source="fixture-sounds", kind="ambience" if label_index == 0 else "effect")
        yield SourceClip(path=originals / "missing.wav", labels=["tone 0"], group="x", source="fixture-sounds",
                         kind="effect")

    monkeypatch.setattr(build_module, "SOURCES", {"fixture": SourceSpec("fixture", (), collect)})
    monkeypatch.setattr(build_module, "shared_data_dir", lambda: tmp_path / "no-shared")
    out = tmp_path / "corpus"
    stats = build_module.build_corpus(out, ["fixture"], llm_budget=0, log=lambda _m: None,
                                      mixtures=MixtureConfig(counts=(("train", 4), ("test_unseen", 2))),
                                      splits=SplitConfig(unseen_fraction=0.25))
    assert stats["clips"] == 32 and stats["labels"] == 8 and len(stats["unseen_labels"]) == 2
    assert stats["load_failures"] == {"fixture: file not found": 1}
    rows = read_manifest(out / "manifest.jsonl")
    assert check_splits(rows) == []
    assert all(row.audio.is_relative_to(tmp_path / "home" / "corpus" / "audio") for row in rows)
    assert all(row.captions[0].startswith("This is a sound of") and len(row.captions) >= 3 for row in rows)
    assert {"source", "original_path", "audioset", "is_synthetic", "kind"} <= set(rows[0].extra)
    mixtures = read_manifest(out / "mixtures.jsonl")
    assert [m.split for m in mixtures] == ["train"] * 4 + ["test_unseen"] * 2
    text = [json.loads(line) for line in (out / "text_corpus.jsonl").read_text().splitlines()]
    assert text and not any(r["answer"] in stats["unseen_labels"] for r in text)
    assert (out / "ATTRIBUTION.md").is_file() and json.loads((out / "attribution.json").read_text())["sources"] == []
    assert json.loads((out / "stats.json").read_text())["clips"] == 32


def test_restrict_training_labels_nests_and_keeps_test_splits():
    from auralign.corpus.splits import restrict_training_labels

    rows = _rows()
    assign_splits(rows, SplitConfig(seed=1, unseen_fraction=0.25))
    small, large = restrict_training_labels(rows, 3), restrict_training_labels(rows, 6)
    labels = [{label for row in subset if row.split == "train" for label in row.labels} for subset in (small, large)]
    assert len(labels[0]) == 3 and len(labels[1]) == 6 and labels[0] <= labels[1]
    for subset in (small, large):
        assert [r.id for r in subset if r.split in ("test", "test_unseen")] == \
               [r.id for r in rows if r.split in ("test", "test_unseen")]


AUDIOSET_CSV = Path(__file__).resolve().parents[2] / "shared" / "data" / "labels" / "audioset_class_labels_indices.csv"


@pytest.mark.skipif(not AUDIOSET_CSV.is_file(), reason="needs ../shared/data/labels")
def test_every_audioset_synonym_is_a_real_display_name():
    import csv

    from auralign.corpus.labels import AUDIOSET_SYNONYMS

    with open(AUDIOSET_CSV, newline="") as handle:
        names = {row["display_name"] for row in csv.DictReader(handle)}
    assert sorted(label for label, name in AUDIOSET_SYNONYMS.items() if name not in names) == []


def test_rendered_clips_keep_their_instrument_folder_in_the_id(tmp_path, monkeypatch):
    monkeypatch.setattr(build_module, "corpus_home", lambda: tmp_path)
    clips = [SourceClip(path=tmp_path / "render" / "fluidr3" / "melodic" / program / "n000_p38_v93.flac",
                        labels=["x"], group="g", source="fluidr3", kind="instrument") for program in ("000", "095")]
    originals = [build_module._relative_original(clip, []) for clip in clips]
    assert originals == ["render/fluidr3/melodic/000/n000_p38_v93.flac", "render/fluidr3/melodic/095/n000_p38_v93.flac"]
