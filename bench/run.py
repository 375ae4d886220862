"""Every speed benchmark in one run, one table: each row a ratio against its peer measured in this run.

Usage: python bench/run.py [--rounds 5] [--seconds 10] [--model general] [--labels 500] [--json FILE]
       python bench/run.py --tiny --model PATH   (the test suite: tiny peers and inputs, checks it runs)

Rows (ratio = peer seconds / auralign seconds in the same round, so > 1 means auralign is faster;
min / median / max over `--rounds` interleaved rounds, every contender once per round, in turn):
- e2e batch 1 and batch 8, vs LAION-CLAP and vs tinyCLAP: a real `--seconds` clip file (the demo
  recordings tiled, written as 44.1 kHz WAV) decoded, turned into features and embedded. auralign:
  decode + Essentia log-mel + aiSFX (default fast path) + the model's head. LAION-CLAP: decode at
  48 kHz + `transformers.ClapFeatureExtractor` + the HTSAT audio tower and projection of
  `transformers.ClapModel(ClapConfig())` (random weights: same cost). tinyCLAP: decode + a 64-band
  log-mel + a ~4.4M-parameter PhiNet-like CNN (defined here) + projection.
- encoder fast path vs eager: the same e2e auralign pipeline, `AURALIGN_ENCODER=eager` (before this
  work) vs the default; batch 1 and 8.
- classify 1 clip x `--labels` labels: the first call without the text cache (before) vs a second call
  in the same process.
Peers' weights are random; with `--tiny` they are also shrunk, so only that the script runs is checked.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_classify import label_names

from auralign.audio.frontend import essentia_mel_filterbank
from auralign.audio.io import load_audio
from auralign.backbones.aisfx import AisfxEncoder
from auralign.data.feature_cache import pad_waveforms
from auralign.evaluation import text_cache
from auralign.evaluation.zeroshot import classify_files
from auralign.models.factory import load_model
from auralign.paths import text_embeddings_dir

DEMO = Path(__file__).resolve().parents[1] / "src" / "auralign" / "resources" / "demo"
Step = Callable[[], object]


def dw_block(inp: int, out: int, expand: int, stride: int) -> nn.Module:
    hidden = inp * expand
    return nn.Sequential(nn.Conv2d(inp, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.Hardswish(),
                         nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False), nn.BatchNorm2d(hidden),
                         nn.Hardswish(), nn.Conv2d(hidden, out, 1, bias=False), nn.BatchNorm2d(out))


class TinyClapAudio(nn.Module):
    """A PhiNet-like inverted-residual CNN over a 64-band log-mel, sized as tinyCLAP's audio encoder."""

    def __init__(self, width: int = 1, sample_rate: int = 44100) -> None:
        super().__init__()
        self.register_buffer("mel", torch.from_numpy(essentia_mel_filterbank(1024, sample_rate, 64, 0.0, 22050.0).T
                                                     .astype(np.float32)))
        self.register_buffer("window", torch.hann_window(1024))
        channels = [c * width for c in (16, 32, 64, 128, 224, 320)]
        layers: list[nn.Module] = [nn.Conv2d(1, channels[0], 3, 2, 1, bias=False), nn.BatchNorm2d(channels[0]),
                                   nn.Hardswish()]
        for inp, out in itertools.pairwise(channels):
            layers += [dw_block(inp, out, 6, 2), dw_block(out, out, 6, 1)]
        self.features = nn.Sequential(*layers)
        self.project = nn.Sequential(nn.Linear(channels[-1], 1024), nn.ReLU(), nn.Linear(1024, 1024))

    def forward(self, waves: torch.Tensor) -> torch.Tensor:
        spec = torch.stft(waves, 1024, 320, window=self.window, return_complex=True).abs().square()
        mel = torch.log(spec.transpose(1, 2) @ self.mel + 1e-6).unsqueeze(1)
        return self.project(self.features(mel).mean(dim=(2, 3)))


def contenders(model_name: str, clip: Path, batch: int, tiny: bool) -> dict[str, Step]:
    from transformers import ClapAudioConfig, ClapConfig, ClapFeatureExtractor, ClapModel, ClapTextConfig

    model = load_model(model_name).eval()
    encoder = model.audio_encoder
    if tiny:
        config = ClapConfig(audio_config=ClapAudioConfig(patch_embeds_hidden_size=8, hidden_size=64,
                                                         depths=[1, 1, 1, 1], num_attention_heads=[1, 1, 1, 1]),
                            text_config=ClapTextConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=1,
                                                       intermediate_size=32))
    else:
        config = ClapConfig()
    laion = ClapModel(config).eval()
    extractor = ClapFeatureExtractor(truncation="rand_trunc")  # the unfused HTSAT (clap-htsat-unfused)
    tiny_clap = TinyClapAudio().eval()

    def auralign_step() -> object:
        waves = [load_audio(clip, encoder.sample_rate) for _ in range(batch)]
        out = encoder(*pad_waveforms(waves))
        return model.embed_audio_tokens(out.tokens, out.mask)

    def laion_step() -> object:
        waves = [load_audio(clip, 48000) for _ in range(batch)]
        features = extractor(waves, sampling_rate=48000, return_tensors="pt")
        return laion.get_audio_features(input_features=features["input_features"])

    def tinyclap_step() -> object:
        waves = [load_audio(clip, 44100) for _ in range(batch)]
        return tiny_clap(pad_waveforms(waves)[0])

    return {"auralign": auralign_step, "laion-clap": laion_step, "tinyclap": tinyclap_step}


def interleaved(steps: dict[str, Step], rounds: int) -> dict[str, list[float]]:
    seconds: dict[str, list[float]] = {name: [] for name in steps}
    with torch.inference_mode():
        for step in steps.values():
            step()  # warm-up (export / session start, first-call costs)
        for _ in range(rounds):
            for name, step in steps.items():
                start = time.perf_counter()
                step()
                seconds[name].append(time.perf_counter() - start)
    return seconds


def ratio_row(name: str, peer: list[float], ours: list[float]) -> dict[str, object]:
    ratios = [p / o for p, o in zip(peer, ours, strict=True)]
    return {"row": name, "min": round(min(ratios), 2), "median": round(statistics.median(ratios), 2),
            "max": round(max(ratios), 2), "peer_s": round(statistics.median(peer), 4),
            "auralign_s": round(statistics.median(ours), 4)}


def e2e_rows(model_name: str, clip: Path, rounds: int, tiny: bool) -> list[dict[str, object]]:
    rows = []
    for batch in (1, 8):
        steps = contenders(model_name, clip, batch, tiny)
        seconds = interleaved(steps, rounds)
        for peer in ("laion-clap", "tinyclap"):
            rows.append(ratio_row(f"e2e {clip_seconds(clip):g}-s clip, batch {batch}: auralign vs {peer}",
                                  seconds[peer], seconds["auralign"]))
    return rows


def encoder_rows(model_name: str, clip: Path, rounds: int) -> list[dict[str, object]]:
    encoder = load_model(model_name).audio_encoder
    eager = AisfxEncoder(encoder.config).use_precision(None)
    eager.net.load_state_dict(encoder.net.state_dict())
    rows = []
    for batch in (1, 8):
        waves = pad_waveforms([load_audio(clip, encoder.sample_rate)] * batch)

        steps = {"eager": lambda waves=waves: eager(*waves), "fast": lambda waves=waves: encoder(*waves)}
        seconds = interleaved(steps, rounds)
        rows.append(ratio_row(f"aiSFX fast path vs eager (before), batch {batch}", seconds["eager"], seconds["fast"]))
    return rows


def classify_row(model_name: str, clip: Path, n_labels: int, rounds: int) -> dict[str, object]:
    model = load_model(model_name)
    names = label_names(n_labels)
    cold, warm = [], []
    classify_files(model, [clip], names[:2])
    for _ in range(rounds):
        text_cache.clear_memory()
        for path in text_embeddings_dir().glob("*.npy"):
            path.unlink()
        for times in (cold, warm):
            start = time.perf_counter()
            classify_files(model, [clip], names, top_k=1)
            times.append(time.perf_counter() - start)
    return ratio_row(f"classify 1 clip x {len(names)} labels: 2nd call vs no text cache (before)", cold, warm)


def clip_seconds(path: Path) -> float:
    return sf.info(path).duration


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--model", default="general")
    parser.add_argument("--labels", type=int, default=500)
    parser.add_argument("--tiny", action="store_true", help="tiny peers (the test suite's smoke run)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows to this file")
    args = parser.parse_args()
    from scratch_home import scratch_home

    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        os.environ["AURALIGN_HOME"] = str(scratch_home(Path(tmp)))
        rate = 44100
        joined = np.concatenate([load_audio(path, rate) for path in sorted(DEMO.glob("*.flac"))])
        clip = Path(tmp) / "clip.wav"
        sf.write(clip, np.resize(joined, round(args.seconds * rate)), rate, subtype="PCM_16")
        rows = e2e_rows(args.model, clip, args.rounds, args.tiny)
        rows += encoder_rows(args.model, clip, args.rounds)
        rows.append(classify_row(args.model, clip, args.labels, args.rounds))
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, " \
              f"{torch.get_num_threads()} threads"
    width = max(len(str(row["row"])) for row in rows)
    print(f"{machine}; {args.rounds} interleaved rounds; ratio = peer s / auralign s (> 1: auralign faster)")
    print(f"{'benchmark':<{width}}  {'min':>6} {'median':>6} {'max':>6}  {'peer s':>8} {'ours s':>8}")
    for row in rows:
        print(f"{row['row']:<{width}}  {row['min']:>6} {row['median']:>6} {row['max']:>6}  "
              f"{row['peer_s']:>8} {row['auralign_s']:>8}")
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, "rounds": args.rounds, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
