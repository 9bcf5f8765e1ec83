"""The unit of data that flows through every step, and the trail that explains it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Origin(StrEnum):
    """Where a record's data came from: what a reader may trust its provenance to say."""

    GENERATED = "generated"  # written by a model in this run (backend, model, params are real)
    IMPORTED = "imported"  # read from a file (``synthloom check``): no model of ours wrote it
    REAL = "real"  # human-written data mixed in at export


class Status(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"  # a quality step dropped it; ``reason`` says which and why
    FAILED = "failed"  # no valid output could be produced; ``error`` says what went wrong


@dataclass(slots=True)
class Provenance:
    """Everything needed to trace a record back to the inputs and the call that made it."""

    recipe: str
    task: str
    row: int
    seed_ids: list[str]
    axes: dict[str, Any]
    template_hash: str
    backend: str
    model: str
    params: dict[str, Any]
    attempts: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_calls: int = 0
    started_at: str = ""
    finished_at: str = ""
    synthloom_version: str = ""
    parent: str | None = None  # the input this row was made from: a seed or an earlier record
    origin: str = Origin.GENERATED
    source: str | None = None  # imported rows: the file they were read from
    line: int | None = None  # ... and the line (the row number for Parquet)

    def to_dict(self) -> dict[str, Any]:
        # not dataclasses.asdict: its recursive deep copy was the largest cost per row
        return {
            "recipe": self.recipe,
            "task": self.task,
            "row": self.row,
            "seed_ids": list(self.seed_ids),
            "axes": dict(self.axes),
            "template_hash": self.template_hash,
            "backend": self.backend,
            "model": self.model,
            "params": dict(self.params),
            "attempts": self.attempts,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cached_calls": self.cached_calls,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "synthloom_version": self.synthloom_version,
            "parent": self.parent,
            "origin": str(self.origin),
            "source": self.source,
            "line": self.line,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Provenance:
        return cls(**raw)


@dataclass(slots=True)
class Record:
    """One generated example. Dropped and failed records are kept, with their reason."""

    id: str
    task: str
    data: dict[str, Any]
    provenance: Provenance
    status: Status = Status.ACCEPTED
    reason: str | None = None
    error: str | None = None
    scores: dict[str, float] = field(default_factory=dict)
    # what the checks found, for a reviewer: judge rationales, unsupported claims, nearest seed
    notes: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "task": self.task,
            "status": str(self.status),
            "data": self.data,
            "provenance": self.provenance.to_dict(),
        }
        if self.reason is not None:
            out["reason"] = self.reason
        if self.error is not None:
            out["error"] = self.error
        if self.scores:
            out["scores"] = self.scores
        if self.notes:
            out["notes"] = self.notes
        return out
