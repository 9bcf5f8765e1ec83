"""The local executor: one asyncio engine in this process, bounded concurrency."""

from __future__ import annotations

from synthloom.backends.base import Backend
from synthloom.engine.limits import Budget
from synthloom.engine.retry import RetryPolicy
from synthloom.engine.runner import Engine
from synthloom.executors.base import Executor
from synthloom.hooks import OnRecord
from synthloom.pipeline import Prepared
from synthloom.planning import StagePlan
from synthloom.store.sqlite import RunStore


class LocalExecutor(Executor):
    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine

    @classmethod
    def for_run(
        cls,
        prepared: Prepared,
        backend: Backend,
        store: RunStore,
        on_record: OnRecord | None = None,
    ) -> LocalExecutor:
        """The engine the recipe's model settings, budget and gate ask for."""
        model = prepared.recipe.model
        engine = Engine(
            backend,
            store,
            concurrency=model.concurrency,
            timeout=model.timeout,
            retry=RetryPolicy(max_retries=model.max_retries),
            max_reasks=model.max_reasks,
            on_record=on_record,
            rpm=model.rpm,
            tpm=model.tpm,
            budget=budget_for(prepared, store),
            gate=prepared.gate,
            gated=prepared.gated,
        )
        return cls(engine)

    async def run_stage(self, stage: StagePlan, rows: range) -> None:
        try:
            await self.engine.run(stage.jobs(rows))
        finally:
            self.stats.model_calls = self.engine.model_calls
            self.stats.cache_hits = self.engine.cache_hits
            budget = self.engine.budget
            self.stats.stopped = budget.stopped if budget is not None else None


def budget_for(prepared: Prepared, store: RunStore) -> Budget | None:
    """The recipe's budget, less what every earlier call into this directory spent."""
    recipe = prepared.recipe
    limits = recipe.budget
    if limits.max_tokens is None and limits.max_cost is None:
        return None
    prices = recipe.model.prices
    budget = Budget(
        max_tokens=limits.max_tokens,
        max_cost=limits.max_cost,
        input_price=prices.input if prices else 0.0,
        output_price=prices.output if prices else 0.0,
    )
    prompt, completion = store.cache_usage()
    budget.spent_tokens = prompt + completion
    budget.spent_cost = (prompt * budget.input_price + completion * budget.output_price) / 1e6
    return budget
