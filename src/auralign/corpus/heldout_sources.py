"""Leave-source-out sources: Scratch 1.4's sound library, Tux Paint's stamp sounds, UFO: Alien Invasion.

Each is labelled by an explicit, reviewed table written from the Debian package's file list (see
docs/corpus.md, "Leave-source-out sources", for every exclusion and why); a file no entry labels is
left out. The sources are registered with a `heldout_split` (build.py), so their real sounds are
evaluation data from recordings and recordists the training sources never contain.

* `scratch`: `Media/Sounds/<Folder>/<Name>`, labelled from the name inside its folder; music loops,
  the Electronic folder and names that do not say what is heard are left out.
* `tuxpaint-stamps`: a stamp's own sound `<stamp>.ogg`, labelled from the stamp through a table
  (localised `<stamp>_<lang>.ogg` sounds are spoken numbers or letters and are left out).
* `tuxpaint-stamps-speech`: the spoken descriptions `<stamp>_desc[_<lang>].ogg|wav`, recorded by
  volunteers per language, labelled "<language> speech" with the stamp's description in that
  language (from `<stamp>.txt`) in `extra["text"]`.
* `ufoai`: the game's sounds sit in `base/0snd.pk3` (a zip); the labelled members are copied out once.
  The copyright file lists the licence of each sound file, recorded in `extra["license"]`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from fnmatch import fnmatchcase
from pathlib import Path

from auralign.corpus.game_rules import Rule, RuleTable, audio_files, variant_group
from auralign.corpus.games_0ad import extract_labelled_audio
from auralign.corpus.sources import DebianPackage, SourceClip
from auralign.corpus.speech import LANGUAGES

# --- Scratch 1.4 ----------------------------------------------------------------------------------

SCRATCH_SOUNDS = "usr/share/scratch/Media/Sounds"
SCRATCH_MEDIA_LICENSE = "CC-BY-SA-3.0"  # copyright file: "Files: Help/* Media/* Projects"
# Matched on "<folder>/<name>" lower-cased, without extension.
RULES_SCRATCH: tuple[Rule, ...] = (
    (r"music loops/.*|electronic/.*", None, ""),
    (r"animal/bird", "bird", "effect"),
    (r"animal/cat", "cat", "effect"),
    (r"animal/kitten", "kitten", "effect"),
    (r"animal/meow", "cat meow", "effect"),
    (r"animal/crickets?", "cricket", "effect"),
    (r"animal/dog\d", "dog", "effect"),
    (r"animal/duck", "duck", "effect"),
    (r"animal/goose", "goose", "effect"),
    (r"animal/horse", "horse", "effect"),
    (r"animal/horsegallop", "horse gallop", "effect"),
    (r"animal/owl", "owl", "effect"),
    (r"animal/rooster", "rooster", "effect"),
    (r"animal/sealion", "sea lion", "effect"),
    (r"animal/wolfhowl", "wolf howl", "effect"),
    (r"effects/balloonscratch", "balloon scratching", "effect"),
    (r"effects/belltoll", "bell tolling", "effect"),
    (r"effects/bubbles", "bubbling", "effect"),
    (r"effects/carpassing", "car passing by", "effect"),
    (r"effects/doorclose", "door closing", "effect"),
    (r"effects/doorcreak", "door creak", "effect"),
    (r"effects/motorcyclepassing", "motorcycle passing by", "effect"),
    (r"effects/pop", "pop", "effect"),
    (r"effects/rattle", "rattle", "effect"),
    (r"effects/sewingmachine", "sewing machine", "effect"),
    (r"effects/typing", "typing", "effect"),
    (r"effects/waterdrop", "water drip", "effect"),
    (r"effects/waterrunning", "running water", "effect"),
    (r"human/babycry", "baby crying", "vocal"),
    (r"human/cough-(female|male)", "cough", "vocal"),
    (r"human/fingersnap", "finger snapping", "effect"),
    (r"human/footsteps-\d", "footsteps", "effect"),
    (r"human/laugh-(female|male\d)", "laughter", "vocal"),
    (r"human/partynoise", "crowd", "ambience"),
    (r"human/scream-(female|male\d)", "scream", "vocal"),
    (r"human/slurp", "slurping", "vocal"),
    (r"human/sneeze-(female|male)", "sneeze", "vocal"),
    (r"instruments/dijjeridoo", "didgeridoo", "music"),
    (r"instruments/guitarstrum", "guitar strum", "music"),
    (r"instruments/tambura", "tambura", "music"),
    (r"instruments/trumpet\d", "trumpet", "music"),
    (r"percussion/cymbalcrash", "crash cymbal", "drum"),
    (r"percussion/gong", "gong", "drum"),
    (r"percussion/handclap", "hand clap", "drum"),
    (r"percussion/ridecymbal", "ride cymbal", "drum"),
    (r"percussion/shaker", "shaker", "drum"),
    (r"vocals/beatbox\d", "beatboxing", "vocal"),
    (r"vocals/(singer\d|oooo-badada|doy-doy-doy|hey-yay-hey)", "singing", "vocal"),
)
_GENDER = re.compile(r"-(female|male)\d*$")


def scratch_clips(packages: list[DebianPackage]) -> Iterator[SourceClip]:
    """Scratch's labelled sounds; the voice's gender of the human sounds goes to `extra["gender"]`."""
    table = RuleTable(RULES_SCRATCH)
    for package in packages:
        folder = package.root / SCRATCH_SOUNDS
        for path in audio_files(folder):
            relative = path.relative_to(folder).as_posix()
            found = table.label(relative)
            if found is None:
                continue
            label, kind = found
            extra: dict[str, object] = {"license": SCRATCH_MEDIA_LICENSE, "folder": path.parent.name}
            gender = _GENDER.search(path.stem.lower())
            if gender:
                extra["gender"] = gender[1]
            yield SourceClip(path=path, labels=[label], source=package.name, kind=kind, extra=extra,
                             group=f"{package.name}:{variant_group(relative)}")


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


# --- UFO: Alien Invasion --------------------------------------------------------------------------

UFOAI_PK3 = "usr/share/games/ufoai/base/0snd.pk3"
UFOAI_EXTRACTED = "audio-extracted"
_SURFACES = "carpet|dirt|grass|gravel|metal|sand|snow|stone|tile|wood"
# Matched on the member path below `sound/`, lower-cased, without extension. Alien voices, energy weapons
# (laser, plasma, particle beam, needler, gauss, bolter), hovering vehicles, interface and geoscape cues,
# cut-scene sounds and machine or atmosphere loops of the alien bases are left out by not matching.
RULES_UFOAI: tuple[Rule, ...] = (
    # Copies of another file (correlation > 0.96): linoleum = tile1, sand = sand1, breakwood03 = breakwood02,
    # firesoft ~ fire1; dirt3 = sand2 is one recording under two surfaces, so both are left out.
    (r"footsteps/(linoleum|sand|dirt3|sand2)|misc/breakwood03|ambience/firesoft", None, ""),
    (r"ambience/arcticwind", "wind", "ambience"),
    (r"ambience/creak", "creak", "effect"),
    (r"ambience/cricket_loop", "crickets", "ambience"),
    (r"ambience/(fire\d*|smallfire)", "fire", "ambience"),
    (r"ambience/sparks(_short)?", "electric sparks", "effect"),
    (r"ambience/steam", "steam hiss", "effect"),
    (r"ambience/thunder\d", "thunder", "ambience"),
    (r"ambience/tv_static", "tv static", "effect"),
    (r"ambience/water\d*", "water", "ambience"),
    (r"ambience/waterfontain", "fountain", "ambience"),
    (r"ambience/wind_turbine", "wind turbine", "ambience"),
    (r"civilians/civfemdeath\d+a?|soldiers/femaledeath\d+", "woman death cry", "vocal"),
    (r"civilians/civfemscream\d+a?", "woman scream", "vocal"),
    (r"soldiers/femalehurt\d+", "woman pain cry", "vocal"),
    (r"civilians/(civ)?maledeath\d+a?|soldiers/maledeath\d+", "man death cry", "vocal"),
    (r"civilians/(civ)?malehurt\d+a?|soldiers/malehurt\d+", "man pain cry", "vocal"),
    (r"doors/creak_low_short", "door creak", "effect"),
    (r"doors/door\d-open", "door opening", "effect"),
    (r"doors/door\d-close", "door closing", "effect"),
    (r"doors/open_close", "door opening and closing", "effect"),
    (rf"footsteps/({_SURFACES})\d*", r"\1 footsteps", "effect"),
    (r"footsteps/splash\d", "footsteps in water", "effect"),
    (r"footsteps/water_(in|out)", "water splash", "effect"),
    (r"footsteps/hitground\d", "thud", "effect"),
    (r"impact/bullet-impact", "bullet impact", "effect"),
    (r"impact/bullet-bodyimpact", "bullet hitting body", "effect"),
    (r"impact/knife-bodyimpact", "knife stab", "effect"),
    (r"impact/water-impact", "water splash", "effect"),
    (r"misc/breakglass\d+", "glass breaking", "effect"),
    (r"misc/breakmetal\d+", "metal breaking", "effect"),
    (r"misc/breakwood\d+", "wood breaking", "effect"),
    (r"ugv/diesel-(idle|move|stop)", "diesel engine", "effect"),
    (r"weapons/bullet-pistol\d?", "pistol shot", "effect"),
    (r"weapons/bullet-(rifle(-1x)?|sniper)", "rifle shot", "effect"),
    (r"weapons/bullet-rifle-\d+x", "automatic rifle fire", "effect"),
    (r"weapons/bullet-smg(-\d+x)?", "submachine gun fire", "effect"),
    (r"weapons/bullet-(hmg|chaingun)-\d+x", "machine gun", "effect"),
    (r"weapons/bullet-shotgun(-3x|mini)?", "shotgun shot", "effect"),
    (r"weapons/explosion(-grenade|-rocket|-fire|-flashbang)?", "explosion", "effect"),
    (r"weapons/flamer-(big|small)", "flamethrower", "effect"),
    (r"weapons/grenade-bounce", "grenade bouncing", "effect"),
    (r"weapons/grenade-launcher(-3x)?", "grenade launcher shot", "effect"),
    (r"weapons/grenade-pin", "grenade pin pull", "effect"),
    (r"weapons/melee-swoosh", "whoosh", "effect"),
    (r"weapons/melee-throw", "throw whoosh", "effect"),
    (r"weapons/reload-(grenade|pistol|rifle|rocket|shotgun|smg|sniper)", "gun reload", "effect"),
    (r"weapons/rocket-human", "rocket launch", "effect"),
    (r"weapons/ugv-cannon-fire", "cannon fire", "effect"),
)

Stanza = tuple[tuple[str, ...], str]


def copyright_stanzas(copyright_file: Path) -> list[Stanza]:
    """(file patterns, licence) of each `Files:` stanza of a machine-readable Debian copyright file."""
    stanzas: list[Stanza] = []
    if not copyright_file.is_file():
        return stanzas
    for paragraph in re.split(r"\n\s*\n", copyright_file.read_text(errors="replace")):
        fields = re.split(r"\n(?=\S)", paragraph.strip())
        values = {field.split(":", 1)[0]: field.split(":", 1)[1] for field in fields if ":" in field.split("\n")[0]}
        if "Files" in values and "License" in values:
            stanzas.append((tuple(values["Files"].split()), values["License"].strip().splitlines()[0].strip()))
    return stanzas


def file_license(stanzas: list[Stanza], path: str) -> str | None:
    """The licence of `path` (relative to the upstream source): the last stanza matching it wins (DEP-5)."""
    found = None
    for patterns, license_name in stanzas:
        if any(fnmatchcase(path, pattern) for pattern in patterns):
            found = license_name
    return found


def ufoai_clips(packages: list[DebianPackage]) -> Iterator[SourceClip]:
    """UFO:AI's labelled sounds with each file's licence from the copyright file."""
    table = RuleTable(RULES_UFOAI)
    for package in packages:
        folder = package.root / UFOAI_EXTRACTED
        extract_labelled_audio(package.root / UFOAI_PK3, folder, table, prefix="sound/")  # a pk3 is a zip
        stanzas = copyright_stanzas(package.root / "usr/share/doc" / package.name / "copyright")
        for path in audio_files(folder):
            relative = path.relative_to(folder).as_posix()
            found = table.label(relative)
            if found is None:
                continue
            label, kind = found
            license_name = file_license(stanzas, f"base/sound/{relative}") or package.license
            yield SourceClip(path=path, labels=[label], source=package.name, kind=kind,
                             group=f"{package.name}:{variant_group(relative)}", extra={"license": license_name})
