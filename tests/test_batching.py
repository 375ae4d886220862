"""The server's dynamic batcher: concurrent requests share calls, each gets its own results, errors stay local."""

from __future__ import annotations

import threading

import pytest

from auralign.apps.batching import DynamicBatcher


def run_concurrently(batcher: DynamicBatcher, requests: list[list[int]]) -> list[object]:
    results: list[object] = [None] * len(requests)
    start = threading.Barrier(len(requests))

    def client(n: int) -> None:
        start.wait()
        try:
            results[n] = batcher(requests[n])
        except ValueError as error:
            results[n] = error

    threads = [threading.Thread(target=client, args=(n,)) for n in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_requests_share_calls_and_get_their_own_results() -> None:
    calls: list[list[int]] = []
    batcher = DynamicBatcher(lambda items: calls.append(items) or [10 * x for x in items], window_s=0.2,
                             max_items=64)
    requests = [[n, n + 100] for n in range(8)]
    assert run_concurrently(batcher, requests) == [[10 * n, 10 * (n + 100)] for n in range(8)]
    assert len(calls) < 8 and sum(map(len, calls)) == 16
    batcher.close()


def test_calls_hold_at_most_max_items_of_similar_size() -> None:
    calls: list[list[int]] = []
    batcher = DynamicBatcher(lambda items: calls.append(items) or items, window_s=0.2, max_items=3,
                             size=lambda x: x, max_spread=1.5)
    assert batcher([100, 1, 2, 101, 102, 103, 3]) == [100, 1, 2, 101, 102, 103, 3]
    assert calls == [[1], [2, 3], [100, 101, 102], [103]]
    batcher.close()


def test_a_failing_call_fails_only_its_requests() -> None:
    def fn(items: list[int]) -> list[int]:
        if any(x < 0 for x in items):
            raise ValueError("negative")
        return items

    batcher = DynamicBatcher(fn, window_s=0.2, max_items=1)
    results = run_concurrently(batcher, [[1], [-1], [2]])
    assert results[0] == [1] and results[2] == [2]
    assert isinstance(results[1], ValueError)
    assert batcher([]) == [] and batcher([5]) == [5]  # the worker is still alive
    batcher.close()


@pytest.mark.parametrize("window_s", [0.0, 0.01])
def test_single_requests_are_answered_without_waiting_for_company(window_s: float) -> None:
    batcher = DynamicBatcher(lambda items: items, window_s=window_s)
    assert [batcher([n])[0] for n in range(20)] == list(range(20))
    batcher.close()
