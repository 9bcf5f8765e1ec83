"""One token-count heuristic for everything that must guess before a model answers (estimates,
the budget, tokens-per-minute pacing), so those numbers always agree with each other."""

from __future__ import annotations

import math
from collections.abc import Iterable

from synthloom.backends.base import GenerationRequest, Message

CHARS_PER_TOKEN = 4.0


def count_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def count_message_tokens(messages: Iterable[Message]) -> int:
    return sum(count_tokens(m["content"]) for m in messages)


def count_request_tokens(request: GenerationRequest) -> int:
    if request.prompt is not None:
        return count_tokens(request.prompt)
    return count_message_tokens(request.messages)
