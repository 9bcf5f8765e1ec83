"""The engine: validation and re-ask, failed records, retries, timeouts, concurrency bounds."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from synthloom import BackendError, Completion, FakeBackend, GenerationRequest, Status, run
from synthloom.engine.retry import RetryPolicy
from synthloom.engine.runner import Engine
from synthloom.recipe import load_recipe
from tests.helpers import read_jsonl, write_recipe


def _valid(request: GenerationRequest) -> str:
    return json.dumps({"question": "How long?", "answer": f"About {len(request.messages)} days."})


def test_reask_sends_the_validation_error_back_and_then_succeeds(tmp_path: Path) -> None:
    def responder(request: GenerationRequest) -> str:
        if len(request.messages) == 2:  # first attempt: wrong type, missing field
            return '{"question": 3}'
        return _valid(request)

    backend = FakeBackend(responder)
    summary = run(write_recipe(tmp_path), tmp_path / "out", n=5, backend=backend)
    assert summary.accepted == 5
    assert len(backend.calls) == 10
    reask = next(c.messages for c in backend.calls if len(c.messages) == 4)
    assert reask[-2] == {"role": "assistant", "content": '{"question": 3}'}
    assert "could not be used" in reask[-1]["content"]
    assert "question" in reask[-1]["content"] or "required" in reask[-1]["content"]
    rows = read_jsonl(tmp_path / "out" / "dataset.jsonl")
    assert all(r["provenance"]["attempts"] == 2 for r in rows)


def test_unfixable_output_becomes_a_failed_record_with_the_last_output(tmp_path: Path) -> None:
    backend = FakeBackend(lambda r: "Sure! Here is your answer, no JSON though.")
    recipe = write_recipe(tmp_path, model={"max_reasks": 2})
    summary = run(recipe, tmp_path / "out", n=4, backend=backend)
    assert summary.accepted == 0
    assert summary.failed == {"InvalidOutput": 4}
    assert len(backend.calls) == 4 * 3
    failed = read_jsonl(tmp_path / "out" / "rejected.jsonl")
    assert [r["status"] for r in failed] == ["failed"] * 4
    assert failed[0]["data"]["last_output"].startswith("Sure!")
    assert "not valid JSON" in failed[0]["error"]
    assert failed[0]["provenance"]["attempts"] == 3


def test_truncated_reply_is_reasked_with_a_hint(tmp_path: Path) -> None:
    def responder(request: GenerationRequest) -> Completion:
        if len(request.messages) == 2:
            return Completion('{"question": "How lo', finish_reason="length")
        return Completion(_valid(request))

    backend = FakeBackend(responder)
    summary = run(write_recipe(tmp_path), tmp_path / "out", n=2, backend=backend)
    assert summary.accepted == 2
    reasks = [c.messages for c in backend.calls if len(c.messages) == 4]
    assert len(reasks) == 2
    assert "token limit" in reasks[0][-1]["content"]


def test_transient_errors_are_retried_and_permanent_ones_fail_fast(tmp_path: Path) -> None:
    attempts: dict[int | None, int] = {}

    def responder(request: GenerationRequest) -> str:
        attempts[request.seed] = attempts.get(request.seed, 0) + 1
        if "caregiver" in request.messages[-1]["content"]:
            raise BackendError("400 bad request", retryable=False, status=400)
        if attempts[request.seed] < 3:
            raise BackendError("503 overloaded", retryable=True, status=503)
        return _valid(request)

    recipe = write_recipe(tmp_path, model={"max_retries": 5})
    store_dir = tmp_path / "out"
    summary = run(load_recipe(recipe), store_dir, n=12, backend=FakeBackend(responder))
    rows = read_jsonl(store_dir / "rejected.jsonl")
    assert summary.accepted + len(rows) == 12
    assert summary.failed.get("BackendError", 0) == len(rows) > 0
    assert all("400 bad request" in r["error"] for r in rows)
    # every accepted row needed exactly two retries; every permanent failure one call
    retried = [n for n in attempts.values() if n == 3]
    assert len(retried) == summary.accepted


@pytest.fixture(autouse=True)
def _fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """No real sleeping between retries in unit tests; the policy itself is tested apart."""
    monkeypatch.setattr(RetryPolicy, "delay", lambda self, retry, retry_after=None: 0.0)


def test_retries_exhausted_is_a_failed_record_not_a_gap(tmp_path: Path) -> None:
    def responder(request: GenerationRequest) -> str:
        raise BackendError("502 bad gateway", retryable=True, status=502)

    backend = FakeBackend(responder)
    recipe = write_recipe(tmp_path, model={"max_retries": 2})
    summary = run(recipe, tmp_path / "out", n=3, backend=backend)
    assert summary.failed == {"RetriesExhausted": 3}
    assert len(backend.calls) == 3 * 3
    assert len(read_jsonl(tmp_path / "out" / "rejected.jsonl")) == 3


def test_a_hung_call_times_out_and_is_retried(tmp_path: Path) -> None:
    calls: list[int] = []

    class Hangs(FakeBackend):
        async def generate(self, request: GenerationRequest) -> Completion:
            calls.append(1)
            if len(calls) == 1:
                await asyncio.sleep(30)
            return Completion(_valid(request))

    recipe = write_recipe(tmp_path, model={"timeout": 0.2, "concurrency": 1})
    summary = run(recipe, tmp_path / "out", n=2, backend=Hangs())
    assert summary.accepted == 2
    assert len(calls) == 3


def test_an_unexpected_exception_is_a_failed_record(tmp_path: Path) -> None:
    def responder(request: GenerationRequest) -> str:
        raise KeyError("boom")

    summary = run(write_recipe(tmp_path), tmp_path / "out", n=2, backend=FakeBackend(responder))
    assert summary.failed == {"KeyError": 2}


def test_concurrency_is_bounded_and_used(tmp_path: Path) -> None:
    active = {"now": 0, "peak": 0}

    class Tracks(FakeBackend):
        async def generate(self, request: GenerationRequest) -> Completion:
            active["now"] += 1
            active["peak"] = max(active["peak"], active["now"])
            await asyncio.sleep(0.01)
            active["now"] -= 1
            return Completion(_valid(request))

    recipe = write_recipe(tmp_path, model={"concurrency": 5})
    run(recipe, tmp_path / "out", n=40, backend=Tracks())
    assert active["peak"] == 5


def test_backend_max_concurrency_caps_the_recipe() -> None:
    class Single(FakeBackend):
        @property
        def max_concurrency(self) -> int | None:
            return 1

    engine = Engine(Single(), store=None, concurrency=64)  # type: ignore[arg-type]
    assert engine.concurrency == 1


def test_identical_prompts_in_different_rows_get_independent_cache_entries() -> None:
    engine = Engine(FakeBackend(), store=None)  # type: ignore[arg-type]
    request = GenerationRequest(messages=({"role": "user", "content": "same"},), seed=1)
    assert engine.cache_key(request, 0) != engine.cache_key(request, 1)
    assert engine.cache_key(request, 0) == engine.cache_key(request, 0)
    other_model = Engine(FakeBackend(model="fake-2"), store=None)  # type: ignore[arg-type]
    assert other_model.cache_key(request, 0) != engine.cache_key(request, 0)


def test_records_are_stored_as_they_finish_not_at_the_end(tmp_path: Path) -> None:
    from synthloom.store.sqlite import RunStore

    seen: list[int] = []
    out = tmp_path / "out"

    def on_record(record: object) -> None:
        with RunStore.in_dir(out) as store:
            seen.append(len(list(store.planned_records())))

    run(write_recipe(tmp_path, model={"concurrency": 1}), out, n=5, on_record=on_record)
    assert seen == [1, 2, 3, 4, 5]


def test_status_values() -> None:
    assert {str(s) for s in Status} == {"accepted", "rejected", "failed"}
