"""Rate limits, adaptive concurrency and the budget."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from synthloom import BackendError, Completion, FakeBackend, GenerationRequest, RecipeError, run
from synthloom.engine.limits import AdaptiveLimit, Budget, TokenBucket
from synthloom.engine.retry import RetryPolicy
from synthloom.errors import BudgetExhausted
from synthloom.recipe import load_recipe
from tests.helpers import cli, read_jsonl, write_recipe


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_paces_to_its_rate() -> None:
    clock = FakeClock()

    async def fake_sleep(seconds: float) -> None:
        clock.now += seconds

    bucket = TokenBucket(600, clock=clock, sleep=fake_sleep)  # 10 per second, burst of 10

    async def take(n: int) -> None:
        for _ in range(n):
            await bucket.acquire()

    asyncio.run(take(10))
    assert clock.now == 0.0  # the burst goes at once
    asyncio.run(take(50))
    assert clock.now == pytest.approx(5.0)  # then exactly the rate
    bucket.adjust(20)  # a call used 20 more units than estimated: pay it back first
    asyncio.run(take(1))
    assert clock.now == pytest.approx(5.0 + 2.1)


def test_adaptive_limit_halves_once_per_window_and_grows_back() -> None:
    limit = AdaptiveLimit(16)
    limit.throttled()
    limit.throttled()  # same window: no second cut
    assert limit.limit == 8
    for _ in range(8):
        limit.succeeded()
    assert limit.limit == 9
    limit.throttled()
    assert limit.limit == 4
    for _ in range(200):
        limit.succeeded()
    assert limit.limit == 16  # never above the configured maximum


def test_adaptive_limit_bounds_calls_in_flight() -> None:
    limit = AdaptiveLimit(3)
    peak = {"now": 0, "max": 0}

    async def call() -> None:
        async with limit:
            peak["now"] += 1
            peak["max"] = max(peak["max"], peak["now"])
            await asyncio.sleep(0.001)
            peak["now"] -= 1

    async def main() -> None:
        await asyncio.gather(*(call() for _ in range(20)))

    asyncio.run(main())
    assert peak["max"] == 3


def test_budget_refuses_a_call_that_could_exceed_it() -> None:
    budget = Budget(max_tokens=1000)
    first = budget.reserve(100, 400)
    second = budget.reserve(50, 400)
    with pytest.raises(BudgetExhausted, match="token budget"):
        budget.reserve(100, 400)  # 500 + 450 + 500 > 1000
    budget.settle(first, 100, 50)
    budget.settle(second, 50, 60)
    assert (budget.spent_tokens, budget.reserved_tokens) == (260, 0)
    cost = Budget(max_cost=0.01, input_price=1.0, output_price=10.0)
    cost.reserve(1000, 500)  # $0.006 worst case
    with pytest.raises(BudgetExhausted, match="cost budget"):
        cost.reserve(1000, 500)


def test_a_run_stops_before_its_token_budget_and_resumes_later(tmp_path: Path) -> None:
    recipe = write_recipe(
        tmp_path, model={"max_tokens": 60, "concurrency": 1}, budget={"max_tokens": 3000}
    )
    summary = run(recipe, tmp_path / "out", n=40, backend=FakeBackend())
    assert summary.stopped is not None
    assert "token budget" in summary.stopped
    assert 0 < summary.accepted < 40
    assert summary.failed == {}  # unstarted rows are not failures
    assert summary.prompt_tokens + summary.completion_tokens <= 3000
    rows = read_jsonl(tmp_path / "out" / "dataset.jsonl")
    assert len(rows) == summary.accepted

    raw = recipe.read_text().replace("max_tokens: 3000", "max_tokens: 100000")
    recipe.write_text(raw)
    more = FakeBackend()
    done = run(recipe, tmp_path / "out", n=40, backend=more)
    assert done.stopped is None
    assert done.accepted == 40
    assert len(more.calls) == 40 - summary.accepted


def test_cli_says_why_it_stopped_and_exits_3(tmp_path: Path) -> None:
    recipe = write_recipe(
        tmp_path,
        model={"max_tokens": 60, "prices": {"input": 1000.0, "output": 1000.0}},
        budget={"max_cost": 1.0},
    )
    result = cli(
        "run",
        str(recipe),
        "-o",
        str(tmp_path / "o"),
        "-n",
        "30",
        "--dry-run",
    )
    assert result.returncode == 3, result.stderr
    assert "stopped early by the cost budget" in result.stderr
    assert read_jsonl(tmp_path / "o" / "dataset.jsonl")


def test_max_cost_needs_prices(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match=r"budget.max_cost needs model.prices"):
        load_recipe(write_recipe(tmp_path, budget={"max_cost": 5}))


def test_rate_limit_and_throttling_in_a_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(RetryPolicy, "delay", lambda self, retry, retry_after=None: 0.0)
    throttled = {"n": 0}

    def responder(request: GenerationRequest) -> Completion | str:
        if throttled["n"] < 5:
            throttled["n"] += 1
            raise BackendError("429", retryable=True, status=429, retry_after=0.0)
        return '{"question": "q?", "answer": "a."}'

    recipe = write_recipe(tmp_path, model={"concurrency": 8, "rpm": 600, "max_retries": 8})
    summary = run(recipe, tmp_path / "out", n=15, backend=FakeBackend(responder))
    assert summary.accepted == 15
    # 20 calls at 10/s with a burst of 10: at least one second, however many workers
    assert summary.wall_seconds >= 0.95
    from synthloom.store.sqlite import RunStore

    with RunStore.in_dir(tmp_path / "out") as store:
        assert [e["status"] for e in store.events("retry")] == [429] * 5
