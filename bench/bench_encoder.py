"""The aiSFX encoder's inference paths: exactness on real clips and speed, measured in one run.

Usage: python bench/bench_encoder.py [--clips 16] [--rounds 3] [--seconds 10] [--backbone PATH]

Paths: `eager` (the reference network, today's fp32 path), `fp32` (BatchNorm folded, ONNX Runtime: the
default), `bf16` and `int8` (opt-in). Exactness: cosine of each path's pooled embedding against eager
on the first `--clips` FSDD recordings (../shared/data, real speech) plus the ten demo recordings that
ship with auralign; min and mean are printed. Speed: `--seconds`-long clips (the demo recordings tiled)
at batch 1 and 8, every path once per round, rounds interleaved; ratios are eager time / path time per
round, min/median/max. The first call of each path (export, session start) is left out of the timing
and printed as `first_call_seconds`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from auralign.audio.io import load_audio
from auralign.backbones.aisfx import AisfxEncoder
from auralign.data.feature_cache import pad_waveforms
from auralign.paths import shared_data_dir

DEMO = Path(__file__).resolve().parents[1] / "src" / "auralign" / "resources" / "demo"
PATHS = ("eager", "fp32", "bf16", "int8")


def real_clips(n_fsdd: int, sample_rate: int) -> list[np.ndarray]:
    fsdd = sorted((shared_data_dir() / "fsdd" / "recordings").glob("*.wav"))[:n_fsdd]
    return [load_audio(path, sample_rate) for path in [*fsdd, *sorted(DEMO.glob("*.flac"))]]


def tiled(clips: list[np.ndarray], samples: int) -> np.ndarray:
    joined = np.concatenate(clips)
    return np.resize(joined, samples).astype(np.float32)


def summary(values: list[float]) -> dict[str, float]:
    return {"min": round(min(values), 3), "median": round(statistics.median(values), 3), "max": round(max(values), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=16, help="FSDD recordings (plus the 10 demo clips)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--backbone", default=None, help="an aiSFX folder (default: the fetched backbone)")
    args = parser.parse_args()
    encoders = {name: AisfxEncoder.from_pretrained(args.backbone).use_precision(None if name == "eager" else name)
                for name in PATHS}
    rate = encoders["eager"].sample_rate
    clips = real_clips(args.clips, rate)
    first_call: dict[str, float] = {}
    cosines: dict[str, list[float]] = {name: [] for name in PATHS}
    with torch.inference_mode():
        reference = None
        for name, encoder in encoders.items():
            start = time.perf_counter()
            pooled = torch.cat([encoder(*pad_waveforms([clip])).pooled for clip in clips])
            first_call[name] = round(time.perf_counter() - start, 2)
            reference = pooled if reference is None else reference
            cosines[name] = torch.nn.functional.cosine_similarity(pooled, reference).tolist()
        long_clip = tiled(clips, round(args.seconds * rate))
        ratios: dict[str, dict[str, list[float]]] = {}
        seconds: dict[str, dict[str, list[float]]] = {}
        for batch in (1, 8):
            waves = pad_waveforms([long_clip] * batch)
            times: dict[str, list[float]] = {name: [] for name in PATHS}
            for _ in range(args.rounds):
                for name, encoder in encoders.items():
                    start = time.perf_counter()
                    encoder(*waves)
                    times[name].append(time.perf_counter() - start)
            seconds[f"batch{batch}"] = {name: summary(values) for name, values in times.items()}
            ratios[f"batch{batch}"] = {name: summary([e / t for e, t in zip(times["eager"], values, strict=True)])
                                       for name, values in times.items() if name != "eager"}
    print(json.dumps({
        "clips": len(clips), "clip_seconds": args.seconds, "rounds": args.rounds, "threads": torch.get_num_threads(),
        "cosine_vs_eager": {name: {"min": round(min(v), 5), "mean": round(float(np.mean(v)), 5)}
                            for name, v in cosines.items() if name != "eager"},
        "speedup_vs_eager": ratios, "seconds": seconds, "first_call_seconds": first_call,
    }, indent=2))


if __name__ == "__main__":
    main()
