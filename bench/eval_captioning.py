"""The captioning table of docs/captioning.md: one JSON object with every number in it.

For each captioner (the retrieval floor over an embedding model; MATS with Santa off = noise-only,
Santa with balance 1 = memory-only, Santa at each `--santa-balance`; SLIT):

- on held-out-source corpus clips of `--split` (single-label rows, at most `--max-per-label` a label):
  label recall (threshold from `--threshold-split`'s own captions), label accuracy, CLAPScore with
  `--judge` (default `general`), distinct-1/2, repeated-trigram rate, mean words, seconds per caption
  once the audio features are cached (generation only);
- text reconstruction on AudioCaps test text (`--text-clips` clips chosen by `--seed`): the first
  caption's text embedding plus the model's training noise goes to the decoder (the retrieval floor
  looks up its nearest training caption), CIDEr-D, METEOR and BLEU-4 against the clip's other captions.

Choose the balance on lso_dev; run lso_test once:

    python bench/eval_captioning.py --manifest runs/corpus-general/manifest.jsonl --split lso_dev \
        --mats runs/mats-caption-lora/final --santa-balance 0.1,0.3,0.5 --slit slit
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from auralign.data.captions import read_caption_groups
from auralign.data.feature_cache import FeatureCache
from auralign.data.manifest import ManifestRow, label_vocabulary, read_manifest
from auralign.data.sampling import cap_clips_per_label
from auralign.evaluation.caption_metrics import score_captions
from auralign.evaluation.caption_quality import LabelMatcher, dev_threshold, diversity, label_scores
from auralign.evaluation.captioning import first_windows, generate_texts
from auralign.evaluation.embedding import embed_clips, embed_texts
from auralign.models.factory import load_captioner, load_model
from auralign.paths import shared_data_dir


def held_out_rows(manifest: Path, split: str, max_per_label: int, seed: int) -> list[ManifestRow]:
    rows = [row for row in read_manifest(manifest, split) if len(row.labels) == 1]
    return cap_clips_per_label(rows, max_per_label, seed)


def sentence_embedder(model: Any):
    """The judge's frozen sentence encoder (raw, before any head): for label matching."""
    def embed(texts: list[str]) -> np.ndarray:
        with torch.inference_mode():
            return model.text_encoder.encode_texts(texts).pooled.float().numpy()
    return embed


@contextlib.contextmanager
def santa_setting(model: Any, enabled: bool, balance: float) -> Iterator[None]:
    config = model.santa.config
    saved = (config.enabled, config.balance)
    config.enabled, config.balance = enabled, balance
    try:
        yield
    finally:
        config.enabled, config.balance = saved


def captioners(args: argparse.Namespace) -> Iterator[tuple[str, Any, contextlib.AbstractContextManager]]:
    """(name, model, setting) for every captioner of the table; models are loaded lazily."""
    yield "retrieval floor", load_captioner(args.judge, retrieve=True), contextlib.nullcontext()
    if args.mats:
        mats = load_model(args.mats)
        yield "MATS noise-only", mats, santa_setting(mats, False, 0.0)
        yield "MATS memory-only", mats, santa_setting(mats, True, 1.0)
        for balance in args.santa_balance:
            yield f"MATS Santa lambda={balance:g}", mats, santa_setting(mats, True, balance)
    if args.slit:
        yield "SLIT", load_captioner(args.slit), contextlib.nullcontext()


def audio_scores(model: Any, rows: Sequence[ManifestRow], judge: Any, matcher: LabelMatcher,
                 threshold: float, cache: FeatureCache, args: argparse.Namespace) -> dict[str, Any]:
    windows, failures = first_windows(cache, [row.audio for row in rows], progress=False)
    kept = [row for row in rows if row.audio in windows]
    started = time.perf_counter()
    captions = generate_texts(model, [windows[row.audio] for row in kept], progress=True)
    seconds = (time.perf_counter() - started) / max(len(kept), 1)
    audio = embed_clips(judge, cache, [row.audio for row in kept], progress=False)
    text = embed_texts(judge, [captions[i] for i in audio.index])
    clap_score = float(np.mean(np.sum(audio.vectors * text, axis=1)))
    scores = label_scores(matcher, captions, [row.labels[0] for row in kept], threshold)
    examples = random.Random(args.seed).sample(range(len(kept)), min(args.examples, len(kept)))
    return {"n": len(kept), "failures": len(failures), **scores, "clap_score": clap_score, **diversity(captions),
            "seconds_per_caption": seconds,
            "examples": [{"audio": kept[i].audio.name, "label": kept[i].labels[0], "caption": captions[i]}
                         for i in sorted(examples)]}


def text_reconstruction(name: str, model: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Decoder alone: noisy text embedding of each clip's first caption -> text, against the other captions."""
    groups = {clip: captions for clip, captions in
              read_caption_groups(shared_data_dir() / "captions" / "audiocaps_test.csv").items() if len(captions) >= 2}
    clips = random.Random(args.seed).sample(sorted(groups), min(args.text_clips, len(groups)))
    generator = torch.Generator().manual_seed(args.seed)
    if hasattr(model, "mapper"):
        clean = model.embed_text([groups[clip][0] for clip in clips]).float()
        noisy = clean + model.config.noise_std * torch.randn(clean.shape, generator=generator)
        texts = [text for start in range(0, len(clips), 8)
                 for text in model.generate_from_embeddings(noisy[start:start + 8])]
    elif hasattr(model, "nearest_texts"):
        texts = model.nearest_texts(model.embedder.embed_text([groups[clip][0] for clip in clips]))
    else:
        return {"unavailable": f"{name} has no text-embedding input"}
    scores = score_captions(dict(zip(clips, texts, strict=True)), {clip: groups[clip][1:] for clip in clips},
                            metrics=["BLEU_4", "METEOR", "CIDEr"])
    return {"n": len(clips), **{name: scores.corpus.get(name) for name in ("CIDEr", "METEOR", "BLEU_4")}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, required=True)
    parser.add_argument("--split", default="lso_dev")
    parser.add_argument("--threshold-split", default="lso_dev", help="Split whose own captions set the threshold.")
    parser.add_argument("--max-per-label", type=int, default=3)
    parser.add_argument("--judge", default="general", help="Embedding model: CLAPScore, label matching, retrieval.")
    parser.add_argument("--mats", default="", help="A MATS checkpoint (path or shipped name).")
    parser.add_argument("--santa-balance", type=lambda s: [float(x) for x in s.split(",")], default=[0.3])
    parser.add_argument("--slit", default="", help="A SLIT checkpoint (path or shipped name).")
    parser.add_argument("--text-clips", type=int, default=150)
    parser.add_argument("--examples", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="Also write the JSON here.")
    args = parser.parse_args(argv)

    judge = load_model(args.judge)
    cache = FeatureCache(judge.audio_encoder)
    rows = held_out_rows(args.manifest, args.split, args.max_per_label, args.seed)
    threshold_rows = held_out_rows(args.manifest, args.threshold_split, args.max_per_label, args.seed)
    embed = sentence_embedder(judge)
    threshold = dev_threshold(LabelMatcher(embed, label_vocabulary(threshold_rows)), threshold_rows, args.seed)
    matcher = LabelMatcher(embed, label_vocabulary(rows))
    result: dict[str, Any] = {"split": args.split, "n_classes": len(label_vocabulary(rows)),
                              "chance_label_accuracy": 1 / len(label_vocabulary(rows)),
                              "threshold": threshold, "threshold_split": args.threshold_split, "captioners": {}}
    reconstructed: dict[int, dict[str, Any]] = {}  # Santa acts on audio only: once per model
    for name, model, setting in captioners(args):
        print(f"{name} ...", file=sys.stderr)
        with setting:
            audio = audio_scores(model, rows, judge, matcher, threshold, cache, args)
        if id(model) not in reconstructed:
            reconstructed[id(model)] = text_reconstruction(name, model, args)
        result["captioners"][name] = {"audio": audio, "text": reconstructed[id(model)]}
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
