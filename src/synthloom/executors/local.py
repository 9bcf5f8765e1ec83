"""The local executor: one asyncio engine in this process, bounded concurrency."""

from __future__ import annotations

from synthloom.backends.base import Backend
from synthloom.engine.limits import Budget, Pacer, Pacing
from synthloom.engine.retry import RetryPolicy
from synthloom.engine.runner import Engine
from synthloom.engine.storage import EngineStore
from synthloom.executors.base import Executor
from synthloom.executors.merge import Merger
from synthloom.hooks import OnRecord
from synthloom.pipeline import Prepared
from synthloom.planning import StagePlan
from synthloom.quality.gate import Gate
from synthloom.store.sqlite import RunStore


class LocalExecutor(Executor):
    """Rows run concurrently on one engine, the stateless checks with them; the merge puts
    their records in row order through the stateful checks."""

    def __init__(
        self, engine: Engine, gate: Gate | None = None, on_record: OnRecord | None = None
    ) -> None:
        super().__init__()
        self.engine = engine
        self.gate = gate
        self.on_record = on_record

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
        pacing = Pacer(model.rpm, model.tpm, budget_for(prepared, store))
        engine = make_engine(prepared, backend, store, prepared.gate, pacing)
        return cls(engine, prepared.gate, on_record)

    async def run_stage(self, stage: StagePlan, rows: range) -> None:
        engine = self.engine
        merger = Merger.for_stage(
            stage,
            engine.store,
            self.gate,
            rows,
            capacity=max(1024, 16 * engine.concurrency),
            on_record=self.on_record,
        )
        engine.sink = merger
        try:
            await engine.run(stage.jobs(rows, merger.skip))
            await merger.finish()  # not when interrupted: waiting rows rerun from the cache
        finally:
            self.stats.model_calls = engine.model_calls
            self.stats.cache_hits = engine.cache_hits
            self.stats.stopped = await engine.stopped()


def make_engine(
    prepared: Prepared, backend: Backend, store: EngineStore, gate: Gate | None, pacing: Pacing
) -> Engine:
    """An engine with the recipe's model settings, this gate and this pacing."""
    model = prepared.recipe.model
    return Engine(
        backend,
        store,
        concurrency=model.concurrency,
        timeout=model.timeout,
        retry=RetryPolicy(max_retries=model.max_retries),
        max_reasks=model.max_reasks,
        gate=gate,
        gated=prepared.gated,
        pacing=pacing,
    )


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
