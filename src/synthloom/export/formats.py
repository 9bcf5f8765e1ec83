"""Turn accepted records into the exact row shapes fine-tuning tools read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from synthloom.errors import SynthloomError
from synthloom.export.composition import REAL, SYNTHETIC
from synthloom.records import Origin, Record

# Conventional field names, most telling first: which field holds the prompt, which the reply.
# Exporting reads both; a task reading another's output (distill, preference, evol_instruct)
# finds its prompt with PROMPT_NAMES too.
PROMPT_NAMES = (
    "question",
    "instruction",
    "prompt",
    "query",
    "input",
    "user",
    "scenario",
    "text",
)
RESPONSE_NAMES = ("answer", "response", "output", "completion", "reply", "assistant")
_SHAREGPT_ROLES = {"user": "human", "assistant": "gpt", "system": "system"}


@dataclass(slots=True, frozen=True)
class Roles:
    """Which output field is the user's turn and which the assistant's; or, for a conversation,
    which field holds the whole list of messages."""

    prompt: str
    response: str
    messages: str | None = None
    kind: str = "expand"

    @classmethod
    def resolve(cls, task: str, info: dict[str, Any]) -> Roles:
        kind = str(info.get("kind") or "expand")
        if info.get("messages_field"):
            return cls("", "", info["messages_field"], kind)
        fields: list[str] = list(info.get("fields", []))
        prompt = info.get("prompt_field") or next((f for f in PROMPT_NAMES if f in fields), None)
        response = info.get("response_field") or next(
            (f for f in RESPONSE_NAMES if f in fields), None
        )
        if (prompt is None or response is None) and len(fields) == 2:
            prompt, response = fields
        if prompt is None or response is None or prompt == response:
            raise SynthloomError(
                f"task {task!r}: cannot tell which of the fields {fields} is the prompt and which "
                "the response; set prompt_field and response_field in the recipe's task"
            )
        return cls(prompt, response, None, kind)


def _text(record: Record, field: str) -> str:
    value = record.data.get(field)
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _messages(record: Record, roles: Roles) -> list[dict[str, str]]:
    if roles.messages is not None:
        turns = record.data.get(roles.messages) or []
        return [{"role": str(t["role"]), "content": str(t["content"])} for t in turns]
    return [
        {"role": "user", "content": _text(record, roles.prompt)},
        {"role": "assistant", "content": _text(record, roles.response)},
    ]


def openai_chat(record: Record, roles: Roles) -> dict[str, Any]:
    return {"messages": _messages(record, roles)}


def sharegpt(record: Record, roles: Roles) -> dict[str, Any]:
    return {
        "conversations": [
            {"from": _SHAREGPT_ROLES.get(m["role"], m["role"]), "value": m["content"]}
            for m in _messages(record, roles)
        ]
    }


def alpaca(record: Record, roles: Roles) -> dict[str, Any]:
    if roles.messages is not None:
        raise SynthloomError(
            f"task {record.task!r} holds multi-turn conversations; alpaca has one instruction "
            "and one output, so export them as openai-chat or sharegpt"
        )
    return {
        "instruction": _text(record, roles.prompt),
        "input": "",
        "output": _text(record, roles.response),
    }


def dpo(record: Record, roles: Roles) -> dict[str, Any]:
    """TRL's conversational preference format (explicit prompt): the user's turn, then the
    chosen and the rejected assistant turn, so a trainer applies its own chat template."""
    if roles.kind != "preference":
        raise SynthloomError(
            f"task {record.task!r} is of kind {roles.kind!r}; the dpo format needs preference "
            "records (a task with kind: preference), or pick its task with --task"
        )
    return {
        "prompt": [{"role": "user", "content": _text(record, "prompt")}],
        "chosen": [{"role": "assistant", "content": _text(record, "chosen")}],
        "rejected": [{"role": "assistant", "content": _text(record, "rejected")}],
    }


def full_record(record: Record, roles: Roles | None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": record.id,
        "task": record.task,
        "data": record.data,
        "provenance": record.provenance.to_dict(),
    }
    if record.scores:
        row["scores"] = record.scores
    if record.notes:
        row["notes"] = record.notes
    return row


def flat_record(record: Record, roles: Roles | None) -> dict[str, Any]:
    """One column per output field; provenance as a JSON string so any schema fits one table."""
    return {
        "id": record.id,
        "task": record.task,
        **record.data,
        "provenance": orjson.dumps(record.provenance.to_dict()).decode(),
    }


Converter = Callable[[Record, Roles], dict[str, Any]]
RawConverter = Callable[[Record, "Roles | None"], dict[str, Any]]

# formats that map fields to conversation roles, and formats that keep the record whole
ROLE_FORMATS: dict[str, Converter] = {
    "openai-chat": openai_chat,
    "sharegpt": sharegpt,
    "alpaca": alpaca,
    "dpo": dpo,
}
RAW_FORMATS: dict[str, RawConverter] = {"jsonl": full_record, "parquet": flat_record}
FORMATS = (*ROLE_FORMATS, *RAW_FORMATS)


def training_row(format: str, record: Record, roles: Roles | None) -> dict[str, Any]:
    """A record in ``format``, marked with where it came from: ``origin`` (real or synthetic)
    and, for a synthetic row, ``record_id`` (the run's record, with its provenance)."""
    if format in ROLE_FORMATS:
        if roles is None:
            raise SynthloomError(f"the {format} format needs the task's prompt/response fields")
        row = ROLE_FORMATS[format](record, roles)
    else:
        row = RAW_FORMATS[format](record, roles)
    real = record.provenance.origin == Origin.REAL
    row["origin"] = REAL if real else SYNTHETIC
    row["record_id"] = None if real else record.id
    return row
