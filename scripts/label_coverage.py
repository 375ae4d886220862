"""How many corpus labels map to an AudioSet ontology node (`auralign.data.label_text.map_label`), by kind.

    .venv/bin/python scripts/label_coverage.py runs/corpus-general/manifest.jsonl --examples 10

Prints a markdown table (labels and clips per kind, by the rule that mapped them), the unmapped labels
of each kind, and `positive_texts` of a few clips spread over the manifest.
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict
from pathlib import Path

from auralign.data.label_text import ontology, positive_texts
from auralign.data.manifest import ManifestRow, read_manifest

RULES = ("explicit", "exact", "audioset_name", "none")


def label_kinds(rows: list[ManifestRow]) -> dict[str, str]:
    """Each label's most frequent `kind` among its clips."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for row in rows:
        for label in row.labels:
            counts[label][str(row.extra.get("kind", "?"))] += 1
    return {label: kinds.most_common(1)[0][0] for label, kinds in counts.items()}


def coverage_table(rows: list[ManifestRow]) -> list[str]:
    kinds = label_kinds(rows)
    clips = Counter(label for row in rows for label in row.labels)
    index = ontology()
    labels_by: dict[str, Counter[str]] = defaultdict(Counter)
    clips_by: dict[str, Counter[str]] = defaultdict(Counter)
    for label, kind in kinds.items():
        rule = index.match(label).rule
        for key in (kind, "all"):
            labels_by[key][rule] += 1
            clips_by[key][rule] += clips[label]
    lines = ["| kind | labels | mapped | explicit | exact | audioset_name | unmapped | clips | clips mapped |",
             "|---|---|---|---|---|---|---|---|---|"]
    for kind in sorted(labels_by, key=lambda k: (k == "all", k)):
        n, c = labels_by[kind], clips_by[kind]
        total, mapped = sum(n.values()), sum(n.values()) - n["none"]
        clip_total, clip_mapped = sum(c.values()), sum(c.values()) - c["none"]
        lines.append(f"| {kind} | {total} | {mapped} ({mapped / total:.0%}) | {n['explicit']} | {n['exact']} | "
                     f"{n['audioset_name']} | {n['none']} | {clip_total} | {clip_mapped} ({clip_mapped / clip_total:.0%}) |")
    return lines


def unmapped_labels(rows: list[ManifestRow]) -> dict[str, list[str]]:
    index = ontology()
    out: dict[str, list[str]] = defaultdict(list)
    for label, kind in sorted(label_kinds(rows).items()):
        if not index.match(label).nodes:
            out[kind].append(label)
    return dict(out)


def examples(rows: list[ManifestRow], n: int) -> list[tuple[ManifestRow, list[str]]]:
    """`positive_texts` of n clips of different labels, spread evenly over the manifest."""
    firsts = list({tuple(row.labels): row for row in reversed(rows) if row.labels}.values())[::-1]
    step = max(1, len(firsts) // max(n, 1))
    return [(row, positive_texts(row.labels, row.extra)) for row in firsts[::step][:n]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manifest", type=Path, nargs="?", default=Path("runs/corpus-general/manifest.jsonl"))
    parser.add_argument("--examples", type=int, default=10)
    args = parser.parse_args()
    rows = read_manifest(args.manifest)
    print("\n".join(coverage_table(rows)))
    print("\nunmapped labels:")
    for kind, labels in unmapped_labels(rows).items():
        print(f"- {kind} ({len(labels)}): {', '.join(labels)}")
    print("\nexamples of positive_texts:")
    for row, texts in examples(rows, args.examples):
        print(f"- {row.labels} kind={row.extra.get('kind')}: {texts}")


if __name__ == "__main__":
    main()
