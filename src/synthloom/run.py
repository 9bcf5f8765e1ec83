"""``synthloom run``: plan → generate → store → dataset files, resumable in place."""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from synthloom.backends.base import Backend
from synthloom.backends.registry import make_backend
from synthloom.engine.job import Job
from synthloom.engine.limits import Budget
from synthloom.engine.retry import RetryPolicy
from synthloom.engine.runner import Engine
from synthloom.errors import SynthloomError
from synthloom.export.formats import full_record
from synthloom.pipeline import Prepared, Stage, prepare
from synthloom.quality.calibration import STAGE as CALIBRATION
from synthloom.quality.gate import Gate
from synthloom.recipe import Recipe, load_recipe
from synthloom.records import Record, Status
from synthloom.store.sqlite import RunStore

DATASET_FILE = "dataset.jsonl"
REJECTED_FILE = "rejected.jsonl"

KEEP_JOBS_UP_TO = 20_000  # rendered prompts of a plan this size fit in tens of MB
OnStart = Callable[[str, int, int], None]  # (task, rows to generate now, rows already done)


@dataclass(slots=True)
class RunSummary:
    outdir: Path
    planned: int = 0
    resumed: int = 0  # rows already complete from an earlier run into the same directory
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    failed: Counter[str] = field(default_factory=Counter)
    model_calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float | None = None
    wall_seconds: float = 0.0
    stopped: str | None = None  # why the run ended before its plan was done (the budget)
    # rows that produced output, then what each quality step dropped, in gate order
    funnel: list[tuple[str, int]] = field(default_factory=list)
    calibration: dict[str, Any] | None = None  # judge vs human verdicts, when the recipe asks
    # closest-seed similarity over every checked record: {p50, p90, p99, max, n} per score
    seed_similarity: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "outdir": str(self.outdir),
            "planned": self.planned,
            "resumed": self.resumed,
            "accepted": self.accepted,
            "rejected": dict(self.rejected),
            "failed": dict(self.failed),
            "model_calls": self.model_calls,
            "cache_hits": self.cache_hits,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost": self.cost,
            "wall_seconds": round(self.wall_seconds, 3),
            "stopped": self.stopped,
            "funnel": [list(step) for step in self.funnel],
            "calibration": self.calibration,
            "seed_similarity": self.seed_similarity,
        }


def run(
    recipe: Recipe | str | Path,
    outdir: str | Path,
    *,
    n: int | None = None,
    dry_run: bool = False,
    backend: Backend | None = None,
    on_start: OnStart | None = None,
    on_record: Callable[[Record], None] | None = None,
) -> RunSummary:
    """Generate the recipe's dataset into ``outdir``; re-running the same call resumes."""
    return asyncio.run(
        arun(
            recipe,
            outdir,
            n=n,
            dry_run=dry_run,
            backend=backend,
            on_start=on_start,
            on_record=on_record,
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
    on_record: Callable[[Record], None] | None = None,
) -> RunSummary:
    return await execute(
        recipe,
        outdir,
        prepare,
        n=n,
        dry_run=dry_run,
        backend=backend,
        on_start=on_start,
        on_record=on_record,
    )


Build = Callable[..., Prepared]  # (recipe, *, backend, model_id) -> Prepared


async def execute(
    recipe: Recipe | str | Path,
    outdir: str | Path,
    build: Build,
    *,
    n: int | None = None,
    dry_run: bool = False,
    backend: Backend | None = None,
    on_start: OnStart | None = None,
    on_record: Callable[[Record], None] | None = None,
) -> RunSummary:
    """Run whatever ``build`` makes of the recipe (its tasks for ``run``, imported records for
    ``check``) through the engine, the gate and the store."""
    started = time.perf_counter()
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe)
    outdir = Path(outdir)
    owns_backend = backend is None
    backend = backend or make_backend(recipe, dry_run=dry_run)
    try:
        prepared = build(recipe, backend=backend.name, model_id=backend.model_id)
        count = n if n is not None else recipe.target
        with RunStore.in_dir(outdir) as store:
            try:
                summary = await _generate(prepared, store, backend, count, on_start, on_record)
            finally:  # interrupted or not, the files show everything stored so far
                write_outputs(store, outdir)
            _summarize(store, summary, recipe, prepared.gate)
            summary.wall_seconds = time.perf_counter() - started
            store.log_event("run_end", **summary.to_dict())
    finally:
        if owns_backend:
            await backend.aclose()
    return summary


async def _generate(
    prepared: Prepared,
    store: RunStore,
    backend: Backend,
    count: int,
    on_start: OnStart | None,
    on_record: Callable[[Record], None] | None,
) -> RunSummary:
    recipe = prepared.recipe
    summary = RunSummary(store.path.parent)
    store.set_meta("recipe", recipe.model_dump(mode="json", by_alias=True))
    store.set_meta("export", {t.name: t.shape.to_dict() for t in prepared.tasks})
    # the reviewer is shown the seed a record is closest to
    store.set_meta("seeds", {seed.id: seed.fields for seed in prepared.seeds})
    store.retain_plan(t.name for t in prepared.tasks)
    store.log_event(
        "run_start",
        tasks=[t.name for t in prepared.tasks],
        count=count,
        backend=backend.name,
        model=backend.model_id,
    )
    engine = Engine(
        backend,
        store,
        concurrency=recipe.model.concurrency,
        timeout=recipe.model.timeout,
        retry=RetryPolicy(max_retries=recipe.model.max_retries),
        max_reasks=recipe.model.max_reasks,
        on_record=on_record,
        rpm=recipe.model.rpm,
        tpm=recipe.model.tpm,
        budget=_budget(recipe, store),
        gate=prepared.gate,
        gated=prepared.gated,
    )
    try:
        # Stages run in recipe order: a task that reads another's output starts when that
        # task is done, from its accepted records.
        for stage in prepared.stages:
            await _run_stage(stage, prepared, store, engine, count, summary, on_start)
            if engine.budget is not None and engine.budget.stopped:
                break
            if stage.task.kind == "calibration":
                _check_calibration(recipe, store, stage.task.name, summary)
    except BaseExceptionGroup as group:  # TaskGroup wraps; surface the first real cause
        raise group.exceptions[0] from None
    finally:
        summary.model_calls = engine.model_calls
        summary.cache_hits = engine.cache_hits
        summary.stopped = engine.budget.stopped if engine.budget else None
    if summary.stopped:
        store.log_event("budget_stop", reason=summary.stopped)
    return summary


async def _run_stage(
    stage: Stage,
    prepared: Prepared,
    store: RunStore,
    engine: Engine,
    count: int,
    summary: RunSummary,
    on_start: OnStart | None,
) -> None:
    task = stage.task
    upstream = None
    if stage.upstream is not None:
        upstream = [
            {"id": r.id, **r.data}
            for r in store.planned_records(Status.ACCEPTED, task=stage.upstream)
        ]

    def jobs() -> Iterator[Job]:
        for row in stage.rows(prepared.planner, count, upstream):
            yield task.job(row)

    items = stage.items if stage.items is not None else upstream
    planned = stage.size(count, items)
    # The plan (ids + fingerprints) is fixed before anything runs. Jobs built for it are kept
    # for the run when the plan is small; a large plan rebuilds them lazily instead, so memory
    # does not grow with the target count.
    kept = list(jobs()) if planned <= KEEP_JOBS_UP_TO else None
    store.set_plan(
        task.name,
        ((job.record_id, job.sample, job.fingerprint) for job in (kept or jobs())),
    )
    done = store.completed_ids(task.name)
    task.resume(store.planned_records(Status.ACCEPTED, task=task.name))
    if prepared.gate is not None and stage.quality:
        prepared.gate.resume(store.planned_records(Status.ACCEPTED, task=task.name))
    if task.name != CALIBRATION:
        summary.planned += planned
        summary.resumed += len(done)
    store.log_event("stage_start", task=task.name, planned=planned, resumed=len(done))
    if on_start is not None:
        on_start(task.name, planned - len(done), len(done))
    source = iter(kept) if kept is not None else jobs()
    await engine.run(job for job in source if job.record_id not in done)


def _check_calibration(recipe: Recipe, store: RunStore, stage: str, summary: RunSummary) -> None:
    """Report the judge's agreement with the human verdicts; stop when it is too low to trust
    (the calibration rows stay in the store, so a re-run with a better judge reuses nothing)."""
    from synthloom.quality.calibration import agreement

    found = agreement(store.planned_records(task=stage))
    summary.calibration = found
    store.log_event("judge_calibration", **found)
    judge = recipe.quality.judge
    low = judge.min_kappa if judge is not None else None
    if low is not None and (found["kappa"] is None or found["kappa"] < low):
        raise SynthloomError(
            f"the judge agrees with the human verdicts too little to trust: kappa "
            f"{found['kappa']} < min_kappa {low} (accuracy {found['accuracy']}, "
            f"{found['items']} items); improve the rubric or use another judge model"
        )


def _budget(recipe: Recipe, store: RunStore) -> Budget | None:
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
    prompt, completion = store.cache_usage()  # earlier runs into this directory count too
    budget.spent_tokens = prompt + completion
    budget.spent_cost = (prompt * budget.input_price + completion * budget.output_price) / 1e6
    return budget


def _summarize(store: RunStore, summary: RunSummary, recipe: Recipe, gate: Gate | None) -> None:
    dropped: Counter[str] = Counter()
    generated = 0
    similarity: dict[str, list[float]] = {
        "seed_jaccard": [],
        "seed_substring": [],
        "seed_cosine": [],
    }
    for record in store.planned_records():
        if record.task == CALIBRATION:  # the judge's exam, not part of the dataset
            continue
        for name, values in similarity.items():
            if name in record.scores:
                values.append(float(record.scores[name]))
        step = gate.step_of(record.reason) if gate is not None else None
        if record.status is Status.ACCEPTED or step is not None:
            generated += 1
        if step is not None and record.status is Status.REJECTED:
            dropped[step] += 1
        summary.prompt_tokens += record.provenance.prompt_tokens
        summary.completion_tokens += record.provenance.completion_tokens
        if record.status is Status.ACCEPTED:
            summary.accepted += 1
        elif record.status is Status.REJECTED:
            summary.rejected[record.reason or "unspecified"] += 1
        else:
            summary.failed[record.reason or "unspecified"] += 1
    if gate is not None:
        summary.funnel = [("generated", generated)] + [(s, dropped[s]) for s in gate.steps]
    summary.seed_similarity = {
        name: _distribution(values) for name, values in similarity.items() if values
    }
    prices = recipe.model.prices
    if prices is not None:
        summary.cost = (
            summary.prompt_tokens * prices.input + summary.completion_tokens * prices.output
        ) / 1e6


def _distribution(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 4)

    return {"n": len(ordered), "p50": at(0.5), "p90": at(0.9), "p99": at(0.99), "max": at(1.0)}


def write_outputs(store: RunStore, outdir: Path) -> None:
    """Rewrite dataset.jsonl and rejected.jsonl from the store (atomically, in row order)."""
    dataset, rejected = outdir / DATASET_FILE, outdir / REJECTED_FILE
    with open(f"{dataset}.tmp", "wb") as good, open(f"{rejected}.tmp", "wb") as bad:
        for record in store.planned_records():
            if record.task == CALIBRATION:
                continue
            if record.status is Status.ACCEPTED:
                good.write(orjson.dumps(full_record(record, None)) + b"\n")
            else:
                bad.write(orjson.dumps(record.to_dict()) + b"\n")
    os.replace(f"{dataset}.tmp", dataset)
    os.replace(f"{rejected}.tmp", rejected)
