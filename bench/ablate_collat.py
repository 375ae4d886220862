"""CoLLAT loss ablation in the spirit of the paper's Table 3a, on a manifest's test split.

Trains (unless already trained) full CoLLAT, CoLLAT minus each loss, and the CLAP baseline with one
shared budget (steps, batch, learning rate), then evaluates each on clean and on noisy audio
(Gaussian noise of std 0.1 added to the waveform before the frozen encoder, through a separate
feature cache): zero-shot top-1 on the single-label test rows and mAP on the multi-label (mixture)
test rows. Prints a table and writes JSON.

    python bench/ablate_collat.py --manifest runs/corpus/manifest.jsonl \
        --mixtures runs/corpus/mixtures.jsonl --steps 1500 --out runs/ablation

`calibrate` measures how far waveform noise moves the frame tokens, in units of each clip's token
std, which is how CoLLAT's training-time token noise (`model.uni_noise_std`) is set:

    python bench/ablate_collat.py calibrate --manifest runs/corpus/manifest.jsonl
"""

from __future__ import annotations

import argparse
import json
import time
import zlib
from pathlib import Path

import numpy as np
import torch

from auralign.backbones.base import AudioEncoder, EncoderOutput
from auralign.data.feature_cache import FeatureCache, pad_waveforms
from auralign.data.manifest import ManifestRow, label_vocabulary, read_manifest, write_manifest
from auralign.evaluation.zeroshot import DEFAULT_TEMPLATES, evaluate_zeroshot
from auralign.models.factory import load_model

VARIANTS: dict[str, tuple[str, list[str]]] = {
    "CoLLAT": ("collat", []),
    "(-) L_cross-token": ("collat", ["model.cross_token_weight=0"]),
    "(-) L_uni-token": ("collat", ["model.uni_token_weight=0"]),
    "(-) L_cross-global": ("collat", ["model.cross_global_weight=0"]),
    "CLAP baseline": ("clap", []),
}


class NoisyEncoder(AudioEncoder):
    """A frozen audio encoder that first adds Gaussian noise of std `std` to each waveform.

    The noise of a row is seeded by a checksum of its samples, so a clip gets the same noise whatever
    batch it is encoded in; the fingerprint names the noise so its tokens get their own cache.
    """

    def __init__(self, base: AudioEncoder, std: float, seed: int = 0) -> None:
        super().__init__()
        self.base = base
        self.std = std
        self.seed = seed
        self.sample_rate = base.sample_rate
        self.dim = base.dim

    def forward(self, waveforms: torch.Tensor, lengths: torch.Tensor | None = None) -> EncoderOutput:
        noisy = waveforms.clone()
        for row in range(len(waveforms)):
            valid = int(lengths[row]) if lengths is not None else waveforms.shape[1]
            samples = waveforms[row, :valid]
            checksum = zlib.crc32(samples.numpy().astype(np.float32).tobytes())
            generator = torch.Generator().manual_seed(checksum ^ self.seed)
            noisy[row, :valid] = samples + self.std * torch.randn(valid, generator=generator)
        return self.base(noisy, lengths)

    def fingerprint(self) -> str:
        return f"{self.base.fingerprint()}-gauss{self.std:g}-seed{self.seed}"


def subsample(rows: list[ManifestRow], limits: dict[str, int], seed: int = 0) -> list[ManifestRow]:
    """At most limits[split] rows of each split (a seeded random choice, input order kept)."""
    kept = []
    for split in dict.fromkeys(row.split for row in rows):
        members = [row for row in rows if row.split == split]
        limit = limits.get(str(split), len(members))
        if limit < len(members):
            chosen = set(np.random.default_rng(seed).choice(len(members), limit, replace=False).tolist())
            members = [row for i, row in enumerate(members) if i in chosen]
        kept.extend(members)
    return kept


def single_source_rows(manifest: str, limits: dict[str, int]) -> list[ManifestRow]:
    return subsample([row for row in read_manifest(manifest) if len(row.labels) == 1], limits)


def test_rows(manifest: str, mixtures: str, split: str, limits: dict[str, int],
              ) -> tuple[list[ManifestRow], list[ManifestRow]]:
    """Single-source rows of `manifest` (top-1) and every mixture (mAP; some have one source)."""
    single = [row for row in single_source_rows(manifest, limits) if row.split == split]
    multi = [row for row in read_manifest(mixtures) if row.split == split and row.labels] if mixtures else []
    return single, multi


def train_variant(name: str, output_dir: Path, common: list[str], collat_extra: list[str],
                  clap_extra: list[str]) -> Path:
    method, extra = VARIANTS[name]
    final = output_dir / "final"
    if (final / "model.safetensors").is_file():
        return final
    overrides = [*common, *extra, f"train.output_dir={output_dir}"]
    from auralign.training.recipe import load_run_config, run

    start = time.monotonic()
    run(load_run_config(method, None, [*overrides, *(collat_extra if method == "collat" else clap_extra)]),
        resume=True)
    (output_dir / "train_seconds.json").write_text(json.dumps({"seconds": time.monotonic() - start}) + "\n")
    return final


def shared_training_manifest(manifest: str, mixtures: str, limits: dict[str, int], out: Path) -> Path:
    """Single-source rows (subsampled per split by `limits`) and mixtures in one manifest with
    CoLLAT's template captions, so CLAP and every CoLLAT variant train on exactly the same pairs."""
    from auralign.training.collat import with_template_captions

    target = out / "train_manifest.jsonl"
    if target.is_file():  # written once; parallel --only runs reuse it
        return target
    rows = single_source_rows(manifest, limits) + (read_manifest(mixtures) if mixtures else [])
    return write_manifest(with_template_captions(rows), target)


def evaluate(model_path: Path, single: list[ManifestRow], multi: list[ManifestRow], noise_std: float,
             cache_dir: str | None) -> dict[str, float]:
    model = load_model(model_path)
    caches = {"clean": FeatureCache(model.audio_encoder, cache_dir),
              "noisy": FeatureCache(NoisyEncoder(model.audio_encoder, noise_std), cache_dir)}
    result: dict[str, float] = {}
    for condition, cache in caches.items():
        if single:
            scores = evaluate_zeroshot(model, single, cache, label_vocabulary(single), DEFAULT_TEMPLATES,
                                       progress=False)
            result[f"top1_{condition}"] = float(scores["top1"])
        if multi:
            scores = evaluate_zeroshot(model, multi, cache, label_vocabulary(multi), DEFAULT_TEMPLATES,
                                       progress=False)
            result[f"mAP_{condition}"] = float(scores["mAP"])
    return result


def format_table(results: dict[str, dict[str, float]]) -> str:
    columns = [c for c in ("top1_clean", "top1_noisy", "mAP_clean", "mAP_noisy")
               if any(c in r for r in results.values())]
    header = "| variant | " + " | ".join(columns) + " |"
    lines = [header, "|" + "---|" * (len(columns) + 1)]
    for name, row in results.items():
        lines.append(f"| {name} | " + " | ".join(f"{row[c]:.3f}" if c in row else "-" for c in columns) + " |")
    return "\n".join(lines)


def run_ablation(args: argparse.Namespace) -> None:
    out = Path(args.out)
    limits = {split: int(n) for split, n in (item.split("=") for item in args.max_single)}
    manifest = shared_training_manifest(args.manifest, args.mixtures, limits, out)
    common = [f"data.manifest={manifest}", f"train.max_steps={args.steps}",
              f"train.batch_size={args.batch_size}", f"train.lr={args.lr}", f"train.seed={args.seed}",
              f"train.warmup_steps={args.steps // 20}", "train.eval_every=0", f"train.log_every={args.log_every}"]
    single, multi = test_rows(args.manifest, args.mixtures, args.split, limits)
    results: dict[str, dict[str, float]] = {}
    for name in args.only or list(VARIANTS):
        folder = out / name.replace("(-) ", "minus-").replace(" ", "-").lower()
        final = train_variant(name, folder, common, args.collat_override, args.clap_override)
        scores = folder / f"eval-{args.split}.json"
        if not scores.is_file():
            scores.write_text(json.dumps(evaluate(final, single, multi, args.noise_std, args.cache_dir)) + "\n")
        seconds = json.loads((folder / "train_seconds.json").read_text())["seconds"]
        results[name] = {**json.loads(scores.read_text()), "train_seconds": round(seconds, 1)}
        print(name, results[name], flush=True)
    if args.only:
        return
    table = format_table(results)
    print(f"\nsplit={args.split}: {len(single)} single-label clips (top-1), {len(multi)} mixtures (mAP); "
          f"noisy = waveform + N(0, {args.noise_std:g}^2)\n{table}")
    report = {"split": args.split, "noise_std": args.noise_std, "n_single": len(single), "n_multi": len(multi),
              "max_single": limits,
              "budget": common, "collat_overrides": args.collat_override, "clap_overrides": args.clap_override,
              "results": results}
    (out / "ablation.json").write_text(json.dumps(report, indent=2) + "\n")


@torch.inference_mode()
def calibrate(args: argparse.Namespace) -> None:
    """Mean over clips of std(tokens(noisy) - tokens(clean)) / std(tokens(clean))."""
    from auralign.audio.io import iter_windows
    from auralign.backbones.factory import load_audio_encoder

    encoder = load_audio_encoder()
    noisy = NoisyEncoder(encoder, args.noise_std)
    rows = [row for row in read_manifest(args.manifest) if row.split == "train"]
    rows = [rows[i] for i in np.random.default_rng(0).choice(len(rows), min(args.clips, len(rows)), replace=False)]
    ratios = []
    for row in rows:
        windows = [w.samples for w in iter_windows(row.audio, encoder.sample_rate, window_seconds=10.0)][:1]
        batch = pad_waveforms(windows)
        clean, perturbed = encoder(*batch), noisy(*batch)
        tokens = clean.tokens[clean.mask]
        ratios.append(float((perturbed.tokens[clean.mask] - tokens).std() / tokens.std()))
    print(f"waveform noise std {args.noise_std:g} moves aiSFX tokens by {np.mean(ratios):.3f} "
          f"(median {np.median(ratios):.3f}, {len(ratios)} clips) x each clip's token std")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", default="ablate", choices=["ablate", "calibrate"])
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--mixtures", default="")
    parser.add_argument("--split", default="test")
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log-every", type=int, default=50)
    parser.add_argument("--noise-std", type=float, default=0.1)
    parser.add_argument("--clips", type=int, default=40, help="calibrate: clips to measure")
    parser.add_argument("--cache-dir", default=None)
    parser.add_argument("--max-single", action="append", default=[], metavar="SPLIT=N",
                        help="use at most N single-source clips of SPLIT (seeded), e.g. train=2000; "
                             "mixtures are always kept whole")
    parser.add_argument("--only", action="append", choices=list(VARIANTS),
                        help="train/evaluate only this variant (repeatable), e.g. to run variants in parallel; "
                             "a final run without --only assembles the table")
    parser.add_argument("--collat-override", action="append", default=[],
                        help="extra key=value for the CoLLAT variants, e.g. model.num_tokens=24")
    parser.add_argument("--clap-override", action="append", default=[], help="extra key=value for CLAP")
    parser.add_argument("--out", default="runs/ablation-collat")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.command == "calibrate":
        calibrate(args)
    else:
        run_ablation(args)


if __name__ == "__main__":
    main()
