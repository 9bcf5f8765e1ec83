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
from synthloom.seeds import Seed
from synthloom.tokens import count_request_tokens, count_tokens


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
    assert count is not None  # prepare() requires a generation recipe, which has a target
    prompt_tokens = completion_tokens = worst_tokens = 0
    calls = worst_calls = rows = 0
    stage_rows: dict[str, int] = {}
    for stage in prepared.stages:
        task = stage.task
        typical_reply = _typical_reply(prepared.seeds, task.shape.fields, model.max_tokens)
        upstream = None
        if stage.upstream is not None:  # assume every upstream row is accepted (upper bound)
            fields = task.kit.input_fields or ()
            placeholder = {f: "x" * 4 * typical_reply for f in fields}
            upstream = [placeholder] * stage_rows.get(stage.upstream, 0)
        stage_count = 0
        inputs = stage.inputs(count, upstream)
        for row in stage.rows(prepared.planner, inputs, range(stage.size(count, inputs))):
            job = task.job(row)
            stage_count += 1
            tokens = count_request_tokens(job.first)
            # later calls of a multi-call row read about as much as the first, plus replies
            prompt_tokens += job.calls * tokens + (job.calls - 1) * typical_reply
            completion_tokens += job.calls * typical_reply
            calls += job.calls
            worst_calls += job.calls * (model.max_reasks + 1)
            # each re-ask resends the conversation so far plus a reply and a short correction
            for attempt in range(model.max_reasks + 1):
                worst = tokens + attempt * (model.max_tokens + 40) + model.max_tokens
                worst_tokens += job.calls * worst
        stage_rows[task.name] = stage_count
        rows += stage_count
    cost = worst_cost = None
    if model.prices is not None:
        cost = (prompt_tokens * model.prices.input + completion_tokens * model.prices.output) / 1e6
        worst_cost = worst_tokens * max(model.prices.input, model.prices.output) / 1e6
    return Estimate(
        rows=rows,
        calls=calls,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        worst_case_calls=worst_calls,
        worst_case_tokens=worst_tokens,
        cost=cost,
        worst_case_cost=worst_cost,
    )


def _typical_reply(seeds: list[Seed], fields: tuple[str, ...], max_tokens: int) -> int:
    """Tokens of a typical reply: the seeds' own values for the output fields, as JSON."""
    sizes = [
        count_tokens(orjson.dumps({f: s.fields[f] for f in fields if f in s.fields}).decode())
        for s in seeds
    ]
    sizes = [size for size in sizes if size > 2]  # seeds without these fields say nothing
    if not sizes:
        return max(1, max_tokens // 2)
    return min(max_tokens, max(1, round(sum(sizes) / len(sizes))))
