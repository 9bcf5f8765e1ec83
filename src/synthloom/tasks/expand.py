"""Seed expansion: show the model a few real seeds plus the row's axis values, ask for a new
example in the recipe's output schema. The flagship kind."""

from __future__ import annotations

from typing import Any

import orjson

from synthloom.engine.job import Job, single_call
from synthloom.plan import PlannedRow
from synthloom.schema import OutputSchema
from synthloom.tasks.base import ExportShape, Task, TaskKit
from synthloom.taskspecs import ExpandSpec

DEFAULT_SYSTEM = (
    "You write realistic, varied synthetic training examples that follow the user's "
    "instructions and read like real data."
)


class ExpandTask(Task):
    kind = "expand"

    def __init__(self, spec: ExpandSpec, kit: TaskKit) -> None:
        self.kit = kit
        self.name = kit.name
        self.few_shot = spec.few_shot
        self.template = kit.template(spec.template, "", "template")
        self.system = kit.template(spec.system, DEFAULT_SYSTEM, "system")
        self.schema = OutputSchema.from_spec(
            spec.output_schema, f"{kit.field}.schema", kit.error_at
        )
        for role in ("prompt_field", "response_field"):
            chosen = getattr(spec, role)
            if chosen is not None and chosen not in self.schema.fields:
                raise kit.error(role, f"{chosen!r} is not a schema field")
        self.shape = ExportShape(
            "expand", tuple(self.schema.fields), spec.prompt_field, spec.response_field
        )
        self._schema_json = orjson.dumps(self.schema.json_schema).decode()
        if kit.input_fields is None:
            kit.need_seeds()

    @property
    def seeds(self) -> list[Any]:
        return self.kit.seeds

    def context(self, row: PlannedRow) -> dict[str, Any]:
        return self.kit.context(row, fields=self.schema.fields, schema_json=self._schema_json)

    def messages(self, row: PlannedRow) -> tuple[dict[str, str], ...]:
        ctx = self.context(row)
        return self.kit.messages(self.system.render(ctx), self.template.render(ctx), self.schema)

    def job(self, row: PlannedRow) -> Job:
        request = self.kit.request(self.messages(row), self.schema, seed=self.kit.seed_for(row))
        return self.kit.job(
            row,
            first=request,
            program=single_call(request, self.schema),
            templates=(self.template, self.system),
        )
