"""The merge: rows finish in any order, records enter the store in row order, and the stateful
checks (dedup, the self-instruct pool) see them in that order, so the dataset depends on the
plan alone, not on timing."""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
from pathlib import Path
from typing import Any

from synthloom.backends.base import Completion, GenerationRequest
from synthloom.backends.fake import FakeBackend
from synthloom.engine.job import Job
from synthloom.engine.storage import CacheEntry
from synthloom.executors.merge import Merger
from synthloom.quality.base import Check, Drop
from synthloom.records import Provenance, Record, Status
from synthloom.run import run
from tests.helpers import records, user_of, write_recipe


class _Store:
    def __init__(self) -> None:
        self.records: list[tuple[str, str]] = []
        self.cache: dict[str, dict[str, Any]] = {}

    def cache_get(self, key: str) -> dict[str, Any] | None:
        return self.cache.get(key)

    def cache_put(self, key: str, response: dict[str, Any]) -> None:
        self.cache[key] = response

    def put_record(self, record: Record, fingerprint: str, cache: CacheEntry | None = None) -> None:
        if cache is not None:
            self.cache_put(*cache)
        self.records.append((record.id, str(record.status)))

    def log_event(self, kind: str, **payload: Any) -> None:
        pass


class _FirstWins(Check):
    """Keeps the first record of each text, as dedup does."""

    name = "dedup"
    reasons = ("exact_duplicate",)
    stateful = True

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}

    async def check(self, record: Record, text: str, calls: Any) -> Drop | None:
        other = self.seen.get(text)
        return None if other is None else Drop("exact_duplicate", f"same as {other}")

    def admit(self, record: Record, text: str) -> None:
        self.seen[text] = record.id


def _job(position: int) -> Job:
    prov = Provenance("unit", "t", position, [], {}, "h", "fake", "fake-1", {})
    return Job(f"r{position}", "t", f"fp{position}", position, prov, None, None)  # type: ignore[arg-type]


def _record(position: int, text: str) -> Record:
    return Record(f"r{position}", "t", {"text": text}, _job(position).provenance)


def test_rows_finishing_out_of_order_are_stored_and_checked_in_row_order() -> None:
    store = _Store()
    merger = Merger(store, [_FirstWins()], range(6))
    texts = ["a", "b", "a", "c", "b", "d"]
    order = [5, 2, 4, 0, 3, 1]  # row 2 (a copy of row 0) finishes before row 0

    async def go() -> None:
        for position in order:
            await merger.put(_job(position), _record(position, texts[position]), None)
        await merger.finish()

    asyncio.run(go())
    assert store.records == [
        ("r0", "accepted"),
        ("r1", "accepted"),
        ("r2", "rejected"),
        ("r3", "accepted"),
        ("r4", "rejected"),
        ("r5", "accepted"),
    ]


def test_a_waiting_row_has_its_call_made_durable_at_once() -> None:
    store = _Store()
    merger = Merger(store, [], range(3))

    async def go() -> None:
        await merger.put(_job(2), _record(2, "x"), ("k2", {"text": "x"}))
        assert store.cache == {"k2": {"text": "x"}}  # waiting for rows 0 and 1, but durable
        assert store.records == []
        await merger.put(_job(0), _record(0, "y"), ("k0", {"text": "y"}))
        merger.skip(1)  # an earlier run finished row 1
        await merger.finish()

    asyncio.run(go())
    assert [rid for rid, _ in store.records] == ["r0", "r2"]
    assert set(store.cache) == {"k0", "k2"}


def test_a_worker_waits_when_too_many_rows_wait_for_a_slow_one() -> None:
    store = _Store()
    merger = Merger(store, [], range(10), capacity=3)

    async def go() -> list[int]:
        finished: list[int] = []

        async def put(position: int) -> None:
            await merger.put(_job(position), _record(position, str(position)), None)
            finished.append(position)

        later = [asyncio.create_task(put(p)) for p in range(1, 6)]
        await asyncio.sleep(0.01)
        blocked = [p for p in range(1, 6) if p not in finished]
        assert blocked, "no worker waited, though five rows wait for row 0"
        assert len(merger._waiting) == 5
        await put(0)  # the slow row arrives: everything drains
        await asyncio.gather(*later)
        return finished

    finished = asyncio.run(go())
    assert sorted(finished) == list(range(6))
    assert [rid for rid, _ in store.records] == [f"r{p}" for p in range(6)]


def test_an_abandoned_row_lets_the_rows_behind_it_through() -> None:
    store = _Store()
    merger = Merger(store, [], range(3), capacity=1)

    async def go() -> None:
        waiting = asyncio.create_task(merger.put(_job(2), _record(2, "x"), None))
        await merger.put(_job(1), _record(1, "y"), None)
        await merger.abandon(_job(0))  # the budget ran out before row 0 started
        await asyncio.wait_for(waiting, 1)

    asyncio.run(go())
    assert [rid for rid, _ in store.records] == ["r1", "r2"]


class _Jittery(FakeBackend):
    """A model that repeats itself (one of five answers) with random latency, so rows finish
    in a different order on every run."""

    def __init__(self, seed: int) -> None:
        super().__init__(self._answer)
        self.rng = random.Random(seed)

    @staticmethod
    def _answer(request: GenerationRequest) -> str:
        digest = int(hashlib.sha256(user_of(request).encode()).hexdigest(), 16) % 5
        return json.dumps({"question": f"Q{digest}?", "answer": f"answer {digest}"})

    async def generate(self, request: GenerationRequest) -> Completion:
        await asyncio.sleep(self.rng.random() * 0.004)
        return await super().generate(request)


def test_which_duplicate_is_kept_does_not_depend_on_timing(tmp_path: Path) -> None:
    """The same recipe at concurrency 1 and 32, with random latency: the same record kept
    and the same ones dropped, each with the same reason and detail."""
    outcomes = []
    for i, concurrency in enumerate([1, 32, 32]):
        folder = tmp_path / str(i)
        folder.mkdir()
        recipe = write_recipe(folder, model={"concurrency": concurrency}, quality={"dedup": {}})
        run(recipe, folder / "out", n=40, backend=_Jittery(seed=i))
        outcomes.append([(r.id, str(r.status), r.reason, r.error) for r in records(folder / "out")])
    assert outcomes[0] == outcomes[1] == outcomes[2]
    kept = [o for o in outcomes[0] if o[1] == str(Status.ACCEPTED)]
    assert 1 <= len(kept) <= 5 < len(outcomes[0])
