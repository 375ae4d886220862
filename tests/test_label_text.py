"""Label text from the AudioSet ontology: synonyms, parents, the reviewed tables, positive texts, the CachedPairs hook."""

from __future__ import annotations

from pathlib import Path

import pytest

from auralign.corpus.captions import clip_captions
from auralign.data.feature_cache import FeatureCache, WindowPolicy
from auralign.data.label_text import (
    display_synonyms,
    llm_descriptions,
    map_label,
    ontology,
    ontology_texts,
    positive_texts,
    with_article,
)
from auralign.data.manifest import ManifestRow
from auralign.data.pairs import CachedPairs, texts_of
from backbone_factory import make_tiny_aisfx
from test_feature_cache import write_clip

ONTOLOGY = Path(__file__).resolve().parents[2] / "shared" / "data" / "labels" / "audioset_ontology.json"
needs_ontology = pytest.mark.skipif(not ONTOLOGY.is_file(), reason="needs ../shared/data/labels")


def names(label: str) -> list[str]:
    return [node.name for node in map_label(label)]


def test_display_names_split_into_synonyms() -> None:
    assert display_synonyms("Male speech, man speaking") == ("male speech", "man speaking")
    assert display_synonyms("Dog") == ("dog",)
    assert display_synonyms("Bee, wasp, etc.") == ("bee", "wasp")
    assert display_synonyms("Fire engine, fire truck (siren)") == ("fire engine", "fire truck")
    assert display_synonyms("Roaring cats (lions, tigers)") == ("roaring cats",)
    assert display_synonyms("Outside, rural or natural") == ("outside, rural or natural",)


def test_articles() -> None:
    assert [with_article(w) for w in ("violin", "oboe", "maracas", "rain", "drilling", "bass")] == [
        "a violin", "an oboe", "maracas", "rain", "drilling", "a bass"]


@needs_ontology
def test_synonyms_descriptions_and_parents_of_real_entries() -> None:
    index = ontology()
    assert len(index.nodes) == 632
    assert index.node("Male speech, man speaking").synonyms == ("male speech", "man speaking")
    dog = index.node("Dog")
    assert [p.name for p in index.parents(dog)] == ["Domestic animals, pets"]
    assert index.parent_texts([dog]) == ["domestic animals"]
    assert index.parent_texts([index.node("Violin, fiddle")]) == ["bowed string instrument"]
    assert index.node("Moo").short_description == "The classic communication sound made by a cow or bull."
    assert index.node("Hi-hat").short_description is None  # 49 words: too long to be a text
    # an abstract class is no target of automatic matching but stays a parent
    voice = index.node("Human voice")
    assert not voice.is_target and "human voice" not in index.by_text
    assert index.parents(index.node("Speech")) == (voice,)
    # a node under several parents gives no parent text unless that parent is mapped too
    assert index.parent_texts([index.node("Growling")]) == []
    assert index.parent_texts([index.node("Growling"), index.node("Canidae, dogs, wolves")]) == ["wild animals"]


@needs_ontology
def test_explicit_table_entries() -> None:
    assert names("cow moo") == ["Moo"]
    assert names("kick drum") == ["Bass drum"]
    assert names("closed hi-hat") == names("open hi-hat") == names("pedal hi-hat") == ["Hi-hat"]
    assert names("crash cymbal") == ["Crash cymbal"]  # blacklisted, but exactly right: reviewed
    assert names("spoken digit seven") == names("spoken syllable in hebrew") == ["Speech"]
    assert names("czech speech") == names("spoken number in french") == ["Speech"]
    assert names("latin male speech") == ["Male speech, man speaking", "Speech"]
    assert names("female speech") == ["Female speech, woman speaking", "Speech"]
    assert names("nylon string guitar") == ["Acoustic guitar"]
    assert names("violin") == ["Violin, fiddle"] and names("cello") == ["Cello"] and names("flute") == ["Flute"]
    assert names("man death cry") == ["Screaming"] and names("woman pain cry") == ["Groan"]
    assert names("square lead synth") == names("warm synth pad") == ["Synthesizer"]
    assert names("bull bellow") == ["Cattle, bovinae"]  # not the human "Bellow" a suffix match would give


@needs_ontology
def test_exact_and_audioset_name_rules() -> None:
    index = ontology()
    assert index.match("rain").rule == "exact" and names("rain") == ["Rain"]
    assert index.match("fiddle").rule == "exact" and names("fiddle") == ["Violin, fiddle"]
    assert index.match("glass breaking").rule == "audioset_name" and names("glass breaking") == ["Shatter"]
    assert names("jazz snare drum") == ["Snare drum"]


@needs_ontology
def test_unmapped_labels_stay_unmapped() -> None:
    for label in ("orc pain cry", "troll death cry", "tree creature attack", "magic spell", "glitch",
                  "ambient drone", "bowling ball rolling", "zzz unknown sound"):
        assert map_label(label) == [], label
    assert ontology().match("orc pain cry").rule == "none"


@needs_ontology
def test_positive_texts() -> None:
    dog = positive_texts(["dog bark"], {"kind": "effect"})
    assert {"dog bark", "bark", "dog", "a dog barks", "the bark of a dog"} <= set(dog)
    violin = positive_texts(["violin"], {"kind": "instrument", "instrument": "violin", "velocity": 110})
    assert {"violin", "fiddle", "the sound of a violin", "a loud violin note", "bowed string instrument"} <= set(violin)
    czech = positive_texts(["czech speech"], {"kind": "speech", "language": "cs"})
    assert {"czech speech", "speech", "someone speaks czech", "human voice"} <= set(czech)
    spanish = positive_texts(["spoken number in spanish"], {"kind": "speech", "language": "es-MX", "gender": "female"})
    assert "a woman says a number in spanish" in spanish
    assert "The classic communication sound made by a cow or bull." in positive_texts(["cow moo"])
    orc = positive_texts(["orc pain cry"], {"kind": "vocal"})
    assert orc == ["an orc cries out in pain", "an orc groaning in pain", "orc pain cry"]
    assert positive_texts(["dog bark", "rain"]) == ["dog bark and rain", "the sound of a dog bark and rain"]
    assert positive_texts([]) == []


def test_positive_texts_are_deterministic_sorted_and_unique() -> None:
    extra = {"kind": "drum", "velocity": 40}
    first = positive_texts(["kick drum"], extra)
    assert first == positive_texts(["kick drum", "kick drum"], dict(extra)) == sorted(set(first))
    assert "kick drum" in first and "a kick drum played softly" in first


def corpus_row(tmp_path: Path, label: str, kind: str, described: str | None) -> ManifestRow:
    extra = {"kind": kind, "source": "fixture"}
    descriptions = {label: described} if described else {}
    return ManifestRow(audio=tmp_path / f"{label}.wav", labels=[label], id=f"fixture/{label}#0", extra=extra,
                       captions=clip_captions([label], kind, extra, f"fixture/{label}#0", descriptions))


def test_llm_descriptions_are_told_apart_from_templates(tmp_path: Path) -> None:
    row = corpus_row(tmp_path, "cow moo", "effect", "A haunting melody of the plains.")
    assert llm_descriptions(row) == {"A haunting melody of the plains."}
    assert llm_descriptions(corpus_row(tmp_path, "cow moo", "effect", None)) == set()
    foreign = ManifestRow(audio=tmp_path / "a.wav", labels=["dog"], captions=["a dog barks twice"])
    assert llm_descriptions(foreign) == set()  # not a corpus row: its captions are kept
    own = ManifestRow(audio=tmp_path / "a.wav", labels=["dog"], captions=["a dog barks twice"], extra={"kind": "effect"})
    assert llm_descriptions(own) == set()


@needs_ontology
def test_ontology_texts_drop_the_llm_description_only_when_the_ontology_describes_the_label(tmp_path: Path) -> None:
    moo = corpus_row(tmp_path, "cow moo", "effect", "A haunting melody of the plains.")
    texts = ontology_texts(moo)
    assert "A haunting melody of the plains." not in texts
    assert set(moo.captions) - {"A haunting melody of the plains."} <= set(texts)
    assert set(positive_texts(["cow moo"], moo.extra)) <= set(texts) and texts == sorted(set(texts))
    orc = corpus_row(tmp_path, "orc pain cry", "vocal", "A guttural roar of an orc.")
    assert "A guttural roar of an orc." in ontology_texts(orc)  # no ontology node: the description stays


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> FeatureCache:
    from auralign.backbones.aisfx import AisfxEncoder

    root = tmp_path_factory.mktemp("label-text")
    encoder = AisfxEncoder.from_pretrained(make_tiny_aisfx(root / "aisfx"))
    return FeatureCache(encoder, root=root / "cache", policy=WindowPolicy(window_seconds=1.0))


@pytest.fixture(scope="module")
def rows(tmp_path_factory: pytest.TempPathFactory) -> list[ManifestRow]:
    folder = tmp_path_factory.mktemp("clips")
    specs = [(["dog bark"], "effect"), (["violin"], "instrument"), (["dog bark"], "effect"), (["orc pain cry"], "vocal")]
    return [ManifestRow(audio=write_clip(folder / f"c{i}.wav", 1.0 + i % 2, frequency=200.0 + 150 * i),
                        labels=labels, captions=[f"caption {i}"], id=f"c{i}", extra={"kind": kind})
            for i, (labels, kind) in enumerate(specs)]


def test_cached_pairs_draw_from_the_text_source(rows: list[ManifestRow], cache: FeatureCache) -> None:
    default = CachedPairs(rows, cache, seed=3, progress=False)
    explicit = CachedPairs(rows, cache, seed=3, progress=False, text_source=texts_of)
    hooked = CachedPairs(rows, cache, seed=3, progress=False, text_source=ontology_texts)
    assert [default[i].text for i in range(4)] == [explicit[i].text for i in range(4)] == [
        f"caption {i}" for i in range(4)]
    assert hooked.match_ids == default.match_ids and hooked.match_ids[0] == hooked.match_ids[2]
    seen: set[str] = set()
    for epoch in range(30):
        hooked.set_epoch(epoch)
        seen.add(hooked[0].text)
    assert seen == set(ontology_texts(rows[0])) and "caption 0" in seen and "dog bark" in seen
    assert hooked.all_texts() == sorted({t for row in rows for t in ontology_texts(row)})
    empty = CachedPairs(rows, cache, progress=False, text_source=lambda row: [] if row.id == "c1" else ["x"])
    assert [row.id for row in empty.rows] == ["c0", "c2", "c3"]
