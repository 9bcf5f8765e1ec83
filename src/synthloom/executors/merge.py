"""The merge: where a stage's records enter the run store, one at a time in row order, and the
stateful checks (dedup indexes, the self-instruct pool) see them.

Rows finish in any order (many in flight on one engine, or whole shards elsewhere); the merge
puts them back in order, so which of two duplicates is kept depends on the plan alone, never on
timing or sharding. A row that finishes early waits in a bounded buffer; its model call is made
durable at once, so a killed run repeats no completed call even for rows still waiting.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from synthloom.backends.base import Completion, GenerationRequest
from synthloom.engine.job import Job
from synthloom.engine.storage import CacheEntry, EngineStore
from synthloom.hooks import OnRecord
from synthloom.quality.base import Check, text_of
from synthloom.quality.gate import run_stateful
from synthloom.records import Record, Status

if TYPE_CHECKING:
    from synthloom.planning import StagePlan
    from synthloom.quality.gate import Gate

_Waiting = tuple[str, Record, CacheEntry | None] | None  # None: a row that will not come


def stateful_checks(plan: StagePlan, gate: Gate | None) -> list[Check]:
    """The stage's stateful checks, in the order the merge applies them."""
    stage = plan.stage
    checks = list(gate.stateful) if gate is not None and stage.quality else []
    return checks + stage.task.stateful_checks()


class _NoCalls:
    """Stateful checks compare records; they call no model."""

    async def complete(self, request: GenerationRequest) -> Completion:
        raise RuntimeError("a stateful check may not call a model")

    async def json(self, request: GenerationRequest, schema: Any) -> dict[str, Any]:
        raise RuntimeError("a stateful check may not call a model")


class Merger:
    """Takes finished rows of ``rows`` in any order and stores them in row order.

    ``capacity`` bounds the rows waiting for an earlier one: a worker whose row would go past
    it waits before taking another job, so memory stays flat behind one slow row."""

    def __init__(
        self,
        store: EngineStore,
        checks: list[Check],
        rows: range,
        *,
        text: Callable[[Record], str] | None = None,
        capacity: int = 1024,
        on_record: OnRecord | None = None,
    ) -> None:
        self.store = store
        self.checks = checks
        self.text = text or (lambda record: text_of(record.data))
        self.capacity = capacity
        self.on_record = on_record
        self.next = rows.start
        self._waiting: dict[int, _Waiting] = {}
        self._turn = asyncio.Lock()  # one record at a time through the stateful checks
        self._room = asyncio.Condition()

    @classmethod
    def for_stage(
        cls,
        plan: StagePlan,
        store: EngineStore,
        gate: Gate | None,
        rows: range,
        *,
        capacity: int = 1024,
        on_record: OnRecord | None = None,
    ) -> Merger:
        text = gate.text if gate is not None and plan.stage.quality else None
        checks = stateful_checks(plan, gate)
        return cls(store, checks, rows, text=text, capacity=capacity, on_record=on_record)

    # -- what the engine and the plan call ----------------------------------------------------
    def skip(self, position: int) -> None:
        """Row ``position`` is not run (an earlier run finished it)."""
        if position == self.next:
            self.next += 1
            self._pass_skipped()
        else:
            self._waiting[position] = None

    async def abandon(self, job: Job) -> None:
        self._waiting[job.sample] = None
        await self._drain()  # rows waiting behind this one must not wait for it

    async def put(self, job: Job, record: Record, cache: CacheEntry | None) -> Record:
        await self.offer(job.sample, job.fingerprint, record, cache)
        return record

    async def prepare(self, records: list[Record]) -> None:
        """Let the stateful checks prepare many records at once (one embedding batch) before
        their turns come: the merge of a finished shard offers its rows in chunks."""
        jobs = [
            check.prepare(record, self.text(record))
            for record in records
            if record.status == Status.ACCEPTED
            for check in self.checks
        ]
        await asyncio.gather(*jobs)

    async def offer(
        self, position: int, fingerprint: str, record: Record, cache: CacheEntry | None
    ) -> None:
        """Row ``position``'s record; stored in its turn."""
        if cache is not None and (position != self.next or self._turn.locked()):
            self.store.cache_put(*cache)  # durable now; the record follows in its turn
            cache = None
        self._waiting[position] = (fingerprint, record, cache)
        await self._drain()
        if len(self._waiting) > self.capacity:
            async with self._room:
                await self._room.wait_for(lambda: len(self._waiting) <= self.capacity)

    async def finish(self) -> None:
        """After the last row: store what still waits, in order, past rows that never came
        (a budget stop leaves gaps; a re-run with more budget fills them in later)."""
        while self._waiting:
            self.next = min(self._waiting)
            await self._drain()

    # -- the merge itself -----------------------------------------------------------------------
    def _pass_skipped(self) -> None:
        while self.next in self._waiting and self._waiting[self.next] is None:
            del self._waiting[self.next]
            self.next += 1

    async def _drain(self) -> None:
        if self._turn.locked():
            return  # the worker holding the turn merges this row too when it gets there
        async with self._turn:
            while self.next in self._waiting:  # skipped rows too: they pass here
                item = self._waiting.pop(self.next)
                self.next += 1
                if item is not None:
                    await self._merge(*item)
        async with self._room:
            self._room.notify_all()

    async def _merge(self, fingerprint: str, record: Record, cache: CacheEntry | None) -> None:
        if record.status == Status.ACCEPTED and self.checks:
            try:
                record = await run_stateful(self.checks, record, self.text(record), _NoCalls())
            except Exception as exc:  # a broken check fails the row; its data is kept
                record.status = Status.FAILED
                record.reason = type(exc).__name__
                record.error = f"quality check failed: {type(exc).__name__}: {exc}"
        self.store.put_record(record, fingerprint, cache=cache)
        if self.on_record is not None:
            self.on_record(record)
