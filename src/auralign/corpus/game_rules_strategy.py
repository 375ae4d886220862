"""Reviewed path rules for strategy and building game packages, and OpenClonk's group-file reader.

Same rule format as `game_rules` (regex on the lower-cased path below the sound folder, without
extension; first match wins; None or no match leaves the file out). The tables were written from
the actual file lists of the Debian packages and what the packages say about their sounds:
Warzone 2100's `audio/audio.cfg`, Widelands' `sound/wl-sound-docu.csv`, MegaGlest's unit XML files
(which unit plays a file, and for which action), OpenClonk's `Sound.ocg/authors.txt`.
docs/corpus_sources_strategy.md says what was left out and why. Files shorter than 0.2 s are left
out by name.

Three things the path rules cannot express are handled by `strategy_game_clips`, the hook for every
package here:

* Warzone 2100 keeps its audio in the zip `base.wz` and OpenClonk in the packed group file
  `Sound.ocg`; their labelled members are copied out once to `<package root>/audio-extracted/`.
* Byte-identical copies of one file (MegaGlest ships the same tileset sounds in up to 15 folders)
  are yielded once.
* MegaGlest reuses one recording for many units under different names (near-identical envelopes
  across unit folders, e.g. a valkyrie's line that is an axe thrower's), and Warzone 2100's
  narrator speaks in a dozen folders: in these two packages all clips of a label form one group.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
from collections.abc import Callable, Iterator
from pathlib import Path

from auralign.audio.io import AUDIO_EXTENSIONS
from auralign.corpus.game_rules import GameSounds, Rule, RuleTable, rule_clips
from auralign.corpus.games_0ad import EXTRACTED, extract_labelled_audio
from auralign.corpus.sources import DebianPackage, SourceClip, write_extracted
from auralign.errors import AuralignError

# Warzone 2100: `audio/` of base.wz. The "pcv" lines are the "female computer voice" (Warzone 2100
# wiki), `cmndrvoc` is audio.cfg's "Group & Commander Voices - Male". The Nexus and
# Collective voices are a machine villain's and cyborgs' (processed), lasers and hover/VTOL engines
# are synthetic, freroar ("fire roar") is a faint rumble, `sequenceaudio/` (briefing soundtracks)
# lies outside `audio/` and is not extracted. The pilots' and commander's lines are radio chatter.
_WARZONE2100: tuple[Rule, ...] = (
    (r"sfx/weapons/(lrg|med|sml)can", "cannon fire", "effect"),
    (r"sfx/weapons/(mgbar\d|mgheavy|mgtower|asltmg)", "machine gun", "effect"),
    (r"sfx/weapons/mortar", "mortar fire", "effect"),
    (r"sfx/weapons/flmthrow", "flamethrower", "effect"),
    (r"sfx/weapons/splash", "water splash", "effect"),
    (r"sfx/explons/(sml|lrg|atnk|mpod)expl", "explosion", "effect"),
    (r"sfx/explons/richet\d", "ricochet", "effect"),
    (r"sfx/explons/squish", "squelch", "effect"),
    (r"sfx/explons/bldfall", "building collapse", "effect"),
    (r"sfx/building/steam", "steam hiss", "effect"),
    (r"sfx/misc/scream\d?", "scream", "vocal"),
    (r"sfx/misc/help", "shout", "vocal"),
    (r"memressp/cmndrvoc/\w+", "male speech", "speech"),
    (r"(memressp/\w+|extra)/pcv\d+a?", "female speech", "speech"),
    (r"(memressp/\w+|extra|countdown|tutorial|proxmessages|vtoltalk|trnsppil)/[\w-]+", "speech", "speech"),
    (r"taunts/taunt\d/haha(ha)?\d", "laughter", "vocal"),
    (r"taunts/taunt\d/\w+", "speech", "speech"),
)

# Widelands: the sources named in sound/wl-sound-docu.csv decide the label ("boar" is a pig
# recording, "moose" an elk's). Left out: UI and message sounds, music, unclear sources
# (blackwood, mortar, mill, toolsmith, farm_animal, horse, fisher_pull_net, inn_00 / biginn_00
# "preparing dishes"), empire/taverns (byte copies of the barbarian taverns' files, and meal_01 an
# unknown "Bottle-2"), ironping (the recording goldping was cut from).
_WIDELANDS: tuple[Rule, ...] = (
    (r"sound/animals/bird\d_\d+", "birdsong", "ambience"),
    (r"sound/animals/boar", "pig grunt", "effect"),
    (r"sound/animals/coyote_\d+", "coyote howl", "effect"),
    (r"sound/animals/crickets\d_\d+", "crickets", "ambience"),
    (r"sound/animals/frog", "frog croaking", "effect"),
    (r"sound/animals/moose_\d+", "elk bellow", "effect"),
    (r"sound/animals/stag_\d+", "red deer roar", "effect"),
    (r"sound/animals/wolf_\d+", "wolf howl", "effect"),
    (r"world/critters/duck/duck_\d+", "duck quack", "effect"),
    (r"sound/farm/donkey", "donkey bray", "effect"),
    (r"sound/farm/ox_\d+", "cow moo", "effect"),
    (r"sound/farm/sheep_\d+", "sheep bleat", "effect"),
    (r"sound/farm/scythe_\d+", "scythe mowing", "effect"),
    (r"sound/atlanteans/cutting/stonecutter_\d+", "mining stone", "effect"),
    (r"sound/atlanteans/goldspin_\d+", "metal clatter", "effect"),
    (r"sound/atlanteans/saw/(benchsaw|sawing)_\d+", "sawing wood", "effect"),
    (r"sound/sawmill/sawmill_\d+", "sawing wood", "effect"),
    (r"sound/barbarians/stonegrind", "stone grinding", "effect"),
    (r"sound/barbarians/weaver", "loom weaving", "effect"),
    (r"sound/barbarians/taverns/tavern_\d+", "dishes clattering", "effect"),
    (r"sound/barbarians/taverns/inn_01", "frying", "effect"),
    (r"sound/barbarians/taverns/biginn_01", "glass clink", "effect"),
    (r"sound/empire/(beer|wine)bubble_\d+", "bubbling", "effect"),
    (r"sound/fisher/fisher_throw_net", "net throw", "effect"),
    (r"sound/hammering/(geologist_hammer|hammering_\d+)", "hammering", "effect"),
    (r"sound/metal/(fizzle|furnace)", "fire", "ambience"),
    (r"sound/metal/goldping", "metal ping", "effect"),
    (r"sound/other/falling_tools_\d+", "clatter", "effect"),
    (r"sound/smiths/sharpening", "blade sharpening", "effect"),
    (r"sound/smiths/smith_\d+", "blacksmith hammering", "effect"),
    (r"sound/stonecutting/(stonecutter|stonemason)", "stone cutting", "effect"),
    (r"sound/woodcutting/(fast_)?woodcutting(_\d+)?", "chopping wood", "effect"),
    (r"sound/woodcutting/tree_falling_\d+", "tree falling", "effect"),
)

# MegaGlest: a unit's `*_ack` / `*_select` lines are its voice ("speech": several reuse another
# unit's voice, so no gender is claimed), `*_die` its death cry. Left out: creatures and magic
# (daemon, golem, behemoth, dragon, ghost armor, mummy, anubis, genie, spells), machines,
# `horseman_die` (rider and horse), the berserk units (near-identical copies of the plain ones),
# the sword, spear, axe and club attacks (mostly the fighter's shout: a voiced burst with formants
# on the spectrogram, not a hit), UI, music, the hell tileset, winter_forest's wind (winter's).
_MG_UNITS = "techs/megapack/factions/[a-z]+/units"
_MG_COMMON = "techs/megapack/commondata/sounds"
_MG_TILESET = "tilesets/[a-z0-9_]+/sounds"
# (unit folder, file prefix) of the human units' own voice files below techs/megapack/factions/
_MG_VOICED = "|".join(f"{unit}/sounds/{prefix}" for unit, prefix in (
    ("egypt/units/spearman", "spearman_"), ("indian/units/archer", "archer_"),
    ("indian/units/fire_archer", "archer_"), ("indian/units/horseman", "horseman_"),
    ("indian/units/shaman", "shaman_"), ("indian/units/spearman", "stickfighter_"),
    ("indian/units/stickfighter", "stickfighter_"), ("magic/units/battlemage", "battlemage_"),
    ("magic/units/initiate", "initiate_"), ("magic/units/summoner", "summoner_"),
    ("norsemen/units/spearman", "swordman_"), ("norsemen/units/swordman", "swordman_"),
    ("norsemen/units/valkyrie", "valkyrie_"), ("norsemen/units/cudgel_lady", "cudgel_"),
    ("norsemen/units/flying_valkyrie", "horseman_"), ("persian/units/fakir", "stickfighter_"),
    ("persian/units/stickfighter", "stickfighter_"), ("persian/units/swordman", "swordman_"),
    ("persian/units/princess", "princess_"), ("persian/units/magician", ""),
))
_MEGAGLEST: tuple[Rule, ...] = (
    (rf"{_MG_UNITS}/\w+_berserk/.*", None, ""),
    (r".*/horseman_die\d+", None, ""),
    (rf"{_MG_COMMON}/(worker_harvest_wood1|worker_mine[36])", None, ""),  # < 0.2 s
    # voices
    (rf"{_MG_COMMON}/(archer|axe_thrower|guard|horseman|swordman|technician|worker|archmage)_(ack|select)\d+",
     "speech", "speech"),
    (rf"techs/megapack/factions/({_MG_VOICED})(ack|select)\d+", "speech", "speech"),
    (rf"{_MG_COMMON}/(archer|axe_thrower|guard|swordman|technician|worker)_die\d+", "death cry", "vocal"),
    (rf"techs/megapack/factions/({_MG_VOICED})die\d+", "death cry", "vocal"),
    # weapons and work
    (rf"({_MG_COMMON}|{_MG_UNITS}/archer/sounds)/archer_attack\d+", "arrow shot", "effect"),
    (rf"({_MG_COMMON}|{_MG_UNITS}/genie/sounds)/arrow_hit\d+", "arrow impact", "effect"),
    (rf"{_MG_COMMON}/catapult_attack\d+", "catapult launch", "effect"),
    (rf"({_MG_COMMON}|{_MG_UNITS}/stickfighter/sounds)/stickfighter_attack[1-9]", "staff strike", "effect"),  # 10-12: shouts
    (rf"{_MG_COMMON}/horseman_walk\d+", "horse hooves", "effect"),
    (rf"{_MG_COMMON}/anvil\d+", "anvil strike", "effect"),
    (rf"{_MG_COMMON}/worker_mine\d+", "mining stone", "effect"),
    (rf"{_MG_COMMON}/worker_harvest_wood\d+", "chopping wood", "effect"),
    (rf"{_MG_COMMON}/tech_building_fall\d+", "building collapse", "effect"),
    # animals
    (rf"{_MG_COMMON}/cow_(ack|select)\d+", "cow moo", "effect"),
    (rf"({_MG_COMMON}|{_MG_UNITS}/wild_sow/sounds)/pig_(ack|select)\d+", "pig grunt", "effect"),
    (rf"{_MG_UNITS}/chicken/sounds/chicken_(ack|select|standing)\d+", "chicken cluck", "effect"),
    (rf"{_MG_UNITS}/bull/sounds/bull_(ack|select)\d+", "bull bellow", "effect"),
    (rf"{_MG_UNITS}/beehive/sounds/bee\d+", "bee buzzing", "effect"),
    (rf"{_MG_UNITS}/sheep/sounds/sheep\d+", "sheep bleat", "effect"),
    (rf"{_MG_UNITS}/elephant/sounds/ele\d+", "elephant trumpet", "effect"),
    (rf"{_MG_UNITS}/thunderbird/sounds/eagle_(ack|select)\d+", "bird of prey screech", "effect"),
    # tilesets and water
    (r"tilesets/(hell|winter_forest)/.*", None, ""),
    (rf"{_MG_TILESET}/(day|sunny_day|desertday)", "daytime nature ambience", "ambience"),
    (rf"{_MG_TILESET}/(night|nightime)", "night nature ambience", "ambience"),
    (rf"{_MG_TILESET}/rain", "rain", "ambience"),
    (rf"{_MG_TILESET}/wind", "wind", "ambience"),
    (rf"{_MG_TILESET}/wolf", "wolf howl", "effect"),
    (rf"{_MG_TILESET}/owl", "owl hoot", "effect"),
    (rf"{_MG_TILESET}/rooster", "rooster crowing", "effect"),
    (rf"{_MG_TILESET}/hawk", "bird of prey screech", "effect"),
    (rf"{_MG_TILESET}/mudchute_cow_\d+", "cow moo", "effect"),
    (r"data/core/water_sounds/water\d+", "water splash", "effect"),
)

# FreeOrion: space combat and interface sounds, synthetic but for the three explosions.
_FREEORION: tuple[Rule, ...] = ((r"combat/explosion-(heavy|light|med)1", "explosion", "effect"),)

# LinCity-NG: 4 s sounds played when a building is selected; most name only the building
# (residential, industry, school, ...), only these name what is heard. Left out after a look at
# their spectrograms: FireWasteland1 (a tonal call repeated four times), RailTrain1 (bell-like tone
# pattern), Blacksmith2 and 3 (no clear hammer blows).
_LINCITY_NG: tuple[Rule, ...] = (
    (r"fire\d", "fire", "ambience"),
    (r"sportscroud\d", "crowd", "ambience"),
    (r"railtrain[23]", "train", "effect"),
    (r"trafic(high|low)\d", "traffic noise", "ambience"),
    (r"harbor\d", "harbour ambience", "ambience"),
    (r"blacksmith1", "blacksmith hammering", "effect"),
    (r"rocketexplosion1", "explosion", "effect"),
    (r"rockettakeoff1", "rocket launch", "effect"),
)

# OpenClonk: `Sound.ocg` (folder names without ".ocg"); authors.txt names a freesound.org original
# for most effects. Left out: fantasy creatures (Mooq, Wipf, Puka, Zap, Chippie's calls, Monster,
# bats' noises), sounds "adapted" from another file here (Swim from Splash, IceHit from GlassHit),
# interface sounds, clonk lines whose content the name does not tell (Confirm, Decline, Doubt,
# Shock), Singing (music), SmokeSizzle (the recording Widelands' fizzle is cut from), 0.2 s files.
_OPENCLONK: tuple[Rule, ...] = (
    (r"animals/mosquitobuzz", "mosquito buzzing", "effect"),
    (r"animals/bat/flutter\d", "wing flapping", "effect"),
    (r"animals/chippie/eggcrack\d", "egg cracking", "effect"),
    (r"clonk/action/breathing", "breathing", "vocal"),
    (r"clonk/action/dig/dig[135]", "digging", "effect"),
    (r"clonk/action/munch\d", "chewing", "effect"),
    (r"clonk/movement/rustle(\d|land)", "rustle", "effect"),
    (r"clonk/skin/\w+/laughter\d", "laughter", "vocal"),
    (r"clonk/skin/\w+/hurt\d", "pain grunt", "vocal"),
    (r"clonk/skin/\w+/die\d", "death cry", "vocal"),
    (r"clonk/skin/\w+/scream\d", "scream", "vocal"),
    (r"environment/birdsloop", "birdsong", "ambience"),
    (r"environment/disasters/earthquake", "rumble", "ambience"),
    (r"environment/lightning/thunder\d", "thunder", "ambience"),
    (r"environment/tree/chop\d", "chopping wood", "effect"),
    (r"environment/waterfall", "waterfall", "ambience"),
    (r"environment/windloop", "wind", "ambience"),
    (r"fire/blast(\d|3alt)", "explosion", "effect"),
    (r"fire/blastfirework", "fireworks", "effect"),
    (r"fire/cracker", "firecracker", "effect"),
    (r"fire/fire", "fire", "ambience"),
    (r"fire/(fireball|inflame)", "fire whoosh", "effect"),
    (r"fire/fuse(loop|short)?", "burning fuse", "effect"),
    (r"hits/materials/glass/glass(break|shatter)", "glass breaking", "effect"),
    (r"hits/materials/glass/glasshit\d", "glass clink", "effect"),
    (r"hits/materials/metal/lightmetalhit\d", "metal clang", "effect"),
    (r"hits/materials/metal/dullmetalhit\d", "metal thud", "effect"),
    (r"hits/materials/rock/rockhit[13]", "rock impact", "effect"),
    (r"hits/materials/rock/rockfall\d", "rockfall", "effect"),
    (r"hits/materials/wood/(dull)?woodhit\d", "wood impact", "effect"),
    (r"hits/materials/wood/woodcreak\d", "wood creaking", "effect"),
    (r"liquids/boiling", "boiling water", "effect"),
    (r"liquids/bubble\d", "bubbling", "effect"),
    (r"liquids/pshshsh", "hiss", "effect"),
    (r"liquids/sizzle", "sizzle", "effect"),
    (r"liquids/splash\d", "water splash", "effect"),
    (r"liquids/stereorain", "rain", "ambience"),
    (r"liquids/waterdrop\d", "water drip", "effect"),
    (r"objects/(weapons/bow|arrow)/shoot\d", "arrow shot", "effect"),
    (r"objects/balloon/inflate", "balloon inflating", "effect"),
    (r"objects/balloon/pop", "balloon pop", "effect"),
    (r"objects/catapult_launch", "catapult launch", "effect"),
    (r"objects/pickaxe/clang(\d|hard1)", "mining stone", "effect"),
    (r"objects/spraycan", "spray", "effect"),
    (r"objects/weapons/blunderbuss/gunshoot\d", "musket shot", "effect"),
    (r"objects/weapons/javelin/throw\d", "javelin throw", "effect"),
    (r"objects/weapons/shield/metalhit\d", "metal shield hit", "effect"),
    (r"objects/weapons/shield/woodhit\d", "wooden shield hit", "effect"),
    (r"objects/weapons/weaponswing[12]", "whoosh", "effect"),
    (r"structures/chest/open", "chest opening", "effect"),
    (r"structures/chest/close", "chest closing", "effect"),
    (r"structures/dooropen\d", "door opening", "effect"),
    (r"structures/doorclose\d", "door closing", "effect"),
    (r"structures/elevator/drilling", "drilling", "effect"),
    (r"structures/elevator/moving", "elevator", "effect"),
    (r"structures/fanloop", "fan", "effect"),
    (r"structures/furnace/loop", "furnace burning", "ambience"),
    (r"structures/hingecreak\d", "hinge creaking", "effect"),
    (r"structures/pumpjack", "pumpjack", "effect"),
    (r"structures/sawmillripcut", "sawing wood", "effect"),
    (r"structures/steamengine", "steam engine", "effect"),
    (r"structures/stonegate/chain", "chain rattling", "effect"),
)

STRATEGY_PACKAGE_SOUNDS: dict[str, GameSounds] = {
    "warzone2100-data": GameSounds(EXTRACTED, _WARZONE2100),
    "widelands-data": GameSounds("usr/share/games/widelands/data", _WIDELANDS),
    "megaglest-data": GameSounds("usr/share/games/megaglest", _MEGAGLEST),
    "freeorion-data": GameSounds("usr/share/games/freeorion/default/data/sound", _FREEORION),
    "lincity-ng-data": GameSounds("usr/share/games/lincity-ng/sounds", _LINCITY_NG),
    "openclonk-data": GameSounds(EXTRACTED, _OPENCLONK),
}

WARZONE2100_ZIP = "usr/share/games/warzone2100/base.wz"
OPENCLONK_SOUND_GROUP = "usr/share/games/openclonk/Sound.ocg"

# C4Group ("RedWolf Design GrpFolder"): a packed group is a gzip stream whose first two bytes are
# 1e 8c instead of 1f 8b. Unpacked: a 204-byte header (scrambled: each byte XOR 0xED and bytes i,
# i+2 swapped per triple) whose int32 at 36 is the entry count, then 316-byte entries (NUL-padded
# name[260], int32 packed, child group, size, reserved, offset), then the data, offsets counted
# from the end of the entry table. A child group is stored unpacked in its parent's data.
_C4_MAGIC = b"RedWolf Design GrpFolder"
_C4_HEADER = 204
_C4_ENTRY = 316


def c4group_members(data: bytes, prefix: str = "") -> Iterator[tuple[str, bytes]]:
    """(path, bytes) of every file in an unpacked C4Group, child groups as folders without ".ocg"."""
    header = bytearray(byte ^ 0xED for byte in data[:_C4_HEADER])
    for i in range(0, len(header) - 2, 3):
        header[i], header[i + 2] = header[i + 2], header[i]
    if len(header) < _C4_HEADER or not header.startswith(_C4_MAGIC):
        raise AuralignError("not a C4Group (OpenClonk group file)")
    (count,) = struct.unpack_from("<i", header, 36)
    start = _C4_HEADER + _C4_ENTRY * count
    for index in range(count):
        entry = data[_C4_HEADER + _C4_ENTRY * index:_C4_HEADER + _C4_ENTRY * (index + 1)]
        name = entry[:260].split(b"\0")[0].decode("latin-1")
        _, child, size, _, offset = struct.unpack_from("<5i", entry, 260)
        body = data[start + offset:start + offset + size]
        if child:
            yield from c4group_members(body, f"{prefix}{name.removesuffix('.ocg')}/")
        else:
            yield prefix + name, body


def extract_c4group_audio(group: Path, target: Path, table: RuleTable) -> None:
    """Write the audio members of a packed C4Group that `table` labels (once: existing files are kept)."""
    raw = group.read_bytes()
    data = gzip.decompress(b"\x1f\x8b" + raw[2:])
    for name, body in c4group_members(data):
        out = target / name
        if out.suffix.lower() in AUDIO_EXTENSIONS and not out.is_file() and table.label(name) is not None:
            write_extracted(out, body)


_UNPACK: dict[str, Callable[[DebianPackage, Path, RuleTable], None]] = {
    "warzone2100-data": lambda package, target, table: extract_labelled_audio(
        package.root / WARZONE2100_ZIP, target, table),
    "openclonk-data": lambda package, target, table: extract_c4group_audio(
        package.root / OPENCLONK_SOUND_GROUP, target, table),
}
_GROUP_BY_LABEL = frozenset({"megaglest-data", "warzone2100-data"})


def strategy_game_clips(package: DebianPackage) -> Iterator[SourceClip]:
    """Labelled clips of one package of STRATEGY_PACKAGE_SOUNDS (see the module docstring)."""
    sounds = STRATEGY_PACKAGE_SOUNDS[package.name]
    folder = package.root / sounds.sound_dir
    if package.name in _UNPACK:
        _UNPACK[package.name](package, folder, RuleTable(sounds.rules))
    seen: set[str] = set()
    for clip in rule_clips(package, folder, sounds):
        digest = hashlib.sha1(clip.path.read_bytes()).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        if package.name in _GROUP_BY_LABEL:
            clip.group = f"{package.name}:{clip.labels[0]}"
        yield clip
