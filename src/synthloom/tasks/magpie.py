"""Magpie: an aligned model, given only its chat template up to the start of a user turn,
writes a plausible user instruction by itself; the model then answers it. No seeds needed: a
system prompt (which may use axis values) steers the domain.

It needs raw completion access (the prompt is sent verbatim, no chat template applied): the
embedded backend, or a server's /v1/completions endpoint."""

from __future__ import annotations

from typing import Any

from synthloom.backends.base import GenerationRequest
from synthloom.calls import Calls
from synthloom.engine.job import Dropped, Job
from synthloom.plan import PlannedRow
from synthloom.tasks.base import ExportShape, Task, TaskKit, object_schema, string
from synthloom.tasks.rouge import tokens
from synthloom.taskspecs import MagpieSpec

SYSTEM = "You are a helpful assistant."
# (pre-query template, end-of-turn markers). {system} is the rendered system prompt.
PRESETS: dict[str, tuple[str, tuple[str, ...]]] = {
    "chatml": (
        "<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n",
        ("<|im_end|>", "<|im_start|>"),
    ),
    "llama3": (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n{system}<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\n",
        ("<|eot_id|>", "<|start_header_id|>"),
    ),
}


class MagpieTask(Task):
    kind = "magpie"

    def __init__(self, spec: MagpieSpec, kit: TaskKit) -> None:
        self.kit = kit
        self.name = kit.name
        self.spec = spec
        if spec.pre_query in PRESETS:
            self.pre_query, stop = PRESETS[spec.pre_query]
        elif "{system}" in spec.pre_query or "<" in spec.pre_query:
            self.pre_query, stop = spec.pre_query, ()
        else:
            raise kit.error(
                "pre_query",
                f"unknown preset {spec.pre_query!r}: use {', '.join(PRESETS)} or the template "
                "text itself (with {system} where the system prompt goes)",
            )
        self.stop = tuple(spec.stop) if spec.stop is not None else stop
        if not self.stop:
            raise kit.error("stop", "a custom pre_query needs 'stop' (its end-of-turn markers)")
        self.system = kit.template(spec.system, SYSTEM, "system")
        self.answer_schema = object_schema({"response": string(1, spec.max_length)})
        self.shape = ExportShape(
            "magpie", ("instruction", "response", "system"), "instruction", "response"
        )

    def job(self, row: PlannedRow) -> Job:
        system = self.system.render(self.kit.context(row))
        prompt = self.pre_query.replace("{system}", system)
        first = GenerationRequest(
            messages=(),
            prompt=prompt,
            stop=self.stop,
            temperature=self.spec.instruction_temperature,
            top_p=self.kit.model.top_p,
            max_tokens=self.spec.instruction_tokens,
            seed=self.kit.seed_for(row),
        )

        async def program(calls: Calls) -> dict[str, Any]:
            completion = await calls.complete(first)
            instruction = completion.text.strip()
            for marker in self.stop:  # servers that ignore stop leave the marker in the text
                instruction = instruction.split(marker)[0].strip()
            words = len(tokens(instruction))
            if completion.finish_reason == "length":
                raise Dropped(
                    "instruction_cut_off",
                    "the instruction ran to the token limit",
                    {"instruction": instruction},
                )
            if words < self.spec.min_words:
                raise Dropped(
                    "instruction_too_short",
                    f"{words} words (min_words: {self.spec.min_words})",
                    {"instruction": instruction},
                )
            messages = self.kit.messages(system, instruction, self.answer_schema)
            request = self.kit.request(
                messages, self.answer_schema, seed=self.kit.seed_for(row, "answer")
            )
            response = (await calls.json(request, self.answer_schema))["response"]
            return {"instruction": instruction, "response": response, "system": system}

        return self.kit.job(row, first=first, program=program, templates=(self.system,), calls=2)
