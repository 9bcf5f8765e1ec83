"""Distillation: a teacher model answers given prompts (seeds, a file, or an earlier task's
output) for a student's supervised fine-tuning; optionally with its step-by-step reasoning."""

from __future__ import annotations

from typing import Any

from synthloom.calls import Calls
from synthloom.engine.job import Job
from synthloom.plan import PlannedRow
from synthloom.tasks.base import ExportShape, Task, TaskKit, guess_field, object_schema, string
from synthloom.taskspecs import DistillSpec

SYSTEM = "You are an expert teacher. Answer accurately, completely and clearly."
EXPLAIN = "First reason step by step in 'reasoning', then give the final answer in 'response'."
TEMPLATE = "{{ prompt }}"


class DistillTask(Task):
    kind = "distill"

    def __init__(self, spec: DistillSpec, kit: TaskKit) -> None:
        self.kit = kit
        self.name = kit.name
        self.explain = spec.explain
        self.prompt_field = guess_field(
            kit.item_fields(), spec.prompt_field, lambda cause: kit.error("prompt_field", cause)
        )
        self.template = kit.template(spec.template, TEMPLATE, "template")
        self.system = kit.template(spec.system, SYSTEM, "system")
        props = {"reasoning": string(1, spec.max_length)} if spec.explain else {}
        self.schema = object_schema({**props, "response": string(1, spec.max_length)})
        fields = ("prompt", "response", "reasoning") if spec.explain else ("prompt", "response")
        self.shape = ExportShape("distill", fields, "prompt", "response")

    def job(self, row: PlannedRow) -> Job:
        prompt = self.kit.value(row, self.prompt_field, "prompt_field")
        ctx = self.kit.context(row, prompt=prompt)
        system = self.system.render(ctx) + (f"\n{EXPLAIN}" if self.explain else "")
        messages = self.kit.messages(system, self.template.render(ctx), self.schema)
        request = self.kit.request(messages, self.schema, seed=self.kit.seed_for(row))

        async def program(calls: Calls) -> dict[str, Any]:
            return {"prompt": prompt, **await calls.json(request, self.schema)}

        return self.kit.job(
            row, first=request, program=program, templates=(self.template, self.system)
        )
