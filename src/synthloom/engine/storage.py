"""What the engine needs from a store: a protocol, so an executor can hand it the run's SQLite
store, a shard's own store, or an in-memory one in a test, without the engine knowing which."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from synthloom.records import Record

if TYPE_CHECKING:
    from synthloom.engine.job import Job

CacheEntry = tuple[str, dict[str, Any]]  # (content-addressed key, the completion as a dict)


class EngineStore(Protocol):
    def cache_get(self, key: str) -> dict[str, Any] | None:
        """A completed call by its key, or None."""
        ...

    def cache_put(self, key: str, response: dict[str, Any]) -> None:
        """Make a completed call durable: once this returns, no re-run repeats it."""
        ...

    def put_record(self, record: Record, fingerprint: str, cache: CacheEntry | None = None) -> None:
        """Store a finished row's record with the call that finished it, atomically."""
        ...

    def log_event(self, kind: str, **payload: Any) -> None: ...


class RecordSink(Protocol):
    """Where the engine hands each finished row: straight to a store, or to a merger that puts
    records in row order and applies the stateful checks on the way."""

    async def put(self, job: Job, record: Record, cache: CacheEntry | None) -> Record:
        """Take the row's record and its last call; return the record as finally stored."""
        ...

    async def abandon(self, job: Job) -> None:
        """The row was not run (the budget ran out): it will not be put."""
        ...


class StoreSink:
    """Records straight into a store, as they finish."""

    def __init__(self, store: EngineStore) -> None:
        self.store = store

    async def put(self, job: Job, record: Record, cache: CacheEntry | None) -> Record:
        self.store.put_record(record, job.fingerprint, cache=cache)
        return record

    async def abandon(self, job: Job) -> None:
        pass
