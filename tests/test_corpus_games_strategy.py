"""Label rules of the strategy and building game packages, and their extraction, copies and groups."""

from __future__ import annotations

import gzip
import io
import re
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from auralign.corpus.archives import c4group_members
from auralign.corpus.labels import normalise_label
from auralign.corpus.packages import PACKAGES, package_clips
from auralign.corpus.path_rules import RuleTable, load_rules
from auralign.corpus.sources import DebianPackage
from auralign.errors import AuralignError

STRATEGY_PACKAGES = ("warzone2100-data", "widelands-data", "megaglest-data", "freeorion-data", "lincity-ng-data",
                     "openclonk-data")
WARZONE2100_ZIP = "usr/share/games/warzone2100/base.wz"
OPENCLONK_SOUND_GROUP = "usr/share/games/openclonk/Sound.ocg"
KINDS = {"effect", "ambience", "vocal", "music", "speech", "instrument", "drum"}


def _package(tmp_path: Path, name: str) -> DebianPackage:
    return DebianPackage(name=name, version="1", license="GPL-2+", homepage="", root=tmp_path / name)


def _wav_bytes(hz: float = 440.0, seconds: float = 0.3) -> bytes:
    t = np.arange(round(seconds * 8000)) / 8000
    buffer = io.BytesIO()
    sf.write(buffer, 0.5 * np.sin(2 * np.pi * hz * t), 8000, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def _c4group(files: dict[str, bytes | dict]) -> bytes:
    """An unpacked C4Group laid out as `c4group_members` reads it; a dict value is a child group."""
    bodies = [_c4group(body) if isinstance(body, dict) else body for body in files.values()]
    header = bytearray(204)
    header[:24] = b"RedWolf Design GrpFolder"
    struct.pack_into("<3i", header, 28, 1, 2, len(files))
    for i in range(0, 202, 3):
        header[i], header[i + 2] = header[i + 2], header[i]
    entries, offset = b"", 0
    for (name, body), data in zip(files.items(), bodies, strict=True):
        entries += name.encode().ljust(260, b"\0")
        entries += struct.pack("<5i", 0, isinstance(body, dict), len(data), 0, offset) + bytes(36)
        offset += len(data)
    return bytes(byte ^ 0xED for byte in header) + entries + b"".join(bodies)


def _packed(files: dict[str, bytes | dict]) -> bytes:
    return b"\x1e\x8c" + gzip.compress(_c4group(files))[2:]


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _label(package: str, relative: str) -> tuple[str, str] | None:
    return RuleTable(load_rules(package)).label(relative)


_MG_COMMON = "techs/megapack/commondata/sounds"
_MG_FACTIONS = "techs/megapack/factions"


@pytest.mark.parametrize(("package", "relative", "expected"), [
    ("warzone2100-data", "sfx/weapons/lrgcan.ogg", ("cannon fire", "effect")),
    ("warzone2100-data", "sfx/weapons/mgbar2.ogg", ("machine gun", "effect")),
    ("warzone2100-data", "sfx/explons/atnkexpl.ogg", ("explosion", "effect")),
    ("warzone2100-data", "sfx/misc/scream3.ogg", ("scream", "vocal")),
    ("warzone2100-data", "memressp/research/pcv357.ogg", ("female speech", "speech")),
    ("warzone2100-data", "extra/pcv651a.ogg", ("female speech", "speech")),
    ("warzone2100-data", "memressp/cmndrvoc/com024.ogg", ("male speech", "speech")),
    ("warzone2100-data", "memressp/cmndrvoc/7.ogg", ("male speech", "speech")),
    ("warzone2100-data", "memressp/console/power-transferred.ogg", ("speech", "speech")),
    ("warzone2100-data", "vtoltalk/v-eloc1.ogg", ("speech", "speech")),
    ("warzone2100-data", "tutorial/tut25.ogg", ("speech", "speech")),
    ("warzone2100-data", "taunts/taunt2/hahaha2.ogg", ("laughter", "vocal")),
    ("warzone2100-data", "taunts/taunt2/tme2die2.ogg", ("speech", "speech")),
    ("warzone2100-data", "nexus/laugh1.ogg", None),
    ("warzone2100-data", "coltive/col011a.ogg", None),
    ("warzone2100-data", "sfx/weapons/plslsr.ogg", None),
    ("warzone2100-data", "sfx/vehicle/hovmove.ogg", None),
    ("warzone2100-data", "sfx/interfce/beep4.ogg", None),
    ("warzone2100-data", "radclick/radclik2.ogg", None),
    ("warzone2100-data", "sfx/building/freroar.ogg", None),
    ("warzone2100-data", "sfx/misc/silence.ogg", None),
    ("widelands-data", "sound/animals/bird3_02.ogg", ("birdsong", "ambience")),
    ("widelands-data", "sound/animals/boar.ogg", ("pig grunt", "effect")),
    ("widelands-data", "sound/animals/moose_01.ogg", ("elk bellow", "effect")),
    ("widelands-data", "sound/animals/wolf_02.ogg", ("wolf howl", "effect")),
    ("widelands-data", "world/critters/duck/duck_01.ogg", ("duck quack", "effect")),
    ("widelands-data", "sound/atlanteans/cutting/stonecutter_01.ogg", ("mining stone", "effect")),
    ("widelands-data", "sound/atlanteans/saw/benchsaw_02.ogg", ("sawing wood", "effect")),
    ("widelands-data", "sound/barbarians/taverns/tavern_00.ogg", ("dishes clattering", "effect")),
    ("widelands-data", "sound/barbarians/taverns/inn_01.ogg", ("frying", "effect")),
    ("widelands-data", "sound/metal/furnace.ogg", ("fire", "ambience")),
    ("widelands-data", "sound/woodcutting/fast_woodcutting_03.ogg", ("chopping wood", "effect")),
    ("widelands-data", "sound/woodcutting/woodcutting.ogg", ("chopping wood", "effect")),
    ("widelands-data", "music/ingame_04.ogg", None),
    ("widelands-data", "sound/click.ogg", None),
    ("widelands-data", "sound/military/under_attack.ogg", None),
    ("widelands-data", "sound/empire/taverns/ration_00.ogg", None),
    ("widelands-data", "sound/barbarians/taverns/inn_00.ogg", None),
    ("widelands-data", "sound/metal/ironping.ogg", None),
    ("widelands-data", "sound/farm/horse_00.ogg", None),
    ("widelands-data", "sound/mill/mill_turning_00.ogg", None),
    ("megaglest-data", f"{_MG_COMMON}/archer_ack12.wav", ("speech", "speech")),
    ("megaglest-data", f"{_MG_COMMON}/technician_select3.wav", ("speech", "speech")),
    ("megaglest-data", f"{_MG_FACTIONS}/norsemen/units/cudgel_lady/sounds/cudgel_ack7.wav", ("speech", "speech")),
    ("megaglest-data", f"{_MG_FACTIONS}/persian/units/magician/sounds/select3.wav", ("speech", "speech")),
    ("megaglest-data", f"{_MG_FACTIONS}/indian/units/spearman/sounds/stickfighter_select2.wav", ("speech", "speech")),
    ("megaglest-data", f"{_MG_COMMON}/guard_die2.wav", ("death cry", "vocal")),
    ("megaglest-data", f"{_MG_FACTIONS}/persian/units/princess/sounds/princess_die4.wav", ("death cry", "vocal")),
    ("megaglest-data", f"{_MG_COMMON}/archer_attack3.wav", ("arrow shot", "effect")),
    ("megaglest-data", f"{_MG_FACTIONS}/persian/units/genie/sounds/arrow_hit2.wav", ("arrow impact", "effect")),
    ("megaglest-data", f"{_MG_COMMON}/stickfighter_attack9.wav", ("staff strike", "effect")),
    ("megaglest-data", f"{_MG_COMMON}/horseman_walk2.wav", ("horse hooves", "effect")),
    ("megaglest-data", f"{_MG_COMMON}/tech_building_fall3.wav", ("building collapse", "effect")),
    ("megaglest-data", f"{_MG_FACTIONS}/persian/units/elephant/sounds/ele4.wav", ("elephant trumpet", "effect")),
    ("megaglest-data", f"{_MG_FACTIONS}/indian/units/thunderbird/sounds/eagle_select1.wav",
     ("bird of prey screech", "effect")),
    ("megaglest-data", "tilesets/autumn/sounds/sunny_day.ogg", ("daytime nature ambience", "ambience")),
    ("megaglest-data", "tilesets/fernland/sounds/night.ogg", ("night nature ambience", "ambience")),
    ("megaglest-data", "tilesets/autumn/sounds/rooster.ogg", ("rooster crowing", "effect")),
    ("megaglest-data", "tilesets/pine_peat/sounds/mudchute_cow_1.ogg", ("cow moo", "effect")),
    ("megaglest-data", "data/core/water_sounds/water3.wav", ("water splash", "effect")),
    ("megaglest-data", f"{_MG_FACTIONS}/norsemen/units/swordman_berserk/sounds/swordman_ack1.wav", None),
    ("megaglest-data", f"{_MG_FACTIONS}/indian/units/horseman/sounds/horseman_die2.wav", None),
    ("megaglest-data", f"{_MG_COMMON}/horseman_die1.wav", None),
    ("megaglest-data", f"{_MG_COMMON}/swordman_attack4.wav", None),
    ("megaglest-data", f"{_MG_COMMON}/stickfighter_attack11.wav", None),
    ("megaglest-data", f"{_MG_COMMON}/daemon_ack3.wav", None),
    ("megaglest-data", f"{_MG_COMMON}/golem_select4.wav", None),
    ("megaglest-data", f"{_MG_FACTIONS}/magic/units/dragon/sounds/dragon_ack1.wav", None),
    ("megaglest-data", f"{_MG_COMMON}/worker_mine6.wav", None),
    ("megaglest-data", f"{_MG_COMMON}/worker_mine3.wav", None),
    ("megaglest-data", f"{_MG_COMMON}/tech_click.wav", None),
    ("megaglest-data", f"{_MG_FACTIONS}/magic/music/music_magic.ogg", None),
    ("megaglest-data", "tilesets/hell/sounds/hell.ogg", None),
    ("megaglest-data", "tilesets/winter_forest/sounds/wind.ogg", None),
    ("megaglest-data", "tilesets/forest/sounds/chicken.wav", None),
    ("freeorion-data", "combat/explosion-heavy1.ogg", ("explosion", "effect")),
    ("freeorion-data", "combat/laser-blaster2.ogg", None),
    ("freeorion-data", "artificial_intelligence_v3.ogg", None),
    ("lincity-ng-data", "Fire2.wav", ("fire", "ambience")),
    ("lincity-ng-data", "SportsCroud3.wav", ("crowd", "ambience")),
    ("lincity-ng-data", "TraficHigh2.wav", ("traffic noise", "ambience")),
    ("lincity-ng-data", "RailTrain3.wav", ("train", "effect")),
    ("lincity-ng-data", "RailTrain1.wav", None),
    ("lincity-ng-data", "FireWasteland1.wav", None),
    ("lincity-ng-data", "Blacksmith2.wav", None),
    ("lincity-ng-data", "ResidentialHigh1.wav", None),
    ("lincity-ng-data", "Click.wav", None),
    ("openclonk-data", "Animals/MosquitoBuzz.ogg", ("mosquito buzzing", "effect")),
    ("openclonk-data", "Clonk/Skin/Steampunk/Laughter2.wav", ("laughter", "vocal")),
    ("openclonk-data", "Clonk/Skin/Farmer/Hurt1.ogg", ("pain grunt", "vocal")),
    ("openclonk-data", "Clonk/Skin/Alchemist/Die3.wav", ("death cry", "vocal")),
    ("openclonk-data", "Environment/Lightning/Thunder4.ogg", ("thunder", "ambience")),
    ("openclonk-data", "Fire/Blast3alt.wav", ("explosion", "effect")),
    ("openclonk-data", "Fire/FuseShort.ogg", ("burning fuse", "effect")),
    ("openclonk-data", "Hits/Materials/Glass/GlassShatter.ogg", ("glass breaking", "effect")),
    ("openclonk-data", "Liquids/StereoRain.ogg", ("rain", "ambience")),
    ("openclonk-data", "Objects/Weapons/Blunderbuss/GunShoot3.ogg", ("musket shot", "effect")),
    ("openclonk-data", "Objects/Arrow/Shoot2.ogg", ("arrow shot", "effect")),
    ("openclonk-data", "Structures/HingeCreak2.ogg", ("hinge creaking", "effect")),
    ("openclonk-data", "Clonk/Skin/Adventurer/Doubt2.wav", None),
    ("openclonk-data", "Clonk/Skin/Steampunk/Singing1.wav", None),
    ("openclonk-data", "Clonk/Movement/StepHard3.ogg", None),
    ("openclonk-data", "Clonk/Action/Dig/Dig2.wav", None),
    ("openclonk-data", "Animals/Mooq/Snort1.wav", None),
    ("openclonk-data", "Liquids/Swim2.ogg", None),
    ("openclonk-data", "Liquids/SmokeSizzle.ogg", None),
    ("openclonk-data", "Objects/Weapons/WeaponSwing3.ogg", None),
    ("openclonk-data", "UI/Fanfare.wav", None),
])
def test_package_rules(package, relative, expected):
    assert _label(package, relative) == expected


def test_tables_are_valid_rules():
    for package in STRATEGY_PACKAGES:
        for pattern, label, kind in load_rules(package):
            re.compile(pattern)
            assert label is None or (label == normalise_label(label) and kind in KINDS)


def test_c4group_members_recurse_into_child_groups():
    group = _c4group({"Animals.ocg": {"Bat.ocg": {"Flutter1.wav": b"bat"}, "MosquitoBuzz.ogg": b"buzz"},
                      "authors.txt": b"credits"})
    assert dict(c4group_members(group)) == {"Animals/Bat/Flutter1.wav": b"bat",
                                            "Animals/MosquitoBuzz.ogg": b"buzz", "authors.txt": b"credits"}
    for data in (b"RIFF" + bytes(300), group[:100]):
        with pytest.raises(AuralignError, match="C4Group"):
            list(c4group_members(data))


def test_openclonk_extracts_only_labelled_audio(tmp_path):
    package = _package(tmp_path, "openclonk-data")
    _write(package.root / OPENCLONK_SOUND_GROUP, _packed({
        "Environment.ocg": {"Lightning.ocg": {"Thunder1.ogg": _wav_bytes(200)}, "WindLoop.ogg": _wav_bytes(300)},
        "UI.ocg": {"Click.wav": _wav_bytes(900)}, "authors.txt": b"credits"}))
    clips = list(package_clips([package]))
    folder = package.root / PACKAGES["openclonk-data"].sound_dir
    assert {c.path.relative_to(folder).as_posix(): c.labels[0] for c in clips} == {
        "Environment/Lightning/Thunder1.ogg": "thunder", "Environment/WindLoop.ogg": "wind"}
    assert sorted(p.name for p in folder.rglob("*") if p.is_file()) == ["Thunder1.ogg", "WindLoop.ogg"]


def test_warzone2100_extracts_audio_and_groups_by_label(tmp_path):
    package = _package(tmp_path, "warzone2100-data")
    (package.root / WARZONE2100_ZIP).parent.mkdir(parents=True)
    members = {"audio/memressp/research/pcv357.ogg": 300, "audio/memressp/power/pcv343.ogg": 310,
               "audio/sfx/weapons/mortar.ogg": 320, "audio/nexus/laugh1.ogg": 330,
               "sequenceaudio/res_droid.ogg": 340}
    with zipfile.ZipFile(package.root / WARZONE2100_ZIP, "w") as archive:
        for member, hz in members.items():
            archive.writestr(member, _wav_bytes(hz))
    clips = list(package_clips([package]))
    assert sorted((c.path.name, c.labels[0], c.group) for c in clips) == [
        ("mortar.ogg", "mortar fire", "warzone2100-data:mortar fire"),
        ("pcv343.ogg", "female speech", "warzone2100-data:female speech"),
        ("pcv357.ogg", "female speech", "warzone2100-data:female speech")]


def test_byte_copies_are_yielded_once(tmp_path):
    package = _package(tmp_path, "megaglest-data")
    root = package.root / PACKAGES["megaglest-data"].sound_dir
    for tileset in ("forest", "meadow", "jungle"):
        _write(root / f"tilesets/{tileset}/sounds/rain.ogg", _wav_bytes(500 if tileset == "jungle" else 400))
    clips = list(package_clips([package]))
    assert sorted(c.path.relative_to(root).as_posix() for c in clips) == [
        "tilesets/forest/sounds/rain.ogg", "tilesets/jungle/sounds/rain.ogg"]
    assert {c.group for c in clips} == {"megaglest-data:rain"}


def test_other_packages_keep_variant_groups(tmp_path):
    package = _package(tmp_path, "widelands-data")
    root = package.root / PACKAGES["widelands-data"].sound_dir
    for name, hz in (("wolf_00", 300), ("wolf_01", 310), ("stag_00", 320)):
        _write(root / f"sound/animals/{name}.ogg", _wav_bytes(hz))
    groups = {c.path.stem: c.group for c in package_clips([package])}
    assert groups["wolf_00"] == groups["wolf_01"] == "widelands-data:sound/animals/wolf"
    assert groups["stag_00"] == "widelands-data:sound/animals/stag"
