"""A deterministic backend shipped in the package, for unit tests and ``--dry-run``."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from synthloom.backends.base import Backend, Completion, GenerationRequest, Usage

Responder = Callable[[GenerationRequest], "str | Completion"]

_YIELD_EVERY = 1024
_QUESTIONS = frozenset({"question", "query", "user_question"})
_WORDS = [
    "rest",
    "hydrate",
    "walk",
    "gently",
    "wound",
    "clean",
    "dressing",
    "swelling",
    "ice",
    "elevate",
    "fever",
    "redness",
    "call",
    "surgeon",
    "nurse",
    "medication",
    "schedule",
    "sleep",
    "pillow",
    "diet",
    "fibre",
    "protein",
    "stairs",
    "shower",
    "bandage",
]


class FakeBackend(Backend):
    """Replies are a pure function of the request (and ``responder`` when given), so tests can
    assert on them. Without a responder it writes a schema-valid JSON object."""

    name = "fake"

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        model: str = "fake-1",
        latency: float = 0.0,
        call_log: str | Path | None = None,
        keep_calls: int = 10_000,
    ) -> None:
        self._responder = responder
        self._model = model
        self.latency = latency
        self.call_log = Path(call_log) if call_log else None
        # the first requests, for a test to inspect; not every one: a million-row dry run
        # would otherwise hold every rendered prompt (1.4 KB a row) until it ends
        self.calls: list[GenerationRequest] = []
        self.keep_calls = keep_calls
        self.call_count = 0

    @property
    def model_id(self) -> str:
        return self._model

    async def generate(self, request: GenerationRequest) -> Completion:
        # give the loop a turn now and then, as a real backend's I/O does: a fake that never
        # yields lets one worker run every job while each call's cancelled timeout timer piles
        # up in the loop's heap (about 0.2 KB a row, unbounded in a dry run). Every call would
        # cost the gate bench a fifth of its speed in loop switches; every 1024th bounds the heap.
        self.call_count += 1
        if self.latency or self.call_count % _YIELD_EVERY == 0:
            await asyncio.sleep(self.latency)
        if len(self.calls) < self.keep_calls:
            self.calls.append(request)
        if self._responder is not None:
            reply = self._responder(request)
            completion = reply if isinstance(reply, Completion) else self._wrap(request, reply)
        else:
            completion = self._wrap(request, self._synthesize(request))
        if self.call_log is not None:
            digest = hashlib.sha256(orjson.dumps(request.payload())).hexdigest()
            with self.call_log.open("a") as fh:
                fh.write(f"{digest}\n")
        return completion

    @staticmethod
    def _wrap(request: GenerationRequest, text: str) -> Completion:
        prompt_chars = len(request.prompt_text())
        return Completion(text, Usage(prompt_chars // 4 + 1, len(text) // 4 + 1), "stop")

    @staticmethod
    def _synthesize(request: GenerationRequest) -> str:
        digest = hashlib.sha256(orjson.dumps(request.payload())).digest()
        if request.is_raw and request.json_schema is None:  # a plain continuation of the prompt
            return str(_value("text", {}, digest, 0))
        schema = request.json_schema or {"properties": {"text": {"type": "string"}}}
        out = {
            name: _value(name, spec, digest, i)
            for i, (name, spec) in enumerate(schema.get("properties", {}).items())
        }
        return orjson.dumps(out).decode()


def _value(name: str, spec: dict[str, Any], digest: bytes, salt: int) -> Any:
    pick = digest[salt % len(digest)]
    kind = spec.get("type", "string")
    if "enum" in spec:
        return spec["enum"][pick % len(spec["enum"])]
    if kind == "object":
        props = spec.get("properties", {})
        return {k: _value(k, v, digest, salt + 1 + j) for j, (k, v) in enumerate(props.items())}
    if kind == "integer":
        low = int(spec.get("minimum", 0))
        high = int(spec.get("maximum", low + 9))
        return low + pick % (high - low + 1)
    if kind == "number":
        return float(spec.get("minimum", 0)) + pick / 256
    if kind == "boolean":
        return bool(pick % 2)
    if kind == "array":
        n = min(2, int(spec.get("maxItems", 2)))
        return [_value(name, spec.get("items", {}), digest, salt + j) for j in range(n)]
    words = [_WORDS[digest[(salt + j) % len(digest)] % len(_WORDS)] for j in range(8)]
    text = f"{name} {digest.hex()[:6]}: " + " ".join(words)
    low, high = int(spec.get("minLength", 0)), int(spec.get("maxLength", 10**6))
    text = text.ljust(low, ".")[:high]
    if name in _QUESTIONS and len(text) > 1:  # a question field reads as one (the gate checks)
        text = text[:-1] + "?" if len(text) == high else text + "?"
    return text
