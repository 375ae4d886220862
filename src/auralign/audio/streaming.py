"""Decode many files' windows in a worker thread while the caller runs the encoder on the last batch.

`stream_clips` yields one event per window, one when a clip is complete and one when it fails, in
file order; `prefetched` runs any iterator in a worker thread at most `depth` items ahead, so memory
stays bounded (about `depth` windows) whatever the number or length of the files. Decoding
(libsndfile, soxr) and the encoder (torch) both release the GIL, so the two overlap.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from auralign.audio.io import iter_windows
from auralign.errors import AudioLoadError

T = TypeVar("T")


@dataclass(frozen=True, eq=False)
class ClipEvent:
    """`position` in the input list; `samples`: one window; `error`: the clip failed (drop its earlier
    windows); neither: the clip's last window has been yielded."""

    position: int
    samples: np.ndarray | None = None
    error: AudioLoadError | None = None


def stream_clips(paths: Sequence[str | Path], sample_rate: int, *, window_seconds: float = 10.0,
                 hop_seconds: float | None = None, max_seconds: float | None = None,
                 depth: int = 16) -> Iterator[ClipEvent]:
    """Events of every file's windows (see `iter_windows`), decoded ahead in a worker thread."""

    def events() -> Iterator[ClipEvent]:
        for position, path in enumerate(paths):
            try:
                for window in iter_windows(path, sample_rate, window_seconds=window_seconds,
                                           hop_seconds=hop_seconds, max_seconds=max_seconds):
                    yield ClipEvent(position, samples=window.samples)
            except AudioLoadError as error:
                yield ClipEvent(position, error=error)
                continue
            yield ClipEvent(position)

    return prefetched(events(), depth)


@dataclass(frozen=True)
class _End:
    error: BaseException | None


def prefetched(items: Iterator[T], depth: int) -> Iterator[T]:
    """`items`, produced in a worker thread at most `depth` ahead; its exceptions are raised here.
    Closing the returned iterator early stops the worker after its current item."""
    ready: queue.Queue[T | _End] = queue.Queue(max(depth, 1))
    stop = threading.Event()

    def put(item: T | _End) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as error:  # handed to the consumer, which raises it
            put(_End(error))
            return
        put(_End(None))

    worker = threading.Thread(target=work, name="decoder", daemon=True)
    worker.start()
    return _consume(ready, stop, worker)


def _consume(ready: queue.Queue, stop: threading.Event, worker: threading.Thread) -> Iterator:
    try:
        while not isinstance(item := ready.get(), _End):
            yield item
        if item.error is not None:
            raise item.error
    finally:
        stop.set()
        worker.join()
