"""A job is one row made ready for the engine: a small async program that makes the row's model
calls, and the provenance to attach. Most tasks make one call; preference pairs, evolutions and
simulated conversations make several. The engine turns each job into exactly one record."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from synthloom.backends.base import GenerationRequest
from synthloom.calls import Calls
from synthloom.records import Provenance
from synthloom.schema import OutputSchema

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
