"""What the engine needs from a store: a protocol, so an executor can hand it the run's SQLite
store, a shard's own store, or an in-memory one in a test, without the engine knowing which."""

from __future__ import annotations

from typing import Any, Protocol

from synthloom.records import Record

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
