"""One shard of a Ray run: a row range of one stage, run on the local engine in a Ray worker.

The shard writes its records and every completed call to its own SQLite file (a shard store),
durably and only there, so nothing on the driver's side is shared with a worker that may die.
A worker killed mid-shard leaves a store Ray's retry resumes: its finished rows are skipped and
its completed calls come from the store's cache. A shard that finished marks its store complete;
the driver merges it and never runs it again.

The shard runs the stateless checks only; the stateful ones (dedup, the self-instruct pool) run
when the driver merges shards in row order.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synthloom.backends.base import Backend
from synthloom.engine.limits import Budget, Pacer, Ticket
from synthloom.executors.local import make_engine
from synthloom.pipeline import prepare
from synthloom.planning import StagePlan
from synthloom.recipe import Recipe
from synthloom.store.sqlite import RunStore

COMPLETE = "shard_complete"  # the shard store's meta key: set once every row has a record

BackendSource = Callable[[], Backend]  # pickled to the workers: each builds its own backend


@dataclass(slots=True)
class ShardSpec:
    recipe: Recipe
    backend: BackendSource
    stage: str  # the stage's task name
    rows: range
    size: int  # the stage's planned rows
    path: Path  # the shard store
    done: set[str]  # rows of this range the run store already has (an earlier local run)
    inputs: list[dict[str, Any]] | None = None  # the stage's input rows, when it has them
    pacer: Any = None  # a handle to the shared pacer actor, when the run paces its calls


@dataclass(slots=True)
class ShardResult:
    model_calls: int = 0
    cache_hits: int = 0
    stopped: str | None = None  # the budget stopped this shard before its last row
    endpoints: dict[str, dict[str, int]] = field(default_factory=dict)


def run_shard(spec: ShardSpec, inputs: list[dict[str, Any]] | None = None) -> ShardResult:
    """The Ray task's body (a plain function: the driver wraps it with ``ray.remote``).
    ``inputs`` travels beside the spec: Ray puts it in its object store once for all shards."""
    spec.inputs = inputs
    with _owning(spec.path):
        return asyncio.run(_run(spec))


@contextmanager
def _owning(path: Path) -> Iterator[None]:
    """Hold the shard's lock while it runs: a retry of a shard whose old worker is still
    dying waits for it instead of writing beside it. The lock file holds the owner's pid."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = path.with_suffix(".lock")
    with open(lock, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield


async def _run(spec: ShardSpec) -> ShardResult:
    backend = spec.backend()
    try:
        prepared = prepare(spec.recipe, backend=backend.name, model_id=backend.model_id)
        stage = next(s for s in prepared.stages if s.name == spec.stage)
        with RunStore(spec.path) as store:
            done = spec.done | store.finished_ids(spec.stage)
            plan = StagePlan(stage, prepared.planner, spec.inputs, spec.size, done=done)
            gate = prepared.gate.stateless_only() if prepared.gate is not None else None
            pacing = RemotePacer(spec.pacer) if spec.pacer is not None else Pacer()
            engine = make_engine(prepared, backend, store, gate, pacing)
            await engine.run(plan.jobs(spec.rows))
            stopped = await engine.stopped()
            if stopped is None:
                store.set_meta(COMPLETE, True)
            return ShardResult(
                engine.model_calls, engine.cache_hits, stopped, backend.endpoint_stats()
            )
    finally:
        await backend.aclose()


class SharedPacer:
    """The run's one ``Pacer``, in a Ray actor every shard calls: rate limits and the budget
    hold across all shards. Async methods make the actor serve many calls at once (a call
    waiting for the rate limit does not hold up the others)."""

    def __init__(self, rpm: float | None, tpm: float | None, budget: Budget | None) -> None:
        self.pacer = Pacer(rpm, tpm, budget)

    async def admit(self, prompt_tokens: int, max_completion: int) -> Ticket | str:
        from synthloom.errors import BudgetExhausted

        try:
            return await self.pacer.admit(prompt_tokens, max_completion)
        except BudgetExhausted as exc:  # returned, not raised: Ray would wrap the exception
            return str(exc)

    async def settle(self, ticket: Ticket, prompt: int, completion: int) -> None:
        await self.pacer.settle(ticket, prompt, completion)

    async def stopped(self) -> str | None:
        return await self.pacer.stopped()


class RemotePacer:
    """A shard's side of the ``SharedPacer``: the ``Pacing`` the engine asks."""

    def __init__(self, actor: Any) -> None:
        self.actor = actor

    async def admit(self, prompt_tokens: int, max_completion: int) -> Ticket:
        from synthloom.errors import BudgetExhausted

        found = await self.actor.admit.remote(prompt_tokens, max_completion)
        if isinstance(found, str):
            raise BudgetExhausted(found)
        worst, reserved = found
        return worst, (reserved[0], reserved[1]) if reserved is not None else None

    async def settle(self, ticket: Ticket, prompt: int, completion: int) -> None:
        await self.actor.settle.remote(ticket, prompt, completion)

    async def stopped(self) -> str | None:
        found: str | None = await self.actor.stopped.remote()
        return found
