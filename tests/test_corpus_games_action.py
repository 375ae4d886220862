"""Label rules of the action and arcade game packages, and the OpenTTD sample catalogue reader."""

from __future__ import annotations

import io
import re
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from auralign.corpus.archives import read_cat
from auralign.corpus.packages import OPENTTD_CAT, PACKAGES, package_clips
from auralign.corpus.path_rules import RuleTable, load_rules
from auralign.corpus.sources import DebianPackage
from auralign.errors import AuralignError

ACTION_PACKAGES = ("scorched3d-data", "minetest-data", "redeclipse-data", "warmux-data", "supertux-data",
                   "freedroidrpg-data", "tuxpaint-data", "bzflag-data", "tuxfootball", "openttd-opensfx")


def _package(tmp_path: Path, name: str) -> DebianPackage:
    return DebianPackage(name=name, version="1", license="GPL-2+", homepage="", root=tmp_path / name)


def _wav_bytes(seconds: float = 0.3) -> bytes:
    t = np.arange(round(seconds * 8000)) / 8000
    buffer = io.BytesIO()
    sf.write(buffer, 0.5 * np.sin(2 * np.pi * 440 * t), 8000, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def _cat(entries: list[tuple[str, bytes, str]]) -> bytes:
    """A catalogue laid out as catcodec writes it (see `read_cat`)."""
    table, body = b"", b""
    for description, wav, filename in entries:
        table += struct.pack("<II", (8 * len(entries) + len(body)) | 0x80000000, len(wav))
        name, file = description.encode() + b"\0", filename.encode() + b"\0"
        body += bytes([len(name)]) + name + wav + b"\0" + bytes([len(file)]) + file
    return table + body


@pytest.mark.parametrize(("package", "relative", "expected"), [
    ("scorched3d-data", "apoc/data/wav/misc/policecar.wav", ("police car siren", "effect")),
    ("scorched3d-data", "apoc/data/wav/misc/scream3.wav", ("scream", "vocal")),
    ("scorched3d-data", "apoc/data/wav/misc/dog.wav", ("dog bark", "effect")),
    ("scorched3d-data", "apoc/data/wav/explosions/bees.wav", ("bee buzzing", "effect")),
    ("scorched3d-data", "none/data/wav/misc/birds1.wav", ("birdsong", "ambience")),
    ("scorched3d-data", "none/data/wav/misc/f18_2.wav", ("jet engine", "effect")),
    ("scorched3d-data", "none/data/wav/explosions/xlarge.wav", ("explosion", "effect")),
    ("scorched3d-data", "none/data/music/mix3_loop1.ogg", None),
    ("scorched3d-data", "none/data/wav/misc/beep.wav", None),
    ("scorched3d-data", "none/data/wav/misc/bats1.wav", None),
    ("scorched3d-data", "none/data/wav/shield/activate.wav", None),
    ("minetest-data", "default/sounds/default_gravel_footstep.4.ogg", ("gravel footsteps", "effect")),
    ("minetest-data", "default/sounds/default_metal_footstep.3.ogg", ("metal footsteps", "effect")),
    ("minetest-data", "default/sounds/default_metal_footstep.2.ogg", None),
    ("minetest-data", "default/sounds/default_wood_footstep.1.ogg", None),
    ("minetest-data", "default/sounds/default_hard_footstep.2.ogg", ("footsteps", "effect")),
    ("minetest-data", "fire/sounds/fire_fire.2.ogg", ("fire", "ambience")),
    ("minetest-data", "fire/sounds/fire_large.ogg", None),
    ("minetest-data", "fire/sounds/fire_extinguish_flame.1.ogg", ("sizzle", "effect")),
    ("minetest-data", "default/sounds/default_cool_lava.1.ogg", None),
    ("minetest-data", "default/sounds/default_chest_open.ogg", None),
    ("minetest-data", "doors/sounds/doors_steel_door_close.ogg", ("metal door closing", "effect")),
    ("redeclipse-data", "ambience/waterfall.ogg", ("waterfall", "ambience")),
    ("redeclipse-data", "ambience/waterfall3.ogg", ("waterfall", "ambience")),
    ("redeclipse-data", "ambience/waterfall1.ogg", None),
    ("redeclipse-data", "ambience/waterfall_indoor.ogg", None),
    ("redeclipse-data", "ambience/morph/stormbolts.ogg", ("thunderstorm", "ambience")),
    ("redeclipse-data", "ambience/morph/machine4.ogg", None),
    ("redeclipse-data", "player/footstep3.ogg", ("footsteps", "effect")),
    ("redeclipse-data", "player/footstep4.ogg", None),
    ("redeclipse-data", "voice/haha.ogg", None),
    ("redeclipse-data", "announcer/firstblood.ogg", None),
    ("redeclipse-data", "weapons/explode2.ogg", ("explosion", "effect")),
    ("redeclipse-data", "weapons/rifle/explode.ogg", None),
    ("warmux-data", "weapons/explosion7.ogg", ("explosion", "effect")),
    ("warmux-data", "weapons/ricoche2.ogg", ("ricochet", "effect")),
    ("warmux-data", "voices/injured_high3.ogg", None),
    ("warmux-data", "weapons/aircraft_bomb_falling.ogg", None),
    ("supertux-data", "rain.wav", ("rain", "ambience")),
    ("supertux-data", "splash.ogg", ("water splash", "effect")),
    ("supertux-data", "yeti_roar.wav", None),
    ("freedroidrpg-data", "tux_ingame_comments/Not_Enough_Power_Sound_0.ogg", ("male speech", "speech")),
    ("freedroidrpg-data", "tux_ingame_comments/CantRepairThat.ogg", None),
    ("freedroidrpg-data", "bot_sounds/voice_samples/12.ogg", None),
    ("freedroidrpg-data", "Glass_Break.ogg", ("glass breaking", "effect")),
    ("tuxpaint-data", "typewriterbell.wav", ("typewriter bell", "effect")),
    ("tuxpaint-data", "giggle.wav", None),
    ("bzflag-data", "boom.wav", ("explosion", "effect")),
    ("bzflag-data", "teleport.wav", None),
    ("tuxfootball", "refwhistletwice.wav", ("whistle", "effect")),
    ("tuxfootball", "crowdboo.wav", ("crowd booing", "ambience")),
    ("tuxfootball", "crowdooh.wav", None),
    ("tuxfootball", "titlemusic.ogg", None),
])
def test_package_rules(package, relative, expected):
    assert RuleTable(load_rules(package)).label(relative) == expected


@pytest.mark.parametrize(("stem", "expected"), [
    ("37_cow", "cow moo"),
    ("57_heavy_wind", "wind"),
    ("59_mach_1_jet_take_off", "jet engine"),
    ("05_steam_engine_going_in_tunnel", "steam train"),
    ("72_tropical_bird_2", "birdsong"),
    ("21_beep", None),
    ("26_truck_old_bus_start_pull_away_with_horn", None),
    ("67_tropical_lion_roar", None),
    ("69_toyland_propeller_plane_take_off", None),
    ("34_unused_nothing", None),
])
def test_openttd_rules(stem, expected):
    found = RuleTable(load_rules("openttd-opensfx")).label(stem + ".wav")
    assert (found[0] if found else None) == expected


def test_tables_are_valid_rules():
    kinds = {"effect", "ambience", "vocal", "music", "speech", "instrument", "drum"}
    for package in ACTION_PACKAGES:
        for pattern, label, kind in load_rules(package):
            re.compile(pattern)
            assert label is None or (label == label.lower().strip() and kind in kinds)


def test_read_cat_parses_entries(tmp_path):
    wav = _wav_bytes()
    path = tmp_path / "opensfx.cat"
    path.write_bytes(_cat([('"Cow". Original "Cow - Moan 2.wav" by "Jarred Gib". License: CC0.', wav, "src/wav/osfx_00.wav"),
                           ('"Beep". By Janis Lukss.', wav, "src/wav/osfx_01.wav")]))
    cow, beep = read_cat(path)
    assert (cow.index, cow.title, cow.stem, cow.recording) == (0, "Cow", "00_cow", "cow - moan")
    assert (beep.stem, beep.recording, beep.filename) == ("01_beep", "beep", "src/wav/osfx_01.wav")
    assert cow.wav == wav and sf.info(io.BytesIO(cow.wav)).frames == 2400


@pytest.mark.parametrize("damage", ["truncate", "old_format", "not_riff"])
def test_read_cat_rejects_malformed_files(tmp_path, damage):
    data = bytearray(_cat([('"Cow".', _wav_bytes(), "src/wav/osfx_00.wav")]))
    if damage == "truncate":
        data = data[:100]
    elif damage == "old_format":
        data[3] &= 0x7F
    else:
        wav_start = 8 + 1 + len('"Cow".\0')  # table, name length, name
        data[wav_start:wav_start + 4] = b"JUNK"
    path = tmp_path / "bad.cat"
    path.write_bytes(bytes(data))
    with pytest.raises(AuralignError, match="not an OpenTTD sample catalogue"):
        read_cat(path)


def test_openttd_clips_extract_labelled_entries_grouped_by_original(tmp_path, monkeypatch):
    monkeypatch.setenv("AURALIGN_HOME", str(tmp_path / "home"))
    package = _package(tmp_path, "openttd-opensfx")
    cat = package.root / OPENTTD_CAT
    cat.parent.mkdir(parents=True)
    cat.write_bytes(_cat([('"Beep". By Janis Lukss.', _wav_bytes(), "src/wav/osfx_00.wav"),
                          ('"Wind". Original "wind1.wav" by "Anton".', _wav_bytes(), "src/wav/osfx_01.wav"),
                          ('"Heavy wind". Original "wind1.wav" by "Anton".', _wav_bytes(), "src/wav/osfx_02.wav"),
                          ('"Cow". Original "Cow.wav" by "Jarred Gib".', _wav_bytes(), "src/wav/osfx_03.wav")]))
    clips = {clip.path.name: clip for clip in package_clips([package])}
    assert sorted(clips) == ["01_wind.wav", "02_heavy_wind.wav", "03_cow.wav"]
    assert sorted(p.name for p in PACKAGES["openttd-opensfx"].folder(package).iterdir()) == sorted(clips)
    assert clips["01_wind.wav"].group == clips["02_heavy_wind.wav"].group == "openttd-opensfx:wind"
    assert (clips["03_cow.wav"].labels, clips["03_cow.wav"].source) == (["cow moo"], "openttd-opensfx")


def test_sessions_share_a_group(tmp_path):
    package = _package(tmp_path, "tuxfootball")
    folder = package.root / PACKAGES["tuxfootball"].sound_dir
    folder.mkdir(parents=True)
    for name in ("refwhistleend.wav", "refwhistleshort.wav", "crowdcheer.wav", "beep.wav"):
        (folder / name).write_bytes(_wav_bytes())
    groups = {clip.path.stem: clip.group for clip in package_clips([package])}
    assert groups == {"crowdcheer": "tuxfootball:./crowdcheer", "refwhistleend": "tuxfootball:referee whistle",
                      "refwhistleshort": "tuxfootball:referee whistle"}
