"""The gate's micro-batching and its one lane for native work: batches grow with the load, a
failure reaches every record of its batch and no other, and lane calls never overlap."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from synthloom.quality.batching import Batcher, Lane


def test_items_submitted_together_share_a_batch_and_get_their_own_results() -> None:
    sizes: list[int] = []

    async def work(items: list[int]) -> list[int]:
        sizes.append(len(items))
        return [2 * i for i in items]

    async def go() -> list[int]:
        batcher = Batcher(work, size=4)
        return list(await asyncio.gather(*(batcher.submit(i) for i in range(10))))

    assert asyncio.run(go()) == [2 * i for i in range(10)]
    assert sizes == [4, 4, 2]


def test_items_arriving_while_a_batch_runs_wait_for_the_next_one() -> None:
    sizes: list[int] = []

    async def go() -> None:
        gate = asyncio.Event()

        async def work(items: list[str]) -> list[str]:
            sizes.append(len(items))
            await gate.wait()
            return items

        batcher = Batcher(work, size=64)
        first = asyncio.ensure_future(batcher.submit("a"))
        await asyncio.sleep(0.01)  # the first batch ("a" alone) is running
        rest = [asyncio.ensure_future(batcher.submit(str(i))) for i in range(5)]
        await asyncio.sleep(0)
        assert batcher.waiting == 5
        gate.set()
        assert await first == "a"
        assert [await r for r in rest] == [str(i) for i in range(5)]

    asyncio.run(go())
    assert sizes == [1, 5]


def test_a_failed_batch_fails_its_items_only() -> None:
    async def work(items: list[int]) -> list[int]:
        if 3 in items:
            raise ValueError("three")
        return items

    async def go() -> list[object]:
        batcher = Batcher(work, size=2)
        return list(
            await asyncio.gather(*(batcher.submit(i) for i in range(6)), return_exceptions=True)
        )

    results = asyncio.run(go())
    assert results[:2] == [0, 1]
    assert [type(r) for r in results[2:4]] == [ValueError, ValueError]
    assert results[4:] == [4, 5]


def test_a_batch_with_the_wrong_number_of_results_fails_loudly() -> None:
    async def work(items: list[int]) -> list[int]:
        return items[:-1]

    async def go() -> None:
        batcher = Batcher(work, size=8)
        await asyncio.gather(batcher.submit(1), batcher.submit(2))

    with pytest.raises(RuntimeError, match="1 results for a batch of 2"):
        asyncio.run(go())


def test_lane_calls_run_one_at_a_time_off_the_event_loop() -> None:
    lane = Lane()
    running, overlap, threads = [0], [0], set()
    lock = threading.Lock()

    def native(i: int) -> int:
        with lock:
            running[0] += 1
            overlap[0] = max(overlap[0], running[0])
        threads.add(threading.get_ident())
        time.sleep(0.01)
        with lock:
            running[0] -= 1
        return i

    async def go() -> list[int]:
        return list(await asyncio.gather(*(lane.run(native, i) for i in range(6))))

    loop_thread = threading.get_ident()
    assert asyncio.run(go()) == list(range(6))
    assert overlap[0] == 1
    assert len(threads) == 1
    assert loop_thread not in threads


def test_a_gate_that_embeds_keeps_numpy_blas_to_one_thread_while_it_runs() -> None:
    pytest.importorskip("threadpoolctl")
    import numpy as np  # noqa: F401  (loads the BLAS library threadpoolctl looks at)
    from threadpoolctl import threadpool_info, threadpool_limits

    from synthloom.quality.gate import Gate

    def blas() -> set[int]:
        return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    with threadpool_limits(limits=2, user_api="blas"):
        assert blas() == {2}
        with Gate([], None, embeds=True).running():
            assert blas() == {1}
        assert blas() == {2}
        with Gate([], None).running():
            assert blas() == {2}
