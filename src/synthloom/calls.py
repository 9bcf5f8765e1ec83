"""What tasks and quality checks may ask of a model, and nothing about how it is done.

A neutral module: the engine implements ``Calls`` (cache, retries, pacing, provenance), task
programs and checks use it, and neither side imports the other, so a check can run wherever
an executor runs its rows.
"""

from __future__ import annotations

from typing import Any, Protocol

from synthloom.backends.base import Completion, GenerationRequest
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
