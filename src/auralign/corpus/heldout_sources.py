"""Tux Paint's stamps: their real sounds (a leave-source-out source) and their spoken descriptions.

Labelled by an explicit, reviewed table written from the Debian package's file list (see docs/corpus.md,
"Leave-source-out sources", for every exclusion and why); a file no entry labels is left out. The other
leave-source-out sources, Scratch 1.4's sound library and UFO: Alien Invasion, are labelled by path
rules (`packages.PACKAGES`). The sources are registered with a `heldout_split` (build.py), so their real
sounds are evaluation data from recordings and recordists the training sources never contain.

* `tuxpaint-stamps`: a stamp's own sound `<stamp>.ogg`, labelled from the stamp through a table
  (localised `<stamp>_<lang>.ogg` sounds are spoken numbers or letters and are left out).
* `tuxpaint-stamps-speech`: the spoken descriptions `<stamp>_desc[_<lang>].ogg|wav`, recorded by
  volunteers per language, labelled "<language> speech" with the stamp's description in that
  language (from `<stamp>.txt`) in `extra["text"]`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from auralign.corpus.sources import DebianPackage, SourceClip
from auralign.corpus.speech import LANGUAGES

# --- Tux Paint stamps -----------------------------------------------------------------------------

TUXPAINT_STAMPS = "usr/share/tuxpaint/stamps"
# Stamp (path below the stamps folder) -> (label, kind) of its sound `<stamp>.ogg`. Left out: the four
# silent placeholders (nandou, iguana, giraffe, wombat), badger and beaver (one recording under two
# names), mountaingoat and ram (copies of goat.ogg), and sounds whose stamp does not say what is heard
# (xanthia, bottle, glass, gift, hard_candy, santahat, ghost, spider, bat_left, faces, road signs,
# checkered flag, final-roll-call, dreidel letters, apollo_lander's radio speech, bathyscape's sonar).
TUXPAINT_SOUNDS: dict[str, tuple[str, str]] = {
    **{f"animals/{stamp}": (label, "effect") for stamp, label in {
        "amphibians/frog": "frog", "birds/blackbird": "blackbird", "birds/crow": "crow", "birds/cuckoo": "cuckoo",
        "birds/drake": "duck", "birds/duck": "duck", "birds/gander": "goose", "birds/hen": "hen",
        "birds/heron_greatblue_flying": "heron", "birds/lark": "lark", "birds/owl": "owl",
        "birds/penguin": "penguin", "birds/quetzal": "quetzal", "birds/rooster": "rooster",
        "birds/seagull": "seagull", "birds/tucan": "toucan", "birds/turkey": "turkey", "birds/vulture": "vulture",
        "insects/bee": "bee", "insects/grasshopper": "grasshopper", "insects/hornet": "hornet",
        "insects/mosquito": "mosquito", "mammals/apes/chimp": "chimpanzee", "mammals/apes/gorilla": "gorilla",
        "mammals/aquatic/dolphin": "dolphin", "mammals/aquatic/orca": "orca", "mammals/aquatic/sea_lion": "sea lion",
        "mammals/aquatic/whale": "whale", "mammals/bears/bear": "bear", "mammals/bovines/bison": "bison",
        "mammals/bovines/bull": "bull", "mammals/bovines/cow": "cow", "mammals/bovines/cow_white": "cow",
        "mammals/bovines/goat": "goat", "mammals/bovines/sheep": "sheep", "mammals/bovines/sheep_lamb": "lamb",
        "mammals/camel/camel": "camel", "mammals/camel/dromedary": "camel", "mammals/cats/lion": "lion",
        "mammals/cats/tiger": "tiger", "mammals/deer/caribou": "reindeer", "mammals/deer/deer": "deer",
        "mammals/deer/doe": "deer", "mammals/dogs/dog": "dog", "mammals/dogs/fox": "fox",
        "mammals/elephant": "elephant", "mammals/equines/donkey": "donkey", "mammals/equines/horse": "horse",
        "mammals/equines/zebra": "zebra", "mammals/ferret": "ferret", "mammals/hippopotamus": "hippopotamus",
        "mammals/pig": "pig", "mammals/pig_golden": "pig", "mammals/pig_golden2": "pig",
        "mammals/rodents/mouse": "mouse", "mammals/rodents/rabbit": "rabbit",
        "mammals/rodents/squirrel": "squirrel", "marsupials/koala": "koala"}.items()},
    "seasonal/halloween/blackcat": ("cat", "effect"),
    "food/fruit/apple_red": ("apple crunch", "effect"),  # the changelog: "a 'crunch' sound effect"
    "hobbies/camera_35mm": ("camera shutter", "effect"),
    "hobbies/music/percussion/cymbal_crash": ("crash cymbal", "drum"),
    "hobbies/music/percussion/drum_tomtom_floor": ("floor tom", "drum"),
    "hobbies/music/percussion/drumkit": ("drum kit", "music"),
    "hobbies/music/string/cello": ("cello", "music"),
    "hobbies/music/string/violin": ("violin", "music"),
    "hobbies/music/wind/bassoon": ("bassoon", "music"),
    "household/Washing-machine": ("washing machine", "effect"),
    "household/arttools/scissors_small_closed": ("scissors", "effect"),
    "household/arttools/scissors_small_open": ("scissors", "effect"),
    "household/kettle": ("kettle", "effect"),
    "household/rubberduck": ("squeaky toy", "effect"),  # the changelog: "squeaky sound for 'Rubber Duck'"
    "household/toilet": ("toilet flush", "effect"),
    "household/tools/hammer": ("hammer", "effect"),
    "household/tools/mallet_metal": ("mallet", "effect"),
    "household/tools/saw": ("sawing", "effect"),
    "household/vacuum_cleaner": ("vacuum cleaner", "effect"),
    "naturalforces/lightningbolt": ("thunder", "ambience"),
    "seasonal/newyears/fireworks": ("fireworks", "effect"),
    "vehicles/emergency/firetruck": ("vehicle horn", "effect"),  # Fonogeno's "doppler_honk"
}
# Sounds whose licence the changelog gives apart from the package's GPL-2.
TUXPAINT_LICENSES = {
    "vehicles/emergency/firetruck": "CC-Sampling-Plus-1.0 (Giuseppe Mangione, Fonogeno; marked non-free upstream)",
    "household/kettle": "GFDL / CC-BY-SA / GPL (Caroline Ford)",
    "household/vacuum_cleaner": "GFDL / CC-BY-SA / GPL (Caroline Ford)",
    "household/Washing-machine": "GFDL / CC-BY-SA / GPL (Caroline Ford)",
}


def tuxpaint_stamp_clips(packages: list[DebianPackage]) -> Iterator[SourceClip]:
    """The stamps' real sounds in `TUXPAINT_SOUNDS`; each stamp is its own group."""
    for package in packages:
        root = package.root / TUXPAINT_STAMPS
        for stamp, (label, kind) in sorted(TUXPAINT_SOUNDS.items()):
            path = root / f"{stamp}.ogg"
            if path.is_file():
                yield SourceClip(path=path, labels=[label], group=f"{package.name}:{stamp}", source=package.name,
                                 kind=kind, extra={"stamp": stamp,
                                                   "license": TUXPAINT_LICENSES.get(stamp, package.license)})


DESCRIPTION_LANGUAGES = {**LANGUAGES, "be": "belarusian", "bg": "bulgarian", "ca": "catalan", "el": "greek",
                         "ro": "romanian"}
_DESCRIPTION = re.compile(r"(?P<stamp>.+)_desc(?:_(?P<locale>[a-z]{2}(?:_[A-Z]{2})?))?")


def stamp_descriptions(txt: Path) -> dict[str, str]:
    """Locale ("en", "fr", "pt_BR") -> a stamp's description, from `<stamp>.txt`: the first line is
    English, the others `<locale>.utf8=<text>`."""
    if not txt.is_file():
        return {}
    lines = txt.read_text(encoding="utf-8", errors="replace").splitlines()
    texts = {"en": lines[0].strip()} if lines else {}
    for line in lines[1:]:
        key, separator, text = line.partition("=")
        if separator and key.endswith(".utf8"):
            texts[key.removesuffix(".utf8")] = text.strip()
    return texts


def description_label(locale: str) -> str | None:
    language = DESCRIPTION_LANGUAGES.get(locale.split("_")[0])
    return f"{language} speech" if language else None


def tuxpaint_description_clips(packages: list[DebianPackage]) -> Iterator[SourceClip]:
    """Spoken stamp descriptions, "<language> speech"; one group per language and stamp."""
    for package in packages:
        root = package.root / TUXPAINT_STAMPS
        for path in sorted(p for p in root.rglob("*_desc*") if p.suffix in {".ogg", ".wav"}):
            match = _DESCRIPTION.fullmatch(path.stem)
            locale = (match["locale"] or "en") if match else ""
            label = description_label(locale) if match else None
            if label is None:
                continue
            stamp = path.with_name(match["stamp"]).relative_to(root).as_posix()
            text = stamp_descriptions(root / f"{stamp}.txt").get(locale)
            yield SourceClip(path=path, labels=[label], group=f"{package.name}:{locale}/{stamp}",
                             source=package.name, kind="speech",
                             extra={"language": locale.replace("_", "-"), "text": text, "prompt": stamp})
