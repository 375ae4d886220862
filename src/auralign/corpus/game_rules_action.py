"""Reviewed path rules for action and arcade game packages, and OpenTTD's `opensfx.cat` reader.

Same rule format as `game_rules` (regex on the lower-cased path below the sound folder, without
extension; first match wins; None or no match leaves the file out). The tables were written from
the actual file lists of the Debian packages, their credits files and a look at each candidate's
spectrogram (docs/corpus_sources_action.md says what was left out and why). Files shorter than
0.2 s are left out by name.

Two things the path rules cannot express are handled by `action_game_clips`, the hook for every
package here: OpenTTD's sounds sit in one catalogue file and are extracted first (grouped by the
original recording their description names), and some files come from one recording session under
different names (one speaker's lines, four referee whistles), which `SESSIONS` puts in one group.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from auralign.corpus.game_rules import GameSounds, Rule, RuleTable, rule_clips
from auralign.corpus.sources import DebianPackage, SourceClip, write_extracted
from auralign.errors import AuralignError
from auralign.paths import auralign_home

_SCORCHED3D: tuple[Rule, ...] = (
    # "apoc" mod
    (r"apoc/data/wav/explosions/(exp|tank)", "explosion", "effect"),
    (r"apoc/data/wav/explosions/bees", "bee buzzing", "effect"),
    (r"apoc/data/wav/explosions/thunder", "thunder", "ambience"),
    (r"apoc/data/wav/misc/carhorn\d", "car horn", "effect"),
    (r"apoc/data/wav/misc/cessna", "propeller plane engine", "effect"),
    (r"apoc/data/wav/misc/cheeringloop", "crowd cheering", "ambience"),
    (r"apoc/data/wav/misc/citysounds", "city street ambience", "ambience"),
    (r"apoc/data/wav/misc/(cows|moo)", "cow moo", "effect"),
    (r"apoc/data/wav/misc/dog\d?", "dog bark", "effect"),
    (r"apoc/data/wav/misc/factoryloop1", "factory machinery", "ambience"),
    (r"apoc/data/wav/misc/firetruck", "fire truck siren", "effect"),
    (r"apoc/data/wav/misc/helicopter", "helicopter", "effect"),
    (r"apoc/data/wav/misc/policecar", "police car siren", "effect"),
    (r"apoc/data/wav/misc/rooster", "rooster crowing", "effect"),
    (r"apoc/data/wav/misc/scream(\d|ing)", "scream", "vocal"),
    (r"apoc/data/wav/misc/sheep", "sheep bleat", "effect"),
    (r"apoc/data/wav/shoot/machinegun", "machine gun", "effect"),
    (r"apoc/data/wav/shoot/shotgun", "shotgun shot", "effect"),
    # default ("none") mod
    (r"none/data/wav/explosions/(small|medium|large|xlarge|tank)", "explosion", "effect"),
    (r"none/data/wav/misc/apache_1", "helicopter", "effect"),
    (r"none/data/wav/misc/(birdchirp|birds)\d", "birdsong", "ambience"),
    (r"none/data/wav/misc/camera", "camera shutter", "effect"),
    (r"none/data/wav/misc/(f16_\d|f18_\d|jet|t38)", "jet engine", "effect"),
    (r"none/data/wav/misc/frogs", "frog croaking", "ambience"),
    (r"none/data/wav/misc/gull\d", "seagull call", "effect"),
    (r"none/data/wav/misc/oceanwaves", "ocean waves", "ambience"),
    (r"none/data/wav/misc/rain", "rain", "ambience"),
    (r"none/data/wav/misc/splash", "water splash", "effect"),
    (r"none/data/wav/misc/thunder\d?", "thunder", "ambience"),
    (r"none/data/wav/misc/wolf", "wolf howl", "effect"),
)
# default_cool_lava.* are byte copies of fire_extinguish_flame.*, and fire_large is the recording
# fire_fire.* were cut from: both are left out so no recording is counted twice.
_MINETEST: tuple[Rule, ...] = (
    (r"default/sounds/default_metal_footstep\.2", None, ""),  # 0.17 s
    (r"default/sounds/default_(dirt|grass|gravel|ice|metal|sand|snow)_footstep\.\d", r"\1 footsteps", "effect"),
    (r"default/sounds/default_hard_footstep\.\d", "footsteps", "effect"),
    (r"default/sounds/default_water_footstep\.\d", "wading in water", "effect"),
    (r"default/sounds/default_break_glass\.\d", "glass breaking", "effect"),
    (r"default/sounds/default_dig_choppy\.\d", "chopping wood", "effect"),
    (r"default/sounds/default_dig_cracky\.\d", "mining stone", "effect"),
    (r"default/sounds/default_furnace_active", "fire", "ambience"),
    (r"fire/sounds/fire_(fire\.\d|small)", "fire", "ambience"),
    (r"fire/sounds/fire_extinguish_flame\.\d", "sizzle", "effect"),
    (r"fire/sounds/fire_flint_and_steel", "flint and steel", "effect"),
    (r"doors/sounds/doors_door_open", "door opening", "effect"),
    (r"doors/sounds/doors_door_close", "door closing", "effect"),
    (r"doors/sounds/doors_steel_door_open", "metal door opening", "effect"),
    (r"doors/sounds/doors_steel_door_close", "metal door closing", "effect"),
    (r"env_sounds/sounds/env_sounds_water\.\d", "flowing water", "ambience"),
    (r"tnt/sounds/tnt_explode", "explosion", "effect"),
    (r"tnt/sounds/tnt_ignite", "burning fuse", "effect"),
)
# waterfall1 is a byte copy of waterfall; waterfall_deep/_huge/_indoor/_medium are filtered copies.
_REDECLIPSE: tuple[Rule, ...] = (
    (r"ambience/wind", "wind", "ambience"),
    (r"ambience/cavedrip", "water drip", "ambience"),
    (r"ambience/distant_cars", "traffic noise", "ambience"),
    (r"ambience/nightcrickets", "crickets", "ambience"),
    (r"ambience/creek", "stream", "ambience"),
    (r"ambience/waterfall[23]?", "waterfall", "ambience"),
    (r"ambience/forest\d", "forest ambience", "ambience"),
    (r"ambience/cycadas", "cicadas", "ambience"),
    (r"ambience/fire", "fire", "ambience"),
    (r"ambience/morph/(storm)?rain", "rain", "ambience"),
    (r"ambience/morph/stormbolts", "thunderstorm", "ambience"),
    (r"ambience/morph/(stormwind|wind\d)", "wind", "ambience"),
    (r"player/footstep[23]?", "footsteps", "effect"),
    (r"player/swimstep\d?", "swimming", "effect"),
    (r"sfx/splash(in|out)\d?", "water splash", "effect"),
    (r"weapons/explode\d?", "explosion", "effect"),
    (r"weapons/shotgun/primary\d?", "shotgun shot", "effect"),
    (r"weapons/pistol/primary\d?", "gunshot", "effect"),
)
_WARMUX: tuple[Rule, ...] = (
    (r"weapons/(explosion\d|dynamite_exp)", "explosion", "effect"),
    (r"weapons/dynamite_fuze", "burning fuse", "effect"),
    (r"weapons/(m16|gun)", "gunshot", "effect"),
    (r"weapons/shotgun", "shotgun shot", "effect"),
    (r"weapons/ricoche\d", "ricochet", "effect"),
    (r"weapons/slap", "slap", "effect"),
    (r"weapons/airhammer_used", "jackhammer", "effect"),
)
_SUPERTUX: tuple[Rule, ...] = (
    (r"rain", "rain", "ambience"),
    (r"thunder", "thunder", "ambience"),
    (r"waterfall", "waterfall", "ambience"),
    (r"splash", "water splash", "effect"),
    (r"explosion", "explosion", "effect"),
    (r"firecracker", "firecracker", "effect"),
    (r"sizzle", "sizzle", "effect"),
)
# Tux's lines are one adult male voice (median F0 124-157 Hz); CantRepairThat has no voiced frame.
_FREEDROIDRPG: tuple[Rule, ...] = (
    (r"glass_break", "glass breaking", "effect"),
    (r"cameratakespicture", "camera shutter", "effect"),
    (r"tux_ingame_comments/cantrepairthat", None, ""),
    (r"tux_ingame_comments/.+", "male speech", "speech"),
)
_TUXPAINT: tuple[Rule, ...] = ((r"typewriterbell", "typewriter bell", "effect"),)
_BZFLAG: tuple[Rule, ...] = ((r"boom|explosion", "explosion", "effect"),)
_TUXFOOTBALL: tuple[Rule, ...] = (
    (r"crowdboo", "crowd booing", "ambience"),
    (r"crowdcheer", "crowd cheering", "ambience"),
    (r"refwhistle(end|long|short|twice)", "whistle", "effect"),
)

ACTION_PACKAGE_SOUNDS: dict[str, GameSounds] = {
    "scorched3d-data": GameSounds("usr/share/games/scorched3d/data/globalmods", _SCORCHED3D),
    "minetest-data": GameSounds("usr/share/games/minetest/games/minetest_game/mods", _MINETEST),
    "redeclipse-data": GameSounds("usr/share/games/redeclipse/data/sounds", _REDECLIPSE),
    "warmux-data": GameSounds("usr/share/games/warmux/sound/default", _WARMUX),
    "supertux-data": GameSounds("usr/share/games/supertux2/sounds", _SUPERTUX),
    "freedroidrpg-data": GameSounds("usr/share/freedroidrpg/data/sound/effects", _FREEDROIDRPG),
    "tuxpaint-data": GameSounds("usr/share/tuxpaint/sounds", _TUXPAINT),
    "bzflag-data": GameSounds("usr/share/games/bzflag", _BZFLAG),
    "tuxfootball": GameSounds("usr/share/games/tuxfootball/sound", _TUXFOOTBALL),
}

# Files of one recording session under different names: (regex on the rule key, group name).
SESSIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "scorched3d-data": ((r"apoc/data/wav/explosions/(exp|tank)", "apoc explosion"),),  # waveforms correlate
    "freedroidrpg-data": ((r"tux_ingame_comments/.+", "tux voice"),),
    "tuxfootball": ((r"refwhistle\w+", "referee whistle"),),
}

# OpenTTD (`openttd-opensfx`): the catalogue's entries are extracted as "<index>_<title>.wav",
# the title being the quoted name in the entry's description ("Cow", "Ship horn").
OPENTTD_PACKAGE = "openttd-opensfx"
OPENTTD_CAT = "usr/share/games/openttd/baseset/opensfx/opensfx.cat"
RULES_OPENTTD: tuple[Rule, ...] = (
    (r"\d+_steam_(train_station_departure|engine_going_in_tunnel)", "steam train", "effect"),
    (r"\d+_(ship|ferry)_horn", "ship horn", "effect"),
    (r"\d+_propeller_plane_start", "propeller plane engine", "effect"),
    (r"\d+_(early|mach_1|modern)_jet_take_off", "jet engine", "effect"),
    (r"\d+_diesel_electric_train_station_departure", "train horn", "effect"),
    (r"\d+_electric_sparking", "electric sparks", "effect"),
    (r"\d+_steam_of_steam_engine", "steam hiss", "effect"),
    (r"\d+_level_crossing", "railroad crossing bell", "effect"),
    (r"\d+_(big_)?crash", "crash", "effect"),
    (r"\d+_explosion", "explosion", "effect"),
    (r"\d+_helicopter", "helicopter", "effect"),
    (r"\d+_(truck_old_bus_start_pull_away|old_bus_start)", "engine starting", "effect"),
    (r"\d+_modern_bus_start", "bus engine", "effect"),
    (r"\d+_applause", "applause", "ambience"),
    (r"\d+_jackhammer", "jackhammer", "effect"),
    (r"\d+_modern_car_horn", "car horn", "effect"),
    (r"\d+_sheep", "sheep bleat", "effect"),
    (r"\d+_cow", "cow moo", "effect"),
    (r"\d+_horse", "horse neigh", "effect"),
    (r"\d+_building_bridge", "hammering metal", "effect"),
    (r"\d+_sawmill", "circular saw", "effect"),
    (r"\d+_(heavy_)?wind", "wind", "ambience"),
    (r"\d+_lumber_mill_crashing_tree", "tree falling", "effect"),
    (r"\d+_lumber_mill_chainsaw", "chainsaw", "effect"),
    (r"\d+_tropical_bird_\d", "birdsong", "ambience"),
    (r"\d+_tropical_monkeys", "monkey screech", "effect"),
)

_QUOTED = re.compile(r'"([^"]+)"')
_ORIGINAL = re.compile(r'Original "([^"]+)"')
_TAKE_SUFFIX = re.compile(r"([\s_-]*\d+[a-z]?)?(\.(wav|mp3|aiff?|flac|ogg))?$")
_SLUG = re.compile(r"[^a-z0-9]+")
_NEW_FORMAT = 0x80000000


@dataclass(frozen=True)
class CatEntry:
    """One sound of an OpenTTD sample catalogue."""

    index: int
    description: str  # '"Cow". Original "Cow - Moan 2 - 96kHz.wav" by "Jarred Gib". ...'
    filename: str  # the file it was built from ("src/wav/osfx_37.wav")
    wav: bytes  # a complete RIFF/WAVE file

    @property
    def title(self) -> str:
        found = _QUOTED.match(self.description)
        return found.group(1) if found else self.description.split(".")[0]

    @property
    def stem(self) -> str:
        return f"{self.index:02d}_{_SLUG.sub('_', self.title.lower()).strip('_')}"

    @property
    def recording(self) -> str:
        """The original recording the sound was edited from, else its title, without its extension
        and take number ("Bird Noise - 12.wav" -> "bird noise"): its split group."""
        found = _ORIGINAL.search(self.description)
        name = (found.group(1) if found else self.title).lower()
        return _TAKE_SUFFIX.sub("", name) or name


def read_cat(path: Path) -> list[CatEntry]:
    """The entries of a (new-format) OpenTTD sample catalogue, as written by catcodec.

    Layout: a table of (offset | 0x80000000, size) little-endian uint32 pairs, then per entry a
    length-prefixed NUL-terminated description, `size` bytes of RIFF/WAVE data, one separator byte
    and a length-prefixed NUL-terminated file name. Raises AuralignError on anything else.
    """
    data = path.read_bytes()
    try:
        return _parse_cat(data)
    except (ValueError, struct.error) as error:
        raise AuralignError(f"{path} is not an OpenTTD sample catalogue: {error}") from None


def _parse_cat(data: bytes) -> list[CatEntry]:
    first = struct.unpack_from("<I", data)[0]
    table_size = first & ~_NEW_FORMAT
    if not first & _NEW_FORMAT:
        raise ValueError("old-format (original TTD) catalogues are not supported")
    if table_size == 0 or table_size % 8 or table_size > len(data):
        raise ValueError(f"bad table size {table_size}")
    entries = []
    for index in range(table_size // 8):
        offset, size = struct.unpack_from("<II", data, 8 * index)
        description, position = _read_string(data, offset & ~_NEW_FORMAT)
        wav = data[position:position + size]
        complete = len(wav) == size >= 12 and struct.unpack_from("<I", wav, 4)[0] + 8 == size
        if not (complete and wav[:4] == b"RIFF" and wav[8:12] == b"WAVE"):
            raise ValueError(f"entry {index} holds no complete RIFF/WAVE data")
        filename, _ = _read_string(data, position + size + 1)
        entries.append(CatEntry(index, description, filename, wav))
    return entries


def _read_string(data: bytes, position: int) -> tuple[str, int]:
    """A length-prefixed string at `position`, and the position after it."""
    end = position + 1 + (data[position] if position < len(data) else 0)
    if end == position + 1 or end > len(data):
        raise ValueError(f"no string at offset {position}")
    return data[position + 1:end].rstrip(b"\0").decode("utf-8", errors="replace"), end


def openttd_folder() -> Path:
    return auralign_home() / "corpus" / "extracted" / "openttd"


def openttd_clips(package: DebianPackage) -> Iterator[SourceClip]:
    """Labelled clips of openttd-opensfx: the labelled catalogue entries are written as WAV files to
    `openttd_folder()` (again only when missing or of another size); each clip's group is the
    original recording it was edited from."""
    entries = read_cat(package.root / OPENTTD_CAT)
    folder = openttd_folder()
    table = RuleTable(RULES_OPENTTD)
    for entry in entries:
        out = folder / f"{entry.stem}.wav"
        if table.label(out.name) and not (out.is_file() and out.stat().st_size == len(entry.wav)):
            write_extracted(out, entry.wav)
    recording = {entry.stem: entry.recording for entry in entries}
    for clip in rule_clips(package, folder, GameSounds(".", RULES_OPENTTD)):
        if clip.path.stem in recording:  # not a file left by another version of the package
            clip.group = f"{package.name}:{recording[clip.path.stem]}"
            yield clip


def action_game_clips(package: DebianPackage) -> Iterator[SourceClip]:
    """Labelled clips of one package of this module (OpenTTD or a key of ACTION_PACKAGE_SOUNDS)."""
    if package.name == OPENTTD_PACKAGE:
        yield from openttd_clips(package)
        return
    sounds = ACTION_PACKAGE_SOUNDS[package.name]
    folder = package.root / sounds.sound_dir
    sessions = [(re.compile(pattern), group) for pattern, group in SESSIONS.get(package.name, ())]
    for clip in rule_clips(package, folder, sounds):
        key = clip.path.relative_to(folder).with_suffix("").as_posix().lower()
        group = next((group for pattern, group in sessions if pattern.fullmatch(key)), None)
        if group:
            clip.group = f"{package.name}:{group}"
        yield clip
