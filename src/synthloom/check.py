"""``synthloom check``: a recipe's quality gate on records made anywhere. Each input row (a
JSONL object, or a synthloom record whose ``data`` is taken) becomes a record that goes
through the same gate, store and outputs as a generated one, so the funnel reads the same."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from synthloom.backends.base import Backend, GenerationRequest
from synthloom.engine.job import Calls, Job
from synthloom.errors import RecipeError
from synthloom.pipeline import Prepared, Stage, prepare
from synthloom.plan import PlannedRow
from synthloom.quality.gate import build_gate
from synthloom.recipe import Recipe, load_recipe
from synthloom.records import Record
from synthloom.run import OnStart, RunSummary, execute
from synthloom.seeds import load_seeds
from synthloom.tasks.base import ExportShape, Task, TaskKit

TASK = "check"


class ImportTask(Task):
    """Rows that already have their data: no model call, only the gate."""

    kind = "check"

    def __init__(self, kit: TaskKit, fields: tuple[str, ...]) -> None:
        self.kit = kit
        self.name = kit.name
        self.shape = ExportShape("check", fields)

    def job(self, row: PlannedRow) -> Job:
        item = dict(row.item or {})
        data = {k: v for k, v in item.items() if k != "id"}

        async def program(calls: Calls) -> dict[str, Any]:
            return data

        return self.kit.job(
            row, first=GenerationRequest(messages=()), program=program, templates=(), calls=0
        )


def _rows(path: Path) -> list[dict[str, Any]]:
    rows = []
    for seed in load_seeds(str(path), Path.cwd()):
        data = seed.fields.get("data")
        fields = data if isinstance(data, dict) else seed.fields  # a synthloom record
        rows.append({"id": seed.id, **fields})
    return rows


def _builder(path: Path, fields: list[str] | None) -> Callable[..., Prepared]:
    def build(recipe: Recipe, *, backend: str, model_id: str) -> Prepared:
        if fields is not None:
            recipe.quality.fields = fields
        if not recipe.quality.enabled:
            raise recipe.error("quality", "the recipe has no quality: section to check with")
        base = prepare(recipe, backend=backend, model_id=model_id)
        items = _rows(path)
        names = tuple(dict.fromkeys(k for item in items for k in item if k != "id"))
        missing = [f for f in fields or [] if f not in names]
        if missing:
            raise RecipeError(
                f"--field {missing[0]!r} is not in the data (fields: {list(names)})", file=str(path)
            )
        kit = TaskKit(
            name=TASK,
            kind="check",
            field="check",
            recipe_name=recipe.name,
            seeds=base.seeds,
            model=recipe.model,
            backend=backend,
            model_id=model_id,
            random_seed=recipe.random_seed,
            base_dir=recipe.base_dir,
            source_file=str(path),
            error_at=recipe.error,
            temperature=recipe.model.temperature,
            max_tokens=recipe.model.max_tokens,
            few_shot=1,
            config={"check": str(path)},
            input_fields=("id", *names),
        )
        stage = Stage(ImportTask(kit, names), str(path), items)
        gate = build_gate(recipe.quality, base.seeds, recipe.base_dir, recipe.error, list(names))
        return Prepared(recipe, base.seeds, base.planner, [stage], gate)

    return build


def check(
    data: str | Path,
    recipe: Recipe | str | Path,
    outdir: str | Path,
    *,
    fields: list[str] | None = None,
    backend: Backend | None = None,
    dry_run: bool = False,
    on_start: OnStart | None = None,
    on_record: Callable[[Record], None] | None = None,
) -> RunSummary:
    """Run ``recipe``'s quality gate over the rows of ``data`` into ``outdir`` (resumable)."""
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe)
    path = Path(data)
    if not path.is_file():
        raise RecipeError("data file not found", file=str(path))
    count = sum(1 for _ in _rows(path))
    return asyncio.run(
        execute(
            recipe,
            outdir,
            _builder(path, fields),
            n=count,
            dry_run=dry_run,
            backend=backend,
            on_start=on_start,
            on_record=on_record,
        )
    )
