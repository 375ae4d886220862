"""Leave-source-out sources (Scratch, Tux Paint stamps, UFO:AI) on fake package trees, and their held-out splits."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from auralign.corpus.build import DEFAULT_SOURCES, SOURCES
from auralign.corpus.heldout_sources import (
    TUXPAINT_STAMPS,
    tuxpaint_description_clips,
    tuxpaint_stamp_clips,
)
from auralign.corpus.packages import PACKAGES, package_clips
from auralign.corpus.path_rules import RuleTable, load_rules
from auralign.corpus.sources import DebianPackage, copyright_stanzas, file_license
from auralign.corpus.splits import HELDOUT_SPLITS, SplitConfig, assign_splits, check_splits
from auralign.data.manifest import ManifestRow


def _package(tmp_path: Path, name: str, license_name: str = "GPL-2") -> DebianPackage:
    return DebianPackage(name=name, version="1", license=license_name, homepage="", root=tmp_path / name)


UFOAI_PK3 = "usr/share/games/ufoai/base/0snd.pk3"


def _ogg(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, (0.3 * np.sin(np.arange(4000) / 4)).astype(np.float32), 8000, format="OGG")
    return path


def _found(table: RuleTable, relative: str) -> str | None:
    found = table.label(relative)
    return found[0] if found else None


@pytest.mark.parametrize(("relative", "expected"), [
    ("Animal/Dog1.wav", "dog"),
    ("Animal/Meow.wav", "cat meow"),
    ("Animal/SeaLion.mp3", "sea lion"),
    ("Animal/WolfHowl.wav", "wolf howl"),
    ("Effects/CarPassing.wav", "car passing by"),
    ("Effects/WaterDrop.mp3", "water drip"),
    ("Human/Laugh-male3.mp3", "laughter"),
    ("Human/Sneeze-female.wav", "sneeze"),
    ("Instruments/Trumpet2.wav", "trumpet"),
    ("Instruments/Dijjeridoo.mp3", "didgeridoo"),
    ("Percussion/CymbalCrash.wav", "crash cymbal"),
    ("Vocals/BeatBox1.wav", "beatboxing"),
    ("Vocals/Singer2.wav", "singing"),
    ("Music Loops/Drum.mp3", None),
    ("Music Loops/GuitarChords1.mp3", None),
    ("Electronic/Laser1.wav", None),
    ("Instruments/SpookyString.wav", None),
    ("Instruments/Chord.wav", None),
    ("Percussion/DrumBuzz.wav", None),
    ("Effects/Plunge.wav", None),
    ("Vocals/Join-us.mp3", None),
    ("Vocals/Ya.wav", None),
])
def test_scratch_rules(relative, expected):
    assert _found(RuleTable(load_rules("scratch")), relative) == expected


def test_scratch_clips_record_license_gender_and_variant_groups(tmp_path):
    package = _package(tmp_path, "scratch")
    sounds = package.root / PACKAGES["scratch"].sound_dir
    for relative in ("Animal/Dog1.wav", "Animal/Dog2.wav", "Human/Cough-female.wav", "Electronic/Zoop.wav",
                     "Music Loops/Techno.mp3"):
        _ogg(sounds / relative)
    clips = {clip.path.name: clip for clip in package_clips([package])}
    assert sorted(clips) == ["Cough-female.wav", "Dog1.wav", "Dog2.wav"]
    assert clips["Cough-female.wav"].extra == {"license": "CC-BY-SA-3.0", "folder": "Human", "gender": "female"}
    assert clips["Cough-female.wav"].kind == "vocal"
    assert clips["Dog1.wav"].group == clips["Dog2.wav"].group == "scratch:animal/dog"


def test_tuxpaint_stamp_sounds_by_table_only(tmp_path):
    package = _package(tmp_path, "tuxpaint-stamps-default")
    stamps = package.root / TUXPAINT_STAMPS
    for relative in ("animals/mammals/dogs/dog.ogg", "hobbies/music/string/cello.ogg",
                     "vehicles/emergency/firetruck.ogg", "animals/mammals/bovines/ram.ogg",
                     "animals/mammals/badger.ogg", "animals/birds/nandou.ogg", "town/roadsigns/xing_ped.ogg",
                     "symbols/math/7_fr.ogg", "animals/mammals/dogs/dog_desc_fr.ogg"):
        _ogg(stamps / relative)
    clips = {clip.extra["stamp"]: clip for clip in tuxpaint_stamp_clips([package])}
    assert {stamp: clip.labels[0] for stamp, clip in clips.items()} == {
        "animals/mammals/dogs/dog": "dog", "hobbies/music/string/cello": "cello",
        "vehicles/emergency/firetruck": "vehicle horn"}
    assert clips["animals/mammals/dogs/dog"].extra["license"] == "GPL-2"
    assert clips["vehicles/emergency/firetruck"].extra["license"].startswith("CC-Sampling-Plus-1.0")
    assert clips["hobbies/music/string/cello"].kind == "music"


def test_tuxpaint_descriptions_are_speech_with_their_transcripts(tmp_path):
    package = _package(tmp_path, "tuxpaint-stamps-default")
    stamps = package.root / TUXPAINT_STAMPS
    (stamps / "animals/mammals/dogs").mkdir(parents=True)
    (stamps / "animals/mammals/dogs/dog.txt").write_text(
        "A dog.\nfr.utf8=Un chien.\npt_BR.utf8=Um cão.\nbg.utf8=Куче.\n", encoding="utf-8")
    for name in ("dog_desc.ogg", "dog_desc_fr.ogg", "dog_desc_bg.ogg", "dog_desc_da.ogg.ogg", "dog.ogg",
                 "dog_desc_xx.ogg"):
        _ogg(stamps / "animals/mammals/dogs" / name)
    _ogg(stamps / "food/fruit/cartoon/raspberry_desc_pt_BR.ogg").rename(
        stamps / "food/fruit/cartoon/raspberry_desc_pt_BR.wav")
    clips = {clip.path.name: clip for clip in tuxpaint_description_clips([package])}
    assert {name: clip.labels[0] for name, clip in clips.items()} == {
        "dog_desc.ogg": "english speech", "dog_desc_fr.ogg": "french speech", "dog_desc_bg.ogg": "bulgarian speech",
        "raspberry_desc_pt_BR.wav": "portuguese speech"}
    assert clips["dog_desc_fr.ogg"].extra == {"language": "fr", "text": "Un chien.", "prompt": "animals/mammals/dogs/dog"}
    assert clips["dog_desc.ogg"].extra["text"] == "A dog."
    assert clips["raspberry_desc_pt_BR.wav"].extra["language"] == "pt-BR"
    assert clips["raspberry_desc_pt_BR.wav"].extra["text"] is None  # no raspberry.txt
    assert clips["dog_desc_fr.ogg"].group != clips["dog_desc_bg.ogg"].group


@pytest.mark.parametrize(("relative", "expected"), [
    ("footsteps/grass3.ogg", "grass footsteps"),
    ("footsteps/metal1.ogg", "metal footsteps"),
    ("footsteps/sand1.ogg", "sand footsteps"),
    ("footsteps/sand.ogg", None),
    ("footsteps/linoleum.ogg", None),
    ("footsteps/dirt3.ogg", None),
    ("footsteps/sand2.ogg", None),
    ("misc/breakwood03.ogg", None),
    ("footsteps/splash2.ogg", "footsteps in water"),
    ("misc/breakglass05.ogg", "glass breaking"),
    ("doors/door2-open.ogg", "door opening"),
    ("civilians/civfemdeath02a.ogg", "woman death cry"),
    ("civilians/maledeath03.ogg", "man death cry"),
    ("soldiers/femalehurt04.ogg", "woman pain cry"),
    ("soldiers/malehurt13.ogg", "man pain cry"),
    ("ambience/fire05.ogg", "fire"),
    ("ambience/thunder2.ogg", "thunder"),
    ("weapons/bullet-rifle-1x.ogg", "rifle shot"),
    ("weapons/bullet-rifle-8x.ogg", "automatic rifle fire"),
    ("weapons/bullet-chaingun-40x.ogg", "machine gun"),
    ("weapons/explosion-grenade.ogg", "explosion"),
    ("weapons/reload-shotgun.ogg", "gun reload"),
    ("aliens/ortnok/hurt4.ogg", None),
    ("ambience/alienmachinery3.ogg", None),
    ("ambience/disco.ogg", None),
    ("ambience/radiomessage.ogg", None),
    ("footsteps/crouch.ogg", None),
    ("footsteps/water_under.ogg", None),
    ("geoscape/combat-explosion.ogg", None),
    ("ui/click1.ogg", None),
    ("weapons/laser-large.ogg", None),
    ("weapons/explosion-plasma.ogg", None),
    ("weapons/reload-laser.ogg", None),
    ("weapons/bullet-needler-30x.ogg", None),
    ("ugv/hover-move.ogg", None),
    ("seq/sword-hit.ogg", None),
])
def test_ufoai_rules(relative, expected):
    assert _found(RuleTable(load_rules("ufoai-sound")), relative) == expected


COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: *
Copyright: 2002-2014, The UFO:AI Team
License: GPL-2+

Files:
 base/sound/footsteps/grass1.ogg
 base/sound/misc/breakglass01.ogg
Copyright:
 Someone
License: CC-BY-SA-3.0

Files: base/sound/weapons/*
Copyright: Someone else
License: public-domain

License: CC-BY-SA-3.0
 Creative Commons Attribution-ShareAlike 3.0 Unported
"""


def test_copyright_stanzas_give_each_file_its_license(tmp_path):
    (tmp_path / "copyright").write_text(COPYRIGHT)
    stanzas = copyright_stanzas(tmp_path / "copyright")
    assert file_license(stanzas, "base/sound/footsteps/grass1.ogg") == "CC-BY-SA-3.0"
    assert file_license(stanzas, "base/sound/weapons/explosion.ogg") == "public-domain"
    assert file_license(stanzas, "base/sound/footsteps/grass2.ogg") == "GPL-2+"
    assert copyright_stanzas(tmp_path / "missing") == []


def test_ufoai_clips_extract_labelled_members_only(tmp_path):
    package = _package(tmp_path, "ufoai-sound", "GPL-2+; CC-BY-SA-3.0")
    doc = package.root / "usr/share/doc/ufoai-sound"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(COPYRIGHT)
    audio = _ogg(tmp_path / "x.ogg").read_bytes()
    (package.root / UFOAI_PK3).parent.mkdir(parents=True)
    with zipfile.ZipFile(package.root / UFOAI_PK3, "w") as archive:
        for member in ("sound/footsteps/grass1.ogg", "sound/footsteps/grass2.ogg", "sound/ui/beep1.ogg",
                       "sound/weapons/explosion.ogg", "sound/aliens/taman/die1.ogg", "maps/footsteps/grass1.ogg"):
            archive.writestr(member, audio)
    clips = {clip.path.relative_to(package.root / "audio-extracted").as_posix(): clip
             for clip in package_clips([package])}
    assert sorted(clips) == ["footsteps/grass1.ogg", "footsteps/grass2.ogg", "weapons/explosion.ogg"]
    assert sorted(p.name for p in (package.root / "audio-extracted").rglob("*.ogg")) == [
        "explosion.ogg", "grass1.ogg", "grass2.ogg"]
    assert [clips[k].extra["license"] for k in sorted(clips)] == ["CC-BY-SA-3.0", "GPL-2+", "public-domain"]
    assert clips["footsteps/grass1.ogg"].group == clips["footsteps/grass2.ogg"].group


def test_heldout_sources_are_registered_as_default_with_their_splits():
    assert {name: SOURCES[name].heldout_split for name in ("tuxpaint-stamps", "ufoai", "scratch")} == {
        "tuxpaint-stamps": "lso_dev", "ufoai": "lso_dev", "scratch": "lso_test"}
    assert {"tuxpaint-stamps", "ufoai", "scratch"} <= set(DEFAULT_SOURCES)
    assert SOURCES["tuxpaint-stamps-speech"].heldout_split is None
    assert all(spec.heldout_split in (None, *HELDOUT_SPLITS) for spec in SOURCES.values())


def _rows() -> list[ManifestRow]:
    rows = [ManifestRow(audio=Path(f"/c/{label}{k}.flac"), labels=[label], id=f"{label}{k}", group=f"{label}{k}",
                        extra={}) for label in ("dog", "cat", "bird", "rain") for k in range(6)]
    rows += [ManifestRow(audio=Path(f"/h/{label}{k}.flac"), labels=[label], id=f"h{label}{k}", group=f"h{label}{k}",
                         extra={"heldout_split": split})
             for label, split in (("dog", "lso_dev"), ("trumpet", "lso_test")) for k in range(4)]
    return rows


def test_heldout_rows_go_whole_to_their_split_and_leave_the_others_unchanged():
    rows = _rows()
    assign_splits(rows, SplitConfig(seed=3, unseen_fraction=0.5))
    assert check_splits(rows) == []
    assert [row.split for row in rows if row.id.startswith("h")] == ["lso_dev"] * 4 + ["lso_test"] * 4
    alone = [row for row in _rows() if not row.id.startswith("h")]
    assign_splits(alone, SplitConfig(seed=3, unseen_fraction=0.5))
    assert [row.split for row in alone] == [row.split for row in rows if not row.id.startswith("h")]


def test_check_splits_refuses_heldout_clips_outside_their_split():
    rows = _rows()
    assign_splits(rows, SplitConfig(seed=3))
    rows[-1].split = "train"
    rows[0].split = "lso_test"
    rows[1].split = "dev"
    problems = check_splits(rows)
    assert any("held-out clip htrumpet3 is in train" in problem for problem in problems)
    assert any("clip dog0 of a non-held-out source is in lso_test" in problem for problem in problems)
    assert any("clip dog1 has unknown split 'dev'" in problem for problem in problems)
