"""Edge cases for a specification: rare, adversarial, boundary or ambiguous scenarios, each
with why it is hard and what the correct behaviour is. Categories are spread evenly over the
rows, so a rare category is not left to chance."""

from __future__ import annotations

from typing import Any

from synthloom.calls import Calls
from synthloom.engine.job import Job, single_call
from synthloom.plan import PlannedRow
from synthloom.tasks.base import ExportShape, Task, TaskKit, object_schema, string
from synthloom.taskspecs import EdgeCasesSpec

SYSTEM = "You are a meticulous test designer who finds the cases that break systems."
TEMPLATE = """\
This is the specification of a system:
{{ spec }}

Write one {{ category }} test scenario for it: a concrete input or situation that is rare, \
tricky or at the edge of the specification, which a typical implementation would get wrong.
{% if examples %}Ordinary examples of what the system handles (yours must be harder):
{% for e in examples %}- {{ e | tojson }}
{% endfor %}{% endif %}{% for name, value in axes.items() %}{{ name }}: {{ value }}
{% endfor %}Say why the scenario is hard and what the system should do."""


class EdgeCasesTask(Task):
    kind = "edge_cases"

    def __init__(self, spec: EdgeCasesSpec, kit: TaskKit) -> None:
        self.kit = kit
        self.name = kit.name
        self.spec_text = kit.text_or_file(spec.spec, "spec")
        self.categories = spec.categories
        self.template = kit.template(spec.template, TEMPLATE, "template")
        self.system = kit.template(spec.system, SYSTEM, "system")
        self.schema = object_schema(
            {
                "scenario": string(10, spec.max_length or 2000),
                "why_hard": string(10, 256),
                "expected_behavior": string(5, spec.max_length or 1500),
            }
        )
        fields = ("scenario", "why_hard", "expected_behavior", "category")
        self.shape = ExportShape("edge_cases", fields, "scenario", "expected_behavior")

    def category(self, row: PlannedRow) -> str:
        """Each block of len(categories) rows holds every category once, in shuffled order."""
        return self.kit.spread(row, self.categories, "cat")

    def job(self, row: PlannedRow) -> Job:
        category = self.category(row)
        ctx = self.kit.context(row, spec=self.spec_text, category=category)
        messages = self.kit.messages(
            self.system.render(ctx), self.template.render(ctx), self.schema
        )
        request = self.kit.request(messages, self.schema, seed=self.kit.seed_for(row))
        parse = single_call(request, self.schema)

        async def program(calls: Calls) -> dict[str, Any]:
            return {**await parse(calls), "category": category}

        return self.kit.job(
            row,
            first=request,
            program=program,
            templates=(self.template, self.system),
            extra_params={"category": category},
        )
