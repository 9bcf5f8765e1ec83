"""The backend extension point: one abstract method, ``generate``."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from synthloom.errors import BackendError

Message = dict[str, str]

# Unit tests set this to "0" so that a test can never reach a real model by accident.
ALLOW_MODEL_REQUESTS_ENV = "SYNTHLOOM_ALLOW_MODEL_REQUESTS"


@dataclass(slots=True, frozen=True)
class GenerationRequest:
    messages: tuple[Message, ...]
    json_schema: dict[str, Any] | None = None
    temperature: float = 0.8
    top_p: float | None = None
    max_tokens: int = 400
    seed: int | None = None  # per-row sampling seed: reproducible, and distinct between rows
    # Raw text completion instead of chat: the model continues ``prompt`` verbatim, with no
    # chat template applied (magpie needs this to sample a user turn from the template itself).
    prompt: str | None = None
    stop: tuple[str, ...] = ()
    model: str | None = None  # another model on the same server (openai backend only)

    @property
    def is_raw(self) -> bool:
        return self.prompt is not None

    def chat_arguments(self) -> dict[str, Any]:
        """Messages (or the raw prompt) and sampling knobs as OpenAI-style APIs name them,
        unset ones left out; each backend adds its own way of asking for the schema."""
        args: dict[str, Any] = (
            {"prompt": self.prompt}
            if self.prompt is not None
            else {"messages": list(self.messages)}
        )
        args["temperature"] = self.temperature
        args["max_tokens"] = self.max_tokens
        if self.top_p is not None:
            args["top_p"] = self.top_p
        if self.seed is not None:
            args["seed"] = self.seed
        if self.stop:
            args["stop"] = list(self.stop)
        return args

    def payload(self) -> dict[str, Any]:
        """What identifies this request for the cache (the messages and every sampling knob)."""
        out: dict[str, Any] = {
            "messages": list(self.messages),
            "json_schema": self.json_schema,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "seed": self.seed,
        }
        # only when set, so the cache keys of plain chat requests stay what they were
        if self.prompt is not None:
            out["prompt"] = self.prompt
        if self.stop:
            out["stop"] = list(self.stop)
        if self.model is not None:
            out["model"] = self.model
        return out

    def prompt_text(self) -> str:
        """All the text the model reads, for token estimates."""
        if self.prompt is not None:
            return self.prompt
        return "".join(m["content"] for m in self.messages)


@dataclass(slots=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(slots=True)
class Completion:
    text: str
    usage: Usage = field(default_factory=Usage)
    finish_reason: str = "stop"  # "length" means the reply was cut by max_tokens

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "prompt_tokens": self.usage.prompt_tokens,
            "completion_tokens": self.usage.completion_tokens,
            "finish_reason": self.finish_reason,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Completion:
        usage = Usage(int(raw.get("prompt_tokens", 0)), int(raw.get("completion_tokens", 0)))
        return cls(str(raw["text"]), usage, str(raw.get("finish_reason", "stop")))


class Backend(ABC):
    """A source of completions. Subclasses implement ``generate`` and nothing else is required;
    retries, caching, validation and concurrency live in the engine so every backend gets them."""

    name: str = "backend"

    @property
    def model_id(self) -> str:
        return self.name

    @property
    def max_concurrency(self) -> int | None:
        """An upper bound the engine respects (an in-process model runs one call at a time)."""
        return None

    def endpoint_stats(self) -> dict[str, dict[str, int]]:
        """Calls, successes, failures and times taken out per server, for a backend that
        spreads its calls over several (the run summary shows them); empty otherwise."""
        return {}

    @abstractmethod
    async def generate(self, request: GenerationRequest) -> Completion: ...

    async def aclose(self) -> None:  # noqa: B027 - optional hook, not an abstract method
        """Release connections or model memory. Optional."""


def check_model_requests_allowed(backend: str) -> None:
    if os.environ.get(ALLOW_MODEL_REQUESTS_ENV, "1") == "0":
        raise BackendError(
            f"real model requests are disabled ({ALLOW_MODEL_REQUESTS_ENV}=0); "
            f"use the fake backend here instead of {backend!r}",
            retryable=False,
        )
