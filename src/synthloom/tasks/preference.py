"""Preference pairs for DPO/RLHF. Each prompt gets two or more candidates (different
temperatures, models, or an answer instructed to be weaker); a judge compares every pair in
both orders. A pair whose verdict flips with the order is a tie (position bias, not
preference); a row without a clear best and worst candidate is dropped with that reason."""

from __future__ import annotations

from itertools import combinations
from typing import Any

from synthloom.calls import Calls
from synthloom.engine.job import Dropped, Job
from synthloom.plan import PlannedRow
from synthloom.tasks.base import (
    ExportShape,
    Task,
    TaskKit,
    guess_field,
    object_schema,
    string,
)
from synthloom.taskspecs import PreferenceSpec

SYSTEM = "You are a knowledgeable, careful assistant."
TEMPLATE = "{{ prompt }}"
WEAKER = (
    "Write a plausible answer that is noticeably worse than your best: vaguer, less accurate or "
    "less helpful. Do not say that it is worse."
)
JUDGE_SYSTEM = "You are an impartial judge of answer quality."
JUDGE = """\
Compare two responses to the same prompt on {{ criteria }}. Ignore their order and length.

Prompt:
{{ prompt }}

Response A:
{{ a }}

Response B:
{{ b }}

Explain briefly which is better and why, then give the winner: A or B."""


class PreferenceTask(Task):
    kind = "preference"

    def __init__(self, spec: PreferenceSpec, kit: TaskKit) -> None:
        self.kit = kit
        self.name = kit.name
        self.spec = spec
        self.prompt_field = guess_field(
            kit.item_fields(), spec.prompt_field, lambda cause: kit.error("prompt_field", cause)
        )
        if kit.backend not in ("openai", "fake") and (
            spec.judge_model or any(c.model for c in spec.candidates)
        ):
            raise kit.error("candidates", "a per-candidate model needs backend 'openai'")
        self.template = kit.template(spec.template, TEMPLATE, "template")
        self.system = kit.template(spec.system, SYSTEM, "system")
        self.judge = kit.template(spec.judge, JUDGE, "judge")
        self.answer_schema = object_schema({"response": string(1, spec.max_length)})
        self.judge_schema = object_schema(
            {"rationale": string(1, 256), "winner": {"type": "string", "enum": ["A", "B"]}}
        )
        fields = ("prompt", "chosen", "rejected", "rationale", "candidates", "judgments")
        self.shape = ExportShape("preference", fields, "prompt", "chosen")

    def _candidate_request(self, row: PlannedRow, ctx: dict[str, Any], i: int) -> Any:
        cand = self.spec.candidates[i]
        system = self.system.render(ctx) + (f"\n{WEAKER}" if cand.weaker else "")
        messages = self.kit.messages(system, self.template.render(ctx), self.answer_schema)
        return self.kit.request(
            messages,
            self.answer_schema,
            seed=self.kit.seed_for(row, "candidate", i),
            temperature=cand.temperature,
            model=cand.model,
        )

    def job(self, row: PlannedRow) -> Job:
        self.kit.item(row)
        prompt = self.kit.value(row, self.prompt_field, "prompt_field")
        ctx = self.kit.context(row, prompt=prompt, criteria=self.spec.criteria)
        requests = [self._candidate_request(row, ctx, i) for i in range(len(self.spec.candidates))]
        pairs = list(combinations(range(len(requests)), 2))

        async def judge(calls: Calls, a: str, b: str, key: str) -> dict[str, Any]:
            text = self.judge.render({**ctx, "a": a, "b": b})
            messages = self.kit.messages(JUDGE_SYSTEM, text, self.judge_schema)
            request = self.kit.request(
                messages,
                self.judge_schema,
                seed=self.kit.seed_for(row, "judge", key),
                temperature=0.0,
                model=self.spec.judge_model,
            )
            return await calls.json(request, self.judge_schema)

        async def program(calls: Calls) -> dict[str, Any]:
            answers = [(await calls.json(r, self.answer_schema))["response"] for r in requests]
            candidates = [
                {"response": text, **self.spec.candidates[i].model_dump(exclude_none=True)}
                for i, text in enumerate(answers)
            ]
            base = {"prompt": prompt, "candidates": candidates}
            if len({a.strip() for a in answers}) < len(answers):
                raise Dropped("identical_candidates", "two candidates are the same text", base)
            wins = [0] * len(answers)
            judgments: list[dict[str, Any]] = []
            for i, j in pairs:
                forward = await judge(calls, answers[i], answers[j], f"{i}-{j}")
                backward = await judge(calls, answers[j], answers[i], f"{j}-{i}")
                first = i if forward["winner"] == "A" else j
                second = j if backward["winner"] == "A" else i
                winner = first if first == second else None
                if winner is not None:
                    wins[winner] += 1
                judgments.append(
                    {
                        "pair": [i, j],
                        "winner": winner,
                        "rationales": [forward["rationale"], backward["rationale"]],
                    }
                )
            base["judgments"] = judgments
            best, worst = max(wins), min(wins)
            if best == worst or wins.count(best) > 1:
                raise Dropped(
                    "judge_tie",
                    "the judge's choice changed with the order of the candidates",
                    base,
                )
            chosen, rejected = wins.index(best), wins.index(worst)
            rationale = next(j["rationales"][0] for j in judgments if j["winner"] == chosen)
            return {
                "prompt": prompt,
                "chosen": answers[chosen],
                "rejected": answers[rejected],
                "rationale": rationale,
                "chosen_candidate": chosen,
                "rejected_candidate": rejected,
                **base,
            }

        return self.kit.job(
            row,
            first=requests[0],
            program=program,
            templates=(self.template, self.system, self.judge),
            calls=len(requests) + 2 * len(pairs),
        )
