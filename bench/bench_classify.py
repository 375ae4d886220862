"""Classify one clip against many labels: without the text cache (today's cost), from disk, from memory.

Usage: python bench/bench_classify.py [--labels 500] [--rounds 3] [--model general] [--audio FILE]

Labels are the first `--labels` AudioSet class names (../shared/data), or generated names when that
file is missing. Each round runs the three cases in turn (interleaved, so machine load hits all alike):
`cold` (memory and disk cache emptied: every prompt is embedded, as before the cache), `disk` (a new
process's first call: memory emptied, the matrix on disk) and `memory` (a second call in one process).
AURALIGN_HOME points at a scratch folder so the real cache is never touched. Prints JSON: seconds per
case (min/median/max over rounds) and the median of per-round speed-ups over `cold`.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from scratch_home import scratch_home

from auralign.evaluation import text_cache
from auralign.evaluation.zeroshot import classify_files
from auralign.models.factory import load_model
from auralign.paths import shared_data_dir, text_embeddings_dir

DEMO = Path(__file__).resolve().parents[1] / "src" / "auralign" / "resources" / "demo" / "car-passing.flac"


def label_names(n: int) -> list[str]:
    table = shared_data_dir() / "labels" / "audioset_class_labels_indices.csv"
    names = [row["display_name"] for row in csv.DictReader(table.open())] if table.is_file() else []
    names += [f"generated sound number {i}" for i in range(max(0, n - len(names)))]
    return list(dict.fromkeys(names))[:n]


def summary(values: list[float]) -> dict[str, float]:
    return {"min": round(min(values), 4), "median": round(statistics.median(values), 4),
            "max": round(max(values), 4)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--model", default="general")
    parser.add_argument("--audio", type=Path, default=DEMO)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-classify-") as home:
        os.environ["AURALIGN_HOME"] = str(scratch_home(Path(home)))
        model = load_model(args.model)
        names = label_names(args.labels)
        classify_files(model, [args.audio], names[:2])  # warm-up: first-call costs of torch and the decoder
        seconds: dict[str, list[float]] = {"cold": [], "disk": [], "memory": []}
        top = None
        for _ in range(args.rounds):
            for case in seconds:
                if case != "memory":
                    text_cache.clear_memory()
                if case == "cold":
                    shutil.rmtree(text_embeddings_dir(), ignore_errors=True)
                start = time.perf_counter()
                result = classify_files(model, [args.audio], names, top_k=1)
                seconds[case].append(time.perf_counter() - start)
                if top is None:
                    top = result.predictions[0]["top"][0]
                elif result.predictions[0]["top"][0] != top:
                    sys.exit(f"{case}: a different answer ({result.predictions[0]['top'][0]} vs {top})")
    speedups = {case: round(statistics.median(c / s for c, s in zip(seconds["cold"], seconds[case], strict=True)), 2)
                for case in ("disk", "memory")}
    print(json.dumps({"model": args.model, "audio": args.audio.name, "labels": len(names), "rounds": args.rounds,
                      "seconds": {case: summary(values) for case, values in seconds.items()},
                      "speedup_over_cold": speedups, "top": top}, indent=2))


if __name__ == "__main__":
    main()
