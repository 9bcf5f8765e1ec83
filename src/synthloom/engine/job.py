"""A job is one row made ready for the engine: a small async program that makes the row's model
calls, and the provenance to attach. Most tasks make one call; preference pairs, evolutions and
simulated conversations make several. The engine turns each job into exactly one record."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from synthloom.backends.base import Completion, GenerationRequest
from synthloom.records import Provenance
from synthloom.schema import OutputSchema


class Calls(Protocol):
    """What a program may do: model calls that are cached, retried, paced and counted into the
    row's provenance. A program never talks to a backend directly."""

    async def complete(self, request: GenerationRequest) -> Completion:
        """One completion, as the model wrote it."""
        ...

    async def json(self, request: GenerationRequest, schema: OutputSchema) -> dict[str, Any]:
        """A reply parsed and validated against ``schema``, re-asking with the problem when it
        does not fit; raises ``GenerationFailed`` when the re-asks run out."""
        ...


Program = Callable[[Calls], Awaitable[dict[str, Any]]]


class Dropped(Exception):
    """Raised by a program when the row's output is one the task itself rejects (a judge tie, a
    failed evolution, an instruction too close to the pool). The row becomes a rejected record
    with this reason and whatever data the task kept: it is stored, never lost."""

    def __init__(self, reason: str, detail: str, data: dict[str, Any] | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
        self.data = data or {}


def single_call(request: GenerationRequest, schema: OutputSchema) -> Program:
    async def program(calls: Calls) -> dict[str, Any]:
        return await calls.json(request, schema)

    return program


@dataclass(slots=True)
class Job:
    record_id: str
    task: str
    fingerprint: str  # changes when anything that shapes this row's output changes
    sample: int  # the row's index: part of the cache key, so equal prompts sample independently
    provenance: Provenance
    program: Program
    first: GenerationRequest  # the row's first call (what ``estimate`` prices)
    calls: int = 1  # calls the row makes when nothing is re-asked
