"""`auralign index update` after touching 1% of a 10,000-file folder re-embeds only the touched files.

Usage: python bench/bench_index_update.py [--files 10000] [--touch 100] [--seconds 0.5] [--model general]

Writes `--files` short WAV clips (distinct noisy tones, 16 kHz) in a temporary folder, runs `auralign index
add` on it once, then `auralign index update` with nothing changed, then rewrites `--touch` of the files
with new content (so their mtime, and the content, change) and runs `auralign index update --json`. Each
command runs as a subprocess (so its time includes starting Python and loading the model) with
AURALIGN_HOME pointing at a scratch home whose entries link to the real one except `features`: the
feature cache starts empty and the shared cache is left alone. Checks, beside the update's own report,
that the untouched files kept their item ids and that features were computed for the touched files only
(lines added to the scratch feature cache). Prints JSON; exits 1 if anything other than the touched
files was re-embedded. Everything is deleted at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from scratch_home import scratch_home

from auralign.apps.search_index import SearchIndex

SAMPLE_RATE = 16000
PER_FOLDER = 500


def clip(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    frequency = 100.0 * 2 ** rng.uniform(0, 6)  # 100 Hz .. 6.4 kHz
    samples = 0.4 * np.sin(2 * np.pi * frequency * t) * np.exp(-t * rng.uniform(0, 6))
    return (samples + rng.uniform(0.001, 0.05) * rng.standard_normal(len(t))).astype(np.float32)


def write_library(folder: Path, count: int, seconds: float) -> list[Path]:
    paths = []
    for i in range(count):
        path = folder / f"batch_{i // PER_FOLDER:03d}" / f"clip_{i:05d}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, clip(seconds, i), SAMPLE_RATE, subtype="PCM_16")
        paths.append(path)
    return paths


def run(args: list[str], env: dict[str, str]) -> tuple[float, str, str]:
    """Run `auralign ARGS`; (wall seconds, stdout, last line of stderr). Exits with its stderr if it fails."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "auralign.cli.main", *args], env=env, capture_output=True,
                            text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"auralign {' '.join(args[:2])} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    lines = result.stderr.strip().splitlines()
    return seconds, result.stdout, lines[-1] if lines else ""


def feature_entries(home: Path) -> int:
    """Clips whose features were computed into the scratch cache (one index line per clip)."""
    return sum(len(index.read_text().splitlines()) for index in (home / "features").glob("*/*.jsonl"))


def item_ids(index_dir: Path) -> dict[str, int]:
    index = SearchIndex.load(index_dir)
    return {path: item_id for path, (item_id, _, _) in index.catalog.files_under("/").items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--touch", type=int, default=100, help="files rewritten before the update")
    parser.add_argument("--seconds", type=float, default=0.5, help="length of each clip")
    parser.add_argument("--model", default="general", help="shipped model name or checkpoint path")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not 0 < args.touch <= args.files:
        parser.error("--touch must be between 1 and --files")

    with tempfile.TemporaryDirectory(prefix="bench-index-update-") as tmp:
        root = Path(tmp)
        env = {**os.environ, "AURALIGN_HOME": str(scratch_home(root))}
        library, index_dir = root / "library", root / "index"
        start = time.perf_counter()
        paths = write_library(library, args.files, args.seconds)
        write_seconds = time.perf_counter() - start

        add_seconds, _, add_line = run(["index", "add", str(library), "--index", str(index_dir),
                                    "--model", args.model], env)
        features_after_add = feature_entries(Path(env["AURALIGN_HOME"]))
        noop_seconds, noop_out, _ = run(["index", "update", str(library), "--index", str(index_dir), "--json"], env)
        noop = json.loads(noop_out)[str(library)]
        before = item_ids(index_dir)

        touched = sorted(random.Random(args.seed).sample(paths, args.touch))
        for k, path in enumerate(touched):
            old = path.stat()
            sf.write(path, clip(args.seconds, args.files + k), SAMPLE_RATE, subtype="PCM_16")
            if (path.stat().st_size, path.stat().st_mtime_ns) == (old.st_size, old.st_mtime_ns):
                os.utime(path, ns=(old.st_atime_ns, old.st_mtime_ns + 1_000_000_000))

        update_seconds, update_out, _ = run(["index", "update", str(library), "--index", str(index_dir),
                                          "--json"], env)
        report = json.loads(update_out)[str(library)]
        features_computed = feature_entries(Path(env["AURALIGN_HOME"])) - features_after_add
        after = item_ids(index_dir)
        touched_set = {str(p.resolve()) for p in touched}
        kept = sum(after.get(p) == i for p, i in before.items() if p not in touched_set)
        new_ids = sum(after.get(p) not in (None, before.get(p)) for p in touched_set)
        reembedded = len(report["added"]) + len(report["changed"])
        ok = (reembedded == args.touch and {str(Path(p).resolve()) for p in report["changed"]} == touched_set
              and features_computed == args.touch and kept == args.files - args.touch and new_ids == args.touch
              and not report["failures"] and len(after) == args.files)

    print(json.dumps({
        "model": args.model, "files": args.files, "clip_seconds": args.seconds, "touched": args.touch,
        "write_files_seconds": round(write_seconds, 1),
        "index_add": {"seconds": round(add_seconds, 1), "printed": add_line,
                      "features_computed": features_after_add},
        "index_update_nothing_changed": {"seconds": round(noop_seconds, 1), "unchanged": noop["unchanged"],
                                         "reembedded": len(noop["added"]) + len(noop["changed"])},
        "index_update_after_touch": {
            "seconds": round(update_seconds, 1), "reembedded": reembedded, "changed": len(report["changed"]),
            "added": len(report["added"]), "removed": len(report["removed"]), "unchanged": report["unchanged"],
            "failures": len(report["failures"]), "features_computed": features_computed,
            "untouched_items_kept_their_id": kept, "touched_items_with_a_new_id": new_ids},
        "only_touched_files_reembedded": ok,
        "machine": f"{os.cpu_count()} CPU cores, shared with other jobs (run niced)",
    }, indent=2))
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
