"""Multi-turn dialogues. Two roles are played by separate calls: a user simulator that sees only
its persona, the scenario and the transcript, and the assistant that sees only the
conversation itself, so the assistant never reads the simulator's stage directions."""

from __future__ import annotations

from typing import Any

from synthloom.backends.base import Message
from synthloom.calls import Calls
from synthloom.engine.job import Dropped, Job
from synthloom.plan import PlannedRow
from synthloom.tasks.base import ExportShape, Task, TaskKit, object_schema, string
from synthloom.taskspecs import ConversationSpec

USER = "{% if persona is defined %}{{ persona }}{% else %}a typical user{% endif %}"
ASSISTANT_SYSTEM = "You are a helpful, accurate and friendly assistant."
USER_TEMPLATE = """\
You are role-playing a user who is talking to an AI assistant.
Who you are: {{ user }}
{% if scenario %}Your situation, based on this example:
{{ scenario }}
{% endif %}{% if transcript %}The conversation so far:
{{ transcript }}

Write your next message: react to the assistant's last reply, ask a follow-up or add a detail.
{% else %}Write your first message to the assistant.
{% endif %}Write only the message itself, in your own voice, in one to three sentences."""


def _scenario(item: dict[str, Any]) -> str:
    return "\n".join(f"{k}: {v}" for k, v in item.items() if k != "id" and isinstance(v, str))


class ConversationTask(Task):
    kind = "conversation"

    def __init__(self, spec: ConversationSpec, kit: TaskKit) -> None:
        self.kit = kit
        self.name = kit.name
        self.spec = spec
        self.user = kit.template(spec.user, USER, "user")
        self.user_template = kit.template(spec.user_template, USER_TEMPLATE, "user_template")
        self.system = kit.template(spec.system, ASSISTANT_SYSTEM, "system")
        # a user turn is short, and a bound the decoder enforces keeps a small model from
        # rambling to the token limit; the assistant's replies may be long
        self.schema = object_schema({"message": string(2, 256)})
        self.reply_schema = object_schema({"message": string(1, spec.max_length)})
        self.shape = ExportShape(
            "conversation", ("messages", "user", "turns"), None, None, "messages"
        )

    def turns(self, row: PlannedRow) -> int:
        if isinstance(self.spec.turns, int):
            return self.spec.turns
        low, high = self.spec.turns
        return self.kit.rng(row, "turns").randint(low, high)

    def _user_request(
        self, row: PlannedRow, ctx: dict[str, Any], history: list[Message], turn: int
    ) -> Any:
        transcript = "\n".join(
            f"{'You' if m['role'] == 'user' else 'Assistant'}: {m['content']}" for m in history
        )
        prompt = self.user_template.render({**ctx, "transcript": transcript, "turn": turn})
        messages = self.kit.messages("You simulate realistic users.", prompt, self.schema)
        return self.kit.request(messages, self.schema, seed=self.kit.seed_for(row, "user", turn))

    def job(self, row: PlannedRow) -> Job:
        ctx = self.kit.context(row)
        user = self.user.render(ctx)
        ctx = {**ctx, "user": user, "scenario": _scenario(self.kit.item(row))}
        system = self.system.render(ctx)
        turns = self.turns(row)
        first = self._user_request(row, ctx, [], 0)

        async def program(calls: Calls) -> dict[str, Any]:
            history: list[Message] = []
            for turn in range(turns):
                request = first if turn == 0 else self._user_request(row, ctx, history, turn)
                said = (await calls.json(request, self.schema))["message"].strip()
                history.append({"role": "user", "content": said})
                messages = self.kit.messages(system, "", self.reply_schema)[:1] + tuple(history)
                seed = self.kit.seed_for(row, "a", turn)
                reply = await calls.json(
                    self.kit.request(messages, self.reply_schema, seed=seed), self.reply_schema
                )
                answer = reply["message"].strip()
                if not answer or answer == said:
                    raise Dropped(
                        "bad_turn",
                        f"turn {turn + 1}: the assistant's reply was empty or echoed the user",
                        {"messages": history},
                    )
                history.append({"role": "assistant", "content": answer})
            out = [{"role": "system", "content": system}] if self.spec.include_system else []
            return {"messages": out + history, "user": user, "turns": turns}

        return self.kit.job(
            row,
            first=first,
            program=program,
            templates=(self.user, self.user_template, self.system),
            calls=2 * turns,
            extra_params={"turns": turns},
        )
