"""Turn accepted records into the exact row shapes fine-tuning tools read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from synthloom.errors import SynthloomError
from synthloom.records import Record

_PROMPT_NAMES = ("question", "instruction", "prompt", "query", "input", "user")
_RESPONSE_NAMES = ("answer", "response", "output", "completion", "reply", "assistant")


@dataclass(slots=True, frozen=True)
class Roles:
    """Which output field is the user's turn and which is the assistant's."""

    prompt: str
    response: str

    @classmethod
    def resolve(cls, task: str, info: dict[str, Any]) -> Roles:
        fields: list[str] = list(info.get("fields", []))
        prompt = info.get("prompt_field") or next((f for f in _PROMPT_NAMES if f in fields), None)
        response = info.get("response_field") or next(
            (f for f in _RESPONSE_NAMES if f in fields), None
        )
        if (prompt is None or response is None) and len(fields) == 2:
            prompt, response = fields
        if prompt is None or response is None or prompt == response:
            raise SynthloomError(
                f"task {task!r}: cannot tell which of the fields {fields} is the prompt and which "
                "the response; set prompt_field and response_field in the recipe's task"
            )
        return cls(prompt, response)


def _text(record: Record, field: str) -> str:
    value = record.data.get(field)
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def openai_chat(record: Record, roles: Roles) -> dict[str, Any]:
    return {
        "messages": [
            {"role": "user", "content": _text(record, roles.prompt)},
            {"role": "assistant", "content": _text(record, roles.response)},
        ]
    }


def sharegpt(record: Record, roles: Roles) -> dict[str, Any]:
    return {
        "conversations": [
            {"from": "human", "value": _text(record, roles.prompt)},
            {"from": "gpt", "value": _text(record, roles.response)},
        ]
    }


def alpaca(record: Record, roles: Roles) -> dict[str, Any]:
    return {
        "instruction": _text(record, roles.prompt),
        "input": "",
        "output": _text(record, roles.response),
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
}
RAW_FORMATS: dict[str, RawConverter] = {"jsonl": full_record, "parquet": flat_record}
FORMATS = (*ROLE_FORMATS, *RAW_FORMATS)
