"""How much faster is an epoch over cached frame tokens than one that re-runs the frozen encoder?

Usage: python bench/bench_cache.py [--clips 200] [--manifest runs/fsdd/manifest.jsonl]
Prints seconds per epoch both ways (the same CLAP forward + backward on the same clips) and the ratio.
The cache is filled once before timing; that one-off cost is printed too.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from auralign.audio.io import load_audio
from auralign.data.feature_cache import FeatureCache, pad_tokens, pad_waveforms
from auralign.data.fsdd import fsdd_rows
from auralign.data.manifest import read_manifest
from auralign.data.pairs import texts_of
from auralign.models.clap import ClapConfig, ClapModel


def run_epoch(model: ClapModel, batches: list, encode) -> float:
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    start = time.perf_counter()
    for rows in batches:
        tokens, mask = encode(rows)
        loss = model.training_loss({"tokens": tokens, "mask": mask, "texts": [texts_of(r)[0] for r in rows]})["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--manifest", default=None)
    args = parser.parse_args()
    rows = (read_manifest(args.manifest) if args.manifest else fsdd_rows())[: args.clips]
    batches = [rows[i:i + args.batch_size] for i in range(0, len(rows), args.batch_size)]
    model = ClapModel(ClapConfig())
    encoder = model.audio_encoder
    with tempfile.TemporaryDirectory() as tmp:
        cache = FeatureCache(encoder, root=tmp)
        start = time.perf_counter()
        cache.ensure([r.audio for r in rows], progress=False)
        fill = time.perf_counter() - start

        def from_cache(batch_rows):
            return pad_tokens([cache.get(r.audio).windows()[0] for r in batch_rows])

        def from_audio(batch_rows):
            with torch.no_grad():
                out = encoder(*pad_waveforms([load_audio(r.audio, encoder.sample_rate) for r in batch_rows]))
            return out.tokens, out.mask

        cached = run_epoch(model, batches, from_cache)
        recomputed = run_epoch(model, batches, from_audio)
    print(f"clips {len(rows)}, batch {args.batch_size}, threads {torch.get_num_threads()}")
    print(f"filling the cache once: {fill:.2f} s")
    print(f"epoch over cached tokens: {cached:.2f} s")
    print(f"epoch re-running the encoder: {recomputed:.2f} s")
    print(f"speed-up: {recomputed / cached:.1f}x")


if __name__ == "__main__":
    main()
