"""Augmented variants of training clips, written once to disk so the feature cache can encode them.

Training runs over cached frozen-encoder tokens, so a waveform augmentation cannot be drawn fresh on
every step without re-running the encoder. Instead each training clip gets `variants` augmented
copies (`auralign.audio.augment`), drawn from a generator seeded by (seed, clip id, k) and stored
under `<root>/<config fingerprint>/seed<seed>/`; the feature cache then encodes them like any file,
and `CachedPairs` picks, every epoch, the original or one of its variants. A second run with the
same settings reuses the files; changing any augmentation setting changes the folder, and so does
the list of background recordings when the config mixes them in (`<fingerprint>-bg<hash>`).
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


def background_files(rows: Sequence[ManifestRow], split: str = "train") -> list[Path]:
    """The audio of the ambience clips (`extra["kind"] == "ambience"`) of `split`, sorted: the
    background recordings for `write_variants`. Only one split's, so no other split's audio leaks in."""
    return sorted({row.audio for row in rows if row.split == split and row.extra.get("kind") == "ambience"}, key=str)


def write_variants(rows: Sequence[ManifestRow], variants: int, config: AugmentConfig | None = None, seed: int = 0,
                   root: Path | None = None, progress: bool = True,
                   backgrounds: Sequence[Path] = ()) -> dict[str, list[Path]]:
    """{row id: paths of its `variants` augmented copies}, writing the ones not on disk yet.

    A clip whose label depends on pitch (`extra["pitch_preserving"]`) is never pitch-shifted. Clips
    that fail to load get no variants (the feature cache reports the failure for the original).
    `backgrounds` are the recordings the background effect mixes in (see `background_files`); a clip
    is never mixed with itself.
    """
    if variants <= 0:
        return {}
    repeated = [key for key, count in Counter(row.id for row in rows).items() if count > 1]
    if repeated:  # variants are looked up by id: a repeated id would hand one clip another's copies
        raise AuralignError(f"clip ids must be unique to augment, repeated: {', '.join(repeated[:3])}")
    config = config or AugmentConfig()
    backgrounds = sorted({Path(path) for path in backgrounds}, key=str) if config.background_probability > 0 else []
    if config.background_probability > 0 and not backgrounds:
        print("augment: background_probability > 0 but no background recordings were given: no background mixing")
    folder = (root or augmented_root()) / _folder_name(config, backgrounds) / f"seed{seed}"
    result: dict[str, list[Path]] = {}
    with progress_bar(len(rows), f"augmenting x{variants}", enabled=progress) as advance:
        for row in rows:
            paths = [variant_path(folder, row, k) for k in range(variants)]
            if _write_missing(row, paths, config, seed, [path for path in backgrounds if path != row.audio]):
                result[row.id] = paths
            advance(1)
    return result


def _folder_name(config: AugmentConfig, backgrounds: Sequence[Path]) -> str:
    if not backgrounds:
        return config.fingerprint()
    digest = hashlib.sha1("\n".join(map(str, backgrounds)).encode()).hexdigest()[:8]
    return f"{config.fingerprint()}-bg{digest}"


def _write_missing(row: ManifestRow, paths: list[Path], config: AugmentConfig, seed: int,
                   backgrounds: Sequence[Path]) -> bool:
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
        variant = augment(audio, rate, config, rng, allow_pitch_shift=not row.extra.get("pitch_preserving", False),
                          backgrounds=backgrounds)
        _write_atomically(paths[k], variant, rate)
    return True


def _write_atomically(path: Path, audio: np.ndarray, rate: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.stem + ".partial.flac")
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    sf.write(partial, audio / peak * 0.99 if peak > 1.0 else audio, rate, subtype="PCM_16")
    partial.replace(path)
