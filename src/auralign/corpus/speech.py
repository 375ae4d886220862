"""Speech and other recorded voices: Asterisk's prompts, KLettres's letters and syllables, the Fish Fillets
voice packs, FSDD's digits, and the real recordings inside GCompris's resource bundles.

Asterisk: each voice's prompts sit in a folder named `<language>_<REGION>_<f|m>_<Speaker>`
(`es_MX_f_Allison`), which gives the language, the speaker's gender and the speaker. Prompts are
grouped into coarse, honest classes by folder: numbers, letters, the phonetic alphabet, weekdays and
months get one class each per language ("spoken number in spanish"); every other prompt is speech of
that voice ("spanish female speech"). English keeps the corpus's first labels: English is the
caption language, so its classes carry no language ("spoken letter", "female speech"), and its
digits 0-9 share FSDD's "spoken digit <word>" labels. Tones ("beep") and `tt-monkeys` (a recording
of monkeys) are the same recordings in every voice's folder: tones are taken from the English voice
only and `tt-monkeys` not at all, so copies of one sound never land in different splits.

KLettres: contributors recorded the alphabet and a set of syllables of their language ("spoken letter
in french", "spoken syllable in french"). Fish Fillets NG: the two fish's dialog lines in the Czech
and Dutch voice packs ("czech speech"), found through the game's dialog scripts. FSDD keeps its
speaker split (`extra["preset_split"]`).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from auralign.corpus.archives import rcc_members, write_extracted
from auralign.corpus.sources import DebianPackage, SourceClip
from auralign.data.fsdd import fsdd_rows

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
LANGUAGES = {
    "ar": "arabic", "cs": "czech", "da": "danish", "de": "german", "en": "english", "es": "spanish",
    "fr": "french", "he": "hebrew", "hu": "hungarian", "it": "italian", "lt": "lithuanian", "ml": "malayalam",
    "nb": "norwegian", "nds": "low german", "nl": "dutch", "pt": "portuguese", "ru": "russian",
    "tn": "setswana", "uk": "ukrainian",
}


def digit_label(word: str) -> str:
    return f"spoken digit {word}"


def spoken_label(what: str, language: str) -> str:
    """'spoken letter' in English (the caption language), else 'spoken letter in french'."""
    return f"spoken {what}" if language == "english" else f"spoken {what} in {language}"


# --- Asterisk -------------------------------------------------------------------------------------

ASTERISK_SOUNDS = "usr/share/asterisk/sounds"
_VOICE_FOLDER = re.compile(r"(?P<language>[a-z]{2})_(?P<region>[A-Z]{2})_(?P<gender>[fm])_(?P<speaker>\w+)")
TONES = frozenset({"beep", "beeperr", "ascending-2tone", "descending-2tone"})
SHARED_RECORDINGS = frozenset({"tt-monkeys"})
# Number words of the digits folder besides plain numbers: ordinals ("h-" prefix), gendered and
# combining forms (Spanish 1F/1M/20-and, Russian 1n/2n) and the powers of ten.
_NUMBER = re.compile(r"(?:h-)?(?:\d+(?:[fmn]|-and)?|hundred|thousands?|millions?|billion)", re.IGNORECASE)


@dataclass(frozen=True)
class AsteriskVoice:
    """One voice of Asterisk prompts, as its folder name describes it."""

    folder: str
    language: str  # "spanish"
    locale: str  # "es-MX"
    gender: str  # "female"
    speaker: str  # "allison"

    @property
    def speech_label(self) -> str:
        return f"{self.gender} speech" if self.language == "english" else f"{self.language} {self.gender} speech"


def parse_voice(folder: str) -> AsteriskVoice | None:
    """The voice a folder name like `es_MX_f_Allison` describes; None for other folders or unknown languages."""
    match = _VOICE_FOLDER.fullmatch(folder)
    if not match or match["language"] not in LANGUAGES:
        return None
    return AsteriskVoice(folder=folder, language=LANGUAGES[match["language"]],
                         locale=f"{match['language']}-{match['region']}",
                         gender="female" if match["gender"] == "f" else "male", speaker=match["speaker"].lower())


ENGLISH_VOICE = AsteriskVoice("en_US_f_Allison", "english", "en-US", "female", "allison")


def prompt_class(relative: Path) -> str | None:
    """What a prompt file holds, from its folder and name: digit, number, weekday, month name, letter,
    phonetic alphabet, tone or speech; None for silence and recordings shared by every voice."""
    folder = relative.parts[0] if len(relative.parts) > 1 else ""
    stem = relative.stem
    if folder == "silence" or stem in SHARED_RECORDINGS:
        return None
    if folder == "digits":
        if stem.isdigit() and int(stem) < 10:
            return "digit"
        if stem.startswith("day-"):
            return "weekday"
        if stem.startswith("mon-"):
            return "month name"
        if _NUMBER.fullmatch(stem):
            return "number"
    elif folder == "letters" and len(stem) == 1:
        return "letter"
    elif folder == "phonetic":
        return "phonetic alphabet"
    return "tone" if stem in TONES else "speech"


def asterisk_label(relative: Path, voice: AsteriskVoice = ENGLISH_VOICE) -> str | None:
    """The label of a prompt file (path below the voice folder), or None when it is left out."""
    what = prompt_class(relative)
    english = voice.language == "english"
    if what is None or (what == "tone" and not english):
        return None
    if what == "tone":
        return "beep"
    if what == "speech":
        return voice.speech_label
    if what == "digit":
        return digit_label(DIGIT_WORDS[int(relative.stem)]) if english else spoken_label("number", voice.language)
    return spoken_label(what, voice.language)


def asterisk_voices(package: DebianPackage) -> list[tuple[Path, AsteriskVoice]]:
    sounds = package.root / ASTERISK_SOUNDS
    found = ((folder, parse_voice(folder.name)) for folder in sorted(sounds.iterdir()) if folder.is_dir())
    return [(folder, voice) for folder, voice in found if voice]


def asterisk_clips(packages: list[DebianPackage]) -> Iterator[SourceClip]:
    """Every labelled prompt of every voice folder in the packages; one group per voice and prompt."""
    for package in packages:
        for folder, voice in asterisk_voices(package):
            for path in sorted(folder.rglob("*.wav")):
                relative = path.relative_to(folder)
                label = asterisk_label(relative, voice)
                if label:
                    prompt = relative.with_suffix("").as_posix()
                    yield SourceClip(path=path, labels=[label], group=f"{voice.folder}:{prompt}", source=package.name,
                                     kind="effect" if label == "beep" else "speech",
                                     extra={"speaker": voice.speaker, "gender": voice.gender,
                                            "language": voice.locale, "prompt": prompt})


# --- KLettres -------------------------------------------------------------------------------------

KLETTRES_DATA = "usr/share/klettres"
KLETTRES_FOLDERS = {"alpha": "letter", "syllab": "syllable"}


def klettres_texts(sounds_xml: Path) -> dict[str, str]:
    """File (relative to the data folder) -> the letter or syllable it says, from a language's `sounds.xml`."""
    if not sounds_xml.is_file():
        return {}
    return {sound.get("file", ""): sound.get("name", "") for sound in ElementTree.parse(sounds_xml).iter("sound")}


def klettres_clips(packages: list[DebianPackage]) -> Iterator[SourceClip]:
    """Letters and syllables per language folder (`fr`, `en_GB`, `pt_BR`); one group per recording."""
    for package in packages:
        root = package.root / KLETTRES_DATA
        for language_folder in sorted(p for p in root.iterdir() if p.is_dir()):
            language = LANGUAGES.get(language_folder.name.split("_")[0])
            if language is None:
                continue
            texts = klettres_texts(language_folder / "sounds.xml")
            for folder, what in KLETTRES_FOLDERS.items():
                for path in sorted((language_folder / folder).glob("*.ogg")):
                    relative = path.relative_to(root).as_posix()
                    yield SourceClip(path=path, labels=[spoken_label(what, language)],
                                     group=relative.removesuffix(".ogg"), source=package.name, kind="speech",
                                     extra={"language": language_folder.name.replace("_", "-"),
                                            "text": texts.get(relative), "prompt": relative})


# --- GCompris -------------------------------------------------------------------------------------

GCOMPRIS_RCC = "usr/share/gcompris-qt/rcc"
GCOMPRIS_EXTRACTED = "audio-extracted"
# bundle -> file stem -> (label, kind) for the real recordings: farm animals, instruments (each a 4-12 s phrase
# played on the instrument), Lionel Allorge's field recordings in memory-sound, a freesound helicopter.
# Left out: music pieces, interface blips, and names that do not say what is heard (LRWeird_*, LRHits_01,
# LRObject_falling_*, LRFireballs_01, LRRing_01, LRLaPause_short, the frogs-in-a-storm mixture).
GCOMPRIS_LABELS: dict[str, dict[str, tuple[str, str]]] = {
    "explore_farm_animals": {stem: (label, "effect") for stem, label in {
        "cat": "cat meow", "chickens": "chicken cluck", "cow": "cow moo", "dog": "dog bark", "duck": "duck quack",
        "horse": "horse neigh", "owl": "owl hoot", "pig": "pig grunt", "sheep": "sheep bleat"}.items()},
    "instruments": {stem: (label, "music") for stem, label in {
        "accordion": "accordion", "banjo": "banjo", "bongo": "bongo", "castanets": "castanets", "cello": "cello",
        "clarinet": "clarinet", "cymbal": "cymbal", "drum_kit": "drum kit", "electric_guitar": "electric guitar",
        "flute_traversiere": "flute", "guitar": "acoustic guitar", "harmonica": "harmonica", "harp": "harp",
        "horn": "french horn", "maracas": "maracas", "organ": "organ", "piano": "piano", "saxophone": "saxophone",
        "snare_drum": "snare drum", "tambourine": "tambourine", "timpani": "timpani", "triangle": "triangle",
        "trombone": "trombone", "trumpet": "trumpet", "tuba": "tuba", "violin": "violin"}.items()},
    "memory-sound": {
        "LRApplauses_1_LA_cut": ("applause", "effect"), "LRBark_1_LA_cut": ("dog bark", "effect"),
        "LRBark_3_LA_cut": ("dog bark", "effect"), "LRBuddhist_gong_05_LA": ("gong", "effect"),
        "LRDoor_Open_2_LA": ("door opening", "effect"), "LRHeart_beat_01_LA": ("heartbeat", "effect"),
        "LRRain_in_garden_01_LA_cut": ("rain", "ambience"),
        "LRStartAndStopCarEngine1LACut": ("car engine", "effect"),
        "LRTrain_slowing_down_01_LA_cut": ("train", "effect"),
        **{f"LRFactory_noise_0{k}_LA": ("factory noise", "ambience") for k in range(1, 7)}},
    "guessnumber": {"helicopter": ("helicopter", "effect")},
}
def extract_gcompris_audio(rcc_folder: Path, target: Path) -> dict[Path, tuple[str, str]]:
    """Copy the labelled recordings out of the bundles (once: existing files are kept); file -> (label, kind)."""
    found: dict[Path, tuple[str, str]] = {}
    for bundle_name, table in GCOMPRIS_LABELS.items():
        bundle = rcc_folder / f"{bundle_name}.rcc"
        if not bundle.is_file():
            continue
        wanted = {}
        for member, content in rcc_members(bundle.read_bytes()):
            labelled = table.get(Path(member).stem)
            if labelled and Path(member).suffix in {".ogg", ".wav"}:
                file = target / bundle_name / Path(member).name
                if not file.is_file():
                    write_extracted(file, content)
                wanted[file] = labelled
        found.update(sorted(wanted.items()))
    return found


def gcompris_clips(packages: list[DebianPackage]) -> Iterator[SourceClip]:
    """GCompris's labelled recordings; each is its own group (they are different recordings)."""
    for package in packages:
        extracted = package.root / GCOMPRIS_EXTRACTED
        for path, (label, kind) in extract_gcompris_audio(package.root / GCOMPRIS_RCC, extracted).items():
            relative = path.relative_to(extracted).as_posix()
            yield SourceClip(path=path, labels=[label], group=relative, source=package.name, kind=kind,
                             extra={"bundle": path.parent.name})


# --- Fish Fillets NG voice packs -----------------------------------------------------------------

FILLETS_DATA = "usr/share/games/fillets-ng"
_DIALOG = re.compile(r'dialogId\("([^"]+)",\s*"?(\w+)"?,\s*"(?:[^"\\]|\\.)*"\)\s*dialogStr\("((?:[^"\\]|\\.)*)"\)')
# The two fish, voiced by the voice pack's actors; the other characters (a parrot, a robot dog, vikings,
# a statue, ...) are left out, as some may be processed voices.
FILLETS_FISH = {"font_small": "small fish", "font_big": "big fish"}


def fillets_dialogs(scripts: Path, language: str) -> dict[tuple[str, str], tuple[str, str]]:
    """(level, dialog id) -> (fish, line) from the game's `script/<level>/dialogs_<language>.lua`."""
    dialogs = {}
    for file in sorted(scripts.glob(f"*/dialogs_{language}.lua")):
        for dialog_id, font, line in _DIALOG.findall(file.read_text(errors="replace")):
            if font in FILLETS_FISH:
                dialogs[(file.parent.name, dialog_id)] = (FILLETS_FISH[font], line)
    return dialogs


def fillets_clips(packages: list[DebianPackage]) -> Iterator[SourceClip]:
    """Spoken lines of the voice packs (`sound/<level>/<language>/<dialog id>[variant].ogg`).

    The first package is the game data, whose dialog scripts say which files are a fish's spoken lines;
    other files (other characters, the ending's numbers, the briefing tape) are left out.
    """
    game, *voice_packs = packages
    for package in voice_packs:
        for language_folder in sorted((package.root / FILLETS_DATA / "sound").glob("*/*")):
            language = LANGUAGES.get(language_folder.name)
            if language is None:
                continue
            level = language_folder.parent.name
            dialogs = fillets_dialogs(game.root / FILLETS_DATA / "script", language_folder.name)
            for path in sorted(language_folder.glob("*.ogg")):
                dialog = dialogs.get((level, path.stem)) or dialogs.get((level, path.stem.rstrip("0123456789")))
                if dialog:
                    yield SourceClip(path=path, labels=[f"{language} speech"],
                                     group=f"{language_folder.name}/{level}/{path.stem}", source=package.name,
                                     kind="speech", extra={"language": language_folder.name, "speaker": dialog[0],
                                                           "text": dialog[1], "prompt": f"{level}/{path.stem}"})


# --- FSDD -----------------------------------------------------------------------------------------


def fsdd_clips(_packages: list[DebianPackage], root: Path | None = None) -> Iterator[SourceClip]:
    """FSDD recordings with labels in the corpus vocabulary and their speaker split kept."""
    for row in fsdd_rows(root):
        yield SourceClip(path=row.audio, labels=[digit_label(row.labels[0])], group=row.group or row.id,
                         source="fsdd", kind="speech",
                         extra={"speaker": row.extra.get("speaker"), "preset_split": row.split})
