"""Augmented variants of training clips, written once to disk so the feature cache can encode them.

Training runs over cached frozen-encoder tokens, so a waveform augmentation cannot be drawn fresh on
every step without re-running the encoder. Instead each training clip gets `variants` augmented
copies (`auralign.audio.augment`), drawn from a generator seeded by (seed, clip id, k) and stored
under `<root>/<config fingerprint>/seed<seed>/`; the feature cache then encodes them like any file,
and `CachedPairs` picks, every epoch, the original or one of its variants. A second run with the
same settings reuses the files; changing any augmentation setting changes the folder.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf

from auralign.audio.augment import AugmentConfig, augment
from auralign.audio.io import load_audio
from auralign.data.manifest import ManifestRow
from auralign.errors import AudioLoadError, AuralignError
from auralign.paths import auralign_home
from auralign.progress import progress_bar


def augmented_root() -> Path:
    return auralign_home() / "augmented"


def _stable_number(text: str) -> int:
    return int.from_bytes(hashlib.sha1(text.encode()).digest()[:8], "little")


def variant_path(folder: Path, row: ManifestRow, k: int) -> Path:
    digest = hashlib.sha1(f"{row.id}\t{row.audio}".encode()).hexdigest()[:16]
    return folder / digest[:2] / f"{digest}-{k}.flac"


def write_variants(rows: Sequence[ManifestRow], variants: int, config: AugmentConfig | None = None, seed: int = 0,
                   root: Path | None = None, progress: bool = True) -> dict[str, list[Path]]:
    """{row id: paths of its `variants` augmented copies}, writing the ones not on disk yet.

    A clip whose label depends on pitch (`extra["pitch_preserving"]`) is never pitch-shifted. Clips
    that fail to load get no variants (the feature cache reports the failure for the original).
    """
    if variants <= 0:
        return {}
    repeated = [key for key, count in Counter(row.id for row in rows).items() if count > 1]
    if repeated:  # variants are looked up by id: a repeated id would hand one clip another's copies
        raise AuralignError(f"clip ids must be unique to augment, repeated: {', '.join(repeated[:3])}")
    config = config or AugmentConfig()
    folder = (root or augmented_root()) / config.fingerprint() / f"seed{seed}"
    result: dict[str, list[Path]] = {}
    with progress_bar(len(rows), f"augmenting x{variants}", enabled=progress) as advance:
        for row in rows:
            paths = [variant_path(folder, row, k) for k in range(variants)]
            if _write_missing(row, paths, config, seed):
                result[row.id] = paths
            advance(1)
    return result


def _write_missing(row: ManifestRow, paths: list[Path], config: AugmentConfig, seed: int) -> bool:
    missing = [k for k, path in enumerate(paths) if not path.is_file()]
    if not missing:
        return True
    try:
        rate = sf.info(str(row.audio)).samplerate  # augment at the clip's own rate: no resampling twice
        audio = load_audio(row.audio, rate)
    except (AudioLoadError, RuntimeError):
        return False
    for k in missing:
        rng = np.random.default_rng([seed, _stable_number(row.id), k])
        variant = augment(audio, rate, config, rng, allow_pitch_shift=not row.extra.get("pitch_preserving", False))
        _write_atomically(paths[k], variant, rate)
    return True


def _write_atomically(path: Path, audio: np.ndarray, rate: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.stem + ".partial.flac")
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    sf.write(partial, audio / peak * 0.99 if peak > 1.0 else audio, rate, subtype="PCM_16")
    partial.replace(path)
