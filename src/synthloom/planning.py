"""Planning: fix each stage's rows before anything runs, and save them with the run.

A stage's plan (record ids and fingerprints, and whether its records belong to the dataset) is
saved before its first row runs: a re-run compares against it to skip finished rows, and the
dataset view reads only records of the latest plan. A stage that reads an earlier stage's
output is planned when that stage is done, from its accepted records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from synthloom.backends.base import Backend
from synthloom.engine.job import Job
from synthloom.pipeline import Prepared, Stage
from synthloom.plan import Planner
from synthloom.records import Status
from synthloom.store.sqlite import RunStore

KEEP_JOBS_UP_TO = 20_000  # rendered prompts of a plan this size fit in tens of MB


@dataclass(slots=True)
class StagePlan:
    """One stage made ready to run: its plan is saved, and what an earlier run into the same
    directory finished (``done``) is known and skipped."""

    stage: Stage
    planner: Planner
    inputs: list[dict[str, Any]] | None  # the input rows, or None for rows planned from seeds
    size: int
    done: set[str]
    kept: list[Job] | None = None  # the jobs built for the plan, when small enough to keep

    @property
    def name(self) -> str:
        return self.stage.name

    def jobs(
        self,
        rows: range,
        skipped: Callable[[int], None] | None = None,
        done: set[str] | None = None,
    ) -> Iterator[Job]:
        """The jobs of the rows at ``rows`` that are not done yet, built lazily; ``skipped``
        hears the position of each done row as it is passed (``done``: this plan's, unless
        given)."""
        if self.kept is not None:
            source: Iterator[Job] = iter(self.kept[rows.start : rows.stop])
        else:
            task = self.stage.task
            source = (task.job(row) for row in self.stage.rows(self.planner, self.inputs, rows))
        finished = self.done if done is None else done
        for job in source:
            if job.record_id not in finished:
                yield job
            elif skipped is not None:
                skipped(job.sample)


def begin(store: RunStore, prepared: Prepared, backend: Backend, count: int) -> None:
    """Record what this run is (recipe, export shapes, seeds) and forget the plan of stages
    the recipe no longer has (their records stay in the store, out of the dataset)."""
    recipe = prepared.recipe
    store.set_meta("recipe", recipe.model_dump(mode="json", by_alias=True))
    store.set_meta("recipe_dir", str(recipe.base_dir))  # the report's paths are relative to it
    store.set_meta(
        "export", {s.name: s.task.shape.to_dict() for s in prepared.stages if s.in_dataset}
    )
    # the reviewer is shown the seed a record is closest to
    store.set_meta("seeds", {seed.id: seed.fields for seed in prepared.seeds})
    store.retain_plan(s.name for s in prepared.stages)
    store.log_event(
        "run_start",
        tasks=[s.name for s in prepared.stages],
        count=count,
        backend=backend.name,
        model=backend.model_id,
    )


def plan_stage(
    store: RunStore, prepared: Prepared, stage: Stage, count: int, position: int
) -> StagePlan:
    """Save the stage's plan and restore what its stateful parts learnt in earlier runs."""
    upstream: list[dict[str, Any]] | None = None
    if stage.upstream is not None:
        upstream = [
            {"id": r.id, **r.data}
            for r in store.planned_records(Status.ACCEPTED, task=stage.upstream)
        ]
    inputs = stage.inputs(count, upstream)
    size = stage.size(count, inputs)
    plan = StagePlan(stage, prepared.planner, inputs, size, done=set())
    # Jobs built for the plan are kept for the run when the plan is small; a large plan
    # rebuilds them lazily instead, so memory does not grow with the target count.
    plan.kept = list(plan.jobs(range(size))) if size <= KEEP_JOBS_UP_TO else None
    entries = plan.kept if plan.kept is not None else plan.jobs(range(size))
    store.set_plan(
        stage.name,
        ((job.record_id, job.sample, job.fingerprint) for job in entries),
        kind=stage.task.kind,
        in_dataset=stage.in_dataset,
        position=position,
    )
    plan.done = store.completed_ids(stage.name)
    # read twice rather than held: a resumed stage may have a million accepted records
    stage.task.resume(store.planned_records(Status.ACCEPTED, task=stage.name))
    if prepared.gate is not None and stage.quality:
        prepared.gate.resume(store.planned_records(Status.ACCEPTED, task=stage.name))
    store.log_event("stage_start", task=stage.name, planned=size, resumed=len(plan.done))
    return plan
