"""Throughput of the default audio encoder (aiSFX) on this machine's CPU: 10 s clips, batch 1 and 16.

Run: python bench/bench_embed.py [--seconds 10] [--repeats 3]. Needs the fetched backbone.
"""

from __future__ import annotations

import argparse
import time

import torch

from auralign.backbones.aisfx import AisfxEncoder


def clips_per_second(encoder: AisfxEncoder, batch_size: int, seconds: float, repeats: int) -> float:
    waves = torch.randn(batch_size, int(seconds * encoder.sample_rate)) * 0.1
    with torch.inference_mode():
        encoder(waves)  # warm-up
        start = time.perf_counter()
        for _ in range(repeats):
            encoder(waves)
        elapsed = time.perf_counter() - start
    return batch_size * repeats / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    encoder = AisfxEncoder.from_pretrained()
    print(f"aiSFX encoder, {args.seconds:g} s clips, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    for batch_size in (1, 16):
        rate = clips_per_second(encoder, batch_size, args.seconds, args.repeats)
        print(f"batch {batch_size:2d}: {rate:7.2f} clips/s ({rate * args.seconds:7.1f} s of audio per s)")


if __name__ == "__main__":
    main()
