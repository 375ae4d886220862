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
labels are mapped to UCS categories by the explicit table `LABEL_RULES`; for each category with
enough clips, the output it drives most specifically (mean probability on its clips minus that on
the other clips) is its anchor, strong when that category is also the one driving the output most.
The hypothesis predicts that output i of a head with n outputs is category c_i of the 82 sorted ones
with i <= c_i <= i + (82 - n): each strong anchor either falls in that window or refutes it. The
skip s_i = c_i - i never decreases and lies in [0, 82 - n]; the largest set of in-window anchors
consistent with that fixes s at each of them, which names the outputs whose skip is then pinned.

Confidence: high = the output is itself an anchor of that consistent set; medium = named by the
order alone (its skip is pinned by the anchors around it, or by the ends); low = named from its own
evidence only (the other six heads, whose libraries' taxonomies are not known), or left null with
its candidates listed.
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
    (r"wind chimes?|siren|birdsong|footsteps in water|wading in water|gong|pop|crash|spray|sizzle|plop",
     None),
    (r"glass harmonica|wood ?block", "MUSICAL"),
    (r"horse gallop|horse hooves|footsteps?", "FOOTSTEPS"),
    (r"crow|owl|duck|goose|rooster|chicken|seagull|flamingo|peacock|birds?|songbirds?|pigeon|parrot|hen",
     "BIRDS"),
    (r"dogs?|cats?|kitten|cow|horse|pig|sheep|goat|donkey|camel|elephant|lion|monkey|wolf|coyote|elk|deer|"
     r"sea lion|frog|bee|mosquito|crickets?|cicadas?|insects?|bear|tiger|mouse|rat|snake|whale|dolphin",
     "ANIMALS"),
    (r"wing flapping|wings", "WINGS"),
    (r"rain", "RAIN"),
    (r"thunder|thunderstorm|snowstorm|storm|hail", "WEATHER"),
    (r"wind turbine", None),
    (r"wind", "WIND"),
    (r"fireworks?|firecrackers?", "FIREWORKS"),
    (r"fire|furnace burning|burning fuse|flamethrower|campfire|crackling fire", "FIRE"),
    (r"explosions?|impact boom", "EXPLOSIONS"),
    (r"ricochet|bullet impact|bullet hitting body", "BULLETS"),
    (r"gunshot|gun|rifle|pistol|shotgun|musket|cannon|mortar|grenade launcher", "GUNS"),
    (r"sword|arrow|spear|pike|knife|whip crack|catapult|ballista|battering ram|sling shot|javelin|shield",
     "WEAPONS"),
    (r"door|hinge creaking|stone gate|gate", "DOORS"),
    (r"glass", "GLASS"),
    (r"metal clang|metal clatter|metal ping|metal thud|metal breaking|metal", "METAL"),
    (r"tree falling|rustling leaves|rustle|leaves|grass", "VEGETATION"),
    (r"wood breaking|wood creaking|wood impact|wood", "WOOD"),
    (r"car|motorcycle|bus engine|tire skid|truck|bicycle", "VEHICLES"),
    (r"train|steam train|railroad", "TRAINS"),
    (r"helicopter|jet engine|propeller plane|airplane|plane|rocket launch", "AIRCRAFT"),
    (r"ship horn|boat|ship", "BOATS"),
    (r"cough|sneeze|burp|snoring|breathing|heartbeat|kiss", "HUMAN"),
    (r"crowd|applause|cheering|booing", "CROWDS"),
    (r"robot voice|robot", "ROBOTS"),
    (r"speech|spoken|scream|laughter|laugh|baby crying|crying|shout|singing|moan|death cry|pain cry|"
     r"pain grunt|grunt|voice|says", "VOICES"),
    (r"chainsaw|circular saw|drill|drilling|jackhammer|hammering|sawing|saw|screwdriver", "TOOLS"),
    (r"sewing machine|elevator|fan|factory machinery|3d printer|pumpjack|loom|machine", "MACHINES"),
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
    (r"water|stream|river|waterfall|fountain|ocean waves|waves|splash|bubbling|bubbles|drip|swimming",
     "WATER"),
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


def alphabetical_test(probs: np.ndarray, category_members: dict[str, list[int]], categories: list[str],
                      rows: Sequence[ManifestRow], min_specificity: float) -> dict:
    """Each evidence category's anchor output against the window the alphabetical hypothesis allows.

    A category's anchor is the output its clips drive most specifically; it is `strong` when the
    category is also the one that drives that output most (mutual) by at least `min_specificity`.
    Strong anchors are the test; the largest subset of in-window strong anchors whose skips do not
    decrease along the outputs (`chain`) is what names the outputs.
    """
    n = probs.shape[1]
    slack = len(categories) - n
    specificity = category_specificity(probs, category_members)
    anchors = []
    for category, values in sorted(specificity.items()):
        output = int(values.argmax())
        position = categories.index(category)
        mutual = max(specificity, key=lambda c: specificity[c][output]) == category
        anchors.append({"category": category, "position": position, "output": output,
                        "window": [max(position - slack, 0), min(position, n - 1)],
                        "in_window": position - slack <= output <= position,
                        "strong": mutual and float(values[output]) >= min_specificity,
                        "specificity": round(float(values[output]), 4),
                        "clips": len(category_members[category]),
                        "sources": len({rows[i].extra.get("source") for i in category_members[category]})})
    strong = [a for a in anchors if a["strong"]]
    chain = consistent_chain([a for a in strong if a["in_window"]])
    for anchor in anchors:
        anchor["in_chain"] = anchor in chain
    return {"n_outputs": n, "slack": slack, "anchors": anchors, "tested": len(strong),
            "in_window": sum(a["in_window"] for a in strong), "in_chain": len(chain),
            "chance_per_anchor": round((slack + 1) / n, 3)}


def consistent_chain(anchors: Sequence[dict]) -> list[dict]:
    """The largest subset with strictly increasing outputs and non-decreasing skips (position - output)."""
    ordered = sorted(anchors, key=lambda a: (a["output"], a["position"]))
    best: list[list[dict]] = []
    for index, anchor in enumerate(ordered):
        skip = anchor["position"] - anchor["output"]
        prior = [best[j] for j in range(index) if ordered[j]["output"] < anchor["output"]
                 and ordered[j]["position"] - ordered[j]["output"] <= skip]
        best.append([*max(prior, key=len, default=[]), anchor])
    return max(best, key=len, default=[])


def skip_bounds(n: int, slack: int, chain: Sequence[dict]) -> list[tuple[int, int]]:
    """(lowest, highest) skip c_i - i each output can have: 0 <= skip <= slack, non-decreasing, and equal
    to position - output at every anchor of the chain."""
    low, high = [0] * n, [slack] * n
    for anchor in chain:
        skip, output = anchor["position"] - anchor["output"], anchor["output"]
        for i in range(output, n):
            low[i] = max(low[i], skip)
        for i in range(output + 1):
            high[i] = min(high[i], skip)
    return list(zip(low, high, strict=True))


def name_ucs_head(test: dict, stats: list[dict], categories: list[str]) -> list[dict]:
    n, slack = test["n_outputs"], test["slack"]
    chain = [a for a in test["anchors"] if a["in_chain"]]
    in_chain = {a["output"]: a for a in chain}
    against = {a["output"]: a for a in test["anchors"] if a["strong"] and not a["in_chain"]}
    entries = []
    for output, (low, high) in enumerate(skip_bounds(n, slack, chain)):
        candidates = [categories[output + s] for s in range(low, high + 1)]
        evidence = describe(stats[output])
        anchor, contrary = in_chain.get(output), against.get(output)
        if anchor:
            entries.append(entry(output, anchor["category"], "high",
                                 f"anchor: {anchor['category']} clips drive it most (specificity "
                                 f"{anchor['specificity']}, {anchor['clips']} clips from {anchor['sources']} "
                                 f"sources) and the order puts {anchor['category']} here; {evidence}"))
        elif contrary:
            entries.append(entry(output, None, "low",
                                 f"order leaves {' / '.join(candidates)}, but {contrary['category']} clips "
                                 f"drive it most (specificity {contrary['specificity']}); {evidence}"))
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
        entries.append(entry(item["output"], name, "low", describe(item)))
    return entries


def describe(item: dict) -> str:
    labels = ", ".join(f"{t['label']} {t['mean_prob']:.2f} ({t['argmax_clips']}/{t['clips']})"
                       for t in item["top_labels"][:3])
    categories = ", ".join(f"{c['category']} {c['specificity']:+.2f}" for c in item["top_categories"][:2])
    return f"argmax share {item['argmax_share']:.3f}; top labels {labels}; categories {categories}"


def entry(output: int, name: str | None, confidence: str, evidence: str) -> dict:
    return {"output": output, "name": name, "confidence": confidence, "evidence": evidence}


def markdown_table(names: dict[str, list[dict]], tests: dict[str, dict]) -> str:
    lines = []
    for head, entries in names.items():
        counts = Counter(e["confidence"] for e in entries if e["name"])
        test = tests.get(head)
        summary = (f" Alphabetical test: {test['in_window']}/{test['tested']} strong anchors in their window "
                   f"(chance {test['chance_per_anchor']} each), {test['in_chain']} in one consistent order."
                   if test else "")
        lines += [f"### {head} ({len(entries)} outputs)", "",
                  f"named: {counts['high']} high, {counts['medium']} medium, {counts['low']} low; "
                  f"{sum(e['name'] is None for e in entries)} unnamed.{summary}", "",
                  "| output | name | confidence | evidence |", "|---|---|---|---|"]
        lines += [f"| {e['output']} | {e['name'] or ''} | {e['confidence']} | {e['evidence']} |"
                  for e in entries]
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
            tests[head] = alphabetical_test(probs, category_members, categories, run.rows,
                                            args.min_specificity)
            names[head] = name_ucs_head(tests[head], stats[head], categories)
            test = tests[head]
            print(f"{head}: {test['in_window']}/{test['tested']} strong anchors in their alphabetical window "
                  f"(chance {test['chance_per_anchor']} each), {test['in_chain']} in one consistent order")
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
