"""0 A.D. (`0ad-data`): real field recordings and foley inside `mods/public/public.zip`.

The package ships its audio inside one 3 GB zip, so the labelled members are copied out once to
`<package root>/audio-extracted/` (music, interface and unclear files are never extracted). Rules
are matched against the member path below `audio/`, lower-cased, without extension; see
`game_rules` for the rule format and why numbered variants share a group. The voice folders hold
one speaker per language and gender, so a speaker's lines form one group (the label would
otherwise leak across splits through the voice).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

from auralign.corpus.game_rules import GameSounds, Rule, RuleTable, rule_clips
from auralign.corpus.sources import DebianPackage, SourceClip

PUBLIC_ZIP = "usr/share/games/0ad/mods/public/public.zip"
EXTRACTED = "audio-extracted"

_SURFACES = "grass|gravel|rock|sand|snow|wood|dirt"
RULES_0AD: tuple[Rule, ...] = (
    (r"music/.*|interface/.*", None, ""),
    # animals
    (r"actor/fauna/animal/camel_\d+", "camel grunt", "effect"),
    (r"actor/fauna/animal/cattle_\d+", "cow moo", "effect"),
    (r"actor/fauna/animal/chicken_\d+", "chicken cluck", "effect"),
    (r"actor/fauna/animal/elephant_death\d", "elephant death cry", "effect"),
    (r"actor/fauna/animal/elephant_\w+", "elephant trumpet", "effect"),
    (r"actor/fauna/animal/flamingo_\d+", "flamingo call", "effect"),
    (r"actor/fauna/animal/horse_death\d", "horse death cry", "effect"),
    (r"actor/fauna/animal/horse_\w+", "horse neigh", "effect"),
    (r"actor/fauna/animal/lion_\w+", "lion roar", "effect"),
    (r"actor/fauna/animal/peacock_call_\d+", "peacock call", "effect"),
    (r"actor/fauna/animal/pig_death", "pig death squeal", "effect"),
    (r"actor/fauna/animal/pig_squeal_move", "pig squeal", "effect"),
    (r"actor/fauna/animal/pig_\d+", "pig grunt", "effect"),
    (r"actor/fauna/animal/sheep_\d+", "sheep bleat", "effect"),
    (r"actor/fauna/death/death_camel_\d+", "camel death cry", "effect"),
    (r"actor/(fauna|mounted)/death/death_horse_\d+", "horse death cry", "effect"),
    (r"actor/fauna/death/goat_\d+", "goat bleat", "effect"),
    (r"voice/global/civ_dog_bark", "dog bark", "effect"),
    # people
    (r"actor/human/death/female_death_\d+", "woman death cry", "vocal"),
    (r"actor/human/death/male_death_\d+", "man death cry", "vocal"),
    (rf"actor/human/movement/footsteps/foo?rstep_({_SURFACES})_walking", r"\1 footsteps", "effect"),
    (rf"actor/human/movement/footsteps/foo?rstep_({_SURFACES})_running", r"\1 running footsteps", "effect"),
    (r"actor/human/movement/hstep_dirt_mn_\d+", "dirt footsteps", "effect"),
    (r"actor/human/movement/hstep_run_dirt_mn_\d+", "dirt running footsteps", "effect"),
    (rf"actor/singlesteps/fs_({_SURFACES})_?\d+", r"\1 footsteps", "effect"),
    (r"actor/mounted/movement/mstep\d+", "horse hooves", "effect"),
    (r"voice/(greek|latin|persian)/civ/civ_(female|male)_.*", r"\1 \2 speech", "speech"),
    (r"voice/napatan/civ/civ_(female|male)_.*", r"\1 speech", "speech"),
    # places and weather
    (r"actor/gate/stonegate_(open|close)_\d+", "stone gate", "effect"),
    (r"ambient/building/amb_farm_\d+", "farmyard ambience", "ambience"),
    (r"ambient/building/amb_port_\d+", "harbour ambience", "ambience"),
    (r"ambient/building/amb_trade_\d+", "marketplace ambience", "ambience"),
    (r"ambient/dayscape/day_temperate_(gen_)?\d+", "temperate countryside ambience", "ambience"),
    (r"ambient/dayscape/day_tropical_\d+", "tropical forest ambience", "ambience"),
    (r"ambient/water/river_\w+", "river", "ambience"),
    (r"ambient/water/waterfall_\d+", "waterfall", "ambience"),
    (r"ambient/water/wave(crash|rocky)?_\d+", "ocean waves", "ambience"),
    (r"ambient/weather/rain_\d+", "rain", "ambience"),
    (r"ambient/weather/snowstorm_\d+", "snowstorm", "ambience"),
    (r"ambient/weather/thunder_\d+", "thunder", "ambience"),
    (r"ambient/weather/windleaves_\d+", "wind in leaves", "ambience"),
    (r"ambient/weather/(wind|windgust|windstorm)_\d+", "wind", "ambience"),
    # combat
    (r"attack/destruction/building_collapse_large_\d+", "building collapse", "effect"),
    (r"attack/impact/arrow_\d+", "arrow impact", "effect"),
    (r"attack/impact/arrow_(dirt|metal|stone|wood)_\d+", r"arrow hitting \1", "effect"),
    (r"attack/impact/fleshstab_\d+", "stab", "effect"),
    (r"attack/impact/shield_metal_\d+", "metal shield hit", "effect"),
    (r"attack/impact/shield_wood_\d+", "wooden shield hit", "effect"),
    (r"attack/siege/ballist(_rome)?_attack_\d+", "ballista shot", "effect"),
    (r"attack/siege/onager_shooting_\d+", "catapult launch", "effect"),
    (r"attack/siege/ram_attack", "battering ram impact", "effect"),
    (r"attack/weapon/musket_\d+", "musket shot", "effect"),
    (r"attack/weapon/arrowfly_\d+", "arrow flying", "effect"),
    (r"attack/weapon/bow_attack_\d+", "arrow shot", "effect"),
    (r"attack/weapon/jav_attack_\d+", "javelin throw", "effect"),
    (r"attack/weapon/pike_attack_\d+", "pike thrust", "effect"),
    (r"attack/weapon/sling_(attack_)?\d+", "sling shot", "effect"),
    (r"attack/weapon/spear_attack_\d+", "spear thrust", "effect"),
    (r"attack/weapon/sword_attack_\d+", "sword strike", "effect"),
    (r"attack/weapon/swordhit_\d+[a-z]?", "sword clash", "effect"),
    # work
    (r"resource/construction/con_saw_\d+", "sawing wood", "effect"),
    (r"resource/construction/con_wood_\d+", "hammering wood", "effect"),
    (r"resource/farming/hoe_\d+", "hoeing soil", "effect"),
    (r"resource/foraging/leaves_\d+", "rustling leaves", "effect"),
    (r"resource/gathering/gather_field_\d+", "harvesting grain", "effect"),
    (r"resource/gathering/gather_fruit_\d+", "picking fruit", "effect"),
    (r"resource/gathering/gather_meat_\d+", "butchering meat", "effect"),
    (r"resource/lumbering/lumber_tree_\d+", "chopping wood", "effect"),
    (r"resource/lumbering/lumber_treeexpire_\d+", "tree falling", "effect"),
    (r"resource/mining/mine_metal_\d+", "mining metal ore", "effect"),
    (r"resource/mining/mine_stone_\d+", "mining stone", "effect"),
)


def extract_labelled_audio(zip_path: Path, target: Path, table: RuleTable, prefix: str = "audio/") -> None:
    """Copy the members under `prefix` that `table` labels (on their path below `prefix`) out of the zip
    into `target` (once: existing files are kept)."""
    with zipfile.ZipFile(zip_path) as archive:
        for member in archive.infolist():
            if not member.filename.startswith(prefix) or member.is_dir():
                continue
            relative = member.filename.removeprefix(prefix)
            out = target / relative
            if out.is_file() or table.label(relative) is None:
                continue
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_name(out.name + ".part")
            with archive.open(member) as source, open(tmp, "wb") as sink:
                while chunk := source.read(1 << 20):
                    sink.write(chunk)
            tmp.replace(out)


def zero_ad_clips(package: DebianPackage) -> Iterator[SourceClip]:
    """Labelled clips of 0ad-data; voice lines are grouped per speaker (language and gender)."""
    sounds = GameSounds(EXTRACTED, RULES_0AD)
    folder = package.root / EXTRACTED
    extract_labelled_audio(package.root / PUBLIC_ZIP, folder, RuleTable(sounds.rules))
    for clip in rule_clips(package, folder, sounds):
        if clip.kind == "speech":
            language, name = Path(clip.path).relative_to(folder / "voice").parts[0], clip.path.stem.lower()
            gender = "female" if name.startswith("civ_female") else "male"
            clip.group = f"{package.name}:voice/{language}/{gender}"
        yield clip
