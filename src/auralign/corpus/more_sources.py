"""More optional Debian sources (docs/corpus.md, "More sources (session 4)"): a pipe organ sample set,
KTuberling's spoken words and a Russian voice database (the three games of that session, Lugaru, TORCS
and Eat The Whistle, are labelled by path rules: `packages.PACKAGES`).

* `grandorgue-demo`: the demo sample set (`.orgue`, a stored zip) recorded by Lars Palo: one file per pipe,
  `<stop>/<MIDI note>-<name>.wav`, labelled "pipe organ" with the stop and pitch in `extra`. The members are
  WavPack streams under a `.wav` name, which libsndfile cannot read: they are decoded once with `wvunpack`
  (Debian `wavpack`, the source's second package). Groups per stop and octave, like the rendered notes.
* `ktuberling-data`: each language's `<code>.soundtheme` maps an English object name to the file of a
  speaker saying that word in the language: "<language> speech", the English meaning in `extra["text"]`.
  One recording shipped under several names or language variants (Serbian's four) is taken once.
* `festvox-ru`: the recorded prompts of Festival's `msu_ru_nsh_clunits` voice (`wav/`, read from
  `etc/txt.done.data`): "russian speech" with the transcript in `extra["text"]`. A clunits voice cuts its
  units out of these recordings at synthesis time, so they are the natural recordings, not synthesized output.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import xml.etree.ElementTree as ElementTree
import zipfile
from collections.abc import Iterator
from pathlib import Path

from auralign.corpus.archives import write_extracted
from auralign.corpus.heldout_sources import DESCRIPTION_LANGUAGES
from auralign.corpus.render import note_name
from auralign.corpus.sources import DebianPackage, SourceClip

# --- GrandOrgue demo sample set -------------------------------------------------------------------

GRANDORGUE_PACKAGES = "usr/share/GrandOrgue/packages"
GRANDORGUE_EXTRACTED = "audio-extracted"
GRANDORGUE_LICENSE = "GPL-2+ or CC-BY-SA-2.5 (recordings by Lars Palo; demo.organ)"
# Stop folder -> (stop name in demo.organ, family). `Sounds/` (the stop-action noises and the blower motor)
# is left out.
ORGAN_STOPS = {
    "Bourdon8": ("Bourdon 8'", "flute"), "FlHarm8": ("Flute Harm. 8'", "flute"),
    "Octavin2": ("Octavin 2'", "flute"), "Montre8": ("Montre 8'", "principal"), "Gamba8": ("Gamba 8'", "string"),
    "Hautbois8": ("Hautbois 8'", "reed"), "Trompette8": ("Trompette 8'", "reed"),
}
_PIPE = re.compile(r"(?P<stop>\w+)/(?P<pitch>\d{3})-[A-G]#?\.wav")


def write_pipe(file: Path, data: bytes, wvunpack: Path, env: dict[str, str] | None = None) -> None:
    """Write a pipe sample as PCM WAV, decoding a WavPack stream (magic `wvpk`) through a `.part` file."""
    if not data.startswith(b"wvpk"):
        write_extracted(file, data)
        return
    packed = file.with_name(file.name + ".wv")
    write_extracted(packed, data)
    partial = file.with_name(file.name + ".part.wav")
    subprocess.run([str(wvunpack), "-q", "-y", str(packed), "-o", str(partial)], check=True, capture_output=True, env=env)
    partial.replace(file)
    packed.unlink()


def extract_organ_pipes(orgue: Path, target: Path, wvunpack: Path,
                        env: dict[str, str] | None = None) -> list[tuple[Path, str, int]]:
    """Decode the pipe samples of `ORGAN_STOPS` out of the `.orgue` zip once; (file, stop folder, MIDI pitch)."""
    found = []
    with zipfile.ZipFile(orgue) as archive:
        for member in archive.namelist():
            match = _PIPE.fullmatch(member)
            if match and match["stop"] in ORGAN_STOPS:
                file = target / member
                if not file.is_file():
                    write_pipe(file, archive.read(member), wvunpack, env)
                found.append((file, match["stop"], int(match["pitch"])))
    return sorted(found)


def grandorgue_clips(packages: list[DebianPackage]) -> Iterator[SourceClip]:
    """Each sampled pipe: "pipe organ", one group per stop and octave. Packages: the sample set, `wavpack`
    and `libwavpack1` (the unpacked decoder runs with the unpacked library on its path, so nothing needs
    to be installed)."""
    package, decoder, library = packages
    wvunpack = decoder.root / "usr/bin/wvunpack"
    library_dirs = sorted({str(lib.parent) for lib in library.root.rglob("libwavpack.so*")})
    env = {**os.environ, "LD_LIBRARY_PATH": os.pathsep.join([*library_dirs, os.environ.get("LD_LIBRARY_PATH", "")])}
    for orgue in sorted((package.root / GRANDORGUE_PACKAGES).glob("*.orgue")):
        for path, stop, pitch in extract_organ_pipes(orgue, package.root / GRANDORGUE_EXTRACTED, wvunpack, env):
            name, family = ORGAN_STOPS[stop]
            yield SourceClip(path=path, labels=["pipe organ"], group=f"{stop}:octave{pitch // 12}",
                             source=package.name, kind="instrument", pitch_preserving=True,
                             extra={"instrument": "pipe organ", "stop": name, "stop_family": family,
                                    "pitch": pitch, "note_name": note_name(pitch),
                                    "license": GRANDORGUE_LICENSE})


# --- KTuberling -----------------------------------------------------------------------------------

KTUBERLING_SOUNDS = "usr/share/ktuberling/sounds"
KTUBERLING_LANGUAGES = {
    **DESCRIPTION_LANGUAGES, "fi": "finnish", "ga": "irish", "gl": "galician", "id": "indonesian",
    "nn": "norwegian", "sl": "slovenian", "sr": "serbian", "sv": "swedish", "wa": "walloon",
}


def soundtheme_entries(theme: Path) -> list[tuple[str, str]]:
    """(English object name, file relative to the sounds folder) of a `<code>.soundtheme`."""
    return [(sound.get("name", ""), sound.get("file", "")) for sound in ElementTree.parse(theme).iter("sound")]


def ktuberling_clips(packages: list[DebianPackage]) -> Iterator[SourceClip]:
    """Spoken object names per language; one group per language and object; byte copies taken once."""
    for package in packages:
        sounds = package.root / KTUBERLING_SOUNDS
        seen: set[str] = set()
        for theme in sorted(sounds.glob("*.soundtheme")):
            code = theme.stem
            language = KTUBERLING_LANGUAGES.get(code.split("@")[0])
            if language is None:
                continue
            for name, file in soundtheme_entries(theme):
                path = sounds / file
                if not name or not path.is_file():
                    continue
                digest = hashlib.sha1(path.read_bytes()).hexdigest()
                if digest in seen:
                    continue
                seen.add(digest)
                yield SourceClip(path=path, labels=[f"{language} speech"], group=f"{language}/{name}",
                                 source=package.name, kind="speech",
                                 extra={"language": code, "text": name.replace("_", " "), "text_language": "en",
                                        "prompt": name, "license": package.license})


# --- festvox-ru -----------------------------------------------------------------------------------

FESTVOX_RU_VOICE = "usr/share/festival/voices/russian/msu_ru_nsh_clunits"
_PROMPT = re.compile(r'\(\s*(\S+)\s+"(.*)"\s*\)')


def festvox_prompts(done_data: Path) -> dict[str, str]:
    """Utterance id -> the prompt read, from `etc/txt.done.data` (stress marks `+` kept)."""
    lines = done_data.read_text(encoding="utf-8", errors="replace").splitlines() if done_data.is_file() else []
    return {match[1]: match[2] for match in map(_PROMPT.fullmatch, (line.strip() for line in lines)) if match}


def festvox_ru_clips(packages: list[DebianPackage]) -> Iterator[SourceClip]:
    """Every recorded prompt with a transcript: "russian speech"; one group per utterance."""
    for package in packages:
        voice = package.root / FESTVOX_RU_VOICE
        prompts = festvox_prompts(voice / "etc" / "txt.done.data")
        for path in sorted((voice / "wav").glob("*.wav")):
            prompt = prompts.get(path.stem)
            if prompt is None:
                continue
            yield SourceClip(path=path, labels=["russian speech"], group=f"msu_ru_nsh/{path.stem}",
                             source=package.name, kind="speech",
                             extra={"language": "ru", "speaker": "msu_ru_nsh", "gender": "male",
                                    "text": prompt.replace("+", ""), "text_stressed": prompt,
                                    "prompt": path.stem, "license": package.license})
