"""Self-Instruct: bootstrap new tasks (instruction, optional input, output) from a few seed
tasks. A candidate whose ROUGE-L against the pool (the seeds plus every instruction accepted
before it) reaches ``max_rouge`` is dropped with the score and its nearest neighbour.

The pool is stateful: its check runs where records are merged, in row order, so of two
near-identical candidates the earlier row is kept, however the rows were scheduled."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from synthloom.calls import Calls
from synthloom.engine.job import Dropped, Job
from synthloom.plan import PlannedRow
from synthloom.quality.base import Check, Drop
from synthloom.records import Record
from synthloom.tasks.base import ExportShape, Task, TaskKit, object_schema, string
from synthloom.tasks.rouge import InstructionPool, tokens
from synthloom.taskspecs import SelfInstructSpec

SYSTEM = "You invent diverse, useful tasks for training an instruction-following assistant."
TEMPLATE = """\
Here are some example tasks:
{% for e in tasks %}Task {{ loop.index }}
Instruction: {{ e.instruction }}
{% if e.input %}Input: {{ e.input }}
{% endif %}Output: {{ e.output }}
{% endfor %}
Write one new task that differs from all of these in topic and wording{% if axes %} \
({% for name, value in axes.items() %}{{ name }}: {{ value }}{% if not loop.last %}, \
{% endif %}{% endfor %}){% endif %}. Give its instruction, an input if it needs one (else an \
empty string), and a correct output."""

MIN_WORDS = 3
MAX_WORDS = 150


class SelfInstructTask(Task):
    kind = "self_instruct"

    def __init__(self, spec: SelfInstructSpec, kit: TaskKit) -> None:
        self.kit = kit
        self.name = kit.name
        self.spec = spec
        kit.need_seeds(spec.instruction_field, spec.output_field)
        self.template = kit.template(spec.template, TEMPLATE, "template")
        self.system = kit.template(spec.system, SYSTEM, "system")
        self.schema = object_schema(
            {
                "instruction": string(5, 1000),
                "input": string(0, 2000),
                "output": string(1, spec.max_length),
            }
        )
        self.shape = ExportShape("self_instruct", ("instruction", "input", "output"))
        self.pool = InstructionPool()
        for seed in kit.seeds:
            self.pool.add(str(seed.fields[spec.instruction_field]))

    def resume(self, accepted: Iterable[Record]) -> None:
        for record in accepted:
            self.pool.add(str(record.data["instruction"]))

    def stateful_checks(self) -> list[Check]:
        return [_PoolCheck(self.pool, self.spec.max_rouge)]

    def _tasks(self, row: PlannedRow) -> list[dict[str, str]]:
        spec = self.spec
        return [
            {
                "instruction": str(e.get(spec.instruction_field, "")),
                "input": str(e.get(spec.input_field, "") or "") if spec.input_field else "",
                "output": str(e.get(spec.output_field, "")),
            }
            for e in self.kit.examples(row)[: spec.few_shot]
        ]

    def job(self, row: PlannedRow) -> Job:
        ctx = self.kit.context(row, tasks=self._tasks(row))
        messages = self.kit.messages(
            self.system.render(ctx), self.template.render(ctx), self.schema
        )
        request = self.kit.request(messages, self.schema, seed=self.kit.seed_for(row))

        async def program(calls: Calls) -> dict[str, Any]:
            data = await calls.json(request, self.schema)
            words = len(tokens(data["instruction"]))
            if not MIN_WORDS <= words <= MAX_WORDS:
                raise Dropped(
                    "bad_length", f"instruction has {words} words ({MIN_WORDS}-{MAX_WORDS})", data
                )
            return data

        return self.kit.job(
            row, first=request, program=program, templates=(self.template, self.system)
        )


class _PoolCheck(Check):
    name = "self_instruct"
    reasons = ("too_similar",)
    stateful = True

    def __init__(self, pool: InstructionPool, limit: float) -> None:
        self.pool = pool
        self.limit = limit

    async def check(self, record: Record, text: str, calls: Calls) -> Drop | None:
        score, nearest = self.pool.closest(str(record.data["instruction"]), floor=self.limit)
        if score < self.limit:
            return None
        record.notes["nearest_instruction"] = nearest
        detail = f"ROUGE-L {score:.2f} >= {self.limit} with an instruction in the pool: {nearest!r}"
        return Drop("too_similar", detail, score)

    def admit(self, record: Record, text: str) -> None:
        self.pool.add(str(record.data["instruction"]))
