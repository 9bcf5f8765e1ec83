"""``synthloom estimate``: calls, tokens and cost a run would take, without calling a model.

Prompt tokens come from rendering every planned prompt (exact text, ~4 characters a token);
completion tokens from the size of the seeds' own answers in the output schema, capped by
``max_tokens``. The worst case assumes every row uses every re-ask at ``max_tokens``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from synthloom.pipeline import prepare
from synthloom.recipe import Recipe, load_recipe
from synthloom.tokens import count_message_tokens, count_tokens


@dataclass(slots=True)
class Estimate:
    rows: int
    calls: int
    prompt_tokens: int
    completion_tokens: int
    worst_case_calls: int
    worst_case_tokens: int
    cost: float | None
    worst_case_cost: float | None

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}


def estimate(recipe: Recipe | str | Path, *, n: int | None = None) -> Estimate:
    if not isinstance(recipe, Recipe):
        recipe = load_recipe(recipe)
    model = recipe.model
    prepared = prepare(recipe, backend=model.backend, model_id=model.model or "default")
    count = n if n is not None else recipe.target
    prompt_tokens = completion_tokens = 0
    worst_tokens = 0
    for spec, task in zip(recipe.tasks, prepared.tasks, strict=True):
        fields = list(spec.output_schema)
        reply_sizes = [
            count_tokens(orjson.dumps({f: s.fields[f] for f in fields if f in s.fields}).decode())
            for s in prepared.seeds
        ]
        typical_reply = min(model.max_tokens, max(1, round(sum(reply_sizes) / len(reply_sizes))))
        for row in prepared.planner.rows(count):
            job = task.job(row)
            tokens = count_message_tokens(job.request.messages)
            prompt_tokens += tokens
            completion_tokens += typical_reply
            # each re-ask resends the conversation so far plus a reply and a short correction
            for attempt in range(model.max_reasks + 1):
                worst_tokens += tokens + attempt * (model.max_tokens + 40) + model.max_tokens
    calls = count * len(prepared.tasks)
    worst_calls = calls * (model.max_reasks + 1)
    cost = worst_cost = None
    if model.prices is not None:
        cost = (prompt_tokens * model.prices.input + completion_tokens * model.prices.output) / 1e6
        worst_cost = worst_tokens * max(model.prices.input, model.prices.output) / 1e6
    return Estimate(
        rows=count,
        calls=calls,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        worst_case_calls=worst_calls,
        worst_case_tokens=worst_tokens,
        cost=cost,
        worst_case_cost=worst_cost,
    )
