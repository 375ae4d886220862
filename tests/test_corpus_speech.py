"""Speech sources on tiny fake package trees: Asterisk voices, KLettres, GCompris bundles, Fish Fillets voice packs."""

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from auralign.corpus.archives import rcc_members
from auralign.corpus.sources import DebianPackage
from auralign.corpus.speech import (
    ENGLISH_VOICE,
    asterisk_clips,
    asterisk_label,
    fillets_clips,
    gcompris_clips,
    klettres_clips,
    parse_voice,
)

SPANISH = parse_voice("es_MX_f_Allison")
ITALIAN_MALE = parse_voice("it_IT_m_Carlo")


def write_clip(path: Path, audio_format: str = "WAV") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, (0.2 * np.sin(np.arange(4410) / 5)).astype(np.float32), 44100, format=audio_format)
    return path


def package(root: Path, name: str) -> DebianPackage:
    return DebianPackage(name, "1", "CC-BY-SA-3.0", "", root)


def test_parse_voice_reads_language_gender_and_speaker():
    assert SPANISH is not None and ITALIAN_MALE is not None
    assert (SPANISH.language, SPANISH.locale, SPANISH.gender, SPANISH.speaker) == ("spanish", "es-MX", "female", "allison")
    assert (ITALIAN_MALE.gender, ITALIAN_MALE.speech_label) == ("male", "italian male speech")
    assert parse_voice("en_US_f_Allison") == ENGLISH_VOICE and ENGLISH_VOICE.speech_label == "female speech"
    assert parse_voice("xx_XX_f_Nobody") is None and parse_voice("digits") is None


@pytest.mark.parametrize(("relative", "label"), [
    ("digits/7.wav", "spoken digit seven"), ("digits/h-5.wav", "spoken number"), ("digits/thousand.wav", "spoken number"),
    ("digits/day-3.wav", "spoken weekday"), ("digits/mon-11.wav", "spoken month name"), ("digits/oclock.wav", "female speech"),
    ("letters/q.wav", "spoken letter"), ("letters/ascii42.wav", "female speech"), ("phonetic/a_p.wav", "spoken phonetic alphabet"),
    ("beep.wav", "beep"), ("descending-2tone.wav", "beep"), ("silence/3.wav", None), ("vm-goodbye.wav", "female speech"),
    ("tt-monkeys.wav", None),
])
def test_english_labels_keep_the_fsdd_vocabulary(relative, label):
    assert asterisk_label(Path(relative)) == label


@pytest.mark.parametrize(("relative", "label"), [
    ("digits/7.wav", "spoken number in spanish"), ("digits/21.wav", "spoken number in spanish"),
    ("digits/1F.wav", "spoken number in spanish"), ("digits/20-and.wav", "spoken number in spanish"),
    ("digits/millions.wav", "spoken number in spanish"), ("digits/h-hundred.wav", "spoken number in spanish"),
    ("digits/day-0.wav", "spoken weekday in spanish"), ("digits/mon-4.wav", "spoken month name in spanish"),
    ("digits/es-de.wav", "spanish female speech"), ("letters/n.wav", "spoken letter in spanish"),
    ("letters/dot.wav", "spanish female speech"), ("phonetic/ICAO/b_p.wav", "spoken phonetic alphabet in spanish"),
    ("beep.wav", None), ("tt-monkeys.wav", None), ("silence/1.wav", None), ("conf-getpin.wav", "spanish female speech"),
])
def test_other_languages_get_language_labels_and_no_copied_tones(relative, label):
    assert asterisk_label(Path(relative), SPANISH) == label


def test_asterisk_clips_one_group_per_voice_and_prompt(tmp_path):
    packages = []
    for folder in ("en_US_f_Allison", "es_MX_f_Allison"):
        root = tmp_path / folder
        voice = root / "usr/share/asterisk/sounds" / folder
        for relative in ("digits/7.wav", "beep.wav", "silence/1.wav", "vm-goodbye.wav"):
            write_clip(voice / relative)
        (root / "usr/share/asterisk/sounds/not-a-voice").mkdir()
        packages.append(package(root, f"asterisk-{folder}"))
    clips = list(asterisk_clips(packages))
    assert sorted(c.group for c in clips) == ["en_US_f_Allison:beep", "en_US_f_Allison:digits/7",
                                              "en_US_f_Allison:vm-goodbye", "es_MX_f_Allison:digits/7",
                                              "es_MX_f_Allison:vm-goodbye"]
    spanish = {c.group: c for c in clips if c.source == "asterisk-es_MX_f_Allison"}
    seven = spanish["es_MX_f_Allison:digits/7"]
    assert seven.labels == ["spoken number in spanish"] and seven.kind == "speech"
    assert seven.extra == {"speaker": "allison", "gender": "female", "language": "es-MX", "prompt": "digits/7"}
    assert next(c.kind for c in clips if c.labels == ["beep"]) == "effect"


def test_klettres_clips_label_letters_and_syllables_per_language(tmp_path):
    data = tmp_path / "usr/share/klettres"
    for code in ("fr", "en_GB"):
        write_clip(data / code / "alpha/a-0.ogg", "OGG")
        write_clip(data / code / "syllab/ba.ogg", "OGG")
    (data / "fr/sounds.xml").write_text('<klettres><language code="fr"><alphabet><sound name="A" file="fr/alpha/a-0.ogg"/>'
                                        '</alphabet></language></klettres>')
    write_clip(data / "xx/alpha/a.ogg", "OGG")  # a language without a name in the table is left out
    (data / "pics/kids").mkdir(parents=True)
    clips = {c.group: c for c in klettres_clips([package(tmp_path, "klettres-data")])}
    assert {group: c.labels[0] for group, c in clips.items()} == {
        "en_GB/alpha/a-0": "spoken letter", "en_GB/syllab/ba": "spoken syllable",
        "fr/alpha/a-0": "spoken letter in french", "fr/syllab/ba": "spoken syllable in french"}
    assert clips["fr/alpha/a-0"].extra == {"language": "fr", "text": "A", "prompt": "fr/alpha/a-0.ogg"}
    assert clips["en_GB/syllab/ba"].extra["language"] == "en-GB" and clips["en_GB/syllab/ba"].extra["text"] is None


def rcc_bundle(files: dict[str, bytes], compressed: frozenset[str] = frozenset()) -> bytes:
    """A version-2 Qt resource bundle holding `files` (paths with '/'), built as Qt's rcc lays it out."""
    tree: dict = {}
    for path, content in files.items():
        *folders, name = path.split("/")
        node = tree
        for folder in folders:
            node = node.setdefault(folder, {})
        node[name] = (path, content)
    names, data, nodes = bytearray(), bytearray(), [b""]
    pending = [(0, "", tree)]
    while pending:
        index, name, children = pending.pop(0)
        name_offset, first = len(names), len(nodes)
        names += struct.pack(">HI", len(name), 0) + name.encode("utf-16-be")
        nodes[index] = struct.pack(">IHII", name_offset, 2, len(children), first) + bytes(8)
        nodes += [b""] * len(children)
        for k, (child, value) in enumerate(sorted(children.items())):
            if isinstance(value, dict):
                pending.append((first + k, child, value))
                continue
            path, content = value
            packed = struct.pack(">I", len(content)) + zlib.compress(content) if path in compressed else content
            child_offset = len(names)
            names += struct.pack(">HI", len(child), 0) + child.encode("utf-16-be")
            nodes[first + k] = struct.pack(">IHHHI", child_offset, int(path in compressed), 0, 0, len(data)) + bytes(8)
            data += struct.pack(">I", len(packed)) + packed
    tree_bytes = b"".join(nodes)
    header = 20
    return (b"qres" + struct.pack(">IIII", 2, header, header + len(tree_bytes), header + len(tree_bytes) + len(data))
            + tree_bytes + bytes(data) + bytes(names))


def test_rcc_members_reads_plain_and_zlib_members_in_nested_folders():
    files = {"a/b/cow.ogg": b"moo" * 50, "a/readme": b"text", "top.wav": b"RIFF"}
    bundle = rcc_bundle(files, compressed=frozenset({"a/b/cow.ogg"}))
    assert dict(rcc_members(bundle)) == files
    with pytest.raises(ValueError):
        list(rcc_members(b"nope" + bundle[4:]))


def test_gcompris_clips_extract_only_labelled_recordings_once(tmp_path):
    folder = "gcompris/src/activities/explore_farm_animals/resource/animals"
    ogg = write_clip(tmp_path / "cow.ogg", "OGG").read_bytes()
    rcc = tmp_path / "pkg/usr/share/gcompris-qt/rcc"
    rcc.mkdir(parents=True)
    (rcc / "explore_farm_animals.rcc").write_bytes(rcc_bundle(
        {f"{folder}/cow.ogg": ogg, f"{folder}/cow.svg": b"<svg/>", f"{folder}/unicorn.ogg": ogg},
        compressed=frozenset({f"{folder}/cow.ogg"})))
    source = package(tmp_path / "pkg", "gcompris-qt-data")
    clips = list(gcompris_clips([source]))
    assert [(c.labels, c.group, c.kind) for c in clips] == [(["cow moo"], "explore_farm_animals/cow.ogg", "effect")]
    assert clips[0].path.read_bytes() == ogg and sf.info(clips[0].path).frames == 4410
    mtime = clips[0].path.stat().st_mtime_ns
    assert [c.path for c in gcompris_clips([source])] == [clips[0].path]
    assert clips[0].path.stat().st_mtime_ns == mtime


def test_fillets_clips_keep_the_fish_dialog_lines_of_each_voice_pack(tmp_path):
    game = tmp_path / "game/usr/share/games/fillets-ng"
    (game / "script/airplane").mkdir(parents=True)
    (game / "script/airplane/dialogs_cs.lua").write_text(
        'dialogId("let-m-divna", "font_small", "What a strange ship?")\ndialogStr("Co je to za divnou lo\\u010f?")\n'
        'dialogId("let-v-vrak", "font_big", "A wreck.")\ndialogStr("Vrak.")\n'
        'dialogId("let-p-ahoj", "font_parrot", "Hello.")\ndialogStr("Ahoj.")\n')
    voices = tmp_path / "cs/usr/share/games/fillets-ng/sound"
    for name in ("let-m-divna", "let-v-vrak0", "let-p-ahoj", "z-c-1"):
        write_clip(voices / f"airplane/cs/{name}.ogg", "OGG")
    write_clip(voices / "share/sp-bubles_00.ogg", "OGG")
    clips = list(fillets_clips([package(tmp_path / "game", "fillets-ng-data"),
                                package(tmp_path / "cs", "fillets-ng-data-cs")]))
    assert [(c.group, c.labels, c.extra["speaker"]) for c in clips] == [
        ("cs/airplane/let-m-divna", ["czech speech"], "small fish"), ("cs/airplane/let-v-vrak0", ["czech speech"], "big fish")]
    assert clips[1].extra == {"language": "cs", "speaker": "big fish", "text": "Vrak.", "prompt": "airplane/let-v-vrak0"}
    assert clips[0].source == "fillets-ng-data-cs" and clips[0].kind == "speech"
