"""Caption latency of a captioner on this CPU: N real clips made 10 s long, one `describe_files` call
(decode, front end, audio encoder, Santa, generation), with a cold feature cache; model loading is
timed apart, since a resident process (`auralign caption DIR`, the server) pays it once.

    python bench/bench_caption.py --manifest runs/corpus-general/manifest.jsonl --split lso_test \
        --model mats-caption --clips 20 --rounds 3

Prints one JSON object: load seconds, seconds per caption (min / median / max over rounds), n.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import soundfile as sf
from bench_encoder import summary, tiled

from auralign.audio.io import load_audio
from auralign.data.feature_cache import FeatureCache
from auralign.data.manifest import read_manifest
from auralign.evaluation.captioning import describe_files
from auralign.models.factory import load_captioner

SAMPLE_RATE = 44100


def ten_second_clips(manifest: Path, split: str, count: int, seconds: float, seed: int, folder: Path) -> list[Path]:
    """`count` clips of the split, each tiled to exactly `seconds` (real sound, 10 s like a user's file)."""
    rows = read_manifest(manifest, split)
    chosen = random.Random(seed).sample(rows, min(count, len(rows)))
    paths = []
    for index, row in enumerate(chosen):
        path = folder / f"clip{index:03d}.wav"
        sf.write(path, tiled([load_audio(row.audio, SAMPLE_RATE)], int(seconds * SAMPLE_RATE)), SAMPLE_RATE)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--split", default="lso_test")
    parser.add_argument("--model", default="mats-caption")
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        paths = ten_second_clips(args.manifest, args.split, args.clips, args.seconds, args.seed, folder)
        started = time.perf_counter()
        model = load_captioner(args.model)
        load_seconds = time.perf_counter() - started
        per_caption = []
        for round_index in range(args.rounds):
            cache = FeatureCache(model.audio_encoder, root=folder / f"features{round_index}")  # cold every round
            started = time.perf_counter()
            described, failures = describe_files(model, cache, paths)
            per_caption.append((time.perf_counter() - started) / max(len(described), 1))
            if failures:
                print(f"{len(failures)} clips failed", file=sys.stderr)
    result = {"model": args.model, "n_clips": len(paths), "clip_seconds": args.seconds, "rounds": args.rounds,
              "load_seconds": round(load_seconds, 2),
              "seconds_per_caption": summary(per_caption),
              "examples": [text for _, text in described[:3]]}
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
