"""``synthloom run``: plan → execute → finalize, resumable in place.

Planning compiles the recipe and saves each stage's plan; an executor runs the stage's rows;
finishing writes the dataset files from the dataset view and returns one summary. ``check``
runs records made elsewhere through the same three phases.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

from synthloom.backends.base import Backend
from synthloom.backends.registry import make_backend
from synthloom.errors import SynthloomError
from synthloom.executors.base import Executor
from synthloom.executors.local import LocalExecutor
from synthloom.executors.shard import BackendSource
from synthloom.finalize import RunSummary, summarize, write_outputs
from synthloom.hooks import OnRecord, OnStart
from synthloom.pipeline import Prepared, prepare
from synthloom.planning import StagePlan, begin, plan_stage
from synthloom.recipe import ExecutorSettings, Recipe, load_recipe
from synthloom.rundir import DATASET_FILE, REJECTED_FILE, claim
from synthloom.store.sqlite import RunStore

__all__ = [
    "DATASET_FILE",
    "REJECTED_FILE",
    "OnStart",
    "RunSummary",
    "arun",
    "execute",
    "run",
    "write_outputs",
]


def run(
    recipe: Recipe | str | Path,
    outdir: str | Path,
    *,
    n: int | None = None,
    dry_run: bool = False,
    backend: Backend | None = None,
    on_start: OnStart | None = None,
    on_record: OnRecord | None = None,
    force: bool = False,
    on_reset: Callable[[str], None] | None = None,
    executor: str | None = None,
) -> RunSummary:
    """Generate the recipe's dataset into ``outdir``; re-running the same call resumes.

    ``force`` starts over in a directory that holds another recipe's run (``on_reset`` is
    told what was removed); without it, such a directory is refused. ``executor`` ("local" or
    "ray") overrides the recipe's ``executor.kind``."""
    return asyncio.run(
        arun(
            recipe,
            outdir,
            n=n,
            dry_run=dry_run,
            backend=backend,
            on_start=on_start,
            on_record=on_record,
            force=force,
            on_reset=on_reset,
            executor=executor,
        )
    )


async def arun(
    recipe: Recipe | str | Path,
    outdir: str | Path,
    *,
    n: int | None = None,
    dry_run: bool = False,
    backend: Backend | None = None,
    on_start: OnStart | None = None,
    on_record: OnRecord | None = None,
    force: bool = False,
    on_reset: Callable[[str], None] | None = None,
    executor: str | None = None,
) -> RunSummary:
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe)
    if executor is not None:
        kind = recipe.executor.model_copy(update={"kind": executor})
        recipe = recipe.model_copy(update={"executor": ExecutorSettings.model_validate(kind)})
    recipe.require_generation()
    if recipe.executor.kind == "ray":  # a missing extra fails before the run directory is made
        from synthloom.executors.sharded import require_ray

        require_ray()
    count = n if n is not None else recipe.target
    assert count is not None  # require_generation: a generation recipe has a target
    async with using_backend(recipe, backend, dry_run) as model:
        prepared = prepare(recipe, backend=model.name, model_id=model.model_id)
        given = backend
        # what a Ray shard builds its backend with: the caller's (pickled), or the recipe's
        source: BackendSource = (
            (lambda: given) if given is not None else partial(make_backend, recipe, dry_run=dry_run)
        )
        return await execute(
            prepared,
            outdir,
            model,
            count,
            on_start=on_start,
            on_record=on_record,
            force=force,
            on_reset=on_reset,
            backend_source=source,
        )


@asynccontextmanager
async def using_backend(
    recipe: Recipe, backend: Backend | None, dry_run: bool
) -> AsyncIterator[Backend]:
    """The caller's backend, or the recipe's, closed afterwards when we made it."""
    if backend is not None:
        yield backend
        return
    made = make_backend(recipe, dry_run=dry_run)
    try:
        yield made
    finally:
        await made.aclose()


async def execute(
    prepared: Prepared,
    outdir: str | Path,
    backend: Backend,
    count: int,
    *,
    on_start: OnStart | None = None,
    on_record: OnRecord | None = None,
    force: bool = False,
    on_reset: Callable[[str], None] | None = None,
    backend_source: BackendSource | None = None,
) -> RunSummary:
    """Run a compiled recipe's stages into ``outdir`` on the recipe's executor, then finish."""
    started = time.perf_counter()
    with claim(outdir, prepared.recipe.name, force=force, on_reset=on_reset) as store:
        begin(store, prepared, backend, count)
        executor = _executor(prepared, backend, store, Path(outdir), on_record, backend_source)
        plans: list[StagePlan] = []
        calibration: dict[str, Any] | None = None
        try:
            # Stages run in recipe order: a task that reads another's output starts when that
            # task is done, from its accepted records.
            for position, stage in enumerate(prepared.stages):
                plan = plan_stage(store, prepared, stage, count, position)
                plans.append(plan)
                if on_start is not None:
                    on_start(plan.name, plan.size - len(plan.done), len(plan.done))
                await executor.run_stage(plan, range(plan.size))
                if executor.stats.stopped:
                    store.log_event("budget_stop", reason=executor.stats.stopped)
                    break
                if stage.task.kind == "calibration":
                    calibration = _check_calibration(prepared.recipe, store, stage.name)
        except BaseExceptionGroup as group:  # TaskGroup wraps; surface the first real cause
            raise group.exceptions[0] from None
        finally:  # interrupted or not, the files show everything stored so far
            executor.close()
            write_outputs(store, Path(outdir))
        summary = summarize(store, prepared.recipe, prepared.gate, plans, executor.stats)
        summary.calibration = calibration
        summary.backend, summary.model = backend.name, backend.model_id
        endpoints = executor.stats.endpoints or backend.endpoint_stats()
        summary.endpoints = endpoints if len(endpoints) > 1 else {}
        summary.wall_seconds = time.perf_counter() - started
        store.log_event("run_end", **summary.to_dict())
    return summary


def _executor(
    prepared: Prepared,
    backend: Backend,
    store: RunStore,
    outdir: Path,
    on_record: OnRecord | None,
    source: BackendSource | None,
) -> Executor:
    settings = prepared.recipe.executor
    if settings.kind == "local":
        return LocalExecutor.for_run(prepared, backend, store, on_record)
    from synthloom.executors.sharded import RayExecutor

    given = backend
    return RayExecutor(
        prepared, store, outdir, source or (lambda: given), settings, on_record=on_record
    )


def _check_calibration(recipe: Recipe, store: RunStore, stage: str) -> dict[str, Any]:
    """Report the judge's agreement with the human verdicts; stop when it is too low to trust
    (the calibration rows stay in the store, so a re-run with a better judge reuses nothing)."""
    from synthloom.quality.calibration import agreement

    found = agreement(store.planned_records(task=stage))
    store.log_event("judge_calibration", **found)
    judge = recipe.quality.judge
    low = judge.min_kappa if judge is not None else None
    if low is not None and (found["kappa"] is None or found["kappa"] < low):
        raise SynthloomError(
            f"the judge agrees with the human verdicts too little to trust: kappa "
            f"{found['kappa']} < min_kappa {low} (accuracy {found['accuracy']}, "
            f"{found['items']} items); improve the rubric or use another judge model"
        )
    return found
