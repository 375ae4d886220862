"""The frame-token cache over a tiny random aiSFX encoder: reuse, invalidation, windows, bad files,
crash-cut index lines, and the padding helpers."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from auralign.backbones.aisfx import AisfxEncoder
from auralign.data.feature_cache import INDEX_NAME, FeatureCache, WindowPolicy, pad_tokens, pad_waveforms
from auralign.errors import AudioLoadError
from backbone_factory import make_tiny_aisfx
from data_factory import tone


class CountingEncoder:
    """Counts forward calls of an encoder and the rows they encoded."""

    def __init__(self, encoder: AisfxEncoder) -> None:
        self.calls = 0
        self.rows = 0
        encoder.register_forward_hook(self._count)

    def _count(self, module: torch.nn.Module, args: tuple, output: object) -> None:
        self.calls += 1
        self.rows += len(args[0])


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    root = tmp_path_factory.mktemp("aisfx")
    return {seed: make_tiny_aisfx(root / f"seed{seed}", seed) for seed in (0, 1)}


@pytest.fixture()
def encoder(weights: dict[int, Path]) -> AisfxEncoder:
    return AisfxEncoder.from_pretrained(weights[0])


@pytest.fixture(scope="module")
def reference(weights: dict[int, Path]) -> AisfxEncoder:
    """The same weights as `encoder` in another instance, to compute expected tokens without the cache."""
    return AisfxEncoder.from_pretrained(weights[0])


def write_clip(path: Path, seconds: float, frequency: float = 440.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, tone(seconds, 16000, frequency=frequency), 16000, subtype="PCM_16")
    return path


def direct_tokens(encoder: AisfxEncoder, path: Path) -> np.ndarray:
    samples, _ = sf.read(path, dtype="float32")
    with torch.inference_mode():
        out = encoder(torch.from_numpy(samples)[None])
    return out.tokens[0][out.mask[0]].numpy()


def test_tokens_are_computed_once_and_reused(tmp_path: Path, encoder: AisfxEncoder, reference: AisfxEncoder,
                                             weights: dict[int, Path]) -> None:
    clips = [write_clip(tmp_path / f"c{i}.wav", 1.0, 300.0 + 100 * i) for i in range(3)]
    counter = CountingEncoder(encoder)
    cache = FeatureCache(encoder, root=tmp_path / "cache")
    assert cache.ensure(clips, batch_size=2, progress=False) == []
    assert (counter.calls, counter.rows) == (2, 3)
    first = cache.get(clips[0])
    assert first.tokens.dtype == np.float16 and first.tokens.shape == (8, 32)
    np.testing.assert_allclose(first.tokens, direct_tokens(reference, clips[0]), rtol=2e-3, atol=2e-3)
    assert cache.ensure(clips, progress=False) == [] and cache.missing(clips) == []
    assert counter.calls == 2

    # a new cache object (another process, a later run) over the same folder and the same weights
    same_weights = AisfxEncoder.from_pretrained(weights[0])
    later_counter = CountingEncoder(same_weights)
    later = FeatureCache(same_weights, root=tmp_path / "cache")
    assert later.dir == cache.dir
    np.testing.assert_array_equal(later.get(clips[0]).tokens, first.tokens)
    assert later_counter.calls == 0


def test_get_computes_a_missing_clip(tmp_path: Path, encoder: AisfxEncoder) -> None:
    clip = write_clip(tmp_path / "a.wav", 0.5)
    counter = CountingEncoder(encoder)
    cache = FeatureCache(encoder, root=tmp_path / "cache")
    assert cache.missing([clip]) == [clip]
    assert cache.get(clip).window_lengths == [4]
    assert counter.calls == 1


def test_a_changed_file_is_recomputed(tmp_path: Path, encoder: AisfxEncoder, reference: AisfxEncoder) -> None:
    clip = write_clip(tmp_path / "a.wav", 1.0, 300.0)
    counter = CountingEncoder(encoder)
    cache = FeatureCache(encoder, root=tmp_path / "cache")
    before = np.array(cache.get(clip).tokens)

    write_clip(clip, 1.0, 2000.0)  # new content
    os.utime(clip, ns=(1_000_000_000, 1_000_000_000))
    after = np.array(cache.get(clip).tokens)
    assert counter.calls == 2
    assert not np.allclose(before, after)
    np.testing.assert_allclose(after, direct_tokens(reference, clip), rtol=2e-3, atol=2e-3)

    os.utime(clip, ns=(2_000_000_000, 2_000_000_000))  # same bytes, new modification time
    cache.get(clip)
    assert counter.calls == 3

    write_clip(clip, 0.5, 2000.0)  # new size
    os.utime(clip, ns=(2_000_000_000, 2_000_000_000))
    assert cache.get(clip).window_lengths == [4]
    assert counter.calls == 4


def test_other_weights_use_a_fresh_cache(tmp_path: Path, encoder: AisfxEncoder, weights: dict[int, Path]) -> None:
    clip = write_clip(tmp_path / "a.wav", 1.0)
    cache = FeatureCache(encoder, root=tmp_path / "cache")
    tokens = np.array(cache.get(clip).tokens)

    other = AisfxEncoder.from_pretrained(weights[1])
    counter = CountingEncoder(other)
    other_cache = FeatureCache(other, root=tmp_path / "cache")
    assert other_cache.dir != cache.dir
    assert other_cache.missing([clip]) == [clip]
    assert not np.allclose(np.array(other_cache.get(clip).tokens), tokens)
    assert counter.calls == 1


def test_window_policy_is_part_of_the_cache_folder(tmp_path: Path, encoder: AisfxEncoder) -> None:
    ten = FeatureCache(encoder, root=tmp_path)
    one = FeatureCache(encoder, root=tmp_path, policy=WindowPolicy(1.0))
    overlapping = FeatureCache(encoder, root=tmp_path, policy=WindowPolicy(1.0, 0.5))
    assert len({ten.dir, one.dir, overlapping.dir}) == 3
    assert one.dir.name.endswith("-w1-h1") and overlapping.dir.name.endswith("-w1-h0.5")


def test_a_long_clip_is_cached_window_by_window(tmp_path: Path, encoder: AisfxEncoder,
                                                reference: AisfxEncoder) -> None:
    clip = write_clip(tmp_path / "long.wav", 3.2)
    cache = FeatureCache(encoder, root=tmp_path / "cache", policy=WindowPolicy(window_seconds=1.0))
    cached = cache.get(clip)
    # 3 whole 1 s windows; the 0.2 s tail is shorter than iter_windows' 1 s minimum and is dropped
    assert cached.window_lengths == [8, 8, 8]
    windows = cached.windows()
    assert [len(w) for w in windows] == [8, 8, 8]
    assert cached.tokens.shape == (24, 32)
    samples, _ = sf.read(clip, dtype="float32")
    for k, window in enumerate(windows):
        with torch.inference_mode():
            out = reference(torch.from_numpy(samples[k * 16000:(k + 1) * 16000])[None])
        np.testing.assert_allclose(window, out.tokens[0].numpy(), rtol=2e-3, atol=2e-3)


def test_a_bad_file_is_remembered_with_its_reason(tmp_path: Path, encoder: AisfxEncoder) -> None:
    good = write_clip(tmp_path / "good.wav", 0.5)
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    cache = FeatureCache(encoder, root=tmp_path / "cache")
    failures = cache.ensure([good, bad], progress=False)
    assert len(failures) == 1 and failures[0][0] == bad and failures[0][1].startswith("not an audio file")
    assert cache.missing([good, bad]) == []
    with pytest.raises(AudioLoadError, match=r"bad\.wav: not an audio file") as caught:
        cache.get(bad)
    assert caught.value.reason == failures[0][1]

    reopened = FeatureCache(encoder, root=tmp_path / "cache")
    assert reopened.missing([bad]) == []
    assert reopened.ensure([good, bad], progress=False) == failures  # remembered, and reported again
    with pytest.raises(AudioLoadError, match="not an audio file"):
        reopened.get(bad)

    bad.unlink()
    with pytest.raises(AudioLoadError, match=r"bad\.wav: file not found"):
        reopened.get(bad)


def test_a_silent_clip_fails_but_the_batch_goes_on(tmp_path: Path, encoder: AisfxEncoder) -> None:
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000, dtype=np.float32), 16000)
    good = write_clip(tmp_path / "good.wav", 0.5)
    cache = FeatureCache(encoder, root=tmp_path / "cache")
    assert cache.ensure([silent, good], progress=False) == [(silent, "silent")]
    assert cache.get(good).window_lengths == [4]


def test_the_cache_survives_a_cut_last_index_line(tmp_path: Path, encoder: AisfxEncoder) -> None:
    clips = [write_clip(tmp_path / f"c{i}.wav", 0.5, 300.0 + 100 * i) for i in range(3)]
    cache = FeatureCache(encoder, root=tmp_path / "cache")
    cache.ensure(clips, progress=False)
    index = cache.dir / INDEX_NAME
    text = index.read_text()
    index.write_text(text[: len(text) - 20])  # a crash in the middle of the last entry

    counter = CountingEncoder(encoder)
    reopened = FeatureCache(encoder, root=tmp_path / "cache")
    assert reopened.missing(clips) == [clips[2]]
    for clip in clips:
        assert reopened.get(clip).window_lengths == [4]
    assert counter.rows == 1

    # the recomputed entry is kept for good: a third opening recomputes nothing
    assert FeatureCache(encoder, root=tmp_path / "cache").missing(clips) == []


def test_pad_tokens_stacks_and_masks() -> None:
    windows = [np.ones((3, 4), dtype=np.float16), 2 * np.ones((5, 4), dtype=np.float32), np.zeros((1, 4))]
    tokens, mask = pad_tokens(windows)
    assert tokens.shape == (3, 5, 4) and tokens.dtype == torch.float32
    assert mask.tolist() == [[True] * 3 + [False] * 2, [True] * 5, [True] + [False] * 4]
    assert tokens[0, :3].eq(1).all() and tokens[0, 3:].eq(0).all()
    assert tokens[1].eq(2).all()


def test_pad_waveforms_zero_pads_and_reports_lengths() -> None:
    batch, lengths = pad_waveforms([np.full(4, 0.5, dtype=np.float32), np.full(2, -1.0), np.zeros(1)])
    assert batch.shape == (3, 4) and batch.dtype == torch.float32
    assert lengths.tolist() == [4, 2, 1]
    assert batch[1].tolist() == [-1.0, -1.0, 0.0, 0.0]
