"""Multi-source scenes: 1-3 labelled clips (plus an optional background) mixed into 5-10 s.

Every mixture draws its sources from one split only, so a mixture inherits that split and no source
recording crosses splits. Sources have distinct labels; each is scaled to a common loudness, given a
random gain and a random start inside the scene; the background (an ambience clip, when the split
has one) runs quieter under them. All choices come from a generator seeded by (seed, split,
index), so the same call writes the same files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from auralign.data.manifest import ManifestRow
from auralign.data.pairs import label_caption

MIX_RATE = 44100
_TARGET_RMS = 0.05


@dataclass(frozen=True)
class MixtureConfig:
    seed: int = 0
    counts: tuple[tuple[str, int], ...] = (("train", 2000), ("val", 200), ("test", 200), ("test_unseen", 200))
    min_seconds: float = 5.0
    max_seconds: float = 10.0
    max_sources: int = 3
    background_probability: float = 0.5
    gain_db: tuple[float, float] = (-10.0, 0.0)
    background_gain_db: tuple[float, float] = (-22.0, -12.0)


def _read(path: Path) -> np.ndarray:
    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    if rate != MIX_RATE:
        raise ValueError(f"{path}: corpus clips are {MIX_RATE} Hz, found {rate}")
    return audio.mean(axis=1)


def _placed(audio: np.ndarray, length: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """The clip (randomly cropped if longer than the scene) at a random start; returns (track, start)."""
    if len(audio) > length:
        crop = int(rng.integers(len(audio) - length + 1))
        audio = audio[crop:crop + length]
    start = int(rng.integers(length - len(audio) + 1))
    track = np.zeros(length, dtype=np.float32)
    track[start:start + len(audio)] = audio
    return track, start


def _scaled(audio: np.ndarray, gain_db: float) -> np.ndarray:
    rms = float(np.sqrt(np.mean(audio**2))) or 1.0
    return audio * (_TARGET_RMS / rms) * 10 ** (gain_db / 20)


def mixture_captions(names: Sequence[str], starts: Sequence[int], background: str | None) -> list[str]:
    ordered = [name for _, name in sorted(zip(starts, names, strict=True))]
    labels = [*names, *([background] if background else [])]
    captions = [label_caption(list(dict.fromkeys(labels)))]
    if len(ordered) == 1:
        sequence = f"{ordered[0][:1].upper()}{ordered[0][1:]}"
    else:
        sequence = "First " + ", then ".join(ordered)
    captions.append(sequence + (f", with {background} in the background." if background else "."))
    return captions


def mixture_folder(root: Path, rows: Sequence[ManifestRow], config: MixtureConfig) -> Path:
    """`root/<digest>`: one folder per (source clips with their splits, config), so two corpora built
    from different sources (or into different `--out` folders from the same cache) never overwrite
    each other's mixture audio, while rebuilding the same corpus reuses its folder."""
    digest = hashlib.sha256(repr(asdict(config)).encode())
    for row in sorted(rows, key=lambda row: row.id):
        digest.update(f"\n{row.id}\t{row.split}\t{row.audio}".encode())
    return root / digest.hexdigest()[:16]


def make_mixtures(rows: Sequence[ManifestRow], out_dir: Path, config: MixtureConfig | None = None,
                  ) -> list[ManifestRow]:
    """Write the mixtures of every split in `config.counts` under `out_dir`; returns their rows."""
    config = config or MixtureConfig()
    mixtures = []
    for split_index, (split, count) in enumerate(config.counts):
        pool = [row for row in rows if row.split == split and row.labels]
        backgrounds = [row for row in pool if row.extra.get("kind") == "ambience"]
        distinct_labels = len({label for row in pool for label in row.labels})
        for index in range(count if pool else 0):
            rng = np.random.default_rng([config.seed, split_index, index])
            mixtures.append(_one_mixture(pool, backgrounds, split, index, rng, out_dir, config,
                                         min(config.max_sources, distinct_labels)))
    return mixtures


def _pick_sources(pool: Sequence[ManifestRow], n: int, rng: np.random.Generator) -> list[ManifestRow]:
    """Up to `n` rows with pairwise distinct labels (fewer if the draws keep colliding)."""
    chosen: list[ManifestRow] = []
    for _ in range(100 * n):
        if len(chosen) == n:
            break
        row = pool[int(rng.integers(len(pool)))]
        if not set(row.labels) & {label for c in chosen for label in c.labels}:
            chosen.append(row)
    return chosen


def _one_mixture(pool: Sequence[ManifestRow], backgrounds: Sequence[ManifestRow], split: str, index: int,
                 rng: np.random.Generator, out_dir: Path, config: MixtureConfig, max_sources: int) -> ManifestRow:
    length = int(rng.uniform(config.min_seconds, config.max_seconds) * MIX_RATE)
    sources = _pick_sources(pool, int(rng.integers(1, max_sources + 1)), rng)
    scene = np.zeros(length, dtype=np.float32)
    starts, gains = [], []
    for source in sources:
        gain = float(rng.uniform(*config.gain_db))
        track, start = _placed(_scaled(_read(source.audio), gain), length, rng)
        scene += track
        starts.append(start)
        gains.append(round(gain, 2))
    source_labels = {label for s in sources for label in s.labels}
    candidates = [b for b in backgrounds if not set(b.labels) & source_labels and b not in sources]
    background = None
    if candidates and rng.random() < config.background_probability:
        background = candidates[int(rng.integers(len(candidates)))]
        audio = _scaled(_read(background.audio), float(rng.uniform(*config.background_gain_db)))
        scene += np.resize(audio, length)  # looped to fill the scene
    peak = float(np.max(np.abs(scene)))
    if peak > 0.9:
        scene *= 0.9 / peak
    path = out_dir / split / f"mix{index:05d}.flac"
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, scene, MIX_RATE, subtype="PCM_16")
    labels = list(dict.fromkeys([label for s in sources for label in s.labels]
                                + (background.labels if background else [])))
    names = [s.labels[0] for s in sources]
    members = [*sources, *([background] if background else [])]
    return ManifestRow(
        audio=path, labels=labels,
        captions=mixture_captions(names, starts, background.labels[0] if background else None),
        split=split, group=f"mix:{split}:{index:05d}", id=f"mixture/{split}/{index:05d}",
        extra={"sources": [s.id for s in sources], "source_groups": sorted({m.group or m.id for m in members}),
               "starts_seconds": [round(s / MIX_RATE, 3) for s in starts], "gains_db": gains,
               "background": background.id if background else None, "duration": round(length / MIX_RATE, 3),
               "is_synthetic": any(m.extra.get("is_synthetic") for m in members), "kind": "mixture"},
    )
