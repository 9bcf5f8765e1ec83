"""How the gate's CPU-heavy native work is scheduled: in batches, one batch at a time.

Two checks spend most of the gate's CPU inside native code that already runs on every core:
the embedding model (torch) and language detection (lingua, whose batch call fans out over a
rayon pool and releases the GIL). Run side by side they fight over the cores: on 2 cores,
lingua calls on asyncio's default threads next to torch's threads cut the flagship gate from
82 records/s (no language check) to 24, far below the sum of their costs, because torch's
threads wait for each other at every layer and a preempted one stalls the rest. One
``Lane`` per gate runs their batches one after the other instead, each with the whole
machine, while the event loop goes on with the Python checks of other records.

``Batcher`` is the micro-batching both use: records that reach a check at about the same
moment are handled in one call, and records arriving while a batch runs queue for the next
one, so batches grow with the load and a lone record is not kept waiting."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, ParamSpec, TypeVar

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")


class Lane:
    """One worker thread for a gate's CPU-heavy native calls; made on first use, so a gate
    whose checks are all cheap never starts it."""

    def __init__(self, name: str = "synthloom-gate") -> None:
        self._name = name
        self._pool: ThreadPoolExecutor | None = None

    async def run(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=self._name)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(*args, **kwargs))


class Batcher(Generic[T, R]):
    """``submit`` one item, get its result from a call of ``work`` on a batch of at most
    ``size`` items. ``work`` returns one result per item, in order. A failed batch hands its
    exception to every item in it; the next batch is tried anew."""

    def __init__(self, work: Callable[[list[T]], Awaitable[Sequence[R]]], size: int) -> None:
        self._work = work
        self._size = size
        self._queue: list[tuple[T, asyncio.Future[R]]] = []
        self._flusher: asyncio.Task[None] | None = None

    @property
    def waiting(self) -> int:
        """Items queued for a batch that has not started yet."""
        return len(self._queue)

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush())
        return await future

    async def _flush(self) -> None:
        try:
            await asyncio.sleep(0)  # let every record that is ready queue its item first
            while self._queue:
                batch, self._queue = self._queue[: self._size], self._queue[self._size :]
                try:
                    results = await self._work([item for item, _ in batch])
                except Exception as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                if len(results) != len(batch):  # a bug in ``work``: fail loudly, not hang
                    error = RuntimeError(f"{len(results)} results for a batch of {len(batch)}")
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self._flusher = None
