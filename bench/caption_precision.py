"""How far `--precision bf16` generation moves from fp32: the same clips captioned by one captioner with
its language model in fp32, then in bf16 (the audio side stays fp32), greedy decoding both times.

    python bench/caption_precision.py --model slit                 # the ten shipped demo recordings
    python bench/caption_precision.py --model slit --audio DIR     # any folder of audio

Prints one JSON object: the share of identical captions, the mean token-overlap F1 of each bf16
caption against its fp32 caption, and seconds per caption in each precision (one call each, cache warm).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

from auralign.audio.io import find_audio_files
from auralign.cli.decoding import with_generation_precision
from auralign.data.feature_cache import FeatureCache
from auralign.evaluation.captioning import describe_files
from auralign.models.factory import load_captioner

DEMO = Path(__file__).resolve().parents[1] / "src" / "auralign" / "resources" / "demo"


def overlap_f1(candidate: str, reference: str) -> float:
    a, b = Counter(candidate.lower().split()), Counter(reference.lower().split())
    common = sum((a & b).values())
    if not common:
        return float(candidate.strip() == reference.strip())
    precision, recall = common / sum(a.values()), common / sum(b.values())
    return 2 * precision * recall / (precision + recall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="captioner name or folder (default: the CLI's)")
    parser.add_argument("--audio", type=Path, nargs="*", default=[DEMO])
    args = parser.parse_args()
    model = load_captioner(args.model)
    files = find_audio_files(args.audio)
    texts, seconds = {}, {}
    with tempfile.TemporaryDirectory(prefix="auralign-features-") as tmp:
        cache = FeatureCache(model.audio_encoder, root=tmp)
        describe_files(model, cache, files[:1])  # warm-up: the feature cache and first-call costs
        for precision in ("fp32", "bf16"):
            with_generation_precision(model, precision)
            started = time.perf_counter()
            described, _ = describe_files(model, cache, files)
            seconds[precision] = (time.perf_counter() - started) / max(len(described), 1)
            texts[precision] = dict(described)
    shared = [path for path in texts["fp32"] if path in texts["bf16"]]
    same = sum(texts["fp32"][p] == texts["bf16"][p] for p in shared)
    print(json.dumps({
        "model": args.model or "default", "n": len(shared),
        "identical": round(same / max(len(shared), 1), 3),
        "token_f1": round(sum(overlap_f1(texts["bf16"][p], texts["fp32"][p]) for p in shared) / max(len(shared), 1), 3),
        "seconds_per_caption": {k: round(v, 3) for k, v in seconds.items()},
        "pairs": [{"audio": p.name, "fp32": texts["fp32"][p], "bf16": texts["bf16"][p]} for p in shared],
    }, indent=2))


if __name__ == "__main__":
    main()
