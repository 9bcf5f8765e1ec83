"""``synthloom check``: a recipe's quality gate on records made anywhere.

Each input row (a JSON object, CSV row or Parquet row; or a synthloom record, whose ``data`` is
taken) becomes a record that goes through the same gate, store and outputs as a generated one,
so the funnel reads the same. The recipe needs only ``name`` and ``quality:`` (seeds are
optional): no target, no tasks. A record keeps the input's identity, its row's ``id`` (or the
``--id-field``), and its provenance says where it was read from, claiming no model.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from synthloom.backends.base import Backend, GenerationRequest
from synthloom.calls import Calls
from synthloom.engine.job import Job
from synthloom.errors import RecipeError
from synthloom.finalize import RunSummary
from synthloom.hooks import OnRecord, OnStart
from synthloom.pipeline import Prepared, Stage, kit_for, seeds_and_planner
from synthloom.plan import PlannedRow
from synthloom.quality.gate import build_gate
from synthloom.recipe import Recipe, load_recipe
from synthloom.records import Origin, Provenance
from synthloom.run import execute, using_backend
from synthloom.seeds import read_rows
from synthloom.tasks.base import ExportShape, Task, TaskKit

TASK = "check"


@dataclass(slots=True, frozen=True)
class Row:
    id: str
    line: int  # in the file (the row number for Parquet)
    data: dict[str, Any]


class ImportTask(Task):
    """Rows that already have their data: no model call, only the gate."""

    kind = "check"

    def __init__(self, kit: TaskKit, fields: tuple[str, ...], rows: list[Row], path: Path):
        self.kit = kit
        self.name = kit.name
        self.shape = ExportShape("check", fields)
        self.rows = rows
        self.path = str(path)

    def job(self, row: PlannedRow) -> Job:
        source = self.rows[row.index]
        data = dict(source.data)

        async def program(calls: Calls) -> dict[str, Any]:
            return data

        # what the gate's answer depends on: the data, the checks, the judge's model
        fingerprint = hashlib.sha256(
            orjson.dumps(
                [data, self.kit.config, self.kit.backend, self.kit.model_id],
                option=orjson.OPT_SORT_KEYS,
                default=str,
            )
        ).hexdigest()[:32]
        provenance = Provenance(
            recipe=self.kit.recipe_name,
            task=self.name,
            row=row.index,
            seed_ids=[],
            axes={},
            template_hash="",
            backend="",  # no model of ours wrote this text
            model="",
            params={},
            synthloom_version=self.kit.version,
            origin=Origin.IMPORTED,
            source=self.path,
            line=source.line,
        )
        return Job(
            record_id=source.id,
            task=self.name,
            fingerprint=fingerprint,
            sample=row.index,
            provenance=provenance,
            program=program,
            first=GenerationRequest(messages=()),
            calls=0,
        )


def read_input(path: Path, id_field: str | None) -> list[Row]:
    """The rows to check, each with its id: the ``id_field`` (default ``id``) of the row, or of
    a synthloom record, taken out of the data; rows without one are named by their line. Ids
    must be unique."""
    rows: list[Row] = []
    seen: dict[str, int] = {}
    key = id_field or "id"
    for line, raw in read_rows(path):
        if not isinstance(raw, dict):
            raise RecipeError("each row must be an object", file=str(path), line=line)
        nested = raw.get("data")
        data = dict(nested) if isinstance(nested, dict) else dict(raw)  # a synthloom record
        value = raw.get(key, data.get(key))
        if value is None or value == "":
            if id_field is not None:
                raise RecipeError(f"row has no id field {id_field!r}", file=str(path), line=line)
            value = f"line-{line}"
        rid = str(value)
        if rid in seen:
            raise RecipeError(
                f"duplicate id {rid!r} (first on line {seen[rid]})", file=str(path), line=line
            )
        seen[rid] = line
        data.pop(key, None)  # identity, not content: the checks do not read it
        rows.append(Row(rid, line, {k: v for k, v in data.items() if v is not None}))
    if not rows:
        raise RecipeError("no rows to check: the file is empty", file=str(path))
    return rows


def prepare_check(
    recipe: Recipe,
    path: Path,
    fields: list[str] | None,
    id_field: str | None,
    *,
    backend: str,
    model_id: str,
) -> Prepared:
    if fields is not None:
        recipe.quality.fields = fields
    if not recipe.quality.enabled:
        raise recipe.error("quality", "the recipe has no quality: section to check with")
    seeds, planner = seeds_and_planner(recipe)
    rows = read_input(path, id_field)
    names = tuple(dict.fromkeys(k for row in rows for k in row.data))
    missing = [f for f in fields or [] if f not in names]
    if missing:
        raise RecipeError(
            f"--field {missing[0]!r} is not in the data (fields: {list(names)})", file=str(path)
        )
    kit = kit_for(
        recipe,
        seeds,
        backend,
        model_id,
        name=TASK,
        kind="check",
        field="check",
        config={"check": str(path), "quality": recipe.quality.model_dump(mode="json")},
        input_fields=("id", *names),
        source_file=str(path),
    )
    items = [{"id": row.id, **row.data} for row in rows]
    stage = Stage(ImportTask(kit, names, rows, path), str(path), items, capped=False)
    gate = build_gate(recipe.quality, seeds, recipe.base_dir, recipe.error, list(names))
    return Prepared(recipe, seeds, planner, [stage], gate)


def check(
    data: str | Path,
    recipe: Recipe | str | Path,
    outdir: str | Path,
    *,
    fields: list[str] | None = None,
    id_field: str | None = None,
    backend: Backend | None = None,
    dry_run: bool = False,
    on_start: OnStart | None = None,
    on_record: OnRecord | None = None,
    force: bool = False,
    on_reset: Callable[[str], None] | None = None,
) -> RunSummary:
    """Run ``recipe``'s quality gate over the rows of ``data`` into ``outdir`` (resumable)."""
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe)
    path = Path(data)
    if not path.is_file():
        raise RecipeError("data file not found", file=str(path))

    async def main() -> RunSummary:
        async with using_backend(recipe, backend, dry_run) as model:
            prepared = prepare_check(
                recipe, path, fields, id_field, backend=model.name, model_id=model.model_id
            )
            count = len(prepared.stages[0].items or [])  # one row per input row
            return await execute(
                prepared,
                outdir,
                model,
                count,
                on_start=on_start,
                on_record=on_record,
                force=force,
                on_reset=on_reset,
            )

    return asyncio.run(main())
