"""Compile a validated recipe into runnable parts: seeds, a planner, and tasks.

Everything that can be wrong with user input is found here, before any model call: every
template is rendered once against every seed, so a missing field fails now, not at row 4,000.
"""

from __future__ import annotations

from dataclasses import dataclass

from synthloom.errors import RecipeError
from synthloom.plan import PlannedRow, Planner
from synthloom.recipe import Recipe
from synthloom.sampling import parse_axes
from synthloom.schema import OutputSchema
from synthloom.seeds import Seed, load_seeds
from synthloom.tasks.base import Task
from synthloom.tasks.expand import RESERVED, ExpandTask
from synthloom.templates import load_template


@dataclass(slots=True)
class Prepared:
    recipe: Recipe
    seeds: list[Seed]
    planner: Planner
    tasks: list[Task]


def prepare(recipe: Recipe, *, backend: str, model_id: str) -> Prepared:
    seeds = load_seeds(recipe.seeds, recipe.base_dir)
    axes = parse_axes(recipe.axes, recipe.base_dir, recipe.error)
    for axis in axes:
        if axis.name in RESERVED:
            raise recipe.error(f"axes.{axis.name}", f"'{axis.name}' is reserved for templates")
    planner = Planner(
        len(seeds),
        axes,
        per_row=max(t.few_shot for t in recipe.tasks),
        random_seed=recipe.random_seed,
    )
    tasks: list[Task] = []
    for i, spec in enumerate(recipe.tasks):
        field = f"tasks[{i}]"
        template = load_template(
            spec.template, recipe.base_dir, f"{field}.template", recipe.source_file
        )
        system = (
            load_template(spec.system, recipe.base_dir, f"{field}.system", recipe.source_file)
            if spec.system
            else None
        )
        schema = OutputSchema.from_spec(spec.output_schema, f"{field}.schema", recipe.error)
        for role in ("prompt_field", "response_field"):
            chosen = getattr(spec, role)
            if chosen is not None and chosen not in schema.fields:
                raise recipe.error(f"{field}.{role}", f"{chosen!r} is not a schema field")
        task = ExpandTask(
            name=spec.task_name,
            recipe_name=recipe.name,
            template=template,
            system=system,
            schema=schema,
            seeds=seeds,
            model=recipe.model,
            backend=backend,
            model_id=model_id,
            random_seed=recipe.random_seed,
            few_shot=spec.few_shot,
        )
        _check_renders(task, planner, len(seeds))
        tasks.append(task)
    return Prepared(recipe, seeds, planner, tasks)


def _check_renders(task: ExpandTask, planner: Planner, n_seeds: int) -> None:
    """Render the prompt once with each seed as the primary one (axis values from row 0)."""
    axes = planner.row(0).axes
    for i in range(n_seeds):
        others = tuple(j for j in range(n_seeds) if j != i)[: planner.per_row - 1]
        try:
            task.messages(PlannedRow(i, (i, *others), axes))
        except RecipeError as exc:
            seed = task.seeds[i].id
            raise RecipeError(
                f"{exc.cause} [rendering with seed {seed!r}]", file=exc.file, line=exc.line
            ) from None
