"""Dynamic batching: concurrent requests' items are merged into one model call on one worker thread.

A request thread calls `batcher(items)` and blocks until its results are ready. The worker takes the
first waiting request, keeps collecting for `window_s` (a few ms) or until `max_items`, runs `fn` once
on everything collected (in groups of similar size, so a short clip is not padded to a long one's
length), and hands each request its own slice of the results. Only the worker runs the model, so
concurrent requests never oversubscribe the cores, and the queue is bounded: when `max_pending`
requests wait, a new one blocks until there is room (back-pressure instead of unbounded memory).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class DynamicBatcher(Generic[T, R]):
    def __init__(self, fn: Callable[[list[T]], list[R]], *, window_s: float = 0.004, max_items: int = 16,
                 max_pending: int = 64, size: Callable[[T], int] | None = None, max_spread: float = 1.5,
                 name: str = "batcher") -> None:
        """`size(item)` and `max_spread`: one call only holds items within `max_spread` x the smallest's size."""
        self.fn, self.window_s, self.max_items = fn, window_s, max_items
        self.size, self.max_spread = size, max_spread
        self._queue: queue.Queue[tuple[list[T], Future[list[R]]] | None] = queue.Queue(max_pending)
        self._worker = threading.Thread(target=self._run, name=name, daemon=True)
        self._worker.start()

    def __call__(self, items: Sequence[T]) -> list[R]:
        if not items:
            return []
        future: Future[list[R]] = Future()
        self._queue.put((list(items), future))
        return future.result()

    def close(self) -> None:
        """Let the worker finish what is queued, then stop it."""
        self._queue.put(None)
        self._worker.join()

    def _run(self) -> None:
        while (first := self._queue.get()) is not None:
            requests = [first]
            count = len(first[0])
            deadline = time.perf_counter() + self.window_s
            stop = False
            while count < self.max_items and (left := deadline - time.perf_counter()) > 0:
                try:
                    request = self._queue.get(timeout=left)
                except queue.Empty:
                    break
                if request is None:
                    stop = True
                    break
                requests.append(request)
                count += len(request[0])
            self._serve(requests)
            if stop:
                return

    def _serve(self, requests: list[tuple[list[T], Future[list[R]]]]) -> None:
        flat = [(r, i) for r, (items, _) in enumerate(requests) for i in range(len(items))]
        results: list[list[R | None]] = [[None] * len(items) for items, _ in requests]
        failed: dict[int, BaseException] = {}
        for group in self._groups(flat, requests):
            try:
                outputs = self.fn([requests[r][0][i] for r, i in group])
            except BaseException as error:  # the requests in this call fail; the worker goes on
                failed.update({r: error for r, _ in group})
                continue
            for (r, i), output in zip(group, outputs, strict=True):
                results[r][i] = output
        for r, (_, future) in enumerate(requests):
            if r in failed:
                future.set_exception(failed[r])
            else:
                future.set_result(results[r])  # type: ignore[arg-type]

    def _groups(self, flat: list[tuple[int, int]], requests: list) -> list[list[tuple[int, int]]]:
        """Calls of at most `max_items`, each over items of similar size."""
        if self.size is None:
            return [flat[s:s + self.max_items] for s in range(0, len(flat), self.max_items)]
        sizes = {key: max(self.size(requests[key[0]][0][key[1]]), 1) for key in flat}
        groups: list[list[tuple[int, int]]] = []
        for key in sorted(flat, key=sizes.__getitem__):
            if (not groups or len(groups[-1]) >= self.max_items
                    or sizes[key] > self.max_spread * sizes[groups[-1][0]]):
                groups.append([])
            groups[-1].append(key)
        return groups
