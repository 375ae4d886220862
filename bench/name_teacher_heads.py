"""Name the aiSFX teacher heads' outputs from evidence: which corpus clips drive each output.

Usage:
    python bench/name_teacher_heads.py --manifest runs/corpus-general/manifest.jsonl \
        [--max-per-label 60] [--out runs/teacher-naming] [--names src/auralign/resources/teacher_names.json]

Only train and lso_dev rows are read (never a test split); synthetic clips are left out unless
`--include-synthetic`. Each clip's frame tokens come from the feature cache (computed once), are
max-pooled over the whole clip as the package pools them, and go through the nine heads.

Writes to `--out`: `stats.json` (per head and output: share of argmax, top labels by mean probability
with clip counts, top UCS categories; per UCS head: the alphabetical-order test) and `table.md`; and
the names to `--names`.

Naming. The checkpoint ships no class names. Three heads were trained on libraries tagged with the
Universal Category System (prosfx, soundlyTrain, ucsMixed); the hypothesis is that their outputs are
the UCS categories present in that library in alphabetical order (a label encoder's order). Corpus
labels are mapped to UCS categories by the explicit table `LABEL_RULES`. The specificity of output i
for category C is its mean probability on C's clips minus that on all other clips. The hypothesis
says output i is category c_i of the 82 sorted ones, c_i = i + s_i with the skip s_i non-decreasing
in [0, 82 - n]. The best such order-preserving assignment (dynamic programming over the summed
specificity) is compared with the best one for the outputs shuffled (permutation p-value). Outputs
where the assignment agrees with direct evidence (C drives i by at least --min-specificity, and C is
i's most specific category or i is C's most specific output) are anchors; anchors fix the skip at
their outputs, which pins the skip of the outputs between anchors of equal skip, naming them.

Confidence: high = the output is itself an anchor with specificity >= 2 x --min-specificity;
medium = a weaker anchor, or named by the order alone (its skip is pinned by the anchors around it,
or by the ends, and no other category drives it clearly); low = named from its own evidence only
(the other six heads, whose libraries' taxonomies are not known), or left null with its candidates.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from auralign.backbones.aisfx import AisfxEncoder
from auralign.backbones.aisfx_heads import UCS_HEADS, AisfxHeads
from auralign.data.feature_cache import FeatureCache
from auralign.data.manifest import ManifestRow, read_manifest
from auralign.errors import AudioLoadError
from auralign.paths import PACKAGE_DIR, shared_data_dir

NAMING_SPLITS = ("train", "lso_dev")
MIN_CLIPS = 8  # a label or category with fewer clips is not used as evidence

# Corpus label -> UCS category, by word-boundary pattern, first match wins. Reviewed by hand against
# the corpus's label list; a label that matches nothing is left out of the category evidence.
LABEL_RULES: list[tuple[str, str | None]] = [
    # ambiguous between categories: left out of the evidence
    (r"wind chimes?|siren|birdsong|footsteps in water|wading in water|gong|pop|spray|sizzle|plop|rustle|"
     r"(sawing|hammering|chopping) wood|hammering metal|mining metal ore|dwarf|elf", None),
    (r"glass harmonica|wood ?block|ride bell|crash cymbal|cowbell|djembe|cajon|agogo|maracas|rimshot|"
     r"side stick|hand clap|war drums|breakbeat", "MUSICAL"),
    (r"crash", None),
    (r"horse gallop|horse hooves|footsteps?", "FOOTSTEPS"),
    (r"crow|owl|duck|goose|rooster|chicken|seagull|flamingo|peacock|birds?|songbirds?|pigeon|parrot|hen",
     "BIRDS"),
    (r"blackbird|cuckoo|heron|lark|penguin|quetzal|toucan|turkey|vulture", "BIRDS"),
    (r"dogs?|cats?|kitten|cow|horse|pig|sheep|goat|donkey|camel|elephant|lion|monkey|wolf|coyote|elk|deer|"
     r"sea lion|frog|bee|mosquito|crickets?|cicadas?|insects?|bear|tiger|mouse|rat|snake|whale|dolphin|"
     r"bison|bull|chimpanzee|ferret|fox|gorilla|hippopotamus|koala|lamb|orca|rabbit|reindeer|squirrel|"
     r"zebra|hornet|grasshopper|boar|bat", "ANIMALS"),
    (r"ghoul|goblin|gryphon|lich|mermaid|merman|naga|ogre|orc|skeleton|troll|yeti|zombie|drake|"
     r"tree creature", "CREATURES"),
    (r"wing flapping|wings", "WINGS"),
    (r"rain", "RAIN"),
    (r"thunder|thunderstorm|snowstorm|storm|hail", "WEATHER"),
    (r"wind turbine", None),
    (r"wind", "WIND"),
    (r"fireworks?|firecrackers?", "FIREWORKS"),
    (r"ricochet|bullet impact|bullet hitting body", "BULLETS"),
    (r"gunshot|gun|rifle|pistol|shotgun|musket|cannon|mortar|grenade launcher", "GUNS"),
    (r"fire|furnace burning|burning fuse|flamethrower|campfire|crackling fire", "FIRE"),
    (r"explosions?|impact boom", "EXPLOSIONS"),
    (r"sword|arrow|spear|pike|knife|whip crack|catapult|ballista|battering ram|sling shot|javelin|shield|"
     r"crossbow|(staff|mace|club|axe|flail) strike", "WEAPONS"),
    (r"punch", "FIGHT"),
    (r"magic", "MAGIC"),
    (r"coins?", "OBJECTS"),
    (r"squeaky toy|toy", "TOYS"),
    (r"door|hinge creaking|stone gate|gate", "DOORS"),
    (r"glass", "GLASS"),
    (r"metal clang|metal clatter|metal ping|metal thud|metal breaking|metal", "METAL"),
    (r"tree falling|rustling leaves|rustle|leaves|grass", "VEGETATION"),
    (r"wood breaking|wood creaking|wood impact|wood", "WOOD"),
    (r"car|motorcycle|bus engine|tire skid|truck|bicycle|vehicle", "VEHICLES"),
    (r"train|steam train|railroad", "TRAINS"),
    (r"helicopter|jet engine|propeller plane|airplane|plane|rocket launch", "AIRCRAFT"),
    (r"ship horn|boat|ship", "BOATS"),
    (r"cough|sneeze|burp|snoring|breathing|heartbeat|kiss", "HUMAN"),
    (r"crowd|applause|cheering|booing", "CROWDS"),
    (r"robot voice|robot", "ROBOTS"),
    (r"speech|spoken|scream|laughter|laugh|baby crying|crying|shout|singing|moan|death cry|pain cry|"
     r"pain grunt|grunt|voice|says", "VOICES"),
    (r"chainsaw|circular saw|drill|drilling|jackhammer|hammering|sawing|saw|screwdriver", "TOOLS"),
    (r"sewing machine|elevator|fan|factory machinery|3d printer|pumpjack|loom|machine|vacuum cleaner",
     "MACHINES"),
    (r"clock ticking|clock|ticking|tick", "CLOCKS"),
    (r"telephone|phone|radio static|tv static|typewriter|camera shutter|record scratch|vinyl crackle|"
     r"static", "COMMUNICATIONS"),
    (r"typing|keyboard|mouse click", "COMPUTERS"),
    (r"electric sparks|electronic zap|sparks|zap|electricity", "ELECTRICITY"),
    (r"electronic blip|glitch|beep|blip", "USER INTERFACE"),
    (r"whoosh|swoosh|swish", "SWOOSHES"),
    (r"bell|bell tolling|doorbell", "BELLS"),
    (r"ambience|traffic noise", "AMBIENCE"),
    (r"rock impact|rockfall|stone grinding|stone cutting|mining stone|rocks?|stone", "ROCKS"),
    (r"building collapse|collapse", "DESTRUCTION"),
    (r"chains?|chain rattling", "CHAINS"),
    (r"frying|chewing|boiling water|egg cracking|dishes clattering|eating|drinking|slurping|cooking",
     "FOOD & DRINK"),
    (r"water|stream|river|waterfall|fountain|ocean waves|waves|splash|bubbling|bubbles|drip|swimming|"
     r"toilet flush", "WATER"),
    (r"whistles?|whistling", "WHISTLES"),
    (r"squelch|mud", "LIQUID & MUD"),
    (r"paper", "PAPER"),
    (r"ball bounce|bowling", "SPORTS"),
    (r"piano|guitar|violin|cello|trumpet|flute|organ|harpsichord|strings|string ensemble|brass|synth|bass|"
     r"drum|kick|snare|hi-hat|cymbal|tom|tabla|didgeridoo|tambura|choir|triangle|claves|shaker|harmonica|"
     r"clarinet|saxophone|oboe|harp|marimba|xylophone|vibraphone|accordion|banjo|sitar|tambourine|conga|"
     r"bongo", "MUSICAL"),
]


@dataclass
class HeadRun:
    rows: list[ManifestRow]
    probabilities: dict[str, np.ndarray]  # head -> (n_clips, n_outputs)


def ucs_categories(path: Path) -> list[str]:
    """The UCS categories, sorted as Python sorts strings (the order a label encoder gives)."""
    with open(path, newline="") as handle:
        return sorted({row["category"] for row in csv.DictReader(handle)})


def label_category(label: str) -> str | None:
    for pattern, category in LABEL_RULES:
        if re.search(rf"\b(?:{pattern})\b", label):
            return category
    return None


def select_rows(rows: Sequence[ManifestRow], max_per_label: int, include_synthetic: bool,
                seed: int) -> list[ManifestRow]:
    """Naming-split rows, at most `max_per_label` per first label (seeded), synthetic ones optional."""
    usable = [r for r in rows if r.split in NAMING_SPLITS and r.labels
              and (include_synthetic or not is_synthetic(r))]
    by_label: dict[str, list[ManifestRow]] = defaultdict(list)
    for row in usable:
        by_label[row.labels[0]].append(row)
    rng = random.Random(seed)
    chosen = []
    for label in sorted(by_label):
        group = by_label[label]
        chosen.extend(rng.sample(group, min(max_per_label, len(group))))
    return chosen


def is_synthetic(row: ManifestRow) -> bool:
    value = row.extra.get("is_synthetic", False)
    return value is True or str(value).lower() == "true"


@torch.inference_mode()
def run_heads(heads: AisfxHeads, cache: FeatureCache, rows: Sequence[ManifestRow]) -> HeadRun:
    """Head probabilities of every clip that loads, from its max-pooled cached tokens."""
    failures = cache.ensure([r.audio for r in rows])
    failed = {str(path) for path, _ in failures}
    kept, pooled = [], []
    for row in rows:
        if str(row.audio) in failed:
            continue
        try:
            tokens = cache.get(row.audio).tokens
        except AudioLoadError:
            continue
        kept.append(row)
        pooled.append(torch.from_numpy(np.asarray(tokens, dtype=np.float32)).amax(dim=0))
    probabilities = heads(torch.stack(pooled))
    print(f"{len(kept)} clips through the heads ({len(rows) - len(kept)} failed to load)")
    return HeadRun(kept, {name: p.numpy() for name, p in probabilities.items()})


def group_means(probs: np.ndarray, members: dict[str, list[int]]) -> dict[str, np.ndarray]:
    """{group: (n_outputs,) mean probability over the group's clips}."""
    return {group: probs[index].mean(axis=0) for group, index in members.items()}


def output_stats(probs: np.ndarray, rows: Sequence[ManifestRow], label_members: dict[str, list[int]],
                 category_members: dict[str, list[int]], top: int = 5) -> list[dict]:
    """Per output: share of argmax, top labels by mean probability (with clip and argmax counts),
    top UCS categories by specificity (mean on the category's clips minus mean on the others)."""
    argmax = probs.argmax(axis=1)
    label_mean = group_means(probs, label_members)
    specificity = category_specificity(probs, category_members)
    out = []
    for output in range(probs.shape[1]):
        ranked = sorted(label_mean, key=lambda label: -label_mean[label][output])[:top]
        categories = sorted(specificity, key=lambda c: -specificity[c][output])[:3]
        out.append({
            "output": output,
            "argmax_share": round(float((argmax == output).mean()), 4),
            "argmax_labels": Counter(rows[i].labels[0]
                                     for i in np.flatnonzero(argmax == output)).most_common(top),
            "top_labels": [{"label": label, "mean_prob": round(float(label_mean[label][output]), 4),
                            "clips": len(label_members[label]),
                            "argmax_clips": int((argmax[label_members[label]] == output).sum())}
                           for label in ranked],
            "top_categories": [{"category": c, "specificity": round(float(specificity[c][output]), 4)}
                               for c in categories],
        })
    return out


def category_specificity(probs: np.ndarray, members: dict[str, list[int]]) -> dict[str, np.ndarray]:
    """{category: (n_outputs,) mean probability on its clips minus mean probability on all other clips}."""
    out = {}
    for category, index in members.items():
        inside = np.zeros(len(probs), dtype=bool)
        inside[index] = True
        out[category] = probs[inside].mean(axis=0) - probs[~inside].mean(axis=0)
    return out


def specificity_matrix(probs: np.ndarray, members: dict[str, list[int]], categories: list[str]) -> np.ndarray:
    """(n_outputs, n_categories) specificity; 0 for a category without clips (no evidence either way)."""
    matrix = np.zeros((probs.shape[1], len(categories)))
    for category, values in category_specificity(probs, members).items():
        matrix[:, categories.index(category)] = values
    return matrix


def monotone_alignment(scores: np.ndarray) -> tuple[float, list[int]]:
    """Best total of scores[i, i + s_i] over skips s non-decreasing in [0, K - n], and the skips.

    That is the alphabetical hypothesis: the n outputs are n of the K sorted categories, in order.
    """
    n, k = scores.shape
    slack = k - n
    gain = np.stack([scores[np.arange(n), np.arange(n) + s] for s in range(slack + 1)], axis=1)  # (n, S)
    best = np.zeros((n, slack + 1))
    best[0] = gain[0]
    for i in range(1, n):
        best[i] = gain[i] + np.maximum.accumulate(best[i - 1])
    skips = [int(best[-1].argmax())]
    for i in range(n - 1, 0, -1):
        skips.append(int(best[i - 1][: skips[-1] + 1].argmax()))
    return float(best[-1].max()), skips[::-1]


def alphabetical_test(probs: np.ndarray, category_members: dict[str, list[int]], categories: list[str],
                      rows: Sequence[ManifestRow], min_specificity: float, permutations: int,
                      seed: int) -> dict:
    """The alphabetical hypothesis against shuffled outputs, and the anchors of the best alignment.

    The best order-preserving assignment of outputs to sorted categories is scored by the summed
    specificity of each output for its category; the same score for the outputs in random order gives
    the null distribution (p-value). An output is an anchor when the category C the alignment gives
    it drives it by at least `min_specificity` and either C is the category that drives it most or it
    is the output C drives most. For reference, each evidence category's most driven output is
    checked against its alphabetical window.
    """
    n, k = probs.shape[1], len(categories)
    slack = k - n
    scores = specificity_matrix(probs, category_members, categories)
    total, skips = monotone_alignment(scores)
    rng = np.random.default_rng(seed)
    null = np.array([monotone_alignment(scores[rng.permutation(n)])[0] for _ in range(permutations)])
    anchors = []
    for output, skip in enumerate(skips):
        position = output + skip
        mutual = scores[output].argmax() == position or scores[:, position].argmax() == output
        evident = categories[position] in category_members and scores[output, position] >= min_specificity
        if evident and mutual:
            members = category_members[categories[position]]
            anchors.append({"output": output, "category": categories[position], "position": position,
                            "specificity": round(float(scores[output, position]), 4), "clips": len(members),
                            "sources": len({rows[i].extra.get("source") for i in members})})
    strongest = []
    for category in sorted(category_members):
        position = categories.index(category)
        output = int(scores[:, position].argmax())
        strongest.append({"category": category, "output": output, "window": [max(position - slack, 0),
                          min(position, n - 1)], "in_window": position - slack <= output <= position})
    return {"n_outputs": n, "slack": slack, "alignment_score": round(total, 4),
            "null_mean": round(float(null.mean()), 4), "null_max": round(float(null.max()), 4),
            "p_value": round(float((1 + (null >= total).sum()) / (1 + permutations)), 4),
            "permutations": permutations, "skips": skips, "anchors": anchors, "strongest": strongest,
            "strongest_in_window": sum(a["in_window"] for a in strongest),
            "chance_per_category": round((slack + 1) / n, 3)}


def skip_bounds(n: int, slack: int, anchors: Sequence[dict]) -> list[tuple[int, int]]:
    """(lowest, highest) skip c_i - i each output can have: 0 <= skip <= slack, non-decreasing, and equal
    to position - output at every anchor."""
    low, high = [0] * n, [slack] * n
    for anchor in anchors:
        skip, output = anchor["position"] - anchor["output"], anchor["output"]
        for i in range(output, n):
            low[i] = max(low[i], skip)
        for i in range(output + 1):
            high[i] = min(high[i], skip)
    return list(zip(low, high, strict=True))


def name_ucs_head(test: dict, stats: list[dict], categories: list[str], min_specificity: float) -> list[dict]:
    n, slack = test["n_outputs"], test["slack"]
    anchors = {a["output"]: a for a in test["anchors"]}
    entries = []
    for output, (low, high) in enumerate(skip_bounds(n, slack, list(anchors.values()))):
        candidates = [categories[output + s] for s in range(low, high + 1)]
        evidence = describe(stats[output])
        top = stats[output]["top_categories"][0]
        anchor = anchors.get(output)
        if anchor:
            strength = "high" if anchor["specificity"] >= 2 * min_specificity else "medium"
            entries.append(entry(output, anchor["category"], strength,
                                 f"anchor: {anchor['category']} clips drive it (specificity "
                                 f"{anchor['specificity']}, {anchor['clips']} clips from {anchor['sources']} "
                                 f"sources) and the alignment puts it here; {evidence}"))
        elif top["specificity"] >= min_specificity and top["category"] not in candidates:
            entries.append(entry(output, None, "low",
                                 f"order leaves {' / '.join(candidates)}, but {top['category']} clips "
                                 f"drive it most; {evidence}"))
        elif len(candidates) == 1:
            entries.append(entry(output, candidates[0], "medium",
                                 f"alphabetical order, pinned by the anchors around it; {evidence}"))
        else:
            entries.append(entry(output, None, "low", f"order leaves {' / '.join(candidates)}; {evidence}"))
    return entries


def name_other_head(stats: list[dict], min_specificity: float) -> list[dict]:
    """Outputs of a head whose library taxonomy is unknown: named after the UCS category that drives
    them clearly more than any other, low confidence (a description, not the library's own name)."""
    entries = []
    for item in stats:
        best = item["top_categories"][:2]
        clear = (best and best[0]["specificity"] >= min_specificity
                 and (len(best) < 2 or best[0]["specificity"] >= 2 * max(best[1]["specificity"], 0.0)))
        name = best[0]["category"] if clear else None
        entries.append(entry(item["output"], name, "low",
                             f"a description, not the library's own class name; {describe(item)}"))
    return entries


def describe(item: dict) -> str:
    labels = ", ".join(f"{t['label']} {t['mean_prob']:.2f} ({t['argmax_clips']}/{t['clips']})"
                       for t in item["top_labels"][:3])
    categories = ", ".join(f"{c['category']} {c['specificity']:+.2f}" for c in item["top_categories"][:2])
    return f"argmax share {item['argmax_share']:.3f}; top labels {labels}; categories {categories}"


def entry(output: int, name: str | None, confidence: str, evidence: str) -> dict:
    return {"output": output, "name": name, "confidence": confidence, "evidence": evidence}


def markdown_table(names: dict[str, list[dict]], tests: dict[str, dict]) -> str:
    """Per head: a summary line and the named outputs with their evidence (unnamed ones listed by number)."""
    lines = []
    for head, entries in names.items():
        counts = Counter(e["confidence"] for e in entries if e["name"])
        unnamed = [str(e["output"]) for e in entries if e["name"] is None]
        test = tests.get(head)
        summary = (f" Alphabetical alignment: score {test['alignment_score']:.2f} vs {test['null_mean']:.2f} "
                   f"(max {test['null_max']:.2f}) with the outputs shuffled, p = {test['p_value']}; "
                   f"{len(test['anchors'])} anchors." if test else "")
        lines += [f"#### {head} ({len(entries)} outputs)", "",
                  f"Named: {counts['high']} high, {counts['medium']} medium, {counts['low']} low; "
                  f"{len(unnamed)} unnamed ({', '.join(unnamed) or 'none'}).{summary}", ""]
        named = [e for e in entries if e["name"]]
        if named:
            lines += ["| output | name | confidence | evidence |", "|---|---|---|---|"]
            lines += [f"| {e['output']} | {e['name']} | {e['confidence']} | {e['evidence']} |" for e in named]
            lines.append("")
    return "\n".join(lines)


def members_by(rows: Sequence[ManifestRow], key) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        for group in {key(label) for label in row.labels} - {None}:
            groups[group].append(index)
    return {group: index for group, index in groups.items() if len(index) >= MIN_CLIPS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--max-per-label", type=int, default=60)
    parser.add_argument("--include-synthetic", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-specificity", type=float, default=0.05,
                        help="least specificity for an anchor, or to name an output of another head")
    parser.add_argument("--permutations", type=int, default=1000)
    parser.add_argument("--ucs", default=str(shared_data_dir() / "labels" / "ucs_categories.csv"))
    parser.add_argument("--out", default="runs/teacher-naming")
    parser.add_argument("--names", default=str(PACKAGE_DIR / "resources" / "teacher_names.json"))
    args = parser.parse_args()
    torch.set_num_threads(2)

    categories = ucs_categories(Path(args.ucs))
    rows = select_rows(read_manifest(args.manifest), args.max_per_label, args.include_synthetic, args.seed)
    encoder = AisfxEncoder.from_pretrained()
    run = run_heads(AisfxHeads.from_pretrained(), FeatureCache(encoder), rows)
    label_members = members_by(run.rows, lambda label: label)
    category_members = members_by(run.rows, label_category)
    print(f"{len(label_members)} labels and {len(category_members)} UCS categories with >= {MIN_CLIPS} clips")

    stats, tests, names = {}, {}, {}
    for head, probs in run.probabilities.items():
        stats[head] = output_stats(probs, run.rows, label_members, category_members)
        if head in UCS_HEADS:
            tests[head] = test = alphabetical_test(probs, category_members, categories, run.rows,
                                                   args.min_specificity, args.permutations, args.seed)
            names[head] = name_ucs_head(test, stats[head], categories, args.min_specificity)
            print(f"{head}: order-preserving alignment score {test['alignment_score']:.2f} vs shuffled "
                  f"outputs mean {test['null_mean']:.2f}, max {test['null_max']:.2f} "
                  f"(p = {test['p_value']}); "
                  f"{len(test['anchors'])} anchors; strongest output of a category in its window: "
                  f"{test['strongest_in_window']}/{len(test['strongest'])} (chance "
                  f"{test['chance_per_category']} each)")
        else:
            names[head] = name_other_head(stats[head], args.min_specificity)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = {"manifest": str(args.manifest), "clips": len(run.rows), "splits": list(NAMING_SPLITS),
               "label_clips": {k: len(v) for k, v in label_members.items()},
               "category_clips": {k: len(v) for k, v in category_members.items()},
               "alphabetical_tests": tests, "outputs": stats}
    (out / "stats.json").write_text(json.dumps(summary, indent=1))
    (out / "table.md").write_text(markdown_table(names, tests))
    Path(args.names).parent.mkdir(parents=True, exist_ok=True)
    Path(args.names).write_text(json.dumps(names, indent=1) + "\n")
    print(f"wrote {out / 'stats.json'}, {out / 'table.md'} and {args.names}")


if __name__ == "__main__":
    main()
