"""Decoding ahead in a worker thread, and encoder embeddings batched across files."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from auralign.audio.streaming import prefetched, stream_clips
from auralign.backbones.aisfx import AisfxEncoder
from auralign.evaluation.embedding import encoder_clip_embeddings
from backbone_factory import make_tiny_aisfx
from data_factory import tone


def test_prefetched_keeps_order_and_raises_the_workers_error() -> None:
    assert list(prefetched(iter(range(50)), depth=3)) == list(range(50))

    def failing() -> Iterator[int]:
        yield 1
        raise ValueError("broken")

    stream = prefetched(failing(), depth=2)
    assert next(stream) == 1
    with pytest.raises(ValueError, match="broken"):
        next(stream)


def test_prefetched_stops_its_worker_when_closed_early() -> None:
    produced = itertools.count()
    stream = prefetched((next(produced) for _ in itertools.repeat(None)), depth=2)
    assert next(stream) == 0
    stream.close()
    stopped_at = next(produced)
    assert stopped_at <= 5  # the worker ran at most `depth` (+ the item in hand) ahead, then stopped


@pytest.fixture
def clips(tmp_path: Path) -> list[Path]:
    """Clips of several lengths (1 to 25 s: some have several windows), one broken file in the middle."""
    paths = []
    for i, seconds in enumerate([3.0, 25.0, 1.5, 12.0, 0.0, 7.0, 2.0]):
        path = tmp_path / f"clip_{i}.wav"
        if seconds == 0.0:
            path.write_bytes(b"not audio")
        else:
            sf.write(path, tone(seconds, 8000, frequency=150.0 + 60 * i), 8000)
        paths.append(path)
    return paths


def test_stream_clips_events(clips: list[Path]) -> None:
    events = list(stream_clips(clips, 8000, window_seconds=10.0, depth=2))
    windows = [sum(e.position == p and e.samples is not None for e in events) for p in range(len(clips))]
    assert windows == [1, 3, 1, 2, 0, 1, 1]
    assert [e.position for e in events if e.error is not None] == [4]
    assert [e.position for e in events if e.samples is None and e.error is None] == [0, 1, 2, 3, 5, 6]


def test_encoder_embeddings_batched_across_files_equal_one_file_at_a_time(clips: list[Path], tmp_path: Path) -> None:
    encoder = AisfxEncoder.from_pretrained(make_tiny_aisfx(tmp_path / "aisfx"))
    batched = encoder_clip_embeddings(encoder, clips, batch_size=16)
    assert batched.index == [0, 1, 2, 3, 5, 6] and [p for p, _ in batched.failures] == [clips[4]]
    for row, position in enumerate(batched.index):
        alone = encoder_clip_embeddings(encoder, [clips[position]], batch_size=1)
        np.testing.assert_allclose(batched.vectors[row], alone.vectors[0], rtol=1e-4, atol=1e-5)
