"""Multi-call rows: a job's program makes several calls through the engine; each is cached
under its own key, made durable before the next starts, and a task's verdict is a stored
rejected record, never a gap."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from synthloom import FakeBackend, GenerationRequest, Status
from synthloom.calls import Calls
from synthloom.engine.job import Dropped, Job
from synthloom.engine.runner import Engine
from synthloom.records import Provenance
from synthloom.schema import OutputSchema
from synthloom.store.sqlite import RunStore

SCHEMA = OutputSchema(
    {
        "type": "object",
        "properties": {"n": {"type": "integer"}},
        "required": ["n"],
        "additionalProperties": False,
    }
)
SAME = GenerationRequest(messages=({"role": "user", "content": "count"},), seed=1)


def _job(program: Any, row: int = 0) -> Job:
    prov = Provenance("r", "t", row, [], {}, "h", "fake", "fake-1", {})
    return Job(f"t-{row:06d}", "t", "fp", row, prov, program, SAME)


def _counter() -> tuple[FakeBackend, list[int]]:
    seen: list[int] = []

    def responder(request: GenerationRequest) -> str:
        seen.append(1)
        return f'{{"n": {len(seen)}}}'

    return FakeBackend(responder), seen


async def _twice(calls: Calls) -> dict[str, Any]:
    first = await calls.json(SAME, SCHEMA)
    second = await calls.json(SAME, SCHEMA)
    return {"first": first["n"], "second": second["n"]}


def test_equal_requests_in_one_row_are_separate_calls_and_both_replay(tmp_path: Path) -> None:
    backend, _seen = _counter()
    with RunStore.in_dir(tmp_path) as store:
        record = asyncio.run(Engine(backend, store).run_job(_job(_twice)))
        assert record.data == {"first": 1, "second": 2}
        assert store.count_cache() == 2
        again = FakeBackend(lambda r: '{"n": 99}')
        replay = asyncio.run(Engine(again, store).run_job(_job(_twice)))
    assert replay.data == {"first": 1, "second": 2}
    assert again.calls == []
    assert replay.provenance.cached_calls == 2


def test_a_completed_call_is_durable_before_the_next_one_starts(tmp_path: Path) -> None:
    backend, _ = _counter()

    async def crash_after_two(calls: Calls) -> dict[str, Any]:
        await _twice(calls)
        raise KeyboardInterrupt  # the process dies before the row is committed

    with RunStore.in_dir(tmp_path) as store:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(Engine(backend, store).run_job(_job(crash_after_two)))
        assert store.count_cache() == 1  # the first call was kept when the second started
        rerun = FakeBackend(lambda r: '{"n": 7}')
        record = asyncio.run(Engine(rerun, store).run_job(_job(_twice)))
    assert record.data == {"first": 1, "second": 7}
    assert len(rerun.calls) == 1  # only the call whose reply was never stored is repeated


def test_a_drop_is_a_rejected_record_with_reason_detail_and_data(tmp_path: Path) -> None:
    backend, _ = _counter()

    async def verdict(calls: Calls) -> dict[str, Any]:
        got = await calls.json(SAME, SCHEMA)
        raise Dropped("judge_tie", "the verdict flipped", {"kept": got["n"]})

    with RunStore.in_dir(tmp_path) as store:
        record = asyncio.run(Engine(backend, store).run_job(_job(verdict)))
        stored = list(store.planned_records())
    assert record.status is Status.REJECTED
    assert (record.reason, record.error, record.data) == (
        "judge_tie",
        "the verdict flipped",
        {"kept": 1},
    )
    assert stored == []  # not in a plan yet; the records table has it
    assert record.provenance.attempts == 1


def test_a_raw_completion_that_does_not_parse_is_not_reasked(tmp_path: Path) -> None:
    backend = FakeBackend(lambda r: "not json")
    raw = GenerationRequest(
        messages=(), prompt="<|im_start|>user\n", json_schema=SCHEMA.json_schema
    )

    async def program(calls: Calls) -> dict[str, Any]:
        return await calls.json(raw, SCHEMA)

    with RunStore.in_dir(tmp_path) as store:
        record = asyncio.run(Engine(backend, store, max_reasks=3).run_job(_job(program)))
    assert record.status is Status.FAILED
    assert record.reason == "InvalidOutput"
    assert len(backend.calls) == 1  # a continuation has no conversation to correct
