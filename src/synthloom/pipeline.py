"""Compile a validated recipe into runnable parts: seeds, a planner, and one stage per task.

Everything that can be wrong with user input is found here, before any model call: every
template is rendered once against every seed (or input row), so a missing field fails now, not
at row 4,000. A task reading an earlier task's output is checked against that task's fields.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from synthloom.errors import RecipeError
from synthloom.plan import PlannedRow, Planner
from synthloom.quality.gate import Gate, build_gate
from synthloom.recipe import Recipe
from synthloom.sampling import parse_axes
from synthloom.seeds import Seed, load_seeds
from synthloom.tasks.base import RESERVED, Task, TaskKit
from synthloom.tasks.registry import build_task

_INPUT_FILES = (".jsonl", ".csv", ".parquet")
_CHECK_ITEMS = 2000  # input rows rendered up front; more would only slow start-up


@dataclass(slots=True)
class Stage:
    """One task and where its rows come from."""

    task: Task
    source: str | None  # None: planned from seeds; "seeds"; a file; or an earlier task's name
    items: list[dict[str, Any]] | None = None  # the input rows, when known before the run
    upstream: str | None = None  # the earlier task whose accepted records are the input
    quality: bool = True  # the quality gate applies to this stage's records
    capped: bool = True  # -n / target caps its input rows (not judge calibration's)
    in_dataset: bool = True  # its accepted records are part of the dataset (calibration: no)

    @property
    def name(self) -> str:
        return self.task.name

    def inputs(
        self, count: int, upstream: list[dict[str, Any]] | None = None
    ) -> list[dict[str, Any]] | None:
        """The input rows this run reads (the first ``count`` when capped), or None for a
        stage planned from the seeds."""
        items = self.items if self.items is not None else upstream
        if items is None:
            return None
        return items[:count] if self.capped else items

    def size(self, count: int, inputs: list[dict[str, Any]] | None) -> int:
        """Rows this stage plans: ``count`` planned rows, or its input rows x variants."""
        return count if inputs is None else len(inputs) * self.task.variants

    def rows(
        self, planner: Planner, inputs: list[dict[str, Any]] | None, span: range
    ) -> Iterator[PlannedRow]:
        """The rows at positions ``span``: planned rows, or input row ``p // variants`` in
        variant ``p % variants``. Row ``p`` depends only on ``p``, so any executor can run
        any range. Axis values and few-shot seeds are drawn for input rows too."""
        if inputs is None:
            for index in span:
                yield planner.row(index)
            return
        variants = self.task.variants
        for position in span:
            base = planner.row(position)
            item, variant = divmod(position, variants)
            yield PlannedRow(
                base.index, base.seed_indices, base.axes, item=inputs[item], variant=variant
            )


@dataclass(slots=True)
class Prepared:
    recipe: Recipe
    seeds: list[Seed]
    planner: Planner
    stages: list[Stage]
    gate: Gate | None = None

    @property
    def gated(self) -> set[str]:
        """Tasks whose records go through the quality gate."""
        if self.gate is None:
            return set()
        return {s.task.name for s in self.stages if s.quality}

    @property
    def tasks(self) -> list[Task]:
        return [s.task for s in self.stages]


def seeds_and_planner(recipe: Recipe) -> tuple[list[Seed], Planner]:
    """The recipe's seeds (none is fine) and the planner that draws them and the axes."""
    seeds = load_seeds(recipe.seeds, recipe.base_dir) if recipe.seeds is not None else []
    axes = parse_axes(recipe.axes, recipe.base_dir, recipe.error)
    for axis in axes:
        if axis.name in RESERVED:
            raise recipe.error(f"axes.{axis.name}", f"'{axis.name}' is reserved for templates")
    planner = Planner(
        len(seeds),
        axes,
        per_row=max((t.few_shot for t in recipe.tasks), default=1),
        random_seed=recipe.random_seed,
    )
    return seeds, planner


def kit_for(
    recipe: Recipe,
    seeds: list[Seed],
    backend: str,
    model_id: str,
    *,
    name: str,
    kind: str,
    field: str,
    config: dict[str, Any],
    input_fields: tuple[str, ...] | None,
    source_file: str | None = None,
    few_shot: int = 1,
    temperature: float | None = None,
    max_tokens: int | None = None,
) -> TaskKit:
    """A task's kit: the run-wide settings every stage shares, the stage's own on top (a
    temperature or max_tokens of None means the model's)."""
    return TaskKit(
        name=name,
        kind=kind,
        field=field,
        recipe_name=recipe.name,
        seeds=seeds,
        model=recipe.model,
        backend=backend,
        model_id=model_id,
        random_seed=recipe.random_seed,
        base_dir=recipe.base_dir,
        source_file=source_file or recipe.source_file,
        error_at=recipe.error,
        temperature=recipe.model.temperature if temperature is None else temperature,
        max_tokens=max_tokens or recipe.model.max_tokens,
        few_shot=few_shot,
        config=config,
        input_fields=input_fields,
    )


def prepare(recipe: Recipe, *, backend: str, model_id: str) -> Prepared:
    """Compile a generation recipe (it must have a target and tasks)."""
    recipe.require_generation()
    seeds, planner = seeds_and_planner(recipe)
    stages: list[Stage] = []
    for i, spec in enumerate(recipe.tasks):
        field = f"tasks[{i}]"
        source = spec.input
        items: list[dict[str, Any]] | None = None
        upstream: Stage | None = None
        input_fields: tuple[str, ...] | None = None
        if source == "seeds":
            if not seeds:
                raise recipe.error(f"{field}.input", "input 'seeds' but the recipe has no seeds")
            items = [{"id": s.id, **s.fields} for s in seeds]
            input_fields = ("id", *seeds[0].fields)
        elif source is not None and source.endswith(_INPUT_FILES):
            rows = load_seeds(source, recipe.base_dir)
            items = [{"id": s.id, **s.fields} for s in rows]
            input_fields = ("id", *rows[0].fields)
        elif source is not None:
            upstream = next((s for s in stages if s.task.name == source), None)
            if upstream is None:
                later = [t.task_name for t in recipe.tasks[i:]]
                why = (
                    "tasks run in order, and it is not an earlier one"
                    if source in later
                    else "it is not 'seeds', an earlier task's name, or a "
                    + "/".join(_INPUT_FILES)
                    + " file"
                )
                raise recipe.error(f"{field}.input", f"cannot read input {source!r}: {why}")
            input_fields = ("id", *upstream.task.shape.fields)
        kit = kit_for(
            recipe,
            seeds,
            backend,
            model_id,
            name=spec.task_name,
            kind=spec.kind,
            field=field,
            config=spec.model_dump(mode="json", by_alias=True),
            input_fields=input_fields,
            few_shot=spec.few_shot,
            temperature=spec.temperature,
            max_tokens=spec.max_tokens,
        )
        task = build_task(spec, kit)
        stage = Stage(task, source, items, upstream.task.name if upstream else None, spec.quality)
        _check_renders(stage, planner, seeds)
        stages.append(stage)
    gated = [s for s in stages if s.quality]
    gate = build_gate(
        recipe.quality,
        seeds,
        recipe.base_dir,
        recipe.error,
        list(gated[0].task.shape.fields) if gated else None,
    )
    judge = recipe.quality.judge
    if gate is not None and judge is not None and judge.calibration is not None:
        stages.insert(
            0, _calibration_stage(recipe, gate, judge.calibration, seeds, backend, model_id)
        )
    return Prepared(recipe, seeds, planner, stages, gate)


def _calibration_stage(
    recipe: Recipe, gate: Gate, path: str, seeds: list[Seed], backend: str, model_id: str
) -> Stage:
    from synthloom.quality.calibration import STAGE, CalibrationTask, human_verdict
    from synthloom.quality.judge import RubricJudge

    judge = next(c for c in gate.checks if isinstance(c, RubricJudge))
    rows = load_seeds(path, recipe.base_dir)
    items = [{"id": s.id, **s.fields} for s in rows]
    for item in items:  # a missing or unknown verdict fails now, not after the judge calls
        human_verdict(item, str(recipe.resolve(path)))
    kit = kit_for(
        recipe,
        seeds,
        backend,
        model_id,
        name=STAGE,
        kind="calibration",
        field="quality.judge.calibration",
        config={
            "calibration": path,
            "judge": recipe.quality.judge.model_dump() if recipe.quality.judge else None,
        },
        input_fields=tuple(items[0]),
        source_file=str(recipe.resolve(path)),
    )
    task = CalibrationTask(kit, judge, recipe.quality.fields)
    return Stage(task, path, items, quality=False, capped=False, in_dataset=False)


def _check_rows(stage: Stage, planner: Planner, seeds: list[Seed]) -> Iterator[PlannedRow]:
    axes = planner.row(0).axes
    if stage.items is not None:
        for i, item in enumerate(stage.items[:_CHECK_ITEMS]):
            for v in range(stage.task.variants if i == 0 else 1):
                yield PlannedRow(i, planner.row(0).seed_indices, axes, item=item, variant=v)
    elif stage.upstream is not None:
        fields = stage.task.kit.input_fields or ()
        item = {f: f"<{f}>" for f in fields}
        for v in range(stage.task.variants):
            yield PlannedRow(0, planner.row(0).seed_indices, axes, item=item, variant=v)
    elif not seeds:
        yield planner.row(0)
    else:  # each seed once as the primary one (axis values from row 0)
        n = len(seeds)
        for i in range(n):
            others = tuple(j for j in range(n) if j != i)[: planner.per_row - 1]
            yield PlannedRow(i, (i, *others), axes)


def _check_renders(stage: Stage, planner: Planner, seeds: list[Seed]) -> None:
    for row in _check_rows(stage, planner, seeds):
        try:
            stage.task.job(row)
        except RecipeError as exc:
            where = (
                f"input row {row.item.get('id')!r}"
                if row.item is not None
                else f"seed {seeds[row.seed_indices[0]].id!r}"
                if row.seed_indices
                else "row 0"
            )
            raise RecipeError(
                f"{exc.cause} [rendering with {where}]",
                file=exc.file,
                field=exc.field,
                line=exc.line,
            ) from None
