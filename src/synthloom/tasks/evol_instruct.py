"""Evol-Instruct: each row takes a seed instruction through ``rounds`` evolutions, each an
in-depth operation (add a constraint, deepen, concretise, require more reasoning steps) or an
in-breadth one (a new instruction on a rarer topic of the same domain), then answers it.

An evolution that fails (unchanged, leaking the rewriting instructions, far too short, or
answered with a refusal) drops the row with the round and the cause as its reason."""

from __future__ import annotations

import re
from typing import Any

from synthloom.calls import Calls
from synthloom.engine.job import Dropped, Job
from synthloom.plan import PlannedRow
from synthloom.tasks.base import ExportShape, Task, TaskKit, guess_field, object_schema, string
from synthloom.tasks.rouge import tokens
from synthloom.taskspecs import EvolInstructSpec

SYSTEM = "You rewrite instructions for training an assistant. You keep them natural and answerable."
OPERATIONS = {
    "constraints": "Rewrite it to be harder by adding one more concrete constraint or requirement.",
    "deepen": "Rewrite it so that it asks about the subject in more depth and detail.",
    "concretize": "Rewrite it, replacing general ideas with more specific, concrete ones.",
    "reasoning": "Rewrite it so that answering needs several explicit steps of reasoning.",
    "breadth": (
        "Write a brand-new instruction in the same domain, on a rarer topic, of similar length "
        "and difficulty."
    ),
}
TEMPLATE = """\
The instruction:
{{ instruction }}

{{ operation }} The result must make sense on its own, be answerable by a person, and add at \
most 20 words. Reply with the new instruction only."""
ANSWER_SYSTEM = "You are a helpful, accurate assistant."
# phrases that mean the model copied the scaffolding instead of evolving the instruction
_LEAKS = re.compile(
    r"(rewritten|given) (instruction|prompt)|#\s*(given|rewritten)|^the instruction:", re.I
)
_REFUSAL = re.compile(r"\b(sorry|i cannot|i can't|as an ai)\b", re.I)


def failure(previous: str, evolved: str) -> str | None:
    """Why an evolution failed, or None when it is usable."""
    if " ".join(tokens(evolved)) == " ".join(tokens(previous)):
        return "unchanged"
    if _LEAKS.search(evolved):
        return "copied the rewriting instructions"
    if len(tokens(evolved)) < 3:
        return "too short"
    return None


class EvolInstructTask(Task):
    kind = "evol_instruct"

    def __init__(self, spec: EvolInstructSpec, kit: TaskKit) -> None:
        self.kit = kit
        self.name = kit.name
        self.spec = spec
        if kit.input_fields is None:
            kit.need_seeds()
        self.field = guess_field(
            kit.item_fields(),
            spec.instruction_field,
            lambda cause: kit.error("instruction_field", cause),
        )
        self.template = kit.template(spec.template, TEMPLATE, "template")
        self.system = kit.template(spec.system, SYSTEM, "system")
        self.schema = object_schema({"instruction": string(5, min(spec.max_length or 1000, 1000))})
        self.answer_schema = object_schema({"response": string(1, spec.max_length)})
        if spec.answer:
            fields: tuple[str, ...] = ("instruction", "response", "original", "evolutions")
            self.shape = ExportShape("evol_instruct", fields, "instruction", "response")
        else:  # instructions only: input for a later task (distill, preference)
            fields = ("instruction", "original", "evolutions")
            self.shape = ExportShape("evol_instruct", fields, "instruction", "original")

    def operations(self, row: PlannedRow) -> list[str]:
        rng = self.kit.rng(row, "ops")
        return [rng.choice(self.spec.operations) for _ in range(self.spec.rounds)]

    def _request(self, row: PlannedRow, ctx: dict[str, Any], text: str, op: str, n: int) -> Any:
        prompt = self.template.render({**ctx, "instruction": text, "operation": OPERATIONS[op]})
        messages = self.kit.messages(self.system.render(ctx), prompt, self.schema)
        return self.kit.request(messages, self.schema, seed=self.kit.seed_for(row, "round", n))

    def job(self, row: PlannedRow) -> Job:
        original = self.kit.value(row, self.field, "instruction_field")
        ctx = self.kit.context(row)
        ops = self.operations(row)
        first = self._request(row, ctx, original, ops[0], 0)

        async def program(calls: Calls) -> dict[str, Any]:
            current = original
            evolutions: list[dict[str, str]] = []
            for n, op in enumerate(ops):
                request = first if n == 0 else self._request(row, ctx, current, op, n)
                evolved = (await calls.json(request, self.schema))["instruction"].strip()
                evolutions.append({"operation": op, "instruction": evolved})
                why = failure(current, evolved)
                if why is not None:
                    raise Dropped(
                        "evolution_failed",
                        f"round {n + 1} ({op}): {why}",
                        {"original": original, "evolutions": evolutions},
                    )
                current = evolved
            data: dict[str, Any] = {
                "instruction": current,
                "original": original,
                "evolutions": evolutions,
            }
            if self.spec.answer:
                messages = self.kit.messages(ANSWER_SYSTEM, current, self.answer_schema)
                request = self.kit.request(
                    messages, self.answer_schema, seed=self.kit.seed_for(row, "answer")
                )
                response = (await calls.json(request, self.answer_schema))["response"]
                data["response"] = response
                if _REFUSAL.search(response) and len(tokens(response)) < 80:
                    raise Dropped("evolution_failed", "the evolved instruction was refused", data)
            return data

        return self.kit.job(
            row,
            first=first,
            program=program,
            templates=(self.template, self.system),
            calls=len(ops) + int(self.spec.answer),
            extra_params={"operations": ops},
        )
