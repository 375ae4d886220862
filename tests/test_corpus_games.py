"""Label rules of the large optional game packages, on fake folder trees mimicking each package."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from auralign.corpus.build import CORPUS_RATE, Converter
from auralign.corpus.labels import audioset_name
from auralign.corpus.packages import EXTRACTED, PACKAGES, package_clips
from auralign.corpus.path_rules import RuleTable, load_rules, variant_group
from auralign.corpus.sources import DebianPackage
from test_corpus import AUDIOSET_CSV

PUBLIC_ZIP = "usr/share/games/0ad/mods/public/public.zip"


def _package(tmp_path: Path, name: str) -> DebianPackage:
    return DebianPackage(name=name, version="1", license="GPL-2", homepage="", root=tmp_path / name)


def _wav(path: Path, seconds: float = 0.2) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(round(seconds * 8000)) / 8000
    sf.write(path, 0.5 * np.sin(2 * np.pi * 440 * t), 8000)


def _labelled(clips) -> dict[str, str]:
    return {clip.path.name: clip.labels[0] for clip in clips}


@pytest.mark.parametrize(("relative", "expected"), [
    ("actor/fauna/animal/cattle_03.ogg", ("cow moo", "effect")),
    ("actor/fauna/animal/elephant_death2.ogg", ("elephant death cry", "effect")),
    ("actor/fauna/animal/elephant_select1.ogg", ("elephant trumpet", "effect")),
    ("actor/human/movement/Footsteps/Foorstep_Sand_Running.ogg", ("sand running footsteps", "effect")),
    ("actor/singlesteps/fs_snow_14.ogg", ("snow footsteps", "effect")),
    ("voice/latin/civ/civ_male_hello_1.ogg", ("latin male speech", "speech")),
    ("voice/napatan/civ/civ_female_build_02.ogg", ("female speech", "speech")),
    ("attack/impact/arrow_wood_17.ogg", ("arrow hitting wood", "effect")),
    ("attack/weapon/swordhit_13b.ogg", ("sword clash", "effect")),
    ("ambient/weather/windleaves_10.ogg", ("wind in leaves", "ambience")),
    ("music/Celtic_Pride.ogg", None),
    ("interface/alarm/alarmvictory_1.ogg", None),
    ("attack/fire/c_11.ogg", None),
    ("actor/fauna/death/Animal_death_generic_10.ogg", None),
])
def test_0ad_rules(relative, expected):
    assert RuleTable(load_rules("0ad-data")).label(relative) == expected


@pytest.mark.parametrize(("package", "relative", "expected"), [
    ("supertuxkart-data", "sfx/WilhelmScream.ogg", "scream"),
    ("supertuxkart-data", "karts/sara_the_racer/skid.ogg", "tire skid"),
    ("supertuxkart-data", "music/Lava.ogg", None),
    ("supertuxkart-data", "sfx/nitro.ogg", None),
    ("hedgewars-data", "voices/Pirate/Ow3.ogg", "pain grunt"),
    ("hedgewars-data", "voices/Robot/Laugh.ogg", None),
    ("hedgewars-data", "voices/Pirate/Hello.ogg", None),
    ("hedgewars-data", "shotgunfire.ogg", "shotgun shot"),
    ("freeciv-data", "stdsounds/MgBar2.ogg", "machine gun"),
    ("freeciv-data", "stdmusic/CullamBruce-Lockhart--Dawning_Fanfare.ogg", None),
    ("pingus-data", "data/sounds/plop2.wav", "plop"),
    ("frozen-bubble-data", "typewriter.ogg", "typewriter"),
])
def test_small_package_rules(package, relative, expected):
    found = RuleTable(load_rules(package)).label(relative)
    assert (found[0] if found else None) == expected


def test_variants_share_a_group_only_inside_their_folder():
    assert variant_group("actor/singlesteps/fs_grass1.ogg") == variant_group("actor/singlesteps/fs_grass8.ogg")
    assert variant_group("attack/weapon/swordhit_13a.ogg") == variant_group("attack/weapon/swordhit_19.ogg")
    assert variant_group("voices/British/Ow1.ogg") != variant_group("voices/Pirate/Ow1.ogg")
    assert variant_group("tracks/black_forest/steamLocomotive.ogg", by_folder=False) == variant_group(
        "library/stklib_steamLocomotive_a/steamLocomotive.ogg", by_folder=False)


@pytest.mark.skipif(not AUDIOSET_CSV.is_file(), reason="needs ../shared/data/labels")
def test_new_labels_map_to_fitting_audioset_names():
    assert audioset_name("elephant trumpet") == "Wild animals"  # not the instrument
    assert audioset_name("cannon fire") == "Artillery fire"  # not "Fire"
    assert audioset_name("grass footsteps") == "Walk, footsteps"


def test_hedgewars_tree_labels_and_skips(tmp_path):
    package = _package(tmp_path, "hedgewars-data")
    sounds = package.root / PACKAGES["hedgewars-data"].sound_dir
    for relative in ("voices/British/Laugh.ogg", "voices/British/Ow1.ogg", "voices/British/Ow2.ogg",
                     "voices/Robot/Ow1.ogg", "voices/British/Amazing.ogg", "bee.ogg", "ufo.ogg"):
        _wav(sounds / relative)
    clips = list(package_clips([package]))
    assert sorted((c.path.relative_to(sounds).as_posix(), c.labels[0]) for c in clips) == [
        ("bee.ogg", "bee buzzing"), ("voices/British/Laugh.ogg", "laughter"),
        ("voices/British/Ow1.ogg", "pain grunt"), ("voices/British/Ow2.ogg", "pain grunt")]
    groups = {c.path.stem: c.group for c in clips}
    assert groups["Ow1"] == groups["Ow2"] != groups["Laugh"]


def test_0ad_extracts_only_labelled_members_and_groups_speakers(tmp_path):
    package = _package(tmp_path, "0ad-data")
    members = {"audio/actor/fauna/animal/sheep_10.ogg": "sheep bleat",
               "audio/voice/greek/civ/civ_female_heal_1.ogg": "greek female speech",
               "audio/voice/greek/civ/civ_female_walk_2.ogg": "greek female speech",
               "audio/music/Sunrise.ogg": None, "audio/interface/ui/chat_alert.ogg": None}
    source = tmp_path / "sine.wav"
    _wav(source)
    (package.root / PUBLIC_ZIP).parent.mkdir(parents=True)
    with zipfile.ZipFile(package.root / PUBLIC_ZIP, "w") as archive:
        for member in members:
            archive.write(source, member)
    clips = list(package_clips([package]))
    assert {c.path.relative_to(package.root / EXTRACTED).as_posix(): c.labels[0] for c in clips} == {
        m.removeprefix("audio/"): label for m, label in members.items() if label}
    assert not (package.root / EXTRACTED / "music").exists()
    speech = [c for c in clips if c.kind == "speech"]
    assert len({c.group for c in speech}) == 1 and speech[0].group == "0ad-data:voice/greek/female"


def test_segments_of_a_long_game_file_share_its_group(tmp_path):
    package = _package(tmp_path, "supertuxkart-data")
    _wav(package.root / PACKAGES["supertuxkart-data"].sound_dir / "sfx/rain.ogg", seconds=25.0)
    (clip,) = package_clips([package])
    segments = Converter(tmp_path / "converted").segments(clip.path)
    assert len(segments) == 3 and all(seconds <= 10.0 for _, seconds in segments)
    assert sf.info(segments[0][0]).samplerate == CORPUS_RATE
    # build.collect_rows gives every segment the clip's group, so one recording stays in one split
    assert clip.group == "supertuxkart-data:rain"


def test_unknown_package_is_an_error(tmp_path):
    with pytest.raises(Exception, match="no sound rules"):
        list(package_clips([_package(tmp_path, "mystery-data")]))


def test_every_registered_package_has_a_rules_file_and_every_rules_file_a_package():
    from auralign.corpus.build import SOURCES
    from auralign.corpus.path_rules import RULES_DIR

    assert {path.stem for path in RULES_DIR.glob("*.rules")} == set(PACKAGES)
    rule_sources = {name for spec in SOURCES.values() if spec.collect is package_clips for name in spec.packages}
    assert rule_sources == set(PACKAGES)
    assert all(load_rules(package) for package in PACKAGES)


def test_rules_file_names_and_errors(tmp_path, monkeypatch):
    from auralign.corpus import path_rules

    (tmp_path / "good.rules").write_text("# comment\n@steps = grass|snow\n@steps/x  -  # short\n"
                                         "(@steps)_\\d  \\1 footsteps  effect\n")
    (tmp_path / "bad.rules").write_text("wind  wind\n")
    (tmp_path / "unknown.rules").write_text("@wind/x  wind  ambience\n")
    monkeypatch.setattr(path_rules, "RULES_DIR", tmp_path)
    assert load_rules.__wrapped__("good") == (("grass|snow/x", None, ""), ("(grass|snow)_\\d", "\\1 footsteps", "effect"))
    with pytest.raises(Exception, match=r"bad\.rules:1"):
        load_rules.__wrapped__("bad")
    with pytest.raises(Exception, match="@wind is not defined"):
        load_rules.__wrapped__("unknown")
