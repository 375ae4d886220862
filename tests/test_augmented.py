"""Augmented variants on disk: seeded, cached, pitch-safe, and picked by the training pairs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from auralign.audio.augment import AugmentConfig
from auralign.data.augmented import background_files, write_variants
from auralign.data.manifest import ManifestRow
from auralign.data.pairs import CachedPairs
from auralign.errors import AuralignError
from test_feature_cache import write_clip
from test_pairs import cache  # noqa: F401  (fixture)

ONLY_PITCH = AugmentConfig(offset_probability=0, crop_probability=0, pitch_probability=1, eq_probability=0,
                           filter_probability=0, reverb_probability=0, noise_probability=0)


def make_rows(folder: Path, n: int = 3) -> list[ManifestRow]:
    return [ManifestRow(audio=write_clip(folder / f"c{i}.wav", 1.0, frequency=300.0 + 100 * i), labels=[f"l{i}"],
                        captions=[f"caption {i}"], id=f"c{i}") for i in range(n)]


def test_variants_are_seeded_cached_and_differ_from_the_original(tmp_path: Path) -> None:
    rows = make_rows(tmp_path / "clips")
    first = write_variants(rows, 2, seed=1, root=tmp_path / "aug", progress=False)
    assert sorted(first) == ["c0", "c1", "c2"] and all(len(paths) == 2 for paths in first.values())
    audio = {path: sf.read(path)[0] for paths in first.values() for path in paths}
    mtimes = {path: path.stat().st_mtime_ns for path in audio}
    again = write_variants(rows, 2, seed=1, root=tmp_path / "aug", progress=False)
    assert again == first and all(path.stat().st_mtime_ns == mtimes[path] for path in audio)  # reused
    for path in audio:  # a fresh folder with the same seed writes identical audio
        path.unlink()
    write_variants(rows, 2, seed=1, root=tmp_path / "aug", progress=False)
    assert all(np.array_equal(sf.read(path)[0], samples) for path, samples in audio.items())
    assert not np.array_equal(audio[first["c0"][0]], audio[first["c0"][1]])
    other_seed = write_variants(rows, 2, seed=2, root=tmp_path / "aug", progress=False)
    assert other_seed["c0"][0].parent.parent != first["c0"][0].parent.parent
    assert write_variants(rows, 0, root=tmp_path / "aug") == {}


def test_pitch_dependent_labels_are_never_pitch_shifted(tmp_path: Path) -> None:
    rows = make_rows(tmp_path / "clips", 1)
    rows[0].extra["pitch_preserving"] = True
    kept = write_variants(rows, 1, ONLY_PITCH, root=tmp_path / "aug", progress=False)["c0"][0]
    rows[0].extra["pitch_preserving"] = False
    rows[0].id = "c0-shiftable"
    shifted = write_variants(rows, 1, ONLY_PITCH, root=tmp_path / "aug", progress=False)["c0-shiftable"][0]
    original = sf.read(rows[0].audio)[0]
    assert len(sf.read(kept)[0]) == len(original) and len(sf.read(shifted)[0]) != len(original)


def test_repeated_clip_ids_are_refused(tmp_path: Path) -> None:
    rows = make_rows(tmp_path / "clips", 2)
    rows[1].id = rows[0].id
    with pytest.raises(AuralignError, match="unique"):
        write_variants(rows, 1, root=tmp_path / "aug", progress=False)


def test_unreadable_clips_get_no_variants(tmp_path: Path) -> None:
    broken = tmp_path / "broken.wav"
    broken.write_text("not audio")
    assert write_variants([ManifestRow(audio=broken, id="b")], 2, root=tmp_path / "aug", progress=False) == {}


def test_pairs_draw_the_original_and_its_variants_reproducibly(tmp_path: Path, cache) -> None:  # noqa: F811
    rows = make_rows(tmp_path / "clips", 2)
    variants = write_variants(rows, 3, seed=0, root=tmp_path / "aug", progress=False)
    pairs = CachedPairs(rows, cache, variants=variants, progress=False)
    assert [len(sources) for sources in pairs.sources] == [4, 4]
    seen = set()
    for epoch in range(12):
        pairs.set_epoch(epoch)
        seen.add(pairs[0].tokens.tobytes())
    assert len(seen) >= 3  # originals and variants both show up across epochs
    pairs.set_epoch(5)
    assert pairs[1].tokens.tobytes() == pairs[1].tokens.tobytes()
    plain = CachedPairs(rows, cache, progress=False)
    assert [len(sources) for sources in plain.sources] == [1, 1]


@pytest.mark.parametrize("variants", [1, 2])
def test_training_pairs_follow_the_data_config(tmp_path: Path, cache, monkeypatch, variants: int) -> None:  # noqa: F811
    from auralign.data import augmented
    from auralign.training.data import DataConfig, training_pairs

    monkeypatch.setattr(augmented, "augmented_root", lambda: tmp_path / "aug")
    rows = make_rows(tmp_path / "clips", 2)
    pairs = training_pairs(rows, cache, DataConfig(augment_variants=variants), seed=0)
    assert [len(sources) for sources in pairs.sources] == [1 + variants] * 2


ONLY_BACKGROUND = replace(ONLY_PITCH, pitch_probability=0, background_probability=1)


def test_background_files_are_the_ambience_clips_of_the_split(tmp_path: Path) -> None:
    rows = make_rows(tmp_path / "clips", 4)
    for row, split, kind in zip(rows, ["train", "train", "val", "train"], ["ambience", "effect", "ambience", "ambience"],
                                strict=True):
        row.split, row.extra["kind"] = split, kind
    assert background_files(rows) == [rows[0].audio, rows[3].audio]
    assert background_files(rows, "val") == [rows[2].audio]


def test_variants_mix_in_backgrounds_but_never_the_clip_itself(tmp_path: Path) -> None:
    rows = make_rows(tmp_path / "clips", 2)
    backgrounds = [rows[0].audio, rows[1].audio]
    first = write_variants(rows, 1, ONLY_BACKGROUND, root=tmp_path / "aug", progress=False, backgrounds=backgrounds)
    variant = sf.read(first["c0"][0])[0]
    noise = variant - sf.read(rows[0].audio)[0]
    spectrum = np.abs(np.fft.rfft(noise))
    freqs = np.fft.rfftfreq(len(noise), 1 / sf.info(str(rows[0].audio)).samplerate)
    assert abs(freqs[spectrum.argmax()] - 400.0) < 5  # c1's 400 Hz tone, not c0's own 300 Hz
    assert first["c0"][0].parent.parent.parent.name.startswith(ONLY_BACKGROUND.fingerprint() + "-bg")
    reordered = write_variants(rows, 1, ONLY_BACKGROUND, root=tmp_path / "aug", progress=False,
                               backgrounds=backgrounds[::-1])
    assert reordered == first  # the same recordings in another order: the same variants
    fewer = write_variants(rows, 1, ONLY_BACKGROUND, root=tmp_path / "aug", progress=False,
                           backgrounds=backgrounds[:1])
    assert fewer["c0"][0].parent.parent != first["c0"][0].parent.parent  # other backgrounds: other folder


def test_backgrounds_do_not_change_variants_that_do_not_use_them(tmp_path: Path) -> None:
    rows = make_rows(tmp_path / "clips", 2)
    plain = write_variants(rows, 1, seed=3, root=tmp_path / "aug", progress=False)
    given = write_variants(rows, 1, seed=3, root=tmp_path / "aug", progress=False, backgrounds=[rows[1].audio])
    assert given == plain
