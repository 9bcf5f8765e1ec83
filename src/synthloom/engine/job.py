"""A job is one row made ready for the engine: the request, how to check the reply, and the
provenance to attach. Tasks produce jobs; the engine turns each into exactly one record."""

from __future__ import annotations

from dataclasses import dataclass

from synthloom.backends.base import GenerationRequest
from synthloom.records import Provenance
from synthloom.schema import OutputSchema


@dataclass(slots=True)
class Job:
    record_id: str
    task: str
    fingerprint: str  # changes when anything that shapes this row's output changes
    sample: int  # the row's index: part of the cache key, so equal prompts sample independently
    request: GenerationRequest
    schema: OutputSchema
    provenance: Provenance
